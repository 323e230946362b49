import { describe, it } from "node:test";
import assert from "node:assert/strict";
import fc from "fast-check";
import {
  type AuditSink,
  type CallEvent,
  createCallEvent,
  DEFAULT_AUDIT_QUEUE_CAPACITY,
  encodeCallEvent,
  InvalidCallEventError,
  JsonLinesAuditSink,
  parseCallEvent,
} from "../../mod.ts";
import { MemoryDestination, mkEvent, numbered, stalledStream as stalledDestination, tick } from "../_helpers/events.ts";
import { arbitraryEvent } from "../_helpers/arbitrary.ts";

/** For tests whose drops are expected: their loss reports are tested elsewhere. */
const QUIET = { onError: () => {} };

describe("JsonLinesAuditSink", () => {
  it("writes one line per event (reference: json_lines_sink_writes_one_line_per_event)", async () => {
    const dest = new MemoryDestination();
    const sink = new JsonLinesAuditSink(dest.stream);
    sink.onCall(mkEvent({ kind: "success" }));
    sink.onCall(mkEvent({ kind: "tool_not_found" }));
    await sink.flush();
    const lines = dest.lines();
    assert.equal(lines.length, 2, `expected 2 lines, got: ${lines}`);
    for (const line of lines) parseCallEvent(line);
    assert.ok(dest.text().endsWith("\n"));
  });

  it("returns from a burst of 100 calls while the destination is stalled (reference: on_call_is_non_blocking_under_burst)", () => {
    const sink = new JsonLinesAuditSink(stalledDestination());
    const ev = mkEvent();
    for (let i = 0; i < 100; i++) assert.equal(sink.onCall(ev), undefined);
    // Reaching this line synchronously is the proof: nothing waited on I/O.
    assert.equal(sink.stats().accepted, 100);
    assert.equal(sink.stats().written, 0);
  });

  it("counts drops when the queue is full (reference: drops_counter_increments_when_channel_full)", async () => {
    const dest = new MemoryDestination({ delayMs: 2 });
    const sink = new JsonLinesAuditSink(dest.stream, { capacity: 4, ...QUIET });
    const ev = mkEvent();
    for (let i = 0; i < 200; i++) sink.onCall(ev);
    assert.ok(sink.drops > 0, "expected drops at capacity=4 with a 200-event burst against a slow drain, got 0");
    await sink.close();
    assert.equal(dest.lines().length + sink.drops, 200);
  });

  it("drains events to the destination (reference: events_eventually_drain_to_writer)", async () => {
    const dest = new MemoryDestination();
    const sink = new JsonLinesAuditSink(dest.stream);
    for (let i = 0; i < 10; i++) sink.onCall(mkEvent());
    await sink.flush();
    assert.equal(dest.lines().length, 10);
  });

  it("writes pending events on close (reference: dropping_sink_drains_pending_then_exits)", async () => {
    const dest = new MemoryDestination({ delayMs: 1 });
    const sink = new JsonLinesAuditSink(dest.stream);
    for (let i = 0; i < 5; i++) sink.onCall(mkEvent());
    await sink.close();
    assert.equal(dest.lines().length, 5, "close should flush the last 5 events");
    assert.equal(dest.closed, true);
  });

  it("defaults to the drop strategy, as a bare AuditSink does (reference: bare_sink_defaults_to_drop_strategy)", () => {
    const bare: AuditSink = { onCall() {} };
    assert.equal(bare.backpressure ?? "drop", "drop");
    assert.equal(new JsonLinesAuditSink(new MemoryDestination().stream).backpressure, "drop");
    assert.equal(new JsonLinesAuditSink(new MemoryDestination().stream).capacity, DEFAULT_AUDIT_QUEUE_CAPACITY);
    assert.equal(DEFAULT_AUDIT_QUEUE_CAPACITY, 1024);
  });

  it("reports the block strategy it was given (reference: with_strategy_block_reports_block)", () => {
    const sink = new JsonLinesAuditSink(new MemoryDestination().stream, { capacity: 16, backpressure: "block" });
    assert.equal(sink.backpressure, "block");
  });

  it("loses nothing under a burst in block mode (reference: block_strategy_loses_nothing_under_burst)", async () => {
    const dest = new MemoryDestination({ delayMs: 1 });
    const sink = new JsonLinesAuditSink(dest.stream, { capacity: 4, backpressure: "block" });
    for (let i = 0; i < 100; i++) sink.onCall(numbered(i));
    assert.equal(sink.drops, 0, "Block strategy must never drop");
    await sink.close();
    assert.deepEqual(
      dest.lines().map((l) => parseCallEvent(l).call_id),
      Array.from({ length: 100 }, (_, i) => `call-${i}`),
    );
  });

  it("routes overflow to the fallback sink (reference: fallback_strategy_routes_overflow_to_fallback)", async () => {
    const caught: CallEvent[] = [];
    const dest = new MemoryDestination({ delayMs: 5 });
    const sink = new JsonLinesAuditSink(dest.stream, {
      capacity: 1,
      backpressure: { fallback: { onCall: (e) => caught.push(e) } },
    });
    for (let i = 0; i < 50; i++) sink.onCall(numbered(i));
    assert.equal(sink.drops, 0, "fallback caught overflow; primary drops 0");
    assert.ok(caught.length > 0, "fallback sink must catch the overflow events");
    await sink.close();
    const ids = new Set([...dest.lines().map((l) => parseCallEvent(l).call_id), ...caught.map((e) => e.call_id)]);
    assert.equal(ids.size, 50, "every event is either written or in the fallback");
    assert.equal(sink.stats().fallback, caught.length);
  });

  it("keeps memory bounded by capacity in drop mode while the destination stalls", () => {
    const sink = new JsonLinesAuditSink(stalledDestination(), { capacity: 16, ...QUIET });
    for (let i = 0; i < 10_000; i++) sink.onCall(numbered(i));
    const stats = sink.stats();
    assert.equal(stats.accepted, 16);
    assert.equal(stats.dropped, 10_000 - 16);
    assert.ok(sink.desiredSize <= 0);
  });

  it("keeps at most capacity events queued when block-mode callers await ready", async () => {
    const dest = new MemoryDestination({ delayMs: 1 });
    const sink = new JsonLinesAuditSink(dest.stream, { capacity: 8, backpressure: "block" });
    let maxQueued = 0;
    for (let i = 0; i < 200; i++) {
      await sink.ready;
      sink.onCall(numbered(i));
      maxQueued = Math.max(maxQueued, sink.stats().queued);
    }
    await sink.close();
    assert.ok(maxQueued <= 8, `queued reached ${maxQueued}`);
    assert.equal(dest.lines().length, 200);
    assert.equal(sink.drops, 0);
  });

  it("keeps at most capacity events queued however many callers await record() at once", async () => {
    const dest = new MemoryDestination({ delayMs: 1 });
    const sink = new JsonLinesAuditSink(dest.stream, { capacity: 4, backpressure: "block" });
    let maxQueued = 0;
    const producer = async (p: number) => {
      for (let i = 0; i < 10; i++) {
        await sink.record(mkEvent({ kind: "success" }, `p${p}-${i}`));
        maxQueued = Math.max(maxQueued, sink.stats().queued);
      }
    };
    await Promise.all(Array.from({ length: 50 }, (_, p) => producer(p)));
    await sink.close();
    assert.ok(maxQueued <= 4, `queued reached ${maxQueued}`);
    assert.equal(sink.drops, 0);
    const ids = dest.lines().map((l) => parseCallEvent(l).call_id);
    assert.equal(new Set(ids).size, 500);
    for (let p = 0; p < 50; p++) {
      const mine = ids.filter((id) => id.startsWith(`p${p}-`));
      assert.deepEqual(mine, Array.from({ length: 10 }, (_, i) => `p${p}-${i}`), "each caller's events stay in order");
    }
  });

  it("settles record() callers still waiting when the sink closes, counting their events as drops", async () => {
    const sink = new JsonLinesAuditSink(stalledDestination(), { capacity: 2, backpressure: "block", ...QUIET });
    const waiting = Array.from({ length: 5 }, (_, i) => sink.record(numbered(i)));
    const closed = sink.close();
    // The destination never finishes, so close() cannot either; the waiters must still settle.
    await Promise.all(waiting);
    assert.equal(sink.stats().accepted, 2);
    assert.equal(sink.drops, 3);
    void closed;
  });

  it("records at once through record() in drop mode", async () => {
    const dest = new MemoryDestination();
    const sink = new JsonLinesAuditSink(dest.stream, { capacity: 1, ...QUIET });
    await sink.record(numbered(0));
    await sink.record(numbered(1));
    assert.equal(sink.stats().accepted + sink.drops, 2);
    await sink.close();
  });

  it("writes every accepted event exactly once and in order in block mode (property)", async () => {
    await fc.assert(
      fc.asyncProperty(
        fc.array(arbitraryEvent({ callId: fc.constant("x") }), { minLength: 1, maxLength: 60 }),
        fc.integer({ min: 1, max: 8 }),
        fc.array(fc.oneof(fc.constant("now"), fc.constant("ready"), fc.constant("tick")), {
          minLength: 1,
          maxLength: 60,
        }),
        fc.integer({ min: 0, max: 2 }),
        async (events, capacity, pauses, delayMs) => {
          const numberedEvents = events.map((e, i) => ({ ...e, call_id: `c${i}` }));
          const dest = new MemoryDestination({ delayMs });
          const sink = new JsonLinesAuditSink(dest.stream, { capacity, backpressure: "block" });
          for (const [i, event] of numberedEvents.entries()) {
            const pause = pauses[i % pauses.length];
            if (pause === "ready") await sink.ready;
            if (pause === "tick") await tick();
            sink.onCall(event);
          }
          await sink.close();
          assert.deepEqual(dest.lines(), numberedEvents.map((e) => encodeCallEvent(e)));
          assert.deepEqual(sink.stats(), {
            accepted: events.length,
            dropped: 0,
            fallback: 0,
            invalid: 0,
            rerouted: 0,
            written: events.length,
            failed: 0,
            queued: 0,
          });
        },
      ),
      { numRuns: 40 },
    );
  });

  it("accounts for every call in drop mode: accepted + dropped, accepted = written (property)", async () => {
    await fc.assert(
      fc.asyncProperty(fc.integer({ min: 1, max: 300 }), fc.integer({ min: 1, max: 32 }), async (n, capacity) => {
        const dest = new MemoryDestination({ delayMs: 1 });
        const sink = new JsonLinesAuditSink(dest.stream, { capacity, ...QUIET });
        for (let i = 0; i < n; i++) {
          sink.onCall(numbered(i));
          if (i % 7 === 0) await tick();
        }
        await sink.close();
        const s = sink.stats();
        assert.equal(s.accepted + s.dropped, n);
        assert.equal(s.written, s.accepted);
        assert.equal(dest.lines().length, s.written);
        // Whatever was kept stays in call order.
        const ids = dest.lines().map((l) => Number(parseCallEvent(l).call_id.slice(5)));
        assert.deepEqual(ids, [...ids].sort((a, b) => a - b));
      }),
      { numRuns: 25 },
    );
  });

  it("batches lines: a slow destination gets fewer writes than events", async () => {
    const dest = new MemoryDestination({ delayMs: 2 });
    const sink = new JsonLinesAuditSink(dest.stream, { backpressure: "block" });
    for (let i = 0; i < 300; i++) {
      sink.onCall(numbered(i));
      if (i % 10 === 0) await tick(); // events arrive across many event-loop turns
    }
    await sink.close();
    assert.equal(dest.lines().length, 300);
    assert.ok(dest.chunks.length < 60, `${dest.chunks.length} writes for 300 events`);
  });

  it("snapshots the event at onCall: later mutation does not show", async () => {
    const dest = new MemoryDestination();
    const sink = new JsonLinesAuditSink(dest.stream);
    const event = { ...mkEvent(), granted_capabilities: ["read"] };
    sink.onCall(event);
    event.granted_capabilities.push("admin");
    await sink.flush();
    assert.deepEqual(parseCallEvent(dest.lines()[0]!).granted_capabilities, ["read"]);
  });

  it("counts an event it cannot serialize, reports it with the event, and keeps its neighbours", async () => {
    const dest = new MemoryDestination();
    const reported: [unknown, CallEvent | undefined][] = [];
    const sink = new JsonLinesAuditSink(dest.stream, { onError: (error, event) => reported.push([error, event]) });
    const cyclic: Record<string, unknown> = { ...mkEvent() };
    cyclic.outcome = { kind: "capability_denied", missing: [cyclic] };
    const bad: unknown[] = [
      cyclic,
      { ...mkEvent(), duration_ms: 10n },
      { ...mkEvent(), outcome: { kind: "nope" } },
      null,
      undefined,
      "a string",
      { ...mkEvent(), tool_id: undefined },
      new Proxy({}, {
        get: () => {
          throw new Error("hostile getter");
        },
      }),
    ];
    for (const [i, b] of bad.entries()) {
      sink.onCall(numbered(i));
      assert.doesNotThrow(() => sink.onCall(b as CallEvent));
    }
    sink.onCall(numbered(99));
    await sink.close();
    assert.equal(sink.stats().invalid, bad.length);
    assert.equal(sink.drops, 0);
    assert.equal(reported.length, bad.length);
    assert.ok(reported[0]![0] instanceof InvalidCallEventError);
    assert.equal((reported[0]![0] as InvalidCallEventError).path, "outcome.missing[0]");
    assert.equal(reported[1]![1], bad[1]);
    assert.deepEqual(dest.lines().map((l) => parseCallEvent(l).call_id), [...bad.keys(), 99].map((i) => `call-${i}`));
  });

  it("reports a destination that throws midway, counts the loss and keeps accepting calls", async () => {
    const dest = new MemoryDestination({ failAfterWrites: 1, error: new Error("ENOSPC: no space left on device") });
    const errors: unknown[] = [];
    const sink = new JsonLinesAuditSink(dest.stream, { onError: (error) => errors.push(error) });
    sink.onCall(numbered(0));
    await sink.flush();
    for (let i = 1; i <= 5; i++) sink.onCall(numbered(i));
    await sink.flush();
    assert.doesNotThrow(() => sink.onCall(numbered(6)));
    await sink.close();
    const s = sink.stats();
    assert.equal(s.written, 1);
    assert.equal(s.failed, 6);
    assert.equal(s.queued, 0);
    assert.equal(s.accepted, 7);
    assert.ok(errors.length >= 1);
    assert.match(String(errors[0]), /ENOSPC/);
    assert.deepEqual(dest.lines().map((l) => parseCallEvent(l).call_id), ["call-0"]);
  });

  it("survives an onError that throws", async () => {
    const sink = new JsonLinesAuditSink(new MemoryDestination().stream, {
      onError: () => {
        throw new Error("bad hook");
      },
    });
    assert.doesNotThrow(() => sink.onCall(null as unknown as CallEvent));
    await sink.close();
    assert.equal(sink.stats().invalid, 1);
  });

  it("counts a fallback sink that throws as a drop and reports it", () => {
    const errors: unknown[] = [];
    const sink = new JsonLinesAuditSink(stalledDestination(), {
      capacity: 1,
      backpressure: {
        fallback: {
          onCall() {
            throw new Error("fallback broke");
          },
        },
      },
      onError: (error) => errors.push(error),
    });
    sink.onCall(numbered(0));
    sink.onCall(numbered(1));
    assert.equal(sink.drops, 1);
    assert.equal(sink.stats().fallback, 0);
    assert.match(String(errors[0]), /fallback broke/);
  });

  it("flushes the fallback sink from its own flush", async () => {
    let flushed = false;
    const sink = new JsonLinesAuditSink(new MemoryDestination().stream, {
      backpressure: {
        fallback: {
          onCall() {},
          flush: () => {
            flushed = true;
            return Promise.resolve();
          },
        },
      },
    });
    await sink.flush();
    assert.equal(flushed, true);
  });

  it("resolves flush only once every earlier event is written", async () => {
    const dest = new MemoryDestination({ delayMs: 3 });
    const sink = new JsonLinesAuditSink(dest.stream, { backpressure: "block" });
    for (let i = 0; i < 20; i++) {
      sink.onCall(numbered(i));
      if (i % 5 === 0) await tick();
    }
    await sink.flush();
    assert.equal(dest.lines().length, 20);
    assert.equal(sink.stats().queued, 0);
  });

  it("awaits a destination's own flush()", async () => {
    let destFlushes = 0;
    const dest = new MemoryDestination();
    const sink = new JsonLinesAuditSink(
      Object.assign(dest.stream, { flush: () => Promise.resolve(void destFlushes++) }),
    );
    sink.onCall(mkEvent());
    await sink.flush();
    assert.equal(destFlushes, 1);
  });

  it("closes once, however often close() is called, and counts later calls as drops", async () => {
    const dest = new MemoryDestination();
    const sink = new JsonLinesAuditSink(dest.stream, QUIET);
    sink.onCall(mkEvent());
    const [a, b] = [sink.close(), sink.close()];
    assert.equal(a, b);
    await a;
    await sink.close();
    sink.onCall(mkEvent());
    assert.equal(sink.drops, 1);
    assert.equal(dest.lines().length, 1);
    assert.equal(dest.closed, true);
  });

  it("leaves the destination open with preventClose", async () => {
    const dest = new MemoryDestination();
    const sink = new JsonLinesAuditSink(dest.stream, { preventClose: true });
    sink.onCall(mkEvent());
    await sink.close();
    assert.equal(dest.closed, false);
    const writer = dest.stream.getWriter(); // the lock was released
    await writer.write(new TextEncoder().encode("after\n"));
    assert.deepEqual(dest.lines().slice(1), ["after"]);
  });

  it("closes through await using", async () => {
    const dest = new MemoryDestination();
    {
      await using sink = new JsonLinesAuditSink(dest.stream);
      sink.onCall(mkEvent());
    }
    assert.equal(dest.lines().length, 1);
    assert.equal(dest.closed, true);
  });

  it("rejects bad construction arguments at once", () => {
    const stream = () => new MemoryDestination().stream;
    assert.throws(() => new JsonLinesAuditSink(stream(), { capacity: 0 }), RangeError);
    assert.throws(() => new JsonLinesAuditSink(stream(), { capacity: 1.5 }), RangeError);
    assert.throws(() => new JsonLinesAuditSink(stream(), { backpressure: "wait" as never }), TypeError);
    assert.throws(() => new JsonLinesAuditSink(stream(), { backpressure: { fallback: {} } as never }), TypeError);
    assert.throws(() => new JsonLinesAuditSink({} as never), TypeError);
    const locked = stream();
    locked.getWriter();
    assert.throws(() => new JsonLinesAuditSink(locked), TypeError);
  });

  it("records events built by createCallEvent byte for byte", async () => {
    const dest = new MemoryDestination();
    const sink = new JsonLinesAuditSink(dest.stream);
    const event = createCallEvent({
      ts: "2026-05-29T00:00:00+00:00",
      call_id: "c",
      tool_id: 't "quoted" é 😀',
      duration_ms: 1,
      outcome: { kind: "invalid_args", message: "line1\nline2" },
      tier: "warm",
    });
    sink.onCall(event);
    await sink.close();
    assert.equal(dest.text(), encodeCallEvent(event) + "\n");
  });
});
