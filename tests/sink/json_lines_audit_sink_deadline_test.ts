import { describe, it } from "node:test";
import assert from "node:assert/strict";
import { AuditLossError, type AuditSinkStats, JsonLinesAuditSink } from "../../mod.ts";
import { MemoryDestination, numbered, ScriptedDestination, stalledStream, tick } from "../_helpers/events.ts";

function collector() {
  const errors: unknown[] = [];
  const onError = (error: unknown) => void errors.push(error);
  const sum = (...reasons: string[]) =>
    errors
      .filter((e): e is AuditLossError => e instanceof AuditLossError && reasons.includes(e.reason))
      .reduce((n, e) => n + e.events, 0);
  return { errors, onError, sum };
}

function assertBalanced(s: AuditSinkStats, offered: number): void {
  assert.equal(s.accepted + s.dropped + s.fallback + s.invalid, offered, JSON.stringify(s));
  assert.equal(s.accepted, s.written + s.rerouted + s.failed + s.queued, JSON.stringify(s));
  assert.ok(s.queued >= 0, JSON.stringify(s));
}

/** A signal that aborts after the current work had a few turns of the event loop. */
function abortSoon(): AbortSignal {
  const controller = new AbortController();
  void tick(5).then(() => controller.abort(new Error("test deadline")));
  return controller.signal;
}

describe("JsonLinesAuditSink deadlines", () => {
  it("resolves close({ signal }) against a stream whose writes never settle, counting every event failed", async () => {
    const { onError, sum } = collector();
    const sink = new JsonLinesAuditSink(stalledStream(), { capacity: 16, onError });
    for (let i = 0; i < 40; i++) sink.onCall(numbered(i));
    await sink.close({ signal: abortSoon() });
    const s = sink.stats();
    assertBalanced(s, 40);
    assert.deepEqual([s.accepted, s.failed, s.queued], [16, 16, 0]);
    assert.equal(sum("deadline"), 16, "onError heard of every event lost to the deadline");
    assert.equal(sum("queue_full"), 24);
  });

  it("resolves close({ signal }) against a destination that never settles anything, flush and abort included", async () => {
    const { errors, onError, sum } = collector();
    const scripted = new ScriptedDestination(() => ({ settle: "never" }), { flush: "hang" });
    const sink = new JsonLinesAuditSink(scripted.destination, { backpressure: "block", onError });
    for (let i = 0; i < 25; i++) sink.onCall(numbered(i));
    await tick();
    for (let i = 25; i < 30; i++) sink.onCall(numbered(i));
    // Not AbortSignal.timeout: Node does not keep a process alive for its timer.
    await sink.close({ signal: abortSoon() });
    const s = sink.stats();
    assertBalanced(s, 30);
    assert.deepEqual([s.failed, s.queued], [30, 0]);
    assert.equal(sum("deadline"), 30);
    const report = errors.find((e): e is AuditLossError => e instanceof AuditLossError)!;
    assert.match(report.message, /deadline passed \(test deadline\)$/);
    assert.ok(report.firstAt <= report.lastAt);
  });

  it("lets the destination give up what it holds, reporting it, before counting the rest", async () => {
    const { errors, onError, sum } = collector();
    const scripted = new ScriptedDestination((_, lines) => ({ held: lines }));
    const sink = new JsonLinesAuditSink(scripted.destination, { onError });
    for (let i = 0; i < 10; i++) sink.onCall(numbered(i));
    await tick();
    const controller = new AbortController();
    controller.abort(new Error("now"));
    await sink.close({ signal: controller.signal });
    const s = sink.stats();
    assertBalanced(s, 10);
    assert.deepEqual([s.failed, s.queued], [10, 0]);
    assert.equal(sum("deadline"), 10);
    assert.equal(sum("destination"), 0);
    assert.ok(scripted.aborted, "the destination was aborted");
    const [report] = errors as AuditLossError[];
    assert.match(String(report!.cause), /gave up 10 held lines/, "the destination's own cause");
  });

  it("resolves flush({ signal }) and keeps the sink open", async () => {
    const { onError, sum } = collector();
    let stall = true;
    const scripted = new ScriptedDestination((_, lines) => (stall ? { held: lines } : { delivered: lines }), {});
    const sink = new JsonLinesAuditSink(scripted.destination, { onError });
    for (let i = 0; i < 5; i++) sink.onCall(numbered(i));
    await sink.flush({ signal: AbortSignal.abort(new Error("no time")) });
    assert.equal(sum("deadline"), 5, "what was still in the queue");
    stall = false;
    for (let i = 5; i < 8; i++) sink.onCall(numbered(i));
    await sink.flush();
    await sink.close();
    const s = sink.stats();
    assertBalanced(s, 8);
    assert.deepEqual([s.written, s.failed, s.queued], [3, 5, 0]);
  });

  it("lets a later close({ signal }) bound an earlier close() that waits forever", async () => {
    const sink = new JsonLinesAuditSink(stalledStream(), { onError: () => {} });
    sink.onCall(numbered(0));
    const first = sink.close();
    await tick();
    await sink.close({ signal: abortSoon() });
    await first; // resolved by the deadline too
    assertBalanced(sink.stats(), 1);
    assert.equal(sink.stats().queued, 0);
  });

  it("settles record() callers waiting in block mode when a close deadline passes", async () => {
    const { onError, sum } = collector();
    const sink = new JsonLinesAuditSink(stalledStream(), { capacity: 2, backpressure: "block", onError });
    const waiting = Array.from({ length: 6 }, (_, i) => sink.record(numbered(i)));
    await sink.close({ signal: abortSoon() });
    await Promise.all(waiting);
    const s = sink.stats();
    assertBalanced(s, 6);
    assert.deepEqual([s.accepted, s.dropped, s.failed, s.queued], [2, 4, 2, 0]);
    assert.equal(sum("closed"), 4);
    assert.equal(sum("deadline"), 2);
  });

  it("releases a stream it must leave open instead of aborting it", async () => {
    let aborted = false;
    const stream = new WritableStream<Uint8Array>({
      write: () => new Promise(() => {}),
      abort: () => void (aborted = true),
    });
    const sink = new JsonLinesAuditSink(stream, { preventClose: true, onError: () => {} });
    sink.onCall(numbered(0));
    await sink.close({ signal: abortSoon() });
    assert.equal(aborted, false);
    assert.equal(sink.stats().failed, 1);
  });

  it("loses nothing when the deadline is not reached", async () => {
    const { errors, onError } = collector();
    const dest = new MemoryDestination({ delayMs: 1 });
    const sink = new JsonLinesAuditSink(dest.stream, { onError });
    for (let i = 0; i < 50; i++) sink.onCall(numbered(i));
    await sink.close({ signal: AbortSignal.timeout(30_000) });
    assert.deepEqual(errors, []);
    assert.equal(dest.lines().length, 50);
    assert.equal(sink.stats().written, 50);
    assert.equal(dest.closed, true);
  });

  it("rejects a signal that is not an AbortSignal, and ignores arguments that are not options", async () => {
    const sink = new JsonLinesAuditSink(new MemoryDestination().stream);
    await assert.rejects(sink.flush({ signal: 5000 as never }), TypeError);
    await assert.rejects(sink.close({ signal: {} as never }), /signal must be an AbortSignal/);
    await assert.rejects(sink.flush({ signal: Object.create(AbortSignal.prototype) }), /signal must be an AbortSignal/);
    const hostile = new AbortController();
    Object.defineProperty(hostile.signal, "reason", {
      get() {
        throw new Error("hostile reason");
      },
    });
    hostile.abort();
    sink.onCall(numbered(0));
    await sink.flush({ signal: hostile.signal }); // resolves: the reason is read safely
    await sink.flush("SIGTERM" as never);
    await sink.close(42 as never);
  });
});
