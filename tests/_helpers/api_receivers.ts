// Local stand-ins for the log APIs the fetch destination's formats speak
// (OTLP/HTTP logs, Loki push, Elasticsearch _bulk, Splunk HEC, Datadog logs),
// on 127.0.0.1: each checks a request against the API's published shape,
// stores what the real service would store, answers as it does, partial
// failures included, and fails on cue (see ApiReceiver).
import type { ReceivedRequest, Reply } from "./http_receiver.ts";
import type { Api, Entry, Parsed } from "./api_receiver.ts";
import { readLogsRequest } from "./otlp_shape.ts";

export { ApiReceiver, type Entry, type Fault, type StaticRoute } from "./api_receiver.ts";

/** The call_id in an audit line (the lines are the receiver's to parse: they must be JSON objects). */
function callIdOf(line: string): string {
  const event = JSON.parse(line) as { call_id?: unknown };
  if (typeof event.call_id !== "string") throw new Error("a line without a call_id");
  return event.call_id;
}

/** `parse` with every exception turned into a refusal. */
function guarded(parse: (text: string) => Entry[]): (request: ReceivedRequest) => Parsed {
  return (request) => {
    try {
      return { entries: parse(request.text) };
    } catch (error) {
      return { problem: error instanceof Error ? error.message : String(error) };
    }
  };
}

function json(status: number, body: unknown): Reply {
  return { status, headers: { "content-type": "application/json" }, body: JSON.stringify(body) };
}

/** An OpenTelemetry Collector's OTLP/HTTP logs receiver. */
export function otlpApi(): Api {
  return {
    path: "/v1/logs",
    contentType: /^application\/json$/,
    parse: guarded((text) => {
      const problems: string[] = [];
      const request = readLogsRequest(JSON.parse(text), problems);
      if (request === undefined) throw new Error(problems.slice(0, 3).join("; "));
      const entries: Entry[] = [];
      for (const rl of request.resourceLogs ?? []) {
        for (const sl of rl.scopeLogs) {
          for (const record of sl.logRecords ?? []) {
            const line = record.body?.stringValue;
            if (typeof line !== "string") throw new Error("a log record without a string body");
            const callId = callIdOf(line);
            const attr = record.attributes.find((a) => a.key === "gen_ai.tool.call.id")?.value.stringValue;
            if (attr !== callId) throw new Error(`gen_ai.tool.call.id ${attr} is not the line's call_id ${callId}`);
            entries.push({ callId, line });
          }
        }
      }
      return entries;
    }),
    answer: (_entries, results, fault) => {
      const rejected = results.filter((r) => r === "failed").length;
      if (rejected === 0) return json(200, { partialSuccess: {} });
      const count = fault?.kind === "partial" && fault.asString ? String(rejected) : rejected;
      return json(200, { partialSuccess: { rejectedLogRecords: count, errorMessage: "log records too old" } });
    },
  };
}

const LABEL = /^[a-zA-Z_][a-zA-Z0-9_]*$/;

/** Grafana Loki's push API (JSON). */
export function lokiApi(): Api {
  return {
    path: "/loki/api/v1/push",
    contentType: /^application\/json$/,
    parse: guarded((text) => {
      const body = JSON.parse(text) as { streams?: unknown };
      if (Object.keys(body).join() !== "streams" || !Array.isArray(body.streams)) throw new Error("no streams");
      const entries: Entry[] = [];
      for (const stream of body.streams as { stream?: unknown; values?: unknown }[]) {
        const labels = stream.stream as Record<string, unknown>;
        if (typeof labels !== "object" || labels === null || Object.keys(labels).length === 0) {
          throw new Error("a stream without labels");
        }
        for (const [name, value] of Object.entries(labels)) {
          if (!LABEL.test(name) || typeof value !== "string") throw new Error(`bad label ${name}`);
          if (name === "call_id") throw new Error("call_id as a label");
        }
        if (!Array.isArray(stream.values) || stream.values.length === 0) throw new Error("a stream without values");
        for (const value of stream.values as unknown[]) {
          if (!Array.isArray(value) || value.length !== 2) throw new Error("an entry that is not [ts, line]");
          const [ns, line] = value as unknown[];
          if (typeof ns !== "string" || !/^\d{1,19}$/.test(ns)) throw new Error(`timestamp ${ns} is not nanoseconds`);
          if (typeof line !== "string") throw new Error("a line that is not a string");
          entries.push({ callId: callIdOf(line), line });
        }
      }
      return entries;
    }),
    answer: () => ({ status: 204 }),
  };
}

/** Elasticsearch's `_bulk` API, `create` actions only. */
export function bulkApi(): Api {
  let seqNo = 0;
  return {
    path: "/_bulk",
    contentType: /^application\/x-ndjson$/,
    parse: guarded((text) => {
      if (!text.endsWith("\n")) throw new Error("the body does not end with a newline");
      const lines = text.slice(0, -1).split("\n");
      if (lines.length % 2 !== 0) throw new Error("an action without its source");
      const entries: Entry[] = [];
      for (let i = 0; i < lines.length; i += 2) {
        const action = JSON.parse(lines[i]!) as Record<string, Record<string, unknown>>;
        const create = action.create;
        if (Object.keys(action).join() !== "create" || typeof create !== "object") {
          throw new Error("not a create action");
        }
        for (const key of Object.keys(create)) {
          if (key !== "_index" && key !== "_id") throw new Error(`action key ${key}`);
        }
        const line = lines[i + 1]!;
        const callId = callIdOf(line);
        if (create._id !== callId) throw new Error(`_id ${create._id} is not the call_id ${callId}`);
        entries.push({ callId, line });
      }
      return entries;
    }),
    answer: (entries, results) => {
      const items = entries.map((entry, i) => {
        const base = { _index: "audit", _id: entry.callId };
        switch (results[i]) {
          case "stored":
            return {
              create: { ...base, _version: 1, result: "created", _seq_no: seqNo++, _primary_term: 1, status: 201 },
            };
          case "exists":
            return {
              create: {
                ...base,
                status: 409,
                error: {
                  type: "version_conflict_engine_exception",
                  reason: `[${entry.callId}]: version conflict, document already exists (current version [1])`,
                },
              },
            };
          case "retry":
            return {
              create: {
                ...base,
                status: 429,
                error: { type: "es_rejected_execution_exception", reason: "queue full" },
              },
            };
          default:
            return {
              create: {
                ...base,
                status: 400,
                error: { type: "document_parsing_exception", reason: "[1:2] failed to parse field [ts]" },
              },
            };
        }
      });
      return json(200, { errors: results.some((r) => r !== "stored"), took: 3, items });
    },
  };
}

/** Splunk's HTTP Event Collector, `/services/collector/event`. */
export function hecApi(): Api {
  const KEYS = new Set(["time", "host", "source", "sourcetype", "index", "event", "fields"]);
  return {
    path: "/services/collector/event",
    contentType: /^application\/json$/,
    auth: { header: "authorization", reply: json(401, { text: "Token is required", code: 2 }) },
    parse: guarded((text) => {
      const entries: Entry[] = [];
      for (const object of jsonObjects(text)) {
        const event = JSON.parse(object) as Record<string, unknown>;
        for (const key of Object.keys(event)) if (!KEYS.has(key)) throw new Error(`event key ${key}`);
        if (event.time !== undefined && typeof event.time !== "number") throw new Error("time is not epoch seconds");
        if (typeof event.event !== "string") throw new Error("event is not the line");
        entries.push({ callId: callIdOf(event.event), line: event.event });
      }
      if (entries.length === 0) throw new Error("No data");
      return entries;
    }),
    answer: () => json(200, { text: "Success", code: 0 }),
  };
}

/** Datadog's logs intake, v2. */
export function datadogApi(): Api {
  const KEYS = new Set(["ddsource", "ddtags", "hostname", "service", "message", "status", "timestamp"]);
  return {
    path: "/api/v2/logs",
    contentType: /^application\/json$/,
    auth: { header: "dd-api-key", reply: json(403, { errors: ["Forbidden"] }) },
    parse: guarded((text) => {
      if (new TextEncoder().encode(text).length > 5_000_000) throw new Error("payload over 5 MB");
      const logs = JSON.parse(text) as unknown;
      if (!Array.isArray(logs) || logs.length === 0 || logs.length > 1000) throw new Error("not an array of 1 to 1000");
      return logs.map((log: Record<string, unknown>) => {
        if (JSON.stringify(log).length > 1_000_000) throw new Error("a log over 1 MB");
        for (const key of Object.keys(log)) if (!KEYS.has(key)) throw new Error(`log key ${key}`);
        if (typeof log.message !== "string") throw new Error("message is not the line");
        return { callId: callIdOf(log.message), line: log.message };
      });
    }),
    answer: () => json(202, {}),
  };
}

/** The top-level JSON objects of a text of objects separated by whitespace (as HEC reads them). */
function jsonObjects(text: string): string[] {
  const out: string[] = [];
  let depth = 0;
  let start = -1;
  let inString = false;
  for (let i = 0; i < text.length; i++) {
    const c = text[i];
    if (inString) {
      if (c === "\\") i++;
      else if (c === '"') inString = false;
    } else if (c === '"') inString = true;
    else if (c === "{") {
      if (depth++ === 0) start = i;
    } else if (c === "}") {
      if (--depth === 0) out.push(text.slice(start, i + 1));
    } else if (depth === 0 && !/\s/.test(c!)) throw new Error("text between events");
  }
  if (depth !== 0 || inString) throw new Error("a torn event");
  return out;
}
