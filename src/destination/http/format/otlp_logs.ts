import type { CallEvent } from "../../../event/call_event.ts";
import { builtIn, countOf, joined, levelOf, OptionReader, outcomeKind, parseJsonBody } from "./_common.ts";
import { quote } from "./_line.ts";
import type { FetchBodyFormat, FormatItem, FormatLine, FormatResponse, FormatVerdict } from "./fetch_body_format.ts";

/** Options for {@linkcode otlpLogs}. */
export interface OtlpLogsOptions {
  /** The resource's `service.name`. @default {"atd-audit"} */
  readonly serviceName?: string;
  /** More resource attributes, such as `{ "deployment.environment.name": "prod" }`. @default {{}} */
  readonly resource?: Readonly<Record<string, string | number | boolean>>;
  /** The instrumentation scope's name. @default {"@atd/audit"} */
  readonly scopeName?: string;
  /** The instrumentation scope's version. @default {undefined} */
  readonly scopeVersion?: string;
}

/** Severity by level: OTLP's INFO, WARN and ERROR. */
const SEVERITY = { info: [9, "INFO"], warn: [13, "WARN"], error: [17, "ERROR"] } as const;
/** Nesting kept as OTLP values; deeper parts go as their JSON text. */
const MAX_DEPTH = 4;
/** A partial-success answer is a few hundred bytes; anything longer is not one. */
const RESPONSE_BYTES = 64 * 1024;

/**
 * The CallEvent fields that become `atd.audit.*` attributes (`ts`, `call_id`
 * and `tool_id` map onto the log record's time and the GenAI attributes).
 * Typed against `CallEvent`, so that a new field cannot be forgotten here.
 */
const REST: Record<Exclude<keyof CallEvent, "ts" | "call_id" | "tool_id">, true> = {
  caller_id: true,
  granted_capabilities: true,
  duration_ms: true,
  outcome: true,
  tier: true,
  dry_run: true,
  schema_version: true,
  secrets_resolved: true,
  cursor_page: true,
  capability_provenance: true,
};

/**
 * OTLP/HTTP JSON logs (`POST /v1/logs`), for an OpenTelemetry Collector or
 * any OTLP endpoint: one `ExportLogsServiceRequest` per batch, one
 * `resourceLogs` → `scopeLogs` → `logRecords` entry per line, with:
 *
 * - `timeUnixNano` from `ts` (exact to the nanosecond; `"0"` with
 *   `observedTimeUnixNano` set to the send time when `ts` is not RFC 3339);
 * - `body.stringValue`: the line, unchanged;
 * - `severityNumber`/`severityText`: INFO for `success`, ERROR for
 *   `execution_failed`, WARN for the other outcomes; `eventName`
 *   `atd.audit.tool_call`;
 * - attributes on the OpenTelemetry GenAI conventions:
 *   `gen_ai.operation.name` = `execute_tool`, `gen_ai.tool.name` ← `tool_id`,
 *   `gen_ai.tool.call.id` ← `call_id`, `error.type` ← the outcome's kind when
 *   it is not `success`; every other field under `atd.audit.*`
 *   (`atd.audit.outcome.kind`, `atd.audit.duration_ms`…); `null`s left out.
 *
 * A 2xx response's `partialSuccess.rejectedLogRecords` (read from the first
 * 64 KiB) counts that many events failed (OTLP does not say which, and they
 * must not be retried); the rest count delivered. A response that cannot be
 * read (not JSON, cut short, a count that is not one) counts all delivered,
 * as the status says, and reaches the sink's `onError` as a warning; so does
 * an `errorMessage` with nothing rejected.
 *
 * @param options The resource's `service.name` and attributes, the scope.
 * @returns The format, for `fetchDestination(url, { format })`.
 * @throws {TypeError} When an option has the wrong type.
 *
 * @example
 * ```ts ignore
 * import { fetchDestination, JsonLinesAuditSink, otlpLogs } from "@atd/audit";
 * const sink = new JsonLinesAuditSink(
 *   fetchDestination("http://otel-collector:4318/v1/logs", { format: otlpLogs({ serviceName: "tools" }), gzip: true }),
 *   { backpressure: "block" },
 * );
 * ```
 */
export function otlpLogs(options: OtlpLogsOptions = {}): FetchBodyFormat {
  const o = new OptionReader("otlpLogs", options);
  const resource: Record<string, string | number | boolean> = {
    "service.name": o.string("serviceName") ?? "atd-audit",
    ...o.record("resource", true),
  };
  const scopeName = o.string("scopeName") ?? "@atd/audit";
  const scopeVersion = o.string("scopeVersion");
  const attributes = Object.entries(resource).map(([k, v]) => keyValue(k, v, 0)).join(",");
  const scope = `{"name":${quote(scopeName)}${scopeVersion === undefined ? "" : `,"version":${quote(scopeVersion)}`}}`;
  const head =
    `{"resourceLogs":[{"resource":{"attributes":[${attributes}]},"scopeLogs":[{"scope":${scope},"logRecords":[`;
  return builtIn({
    name: "otlp-logs",
    contentType: "application/json",
    maxEvents: Number.POSITIVE_INFINITY,
    maxBodyBytes: Number.POSITIVE_INFINITY,
    maxItemBytes: Number.POSITIVE_INFINITY,
    responseBytes: () => RESPONSE_BYTES,
    item: recordWriter(),
    body: (items) => joined(head, items, ",", "]}]}]}"),
    verdict: partialSuccess,
    // OTLP/HTTP: only these may be retried; every other 4xx and 5xx MUST NOT be.
    retryable: Object.freeze([429, 502, 503, 504]),
  });
}

const OPERATION = `{"key":"gen_ai.operation.name","value":{"stringValue":"execute_tool"}}`;
/** Each field's attribute name, built once. */
const REST_KEY = Object.fromEntries(Object.keys(REST).map((key) => [key, `atd.audit.${key}`])) as Record<
  keyof typeof REST,
  string
>;
const OUTCOME_KEYS = new Map<string, string>();

/** `atd.audit.outcome.<field>`, built once per field name (a few). */
function outcomeKey(field: string): string {
  let key = OUTCOME_KEYS.get(field);
  if (key === undefined) {
    key = `atd.audit.outcome.${field}`;
    if (OUTCOME_KEYS.size < MAX_CACHED) OUTCOME_KEYS.set(field, key);
  }
  return key;
}
/** Attribute fragments kept per key; a map that grows past this starts over. */
const MAX_CACHED = 256;

/**
 * The log record writer of one format. Most attributes repeat from line to
 * line (the tool, the caller, the tier, the outcome): each attribute's JSON
 * is kept by key and value, so that a line costs little more than its parse
 * and its own `call_id`, time and body.
 */
function recordWriter(): (line: FormatLine) => FormatItem {
  const caches = new Map<string, Map<unknown, string>>();
  /** `,{"key":<key>,"value":<value>}`, from the cache when the value is a primitive seen before. */
  const attribute = (key: string, value: unknown, depth: number): string => {
    let byValue = caches.get(key);
    if (byValue === undefined) caches.set(key, byValue = new Map());
    // A short array of strings (the capabilities) is kept by its joined text.
    const id = typeof value !== "object"
      ? value
      : Array.isArray(value) && value.length < 16 && value.every((v) => typeof v === "string")
      ? `[${value.join("\u0000")}`
      : undefined;
    if (id !== undefined) {
      const hit = byValue.get(id);
      if (hit !== undefined) return hit;
    }
    const fragment = `,${keyValue(key, value, depth)}`;
    if (id !== undefined) {
      if (byValue.size >= MAX_CACHED) byValue.clear();
      byValue.set(id, fragment);
    }
    return fragment;
  };
  return (line) => {
    const { event, time } = line;
    const kind = outcomeKind(event);
    const [severity, severityText] = SEVERITY[levelOf(kind)];
    // Parts joined once: a flat string (one built by += is a deep rope that V8 flattens slowly when encoding).
    const parts = [
      time === undefined
        ? `{"timeUnixNano":"0","observedTimeUnixNano":"${Date.now()}000000"`
        : `{"timeUnixNano":"${time.unixNano}"`,
      `,"severityNumber":${severity},"severityText":"${severityText}","eventName":"atd.audit.tool_call","body":{"stringValue":`,
      quote(line.text),
      `},"attributes":[`,
      OPERATION,
    ];
    const { tool_id: tool, call_id: call } = event;
    if (typeof tool === "string") parts.push(attribute("gen_ai.tool.name", tool, 0));
    if (typeof call === "string") {
      parts.push(`,{"key":"gen_ai.tool.call.id","value":{"stringValue":`, quote(call), "}}");
    }
    if (kind !== undefined && kind !== "success") parts.push(attribute("error.type", kind, 0));
    for (const key in REST) {
      const value = event[key];
      if (value === undefined || value === null) continue;
      if (key === "outcome" && typeof value === "object" && !Array.isArray(value)) {
        for (const k in value) {
          const v = (value as Record<string, unknown>)[k];
          if (v !== null && v !== undefined) parts.push(attribute(outcomeKey(k), v, 1));
        }
      } else parts.push(attribute(REST_KEY[key as keyof typeof REST], value, 0));
    }
    parts.push("]}");
    return { text: parts.join(""), group: "", id: "" };
  };
}

function keyValue(key: string, value: unknown, depth: number): string {
  return `{"key":${quote(key)},"value":${anyValue(value, depth)}}`;
}

/** A JSON value as an OTLP `AnyValue` (the OpenTelemetry JS SDK's mapping: integers as JSON numbers). */
function anyValue(value: unknown, depth: number): string {
  switch (typeof value) {
    case "string":
      return `{"stringValue":${quote(value)}}`;
    case "boolean":
      return `{"boolValue":${value}}`;
    case "number":
      return Number.isSafeInteger(value) ? `{"intValue":${value}}` : `{"doubleValue":${value}}`;
  }
  if (value === null || typeof value !== "object") return "{}";
  if (depth >= MAX_DEPTH) return `{"stringValue":${quote(JSON.stringify(value))}}`;
  if (Array.isArray(value)) return `{"arrayValue":{"values":[${value.map((v) => anyValue(v, depth + 1)).join(",")}]}}`;
  const values = Object.entries(value).map(([k, v]) => keyValue(k, v, depth + 1));
  return `{"kvlistValue":{"values":[${values.join(",")}]}}`;
}

function partialSuccess(response: FormatResponse): FormatVerdict {
  if (response.complete && response.body.trim() === "") return { kind: "all" };
  const parsed = parseJsonBody(response.body, response.complete);
  if ("error" in parsed) return { kind: "all", warning: `${parsed.error}, so its partialSuccess could not be read` };
  const value = parsed.value;
  if (typeof value !== "object" || value === null || Array.isArray(value)) {
    return { kind: "all", warning: "the response body is not a JSON object, so its partialSuccess could not be read" };
  }
  // proto3 JSON parsers take both the lowerCamelCase and the original field names.
  const r = value as Record<string, unknown>;
  const ps = r.partialSuccess ?? r.partial_success;
  if (ps === undefined || ps === null) return { kind: "all" };
  if (typeof ps !== "object" || Array.isArray(ps)) return { kind: "all", warning: "partialSuccess is not an object" };
  const p = ps as Record<string, unknown>;
  const raw = p.rejectedLogRecords ?? p.rejected_log_records;
  const rejected = raw === undefined || raw === null ? 0 : countOf(raw);
  const text = p.errorMessage ?? p.error_message;
  const message = typeof text === "string" && text !== "" ? text : undefined;
  if (rejected === undefined) {
    return { kind: "all", warning: `partialSuccess.rejectedLogRecords is not a count: ${JSON.stringify(raw)}` };
  }
  if (rejected === 0) return message === undefined ? { kind: "all" } : { kind: "all", warning: message };
  return message === undefined ? { kind: "rejected", count: rejected } : { kind: "rejected", count: rejected, message };
}
