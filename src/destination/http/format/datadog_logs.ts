import { builtIn, joined, levelOf, OptionReader, outcomeKind } from "./_common.ts";
import { quote } from "./_line.ts";
import type { FetchBodyFormat, FormatItem, FormatLine } from "./fetch_body_format.ts";

/** Options for {@linkcode datadogLogs}. */
export interface DatadogLogsOptions {
  /** `ddsource`: the integration name. @default {"atd-audit"} */
  readonly source?: string;
  /** `service`. @default {"atd-audit"} */
  readonly service?: string;
  /** `hostname`; Datadog's own default when left out. @default {undefined} */
  readonly hostname?: string;
  /** `ddtags`, comma-separated `key:value` tags such as `"env:prod,team:tools"`. @default {undefined} */
  readonly tags?: string;
}

/**
 * Datadog's logs intake, v2 (`POST https://http-intake.logs.<site>/api/v2/logs`):
 * a JSON array of `{"ddsource","service","hostname","ddtags","status",
 * "timestamp","message"}`, one per line, `message` being the line unchanged,
 * `timestamp` the epoch milliseconds of `ts` (left out when `ts` is not
 * RFC 3339), `status` `info` for `success`, `error` for `execution_failed`,
 * `warn` for the other outcomes.
 *
 * Batches follow Datadog's limits: at most 1,000 entries and 5 MB
 * (uncompressed) per request; a line whose entry is over 1 MB is not sent
 * (Datadog would truncate it), but goes to the fallback or counts failed.
 * Authenticate with `headers: { "dd-api-key": key }`; Datadog answers 202.
 *
 * @param options Source, service, hostname, tags.
 * @returns The format, for `fetchDestination(url, { format })`.
 * @throws {TypeError} When an option has the wrong type.
 *
 * @example
 * ```ts ignore
 * import { datadogLogs, fetchDestination, JsonLinesAuditSink } from "@atd/audit";
 * const sink = new JsonLinesAuditSink(
 *   fetchDestination("https://http-intake.logs.datadoghq.eu/api/v2/logs", {
 *     format: datadogLogs({ service: "tools", tags: "env:prod" }),
 *     headers: { "dd-api-key": Deno.env.get("DD_API_KEY")! },
 *     gzip: true,
 *   }),
 *   { backpressure: "block" },
 * );
 * ```
 */
export function datadogLogs(options: DatadogLogsOptions = {}): FetchBodyFormat {
  const o = new OptionReader("datadogLogs", options);
  const meta = [
    `"ddsource":${quote(o.string("source") ?? "atd-audit")}`,
    `"service":${quote(o.string("service") ?? "atd-audit")}`,
  ];
  const hostname = o.string("hostname");
  if (hostname !== undefined) meta.push(`"hostname":${quote(hostname)}`);
  const tags = o.string("tags");
  if (tags !== undefined) meta.push(`"ddtags":${quote(tags)}`);
  const fields = meta.join(",");
  return builtIn({
    name: "datadog-logs",
    contentType: "application/json",
    maxEvents: 1000,
    maxBodyBytes: 5_000_000,
    maxItemBytes: 1_000_000,
    responseBytes: () => 0,
    item: (line) => entry(line, fields),
    body: (items) => joined("[", items, ",", "]"),
    verdict: () => ({ kind: "all" }),
  });
}

function entry(line: FormatLine, fields: string): FormatItem {
  const time = line.time === undefined ? "" : `"timestamp":${line.time.unixMs},`;
  const status = levelOf(outcomeKind(line.event));
  return { text: `{${fields},"status":"${status}",${time}"message":${quote(line.text)}}`, group: "", id: "" };
}
