// Findings of a chaos review of the sink (destinations that stall, deadlines
// that pass mid-write, an onError that records, in-band sealing), each a
// deterministic repro of a promise that was broken (2026-12-03).
import { describe, it } from "node:test";
import assert from "node:assert/strict";
import {
  AuditLossError,
  type CallEvent,
  type DeliveryReport,
  JsonLinesAuditSink,
  toAuditDestination,
} from "../../mod.ts";
import { MemoryDestination, numbered, stalledStream, tick } from "../_helpers/events.ts";
import { keys, problems, show, verify } from "../seal/_trail.ts";
import { SealStream } from "./_sealed.ts";

const encoder = new TextEncoder();
const CHECKPOINT = '{"audit_checkpoint":';

function offeredOf(s: ReturnType<JsonLinesAuditSink["stats"]>): number {
  return s.accepted + s.dropped + s.fallback + s.invalid;
}

async function microtasks(n: number): Promise<void> {
  for (let i = 0; i < n; i++) await Promise.resolve();
}

describe("chaos findings", () => {
  // AuditDestination contract: "flush(signal) resolves once every line written before the call has been
  // reported". The wrapper remembers only the write its stream has started, not the ones queued behind it.
  it("toAuditDestination: flush() resolves only once every line written before it is reported", async () => {
    let release!: () => void;
    const stalled = new Promise<void>((resolve) => (release = resolve));
    let writes = 0;
    const destination = toAuditDestination(
      new WritableStream<Uint8Array>({
        write: async () => {
          if (writes++ === 0) await stalled; // the first write takes a while
        },
      }),
    );
    let delivered = 0;
    const report: DeliveryReport = {
      delivered: (lines) => void (delivered += lines),
      rerouted: () => {},
      failed: () => {},
      warn: () => {},
    };
    destination.attach(report);
    const writer = destination.getWriter();
    void writer.write(encoder.encode("a\n"));
    void writer.write(encoder.encode("b\n")); // queued behind the first
    await tick();
    const flushed = destination.flush();
    release();
    await flushed;
    assert.equal(delivered, 2, "flush() resolved before the lines written before it were reported");
  });

  // README: "close() (or flush()) seals what is left"; Sealing.flush: "waits until every checkpoint made was
  // handed on and the seal stream took it". A seal stream that takes 5 ms a write has most checkpoints still
  // queued when flush() resolves (same cause: the wrapper's flush waits for the started write only).
  it("sealed to a slow seal stream: flush() resolves once every checkpoint is in the seal stream", async () => {
    const key = await keys();
    const data = new MemoryDestination();
    const seal = new MemoryDestination({ delayMs: 5 });
    const sink = new JsonLinesAuditSink(data.stream, {
      backpressure: "block",
      capacity: 2,
      onError: () => {},
      seal: { key: key.seal, maxSegmentLines: 1, to: seal.stream },
    });
    for (let i = 0; i < 10; i++) await sink.record(numbered(i));
    await sink.flush();
    const { summary } = await verify(data.text(), { keys: key.verify, seal: seal.text() });
    const at = `${seal.lines().length} checkpoints in the seal stream, ${
      JSON.stringify({ ...summary, lastCheckpoint: 0 })
    }`;
    await sink.close();
    assert.equal(summary.unsealedLines, 0, `flush() resolved with lines unsealed: ${at}`);
    assert.equal(summary.offered, 10, at);
  });

  // In band, close({ signal }) after a deadline: wherever the deadline falls, the trail close() leaves must account
  // for every event and verify. Against a plain in-memory stream that takes every write at once, it does not: a
  // data line that waited for a checkpoint goes out after the last cut, so verify reports it "inserted"
  // (tampering) and the last checkpoint misses an event; at other points lines that arrived are counted failed,
  // or the last checkpoint is lost (the trail then verifies "intact" but without the deadline's losses).
  it("in band, close({ signal }) leaves a trail that accounts for every event and verifies, wherever the deadline falls", async () => {
    const key = await keys();
    const broken: string[] = [];
    for (let m = 0; m < 40; m++) {
      const data = new MemoryDestination();
      const sink = new JsonLinesAuditSink(data.stream, {
        capacity: 1,
        backpressure: "block",
        onError: () => {},
        seal: { key: key.seal, maxSegmentLines: 1, inBand: true },
      });
      for (let i = 0; i < 4; i++) sink.onCall(numbered(i));
      sink.onCall({ ...numbered(9), duration_ms: -1 } as CallEvent); // one out-of-stream loss
      await microtasks(m);
      await sink.close({ signal: AbortSignal.abort(new Error("deadline")) });
      const s = sink.stats();
      const lines = data.lines();
      const checkpoints = lines.filter((line) => line.startsWith(CHECKPOINT)).map((line) => JSON.parse(line));
      const dataLines = lines.length - checkpoints.length;
      const lost = checkpoints.flatMap((c) => c.gaps).reduce((n: number, g: { count: number }) => n + g.count, 0);
      const { findings, summary } = await verify(data.text(), { keys: key.verify });
      const symptoms = [
        problems(findings).length > 0 ? `verify: ${show(problems(findings))}` : "",
        summary.unsealedLines > 0 ? `${summary.unsealedLines} lines unsealed` : "",
        checkpoints.at(-1)?.offered !== offeredOf(s) ? `last checkpoint offered ${checkpoints.at(-1)?.offered}` : "",
        s.written + lost !== offeredOf(s) ? `written ${s.written} + gaps ${lost} != offered ${offeredOf(s)}` : "",
        dataLines !== s.written ? `${dataLines} lines arrived, ${s.written} counted written` : "",
      ].filter((x) => x !== "");
      if (symptoms.length > 0) broken.push(`after ${m} microtasks: ${symptoms.join("; ")}`);
    }
    assert.deepEqual(broken, [], broken.join("\n"));
  });

  // README, promise 3: every loss is counted and told; an onError that records while it is told close()'s last
  // reports causes a loss each time it is told one (the sink is closed): close() must still end, every such event
  // counted, and all but the last told (telling that one would call onError again, without end).
  it("counts every loss an onError causes while told close()'s last reports, tells all but the last, and ends", async () => {
    const told: AuditLossError[] = [];
    let recording = true;
    let offered = 0;
    const sink: JsonLinesAuditSink = new JsonLinesAuditSink(new MemoryDestination().stream, {
      capacity: 1,
      onError: (error) => {
        if (error instanceof AuditLossError) told.push(error);
        if (recording) {
          offered++;
          sink.onCall(numbered(99)); // an onError that audits its own alerts
        }
      },
    });
    offered += 2;
    sink.onCall(numbered(0));
    sink.onCall(numbered(1)); // the queue is full: dropped
    await sink.close();
    recording = false;
    const s = sink.stats();
    assert.equal(offeredOf(s), offered);
    const toldDropped = told.filter((e) => e.reason === "queue_full" || e.reason === "closed")
      .reduce((n, e) => n + e.events, 0);
    assert.equal(
      toldDropped,
      s.dropped - 1,
      `${JSON.stringify(s)}; told ${told.map((e) => `${e.reason} ${e.events}`)}`,
    );
  });

  // flush({ signal }) after a deadline, with a plain stream's write in flight: the sink stays open and the stream
  // is not aborted, so the write goes on and its lines arrive. The deadline counted them failed, and README promise
  // 3 says reports after the sink gave up change no counter but are told: the late report was ignored silently.
  it("flush({ signal }) with a write in flight: the stream's late report of lines counted failed is told", async () => {
    const key = await keys();
    const data = new MemoryDestination({ delayMs: 30 });
    const seal = new SealStream();
    const errors: unknown[] = [];
    const sink = new JsonLinesAuditSink(data.stream, {
      onError: (error) => void errors.push(error),
      seal: { key: key.seal, to: seal.stream },
    });
    for (let i = 0; i < 5; i++) sink.onCall(numbered(i));
    await tick(5); // the write of the 5 lines is under way
    await sink.flush({ signal: AbortSignal.abort(new Error("deadline")) });
    await tick(60); // and done: the stream took them
    for (let i = 5; i < 8; i++) sink.onCall(numbered(i));
    await sink.close();
    const s = sink.stats();
    assert.equal(data.lines().length, 8, "every line arrived");
    assert.deepEqual([s.written, s.failed], [3, 5], "the deadline's count stands");
    const late = errors.filter((e) => /after a deadline counted them failed/.test(String(e)));
    assert.equal(late.length, 1, `the late report is told once: ${errors.map(String).join("; ")}`);
    const { findings, summary } = await verify(data.text(), { keys: key.verify, seal: seal.text() });
    assert.deepEqual(problems(findings), [], "lines declared lost that arrived anyway are no tampering");
    assert.deepEqual([summary.written, summary.lost], [3, 5]);
  });

  // README: "await sink.flush() resolves once every event accepted before the call is settled: written, rerouted or
  // counted failed". A flush() waiting on a stalled stream when close({ signal }) passes its deadline never
  // resolves, although close() counted every event failed (queued 0): `waitUntil(audit.flush())` then a shutdown
  // close with a deadline leaves a promise pending for ever. (A pending close() and record() do settle.)
  it("settles a flush() still waiting when close({ signal }) gives up on the destination", async () => {
    const sink = new JsonLinesAuditSink(stalledStream(), { onError: () => {} });
    sink.onCall(numbered(0));
    let flushed = false;
    void sink.flush().then(() => (flushed = true));
    const controller = new AbortController();
    setTimeout(() => controller.abort(new Error("deadline")), 5);
    await sink.close({ signal: controller.signal });
    assert.deepEqual([sink.stats().failed, sink.stats().queued], [1, 0]);
    await tick(1_000); // ten times the deadline's grace
    assert.ok(flushed, "flush() is still pending after close({ signal }) resolved");
  });
});
