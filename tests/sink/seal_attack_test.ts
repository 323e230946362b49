// Hostile review of the sink's sealing: flush and close racing while
// segments are hashed off the main thread, deadlines that pass mid-seal, and
// a destination that stalls. Whatever happens, the checkpoints must account
// for every event (written + lost = offered) and the trail must verify.
import { describe, it } from "node:test";
import assert from "node:assert/strict";
import { type CallEvent, JsonLinesAuditSink } from "../../mod.ts";
import { MemoryDestination, mkEvent, tick } from "../_helpers/events.ts";
import { keys, problems, show, verify } from "../seal/_trail.ts";
import { OrderedDestination } from "./_sealed.ts";

/** An event of about 2 KiB, so that segments go to the hashing worker (64 KiB and more). */
function wide(i: number): CallEvent {
  return { ...mkEvent({ kind: "success" }, `wide-${i}`), caller_id: `agent-${i}-${"c".repeat(2000)}` };
}

describe("JsonLinesAuditSink sealing under attack", () => {
  it("accounts for every event when flush and close race mid-seal, and events come after close", async () => {
    for (const inBand of [false, true]) {
      const key = await keys();
      const data = new MemoryDestination({ delayMs: 1 });
      const seal = new MemoryDestination();
      const sink = new JsonLinesAuditSink(data.stream, {
        backpressure: "drop",
        capacity: 64,
        onError: () => {},
        seal: { key: key.seal, maxSegmentLines: 40, ...(inBand ? { inBand: true } : { to: seal.stream }) },
      });
      for (let i = 0; i < 150; i++) sink.onCall(wide(i));
      await tick();
      for (let i = 150; i < 300; i++) sink.onCall(wide(i));
      const racing = [sink.flush(), sink.close(), sink.flush(), sink.close()];
      for (let i = 300; i < 310; i++) sink.onCall(wide(i)); // after close(): lost as closed, and sealed as such
      await Promise.all(racing);
      const s = sink.stats();
      const offered = s.accepted + s.dropped + s.fallback + s.invalid;
      assert.equal(offered, 310);
      assert.equal(s.queued, 0);
      const { findings, summary } = await verify(data.text(), {
        keys: key.verify,
        ...(inBand ? {} : { seal: seal.text() }),
      });
      const mode = inBand ? "in band" : "seal stream";
      assert.deepEqual(problems(findings), [], `${mode}: ${show(findings)}`);
      assert.equal(summary.written, s.written, `${mode}: ${JSON.stringify(summary)} ${JSON.stringify(s)}`);
      assert.equal(summary.offered, offered, `${mode}: ${JSON.stringify(summary)} ${JSON.stringify(s)}`);
      assert.equal(summary.unsealedLines, 0, `${mode}: ${show(findings)}`);
    }
  });

  it("seals the losses of a destination that stalls until a close deadline passes", async () => {
    const key = await keys();
    let release!: () => void;
    const stalled = new Promise<void>((resolve) => (release = resolve));
    const data = new OrderedDestination(() => ({}), stalled);
    const seal = new MemoryDestination();
    const sink = new JsonLinesAuditSink(data.destination, {
      backpressure: "drop",
      capacity: 16,
      onError: () => {},
      seal: { key: key.seal, maxSegmentLines: 5, to: seal.stream },
    });
    for (let i = 0; i < 100; i++) sink.onCall(wide(i));
    // Node unrefs AbortSignal.timeout's timer, and a stalled promise holds nothing open: keep the loop alive.
    const alive = setInterval(() => {}, 1000);
    await sink.close({ signal: AbortSignal.timeout(50) });
    clearInterval(alive);
    release();
    await tick(20);
    const s = sink.stats();
    const offered = s.accepted + s.dropped + s.fallback + s.invalid;
    const { findings, summary } = await verify(data.arrived.join(""), { keys: key.verify, seal: seal.text() });
    assert.deepEqual(problems(findings), [], show(findings));
    assert.equal(summary.offered, offered, `${JSON.stringify(summary)} ${JSON.stringify(s)}`);
    assert.equal(summary.lost, offered - s.written);
  });

  it("in band, seals the losses of a close whose deadline passes while lines are still being written", async () => {
    const key = await keys();
    const data = new MemoryDestination({ delayMs: 150 }); // slow, but it works
    const sink = new JsonLinesAuditSink(data.stream, {
      onError: () => {},
      seal: { key: key.seal, maxSegmentLines: 100, inBand: true },
    });
    for (let i = 0; i < 10; i++) sink.onCall(mkEvent({ kind: "success" }, `early-${i}`));
    await sink.flush(); // delivered and sealed
    for (let i = 0; i < 10; i++) sink.onCall(mkEvent({ kind: "success" }, `late-${i}`));
    await tick();
    await sink.close({ signal: AbortSignal.timeout(60) });
    await tick(100);
    const s = sink.stats();
    const { findings, summary } = await verify(data.text(), { keys: key.verify });
    assert.deepEqual(problems(findings), [], show(findings));
    assert.equal(summary.offered, 20, `${JSON.stringify(summary)} ${JSON.stringify(s)}`);
    assert.equal(summary.lost, s.failed, `${JSON.stringify(summary)} ${JSON.stringify(s)}`);
    assert.equal(summary.unsealedLines, 0, `${JSON.stringify(summary)} ${JSON.stringify(s)}`);
  });
});
