// 3,000 events through each body format to a local stand-in of its API that
// fails on cue (503, 429 with Retry-After, resets, OTLP partial success,
// partial `_bulk` errors, lost responses): every event is stored exactly once
// or counted failed (by call_id), and a real JsonLinesAuditSink's counters
// agree with the receiver.
import { describe, it } from "node:test";
import assert from "node:assert/strict";
import {
  type CallEvent,
  datadogLogs,
  elasticsearchBulk,
  encodeCallEvent,
  type FetchBodyFormat,
  fetchDestination,
  JsonLinesAuditSink,
  lokiPush,
  otlpLogs,
  type Outcome,
  splunkHec,
} from "../../../../mod.ts";
import {
  ApiReceiver,
  bulkApi,
  datadogApi,
  type Fault,
  hecApi,
  lokiApi,
  otlpApi,
} from "../../../_helpers/api_receivers.ts";
import { MemoryDestination, mkEvent } from "../../../_helpers/events.ts";
import { fast, ids } from "../_fetch_helpers.ts";

const N = 3_000;
const OUTCOMES: Outcome[] = [
  { kind: "success" },
  { kind: "execution_failed", code: "FS_NOT_FOUND", retryable: false },
  { kind: "capability_denied", missing: ["records:write"] },
  { kind: "rate_limited", retry_after_ms: null },
  { kind: "success" },
];

function eventFor(id: string, i: number): CallEvent {
  const event = mkEvent(OUTCOMES[i % OUTCOMES.length], id);
  // Some lines carry characters a JSON string must escape or that are not ASCII.
  return i % 11 === 0 ? { ...event, tool_id: `ref:"écho"\\say 日本 ${i}`, tier: i % 2 ? "warm" : "cold" } : event;
}

interface Case {
  readonly name: string;
  readonly format: () => FetchBodyFormat;
  readonly api: () => Parameters<typeof ApiReceiver.start>[0];
  readonly headers?: Record<string, string>;
  readonly gzip?: boolean;
  readonly plan: (request: number) => Fault | undefined;
  /** Some events may be refused for good. */
  readonly refuses: boolean;
}

const RETRY_AFTER: Fault = { kind: "status", status: 429, headers: { "retry-after": "1" } };

const CASES: Case[] = [
  {
    name: "otlpLogs",
    format: () => otlpLogs({ serviceName: "tools" }),
    api: otlpApi,
    gzip: true,
    refuses: true,
    plan: (i) =>
      i === 4
        ? RETRY_AFTER
        : i === 9
        ? { kind: "reset" }
        : i % 7 === 1
        ? { kind: "status", status: 503 }
        : i % 5 === 3
        ? { kind: "partial", reject: 3, asString: i % 2 === 0 }
        : undefined,
  },
  {
    name: "lokiPush",
    format: () => lokiPush(),
    api: lokiApi,
    refuses: false,
    plan: (i) =>
      i === 4
        ? RETRY_AFTER
        : i === 8
        ? { kind: "reset" }
        : i % 6 === 1
        ? { kind: "status", status: 503, body: "ingester unavailable" }
        : undefined,
  },
  {
    name: "elasticsearchBulk",
    format: () => elasticsearchBulk({ index: "audit" }),
    api: bulkApi,
    gzip: true,
    refuses: true,
    plan: (i) =>
      i === 4
        ? RETRY_AFTER
        : i % 9 === 3
        ? { kind: "lost" }
        : i % 7 === 2
        ? { kind: "status", status: 503 }
        : i % 5 === 1
        ? { kind: "items", retry: 5, fail: 2 }
        : undefined,
  },
  {
    name: "splunkHec",
    format: () => splunkHec({ index: "audit" }),
    api: hecApi,
    headers: { authorization: "Splunk 00000000-0000-0000-0000-000000000000" },
    refuses: false,
    plan: (i) =>
      i === 4
        ? RETRY_AFTER
        : i === 8
        ? { kind: "reset" }
        : i % 6 === 1
        ? { kind: "status", status: 503, body: '{"text":"Server is busy","code":9}' }
        : undefined,
  },
  {
    name: "datadogLogs",
    format: () => datadogLogs({ service: "tools" }),
    api: datadogApi,
    headers: { "dd-api-key": "0123456789abcdef" },
    gzip: true,
    refuses: false,
    plan: (i) =>
      i === 4
        ? RETRY_AFTER
        : i === 6
        ? { kind: "status", status: 413 }
        : i % 6 === 1
        ? { kind: "status", status: 503 }
        : undefined,
  },
];

async function run(c: Case, fallback?: MemoryDestination): Promise<void> {
  const receiver = await ApiReceiver.start(c.api());
  receiver.plan = c.plan;
  try {
    const all = ids(N, `${c.name}-`);
    const events = all.map((id, i) => eventFor(id, i));
    const lines = new Map(events.map((event) => [event.call_id, encodeCallEvent(event)]));
    const destination = fetchDestination(
      receiver.url,
      fast({
        format: c.format(),
        batch: { maxEvents: 100 },
        gzip: c.gzip ?? false,
        headers: c.headers ?? {},
        ...(fallback === undefined ? {} : { fallback: fallback.stream }),
      }),
    );
    const sink = new JsonLinesAuditSink(destination, { backpressure: "block", capacity: 64, onError: () => {} });
    for (let i = 0; i < N; i++) {
      await sink.ready;
      sink.onCall(events[i]!);
    }
    await sink.close();

    assert.deepEqual(receiver.violations, [], "every request had the API's shape");
    assert.deepEqual(receiver.duplicates(), [], "no event was stored twice");
    const refused = new Set(receiver.refused);
    assert.equal(refused.size, receiver.refused.length, "no event was refused twice");
    for (const id of refused) assert.ok(!receiver.stored.has(id), `${id} was both refused and stored`);
    for (const id of all) assert.ok(receiver.stored.has(id) || refused.has(id), `${id} neither stored nor refused`);
    assert.equal(receiver.stored.size + refused.size, N);
    for (const [id, [line]] of receiver.stored) assert.equal(line, lines.get(id), `${id} arrived changed`);
    if (c.refuses) assert.ok(refused.size > 0, "the plan refused some events");

    const stats = sink.stats();
    const lost = fallback === undefined ? refused.size : 0;
    assert.deepEqual(
      { accepted: stats.accepted, written: stats.written, failed: stats.failed, rerouted: stats.rerouted, queued: 0 },
      { accepted: N, written: receiver.stored.size, failed: lost, rerouted: refused.size - lost, queued: stats.queued },
    );
    const d = destination.stats();
    assert.deepEqual([d.delivered, d.failed, d.rerouted, d.pending, d.inFlight], [
      receiver.stored.size,
      lost,
      refused.size - lost,
      0,
      0,
    ]);
    assert.ok(d.retried > 0, "the plan made the destination retry");
    if (fallback !== undefined) {
      // Refused lines reach the fallback byte for byte.
      assert.deepEqual(fallback.lines().sort(), [...refused].map((id) => lines.get(id)!).sort());
    }
  } finally {
    await receiver.close();
  }
}

describe("fetchDestination formats deliver 3,000 events exactly once or count them failed", () => {
  for (const c of CASES) {
    it(`fetchDestination with ${c.name} stores each event once or counts it failed, through 503, 429 and partial failures`, async () => {
      await run(c);
    });
  }

  it("fetchDestination with elasticsearchBulk reroutes the items _bulk refuses to the fallback, byte for byte", async () => {
    await run(CASES.find((c) => c.name === "elasticsearchBulk")!, new MemoryDestination());
  });
});
