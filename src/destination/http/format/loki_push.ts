import { builtIn, joined, OptionReader, outcomeKind } from "./_common.ts";
import { quote, utf8Over } from "./_line.ts";
import type { FetchBodyFormat, FormatItem, FormatLine } from "./fetch_body_format.ts";

/** A line field that may become a Loki label: both take a handful of values. */
export type LokiLabelField = "tier" | "outcome";

/** Options for {@linkcode lokiPush}. */
export interface LokiPushOptions {
  /** Labels every stream carries, at least one (Prometheus label names; not `__`-prefixed). @default {{ service_name: "atd-audit" }} */
  readonly labels?: Readonly<Record<string, string>>;
  /**
   * Fields of each line that become labels too: `tier`, and the outcome's
   * kind as `outcome`. Nothing else can be one: a label per `call_id` would
   * make a stream per call. @default {["tier", "outcome"]}
   */
  readonly labelFields?: readonly LokiLabelField[];
  /** Longest line the Loki server takes (its `max_line_size`); a longer line is not sent. @default {256_000} */
  readonly maxLineBytes?: number;
}

const LABEL_NAME = /^[a-zA-Z_][a-zA-Z0-9_]*$/;
/** Loki's default `max_label_value_length`, which Loki checks in bytes (`len` of a Go string). */
const MAX_LABEL_BYTES = 2048;

/**
 * Grafana Loki's push API (`POST /loki/api/v1/push`, JSON):
 * `{"streams":[{"stream":{labels},"values":[["<ns>","<line>"],…]}]}`, one
 * stream per distinct label set in the batch, each line unchanged as its
 * value and its `ts` as the nanosecond timestamp (the send time when `ts` is
 * not RFC 3339).
 *
 * Labels stay few: the static `labels`, plus `tier` and `outcome` (the
 * outcome's kind) by default; never `call_id`, which belongs in the line. A
 * line whose label value is longer than Loki's 2048 bytes, or that is
 * longer than `maxLineBytes`, is not sent (it goes to the fallback, or counts
 * failed): Loki would refuse the request.
 *
 * Loki answers 204; a 400 is final and may mean that Loki stored some entries
 * of the batch and refused others (too old, too long): they all count failed.
 * Send the `X-Scope-OrgID` header for a multi-tenant Loki.
 *
 * @param options Static labels, which fields become labels, Loki's line limit.
 * @returns The format, for `fetchDestination(url, { format })`.
 * @throws {TypeError} When a label name is not a Prometheus label name, a
 *   value is not a string, or an option has the wrong type.
 * @throws {RangeError} When `maxLineBytes` is not a positive integer.
 *
 * @example
 * ```ts ignore
 * import { fetchDestination, JsonLinesAuditSink, lokiPush } from "@atd/audit";
 * const sink = new JsonLinesAuditSink(
 *   fetchDestination("http://loki:3100/loki/api/v1/push", { format: lokiPush({ labels: { service_name: "tools" } }) }),
 *   { backpressure: "block" },
 * );
 * ```
 */
export function lokiPush(options: LokiPushOptions = {}): FetchBodyFormat {
  const o = new OptionReader("lokiPush", options);
  const fields = o.subset<LokiLabelField>("labelFields", ["tier", "outcome"], ["tier", "outcome"]);
  const given = o.record("labels") as Record<string, string>;
  const labels = options?.labels === undefined ? { service_name: "atd-audit" } : given;
  if (Object.keys(labels).length === 0) {
    throw o.fail("labels", "must hold at least one label: Loki needs one on every stream");
  }
  for (const [name, value] of Object.entries(labels)) {
    if (!LABEL_NAME.test(name) || name.startsWith("__")) throw o.fail(`labels.${name}`, "is not a Loki label name");
    if ((fields as readonly string[]).includes(name)) throw o.fail(`labels.${name}`, "is also in labelFields");
    if (value === "" || utf8Over(value, MAX_LABEL_BYTES)) {
      throw o.fail(`labels.${name}`, `must hold 1 to ${MAX_LABEL_BYTES} bytes of UTF-8`);
    }
  }
  const maxLineBytes = o.integer("maxLineBytes", 256_000, 2 ** 31);
  const fixed = Object.entries(labels).map(([k, v]) => `${quote(k)}:${quote(v)}`);
  return builtIn({
    name: "loki-push",
    contentType: "application/json",
    maxEvents: Number.POSITIVE_INFINITY,
    maxBodyBytes: Number.POSITIVE_INFINITY,
    maxItemBytes: Number.POSITIVE_INFINITY,
    responseBytes: () => 0,
    item: (line) => entry(line, fixed, fields, maxLineBytes),
    body: streams,
    verdict: () => ({ kind: "all" }),
  });
}

function entry(
  line: FormatLine,
  fixed: readonly string[],
  fields: readonly LokiLabelField[],
  maxLineBytes: number,
): FormatItem | string {
  if (utf8Over(line.text, maxLineBytes)) return `the line is longer than Loki's ${maxLineBytes}-byte line limit`;
  const labels = [...fixed];
  for (const field of fields) {
    const value = field === "tier" ? line.event.tier : outcomeKind(line.event);
    if (typeof value !== "string" || value === "") continue;
    if (utf8Over(value, MAX_LABEL_BYTES)) {
      return `its ${field} is longer than Loki's ${MAX_LABEL_BYTES}-byte label limit`;
    }
    labels.push(`${quote(field)}:${quote(value)}`);
  }
  const ns = line.time?.unixNano ?? `${Date.now()}000000`;
  return { text: `[${quote(ns)},${quote(line.text)}]`, group: `{${labels.join(",")}}`, id: "" };
}

/** One stream per label set, in the order each first appears; entries keep their order within a stream. */
function streams(items: readonly FormatItem[]): string[] {
  const byLabels = new Map<string, FormatItem[]>();
  for (const item of items) {
    const values = byLabels.get(item.group);
    if (values === undefined) byLabels.set(item.group, [item]);
    else values.push(item);
  }
  const parts = ['{"streams":['];
  for (const [labels, values] of byLabels) {
    parts.push(...joined(`${parts.length === 1 ? "" : ","}{"stream":${labels},"values":[`, values, ",", "]}"));
  }
  parts.push("]}");
  return parts;
}
