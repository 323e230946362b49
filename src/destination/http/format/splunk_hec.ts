import { builtIn, joined, OptionReader } from "./_common.ts";
import { quote } from "./_line.ts";
import type { FetchBodyFormat, FormatItem, FormatLine } from "./fetch_body_format.ts";

/** Options for {@linkcode splunkHec}. */
export interface SplunkHecOptions {
  /** The index; the token's default index when left out. @default {undefined} */
  readonly index?: string;
  /** The `source` of every event. @default {"atd-audit"} */
  readonly source?: string;
  /** The `sourcetype` (`_json` makes Splunk extract the line's fields at search time). @default {"_json"} */
  readonly sourcetype?: string;
  /** The `host` of every event; Splunk's own default when left out. @default {undefined} */
  readonly host?: string;
  /**
   * Bytes per request body at most: Splunk Cloud Platform's HEC takes 1 MB;
   * Splunk Enterprise's `max_content_length` is larger. @default {1_000_000}
   */
  readonly maxBodyBytes?: number;
}

/** Sub-second precision HEC keeps: microseconds. */
const FRACTION_DIGITS = 6;

/**
 * Splunk HTTP Event Collector (`POST /services/collector/event`): one JSON
 * object per line, `{"time":<epoch seconds>,"host","source","sourcetype",
 * "index","event":"<line>"}`, one after another. `event` is the line as a
 * string, so Splunk's `_raw` is the line unchanged; `time` is `ts` in epoch
 * seconds (to the microsecond), left out when `ts` is not RFC 3339 (Splunk
 * then uses the time it received the event).
 *
 * Authenticate with `headers: { authorization: "Splunk <token>" }`. HEC
 * answers 200; 400 (bad data) and 401/403 are final, 503 (busy) is retried.
 *
 * @param options Index, source, sourcetype, host, the request size limit.
 * @returns The format, for `fetchDestination(url, { format })`.
 * @throws {TypeError} When an option has the wrong type.
 * @throws {RangeError} When `maxBodyBytes` is not a positive integer.
 *
 * @example
 * ```ts ignore
 * import { fetchDestination, JsonLinesAuditSink, splunkHec } from "@atd/audit";
 * const sink = new JsonLinesAuditSink(
 *   fetchDestination("https://splunk.example:8088/services/collector/event", {
 *     format: splunkHec({ index: "audit" }),
 *     headers: { authorization: `Splunk ${Deno.env.get("HEC_TOKEN")}` },
 *   }),
 *   { backpressure: "block" },
 * );
 * ```
 */
export function splunkHec(options: SplunkHecOptions = {}): FetchBodyFormat {
  const o = new OptionReader("splunkHec", options);
  const meta: string[] = [];
  for (const name of ["host", "source", "sourcetype", "index"] as const) {
    const fallback = name === "source" ? "atd-audit" : name === "sourcetype" ? "_json" : undefined;
    const value = o.string(name) ?? fallback;
    if (value !== undefined) meta.push(`${quote(name)}:${quote(value)}`);
  }
  const fields = meta.length === 0 ? "" : `${meta.join(",")},`;
  return builtIn({
    name: "splunk-hec",
    contentType: "application/json",
    maxEvents: Number.POSITIVE_INFINITY,
    maxBodyBytes: o.integer("maxBodyBytes", 1_000_000, 2 ** 31),
    maxItemBytes: Number.POSITIVE_INFINITY,
    responseBytes: () => 0,
    item: (line) => event(line, fields),
    body: (items) => joined("", items, "\n", ""),
    verdict: () => ({ kind: "all" }),
  });
}

function event(line: FormatLine, fields: string): FormatItem {
  const t = line.time;
  const fraction = t === undefined ? "" : t.fraction.slice(0, FRACTION_DIGITS);
  const time = t === undefined ? "" : `"time":${t.unixSeconds}${fraction === "" ? "" : `.${fraction}`},`;
  return { text: `{${time}${fields}"event":${quote(line.text)}}`, group: "", id: "" };
}
