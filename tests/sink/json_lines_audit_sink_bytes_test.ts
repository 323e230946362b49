import { describe, it } from "node:test";
import assert from "node:assert/strict";
import {
  type AuditSink,
  type AuditSinkStats,
  type CallEvent,
  DEFAULT_AUDIT_QUEUE_BYTES,
  encodeCallEvent,
  JsonLinesAuditSink,
} from "../../mod.ts";
import { AuditLossError } from "../../src/sink/audit_loss_error.ts";
import { MemoryDestination, mkEvent, stalledStream, tick } from "../_helpers/events.ts";
import { runScript } from "../_helpers/run_script.ts";

/** An event whose line is about `size` bytes: its `invalid_args` message is that long. */
function sized(size: number, i = 0): CallEvent {
  return mkEvent({ kind: "invalid_args", message: "x".repeat(size) }, `call-${i}`);
}

/** The bytes the queue counts for an event's line, newline included. */
function lineSize(event: CallEvent): number {
  return encodeCallEvent(event).length + 1;
}

function offered(stats: AuditSinkStats): number {
  return stats.accepted + stats.dropped + stats.fallback + stats.invalid;
}

/** A destination whose writes wait until `release()` (one round) or `open()` (for good); it keeps what it was given. */
function gatedDestination() {
  const dest = new MemoryDestination();
  const writer = dest.stream.getWriter();
  let opened = false;
  let waiting: (() => void)[] = [];
  const stream = new WritableStream<Uint8Array>({
    async write(chunk) {
      if (!opened) await new Promise<void>((resolve) => waiting.push(resolve));
      await writer.write(chunk);
    },
  });
  const release = (): void => {
    const wake = waiting;
    waiting = [];
    for (const resolve of wake) resolve();
  };
  return {
    stream,
    dest,
    release,
    open(): void {
      opened = true;
      release();
    },
  };
}

describe("JsonLinesAuditSink maxQueueBytes", () => {
  it("defaults to 64 MiB and checks the option at construction", () => {
    assert.equal(DEFAULT_AUDIT_QUEUE_BYTES, 64 * 1024 * 1024);
    assert.equal(new JsonLinesAuditSink(stalledStream()).maxQueueBytes, DEFAULT_AUDIT_QUEUE_BYTES);
    assert.equal(new JsonLinesAuditSink(stalledStream(), { maxQueueBytes: Infinity }).maxQueueBytes, Infinity);
    assert.throws(
      () => new JsonLinesAuditSink(stalledStream(), { maxQueueBytes: "1" as unknown as number }),
      { name: "TypeError", message: /maxQueueBytes must be a number of bytes, got "1"/ },
    );
    for (const bad of [0, -1, 1.5, NaN]) {
      assert.throws(() => new JsonLinesAuditSink(stalledStream(), { maxQueueBytes: bad }), {
        name: "RangeError",
        message: /maxQueueBytes must be a positive integer or Infinity/,
      });
    }
  });

  it("drops events once the queued bytes reach the bound, counting them queue_full", async () => {
    const reports: unknown[] = [];
    const event = sized(1000);
    const size = lineSize(event);
    const max = 10 * size + Math.floor(size / 2);
    const sink = new JsonLinesAuditSink(stalledStream(), { maxQueueBytes: max, onError: (e) => reports.push(e) });
    for (let i = 0; i < 100; i++) sink.onCall(event);
    const stats = sink.stats();
    assert.equal(stats.accepted, 10, "ten lines fit under the bound, the eleventh does not");
    assert.equal(stats.dropped, 90);
    assert.equal(offered(stats), 100);
    assert.ok(
      sink.desiredSize > 0,
      "under the bound in bytes, and in events: not full, though the next line will not fit",
    );
    const exact = new JsonLinesAuditSink(stalledStream(), { maxQueueBytes: 10 * size, onError: () => {} });
    for (let i = 0; i < 10; i++) exact.onCall(event);
    assert.equal(exact.stats().accepted, 10);
    assert.ok(exact.desiredSize <= 0, "the queue reads full once its bytes reach the bound");
    await tick();
    const loss = reports.find((e): e is AuditLossError => e instanceof AuditLossError);
    assert.equal(loss?.reason, "queue_full");
    assert.match(loss!.message, /was full .*maxQueueBytes/);
  });

  it("takes a line larger than the bound when the queue is empty, alone", async () => {
    const gate = gatedDestination();
    const big = sized(5000);
    const small = sized(10);
    const sink = new JsonLinesAuditSink(gate.stream, { maxQueueBytes: 1000, onError: () => {} });
    sink.onCall(big);
    sink.onCall(small);
    assert.deepEqual([sink.stats().accepted, sink.stats().dropped], [1, 1]);
    gate.open();
    await sink.flush();
    sink.onCall(small);
    sink.onCall(big); // does not fit behind the small one
    await sink.close();
    const stats = sink.stats();
    assert.deepEqual([stats.accepted, stats.dropped, stats.written, stats.queued], [2, 2, 2, 0]);
    assert.equal(offered(stats), 4);
    assert.deepEqual(gate.dest.lines(), [encodeCallEvent(big), encodeCallEvent(small)]);
  });

  it("hands events over the bound to the fallback sink", () => {
    const spilled: CallEvent[] = [];
    const fallback: AuditSink = { onCall: (event) => spilled.push(event) };
    const event = sized(500);
    const sink = new JsonLinesAuditSink(stalledStream(), {
      maxQueueBytes: 3 * lineSize(event),
      backpressure: { fallback },
    });
    for (let i = 0; i < 10; i++) sink.onCall(event);
    const stats = sink.stats();
    assert.deepEqual([stats.accepted, stats.fallback, stats.dropped], [3, 7, 0]);
    assert.equal(spilled.length, 7);
  });

  it("makes record() wait in block mode while the queue is full in bytes, and loses nothing", async () => {
    const gate = gatedDestination();
    const event = sized(1000);
    const size = lineSize(event);
    const sink = new JsonLinesAuditSink(gate.stream, { backpressure: "block", maxQueueBytes: 4 * size });
    let recorded = 0;
    const all = Array.from({ length: 20 }, () => sink.record(event).then(() => recorded++));
    await tick();
    assert.equal(recorded, 4, "four events fill the bound; the others wait");
    assert.equal(sink.stats().accepted, 4);
    let ready = false;
    void sink.ready.then(() => (ready = true));
    await tick();
    assert.equal(ready, false, "ready waits while the queue is full in bytes");
    gate.open();
    await Promise.all(all);
    assert.equal(ready, true);
    await sink.close();
    const stats = sink.stats();
    assert.deepEqual([stats.accepted, stats.dropped, stats.written, stats.queued], [20, 0, 20, 0]);
    assert.equal(gate.dest.lines().length, 20);
  });

  it("never queues more than the bound in block mode with record(), but for the last line admitted", async () => {
    const gate = gatedDestination();
    const sizes = [300, 2000, 50, 900, 1200, 10, 4000, 700];
    const max = 3000;
    const sink = new JsonLinesAuditSink(gate.stream, { backpressure: "block", maxQueueBytes: max });
    const events = Array.from({ length: 40 }, (_, i) => sized(sizes[i % sizes.length]!, i));
    const largest = Math.max(...events.map(lineSize));
    let peak = 0;
    const done = Promise.all(events.map((event) =>
      sink.record(event).then(() => {
        const stats = sink.stats();
        let queuedBytes = 0;
        // The queued events are the last `queued` accepted ones, in order.
        for (let i = stats.accepted - stats.queued; i < stats.accepted; i++) queuedBytes += lineSize(events[i]!);
        peak = Math.max(peak, queuedBytes);
      })
    ));
    for (let round = 0; round < 200 && sink.stats().accepted < events.length; round++) {
      await tick();
      gate.release();
    }
    gate.open();
    await done;
    await sink.close();
    assert.ok(peak > 0 && peak < max + largest, `peak ${peak} within ${max} plus one line (${largest})`);
    assert.deepEqual(gate.dest.lines(), events.map((event) => encodeCallEvent(event)), "in order, none lost");
  });

  it("keeps its counters consistent while drops, writes and the byte bound interleave", async () => {
    const dest = new MemoryDestination({ delayMs: 1 });
    const sink = new JsonLinesAuditSink(dest.stream, { maxQueueBytes: 8000, capacity: 64, onError: () => {} });
    let offers = 0;
    for (let round = 0; round < 30; round++) {
      for (let i = 0; i < 25; i++, offers++) sink.onCall(sized((round * 37 + i * 101) % 1500, offers));
      const stats = sink.stats();
      assert.equal(offered(stats), offers);
      assert.equal(stats.accepted, stats.written + stats.rerouted + stats.failed + stats.queued);
      await tick(round % 3);
    }
    await sink.close();
    const stats = sink.stats();
    assert.equal(offered(stats), offers);
    assert.equal(stats.written, stats.accepted);
    assert.equal(dest.lines().length, stats.accepted);
    assert.ok(stats.dropped > 0, "the bound was reached");
  });

  it("keeps memory under the bound with 1 MiB events against a stalled destination (RSS in a child)", async () => {
    // 400 events of 1 MiB would hold 400 MiB with a bound in events only (capacity 1024).
    const result = await runScript("tests/sink/_rss_script.ts", ["400", String(8 << 20)], 60_000);
    assert.equal(result.code, 0, result.stderr);
    const report = JSON.parse(result.stdout.trim().split("\n").at(-1)!) as {
      accepted: number;
      dropped: number;
      growthMiB: number[];
    };
    assert.equal(report.accepted + report.dropped, 400);
    assert.equal(report.accepted, 7, "8 MiB holds 7 lines of 1 MiB and some");
    const last = report.growthMiB.at(-1)!;
    // The bound is 8 MiB (measured: 25–40 MiB of growth, 460 MiB without it); be generous to the collector.
    assert.ok(last < 100, `RSS grew ${last} MiB (samples ${report.growthMiB.join(", ")})`);
  });
});
