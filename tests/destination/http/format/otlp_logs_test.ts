// otlpLogs: bodies the OpenTelemetry JS SDK's own OTLP encoder would write
// for the same records, the GenAI attribute mapping, and partial success.
import { describe, it } from "node:test";
import assert from "node:assert/strict";
import type { HrTime } from "@opentelemetry/api";
import type { ReadableLogRecord } from "@opentelemetry/sdk-logs";
import { JsonLogsSerializer } from "@opentelemetry/otlp-transformer";
import type { IAnyValue, IKeyValue } from "@opentelemetry/otlp-transformer/build/src/common/internal-types.js";
import type { ILogRecord } from "@opentelemetry/otlp-transformer/build/src/logs/internal-types.js";
import {
  encodeCallEvent,
  type FetchBodyFormat,
  fetchDestination,
  type FormatItem,
  type FormatVerdict,
  JsonLinesAuditSink,
  otlpLogs,
} from "../../../../mod.ts";
import { fast } from "../_fetch_helpers.ts";
import { readLine } from "../../../../src/destination/http/format/_line.ts";
import { readLogsRequest } from "../../../_helpers/otlp_shape.ts";
import { mkEvent } from "../../../_helpers/events.ts";
import { testdata } from "../../../_helpers/testdata.ts";

const INPUT = testdata("formats_input.jsonl").trimEnd().split("\n");

/** The request body otlpLogs builds for `lines`. */
function bodyFor(lines: readonly string[], options: Parameters<typeof otlpLogs>[0] = {}): unknown {
  const format = otlpLogs(options);
  const items = lines.map((line) => {
    const parsed = readLine(new TextEncoder().encode(line));
    assert.equal(typeof parsed, "object");
    return format.item(parsed as Exclude<typeof parsed, string>) as FormatItem;
  });
  const body = format.body(items);
  return JSON.parse(typeof body === "string" ? body : body.join(""));
}

/** An AnyValue back as the JavaScript value the SDK takes as an attribute (or body). */
function valueOf(v: IAnyValue): unknown {
  if (v.stringValue !== undefined) return v.stringValue;
  if (v.boolValue !== undefined) return v.boolValue;
  if (v.intValue !== undefined) return Number(v.intValue);
  if (v.doubleValue !== undefined) return v.doubleValue;
  if (v.arrayValue !== undefined) return v.arrayValue.values.map(valueOf);
  if (v.kvlistValue !== undefined) return attributesOf(v.kvlistValue.values);
  throw new Error(`unexpected value ${JSON.stringify(v)}`);
}

function attributesOf(kvs: readonly IKeyValue[]): Record<string, unknown> {
  return Object.fromEntries(kvs.map((kv) => [kv.key, valueOf(kv.value)]));
}

function hrTime(nanos: string): HrTime {
  const n = BigInt(nanos);
  return [Number(n / 1_000_000_000n), Number(n % 1_000_000_000n)];
}

/** Drops what proto3 treats as absent: zero counts and times the SDK always writes. */
function withoutDefaults(request: { resourceLogs: Record<string, unknown>[] }): unknown {
  for (const rl of request.resourceLogs) {
    delete (rl.resource as Record<string, unknown>).droppedAttributesCount;
    for (const sl of rl.scopeLogs as { logRecords: Record<string, unknown>[] }[]) {
      for (const record of sl.logRecords) {
        if (record.droppedAttributesCount === 0) delete record.droppedAttributesCount;
        if (record.observedTimeUnixNano === "0") delete record.observedTimeUnixNano;
      }
    }
  }
  return request;
}

function verdictOf(body: string, complete = true): FormatVerdict {
  return otlpLogs().verdict({ status: 200, contentType: "application/json", body, complete }, []);
}

describe("otlpLogs", () => {
  it("otlpLogs writes what the OpenTelemetry JS SDK's JsonLogsSerializer writes for the same records", () => {
    const ours = bodyFor(INPUT, {
      serviceName: "tools",
      resource: { "host.name": "h", shard: 3 },
      scopeVersion: "1.2",
    });
    const problems: string[] = [];
    const request = readLogsRequest(ours, problems);
    assert.deepEqual(problems, []);
    // Decode our request into the SDK's own records, then let the SDK's OTLP/JSON encoder write them.
    const rl = request!.resourceLogs![0]!;
    const sl = rl.scopeLogs[0]!;
    const resource = { attributes: attributesOf(rl.resource!.attributes), schemaUrl: undefined };
    const scope = { name: sl.scope!.name, version: sl.scope!.version };
    const records = sl.logRecords!.map((r: ILogRecord) => ({
      hrTime: hrTime(String(r.timeUnixNano)),
      hrTimeObserved: [0, 0],
      severityNumber: r.severityNumber,
      severityText: r.severityText,
      eventName: r.eventName,
      body: valueOf(r.body!),
      attributes: attributesOf(r.attributes),
      droppedAttributesCount: 0,
      resource,
      instrumentationScope: scope,
    })) as unknown as ReadableLogRecord[];
    assert.equal(records.length, INPUT.length);
    const theirs = JSON.parse(new TextDecoder().decode(JsonLogsSerializer.serializeRequest(records)));
    assert.deepEqual(ours, withoutDefaults(theirs));
  });

  it("otlpLogs maps a call onto the GenAI attributes, the rest under atd.audit.*, the line as the body", () => {
    const line = encodeCallEvent(mkEvent({ kind: "rate_limited", retry_after_ms: null }, "c-1"));
    const body = bodyFor([line]) as { resourceLogs: { scopeLogs: { logRecords: ILogRecord[] }[] }[] };
    const record = body.resourceLogs[0]!.scopeLogs[0]!.logRecords[0]!;
    assert.equal(record.body?.stringValue, line);
    assert.deepEqual([record.severityNumber, record.severityText], [13, "WARN"]);
    const attributes = attributesOf(record.attributes);
    assert.deepEqual(attributes, {
      "gen_ai.operation.name": "execute_tool",
      "gen_ai.tool.name": "ref:echo.say",
      "gen_ai.tool.call.id": "c-1",
      "error.type": "rate_limited",
      "atd.audit.caller_id": "test-client",
      "atd.audit.granted_capabilities": ["read", "write"],
      "atd.audit.duration_ms": 17,
      "atd.audit.outcome.kind": "rate_limited",
      "atd.audit.tier": "warm",
      "atd.audit.dry_run": false,
      "atd.audit.schema_version": 3,
      "atd.audit.secrets_resolved": false,
    }, "retry_after_ms: null is left out; no call_id label of its own");
    const success = bodyFor([encodeCallEvent(mkEvent())]) as typeof body;
    const ok = success.resourceLogs[0]!.scopeLogs[0]!.logRecords[0]!;
    assert.equal(ok.severityNumber, 9);
    assert.ok(!ok.attributes.some((a) => a.key === "error.type"), "no error.type on success");
  });

  it("otlpLogs sends an unknown time as 0 with the observed time, and deep values as JSON text", () => {
    const line = JSON.stringify({
      ts: "yesterday",
      call_id: "x",
      extra: 1,
      cursor_page: { a: { b: { c: { d: [1] } } } },
    });
    const before = BigInt(Date.now()) * 1_000_000n;
    const body = bodyFor([line]) as { resourceLogs: { scopeLogs: { logRecords: ILogRecord[] }[] }[] };
    const record = body.resourceLogs[0]!.scopeLogs[0]!.logRecords[0]!;
    assert.equal(record.timeUnixNano, "0");
    assert.ok(BigInt(String(record.observedTimeUnixNano)) >= before);
    const attributes = attributesOf(record.attributes);
    assert.equal(attributes["atd.audit.extra"], undefined, "fields that are not CallEvent's stay in the body only");
    assert.deepEqual(attributes["atd.audit.cursor_page"], { a: { b: { c: { d: "[1]" } } } });
  });

  it("otlpLogs counts partialSuccess.rejectedLogRecords, as a number or a string, under either field name", () => {
    assert.deepEqual(verdictOf('{"partialSuccess":{"rejectedLogRecords":3,"errorMessage":"too old"}}'), {
      kind: "rejected",
      count: 3,
      message: "too old",
    });
    assert.deepEqual(verdictOf('{"partialSuccess":{"rejectedLogRecords":"7"}}'), { kind: "rejected", count: 7 });
    assert.deepEqual(verdictOf('{"partial_success":{"rejected_log_records":2}}'), { kind: "rejected", count: 2 });
    for (const body of ["", "  ", "{}", '{"partialSuccess":{}}', '{"partialSuccess":null}']) {
      assert.deepEqual(verdictOf(body), { kind: "all" }, body);
    }
    assert.deepEqual(verdictOf('{"partialSuccess":{"errorMessage":"deprecated field"}}'), {
      kind: "all",
      warning: "deprecated field",
    });
  });

  it("otlpLogs counts a partial success it cannot read as delivered, with a warning", () => {
    const bodies = [
      '{"partialSuccess":{"rejectedLogRecords":-1}}',
      '{"partialSuccess":{"rejectedLogRecords":1.5}}',
      '{"partialSuccess":{"rejectedLogRecords":"1e3"}}',
      '{"partialSuccess":{"rejectedLogRecords":[1]}}',
      '{"partialSuccess":"3"}',
      "<html>login</html>",
      "[1,2]",
    ];
    for (const body of bodies) {
      const verdict = verdictOf(body);
      assert.equal(verdict.kind, "all", body);
      assert.equal(typeof (verdict as { warning?: string }).warning, "string", body);
    }
    const cut = verdictOf('{"partialSuccess":{"rejectedLogRecords":3', false);
    assert.match((cut as { warning: string }).warning, /cut short/);
  });

  it("otlpLogs refuses options of the wrong type", () => {
    assert.throws(() => otlpLogs({ serviceName: 3 as unknown as string }), TypeError);
    assert.throws(() => otlpLogs({ serviceName: "" }), TypeError);
    assert.throws(() => otlpLogs({ resource: { a: {} as unknown as string } }), /resource\.a/);
    assert.throws(() => otlpLogs(null as unknown as undefined), TypeError);
  });
});

describe("otlpLogs retries", () => {
  // OTLP/HTTP: "429, 502, 503, 504" may be retried; every other 4xx and 5xx MUST NOT be.
  for (const [status, attempts] of [[500, 1], [408, 1], [503, 2], [429, 2], [502, 2], [504, 2]] as const) {
    it(`otlpLogs ${attempts === 1 ? "does not retry" : "retries"} an HTTP ${status}, as the OTLP specification says`, async () => {
      let calls = 0;
      const fetch = (): Promise<Response> =>
        Promise.resolve(calls++ === 0 ? new Response("no", { status }) : new Response("{}", { status: 200 }));
      const destination = fetchDestination("http://otel.invalid/v1/logs", fast({ format: otlpLogs(), fetch }));
      const sink = new JsonLinesAuditSink(destination, { onError: () => {} });
      sink.onCall(mkEvent());
      await sink.close();
      assert.equal(calls, attempts);
      assert.equal(sink.stats().written, attempts === 1 ? 0 : 1);
    });
  }

  it("a format's retryable statuses replace the defaults, and are checked", () => {
    const format = { ...otlpLogs(), retryable: [503] } as FetchBodyFormat;
    assert.throws(
      () => fetchDestination("http://x.invalid/", { format: { ...format, retryable: [99] } as FetchBodyFormat }),
      /format\.retryable must be a list of HTTP statuses \(100–599\)/,
    );
    assert.throws(
      () =>
        fetchDestination("http://x.invalid/", {
          format: { ...format, retryable: "503" } as unknown as FetchBodyFormat,
        }),
      /format\.retryable must be a list of HTTP statuses/,
    );
  });
});
