// A strict reader of OTLP/HTTP JSON logs requests, keyed on the field names
// of the OpenTelemetry JS packages' own OTLP types (@opentelemetry/otlp-transformer):
// each key list below must name exactly the fields of the type it is checked
// against, so a misspelt or missing field fails type checking here before a
// collector would silently drop it (OTLP/JSON receivers ignore unknown fields).
//
// The OpenTelemetry JS packages ship no decoder for JSON requests (their
// JsonLogsSerializer only encodes requests and decodes responses), so this
// walks the JSON against their types and the proto field names instead.
import type {
  IAnyValue,
  IArrayValue,
  IInstrumentationScope,
  IKeyValue,
  IKeyValueList,
  Resource,
} from "@opentelemetry/otlp-transformer/build/src/common/internal-types.js";
import type {
  IExportLogsServiceRequest,
  ILogRecord,
  IResourceLogs,
  IScopeLogs,
} from "@opentelemetry/otlp-transformer/build/src/logs/internal-types.js";

type Keys<T> = Record<keyof T, true>;

const REQUEST: Keys<IExportLogsServiceRequest> = { resourceLogs: true };
const RESOURCE_LOGS: Keys<IResourceLogs> = { resource: true, scopeLogs: true, schemaUrl: true };
const RESOURCE: Keys<Resource> = { attributes: true, droppedAttributesCount: true, schemaUrl: true };
const SCOPE_LOGS: Keys<IScopeLogs> = { scope: true, logRecords: true, schemaUrl: true };
const SCOPE: Keys<IInstrumentationScope> = {
  name: true,
  version: true,
  attributes: true,
  droppedAttributesCount: true,
};
const LOG_RECORD: Keys<ILogRecord> = {
  timeUnixNano: true,
  observedTimeUnixNano: true,
  severityNumber: true,
  severityText: true,
  body: true,
  attributes: true,
  droppedAttributesCount: true,
  flags: true,
  traceId: true,
  spanId: true,
  eventName: true,
};
const KEY_VALUE: Keys<IKeyValue> = { key: true, value: true };
const ANY_VALUE: Keys<IAnyValue> = {
  stringValue: true,
  boolValue: true,
  intValue: true,
  doubleValue: true,
  arrayValue: true,
  kvlistValue: true,
  bytesValue: true,
};
const ARRAY_VALUE: Keys<IArrayValue> = { values: true };
const KVLIST_VALUE: Keys<IKeyValueList> = { values: true };

/** A decimal uint64, as proto3 JSON writes fixed64. */
const FIXED64 = /^(0|[1-9]\d{0,19})$/;
const HEX = (bytes: number) => new RegExp(`^[0-9a-f]{${bytes * 2}}$`);

/**
 * Reads `value` as an `ExportLogsServiceRequest`, collecting every way it
 * departs from the OTLP/JSON encoding into `problems`; returns it typed when
 * there were none.
 */
export function readLogsRequest(value: unknown, problems: string[]): IExportLogsServiceRequest | undefined {
  const before = problems.length;
  const check = new Checker(problems);
  const request = check.object(value, REQUEST, "request");
  check.array(request?.resourceLogs, "resourceLogs", (rl, at) => {
    const r = check.object(rl, RESOURCE_LOGS, at);
    if (r === undefined) return;
    const resource = check.object(r.resource, RESOURCE, `${at}.resource`, true);
    check.array(resource?.attributes, `${at}.resource.attributes`, (kv, p) => check.keyValue(kv, p), true);
    check.array(r.scopeLogs, `${at}.scopeLogs`, (sl, p) => {
      const s = check.object(sl, SCOPE_LOGS, p);
      if (s === undefined) return;
      const scope = check.object(s.scope, SCOPE, `${p}.scope`, true);
      if (scope !== undefined) check.string(scope.name, `${p}.scope.name`);
      check.array(s.logRecords, `${p}.logRecords`, (record, q) => check.logRecord(record, q));
    });
  });
  return problems.length === before ? value as IExportLogsServiceRequest : undefined;
}

class Checker {
  constructor(readonly problems: string[]) {}

  object<T>(value: unknown, keys: Keys<T>, at: string, optional = false): Record<string, unknown> | undefined {
    if (value === undefined && optional) return undefined;
    if (typeof value !== "object" || value === null || Array.isArray(value)) {
      this.problems.push(`${at} is not an object`);
      return undefined;
    }
    for (const key of Object.keys(value)) if (!(key in keys)) this.problems.push(`${at}.${key} is not an OTLP field`);
    return value as Record<string, unknown>;
  }

  array(value: unknown, at: string, each: (v: unknown, at: string) => void, optional = false): void {
    if (value === undefined && optional) return;
    if (!Array.isArray(value)) return void this.problems.push(`${at} is not an array`);
    value.forEach((v, i) => each(v, `${at}[${i}]`));
  }

  string(value: unknown, at: string, optional = false): void {
    if (value === undefined && optional) return;
    if (typeof value !== "string") this.problems.push(`${at} is not a string`);
  }

  logRecord(value: unknown, at: string): void {
    const r = this.object(value, LOG_RECORD, at);
    if (r === undefined) return;
    for (const name of ["timeUnixNano", "observedTimeUnixNano"]) {
      const t = r[name];
      if (t !== undefined && !(typeof t === "string" && FIXED64.test(t) && BigInt(t) < 2n ** 64n)) {
        this.problems.push(`${at}.${name} is not a fixed64 in decimal`);
      }
    }
    const severity = r.severityNumber;
    if (
      severity !== undefined && !(Number.isInteger(severity) && (severity as number) >= 0 && (severity as number) <= 24)
    ) {
      this.problems.push(`${at}.severityNumber is not a SeverityNumber`);
    }
    this.string(r.severityText, `${at}.severityText`, true);
    this.string(r.eventName, `${at}.eventName`, true);
    if (r.traceId !== undefined && !HEX(16).test(String(r.traceId))) this.problems.push(`${at}.traceId is not hex`);
    if (r.spanId !== undefined && !HEX(8).test(String(r.spanId))) this.problems.push(`${at}.spanId is not hex`);
    if (r.body !== undefined) this.anyValue(r.body, `${at}.body`);
    this.array(r.attributes, `${at}.attributes`, (kv, p) => this.keyValue(kv, p), true);
  }

  keyValue(value: unknown, at: string): void {
    const kv = this.object(value, KEY_VALUE, at);
    if (kv === undefined) return;
    this.string(kv.key, `${at}.key`);
    this.anyValue(kv.value, `${at}.value`);
  }

  /** An AnyValue: at most one member of its oneof (none: an empty value). */
  anyValue(value: unknown, at: string): void {
    const v = this.object(value, ANY_VALUE, at);
    if (v === undefined) return;
    const set = Object.keys(v);
    if (set.length > 1) return void this.problems.push(`${at} sets ${set.length} members of a oneof`);
    const [key] = set;
    const x = key === undefined ? undefined : v[key];
    switch (key) {
      case "stringValue":
        return this.string(x, `${at}.stringValue`);
      case "boolValue":
        if (typeof x !== "boolean") this.problems.push(`${at}.boolValue is not a boolean`);
        return;
      case "intValue":
        // proto3 JSON: an int64 is a number or a decimal string.
        if (!(Number.isSafeInteger(x) || (typeof x === "string" && /^-?\d{1,19}$/.test(x)))) {
          this.problems.push(`${at}.intValue is not an int64`);
        }
        return;
      case "doubleValue":
        if (typeof x !== "number") this.problems.push(`${at}.doubleValue is not a number`);
        return;
      case "arrayValue": {
        const a = this.object(x, ARRAY_VALUE, `${at}.arrayValue`);
        return this.array(a?.values, `${at}.arrayValue.values`, (e, p) => this.anyValue(e, p), true);
      }
      case "kvlistValue": {
        const l = this.object(x, KVLIST_VALUE, `${at}.kvlistValue`);
        return this.array(l?.values, `${at}.kvlistValue.values`, (e, p) => this.keyValue(e, p), true);
      }
      case "bytesValue":
        return this.string(x, `${at}.bytesValue`);
    }
  }
}
