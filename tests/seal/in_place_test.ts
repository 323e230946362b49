// Sealing without a copy: for this library's file destinations the sink's
// queue encodes a write's lines straight into the open segment's buffer
// (src/sink/_segment_bytes.ts), and the file is written from that view. What
// must hold: the bytes written and sealed are the lines, exactly, while
// buffers are reused; no one else's stream ever gets such a view; a buffer a
// destination may still be writing from is not reused.
import { describe, it } from "node:test";
import assert from "node:assert/strict";
import { readFileSync } from "node:fs";
import { join } from "node:path";
import { type CallEvent, createCallEvent, encodeCallEvent, JsonLinesAuditSink } from "../../mod.ts";
import { fileDestination, fileSeal } from "../../src/destination/file_destination.ts";
import { DeliveryLedger, type Fate } from "../../src/sink/_delivery_ledger.ts";
import { hashCounts } from "../../src/seal/_hasher.ts";
import { SegmentBytes, segmentCounts, SegmentPool } from "../../src/sink/_segment_bytes.ts";
import { countsDuring } from "../_helpers/counts.ts";
import { inTempDir } from "../_helpers/temp_dir.ts";
import { setFiles } from "../destination/_rotation_files.ts";
import { assertExactLines, keys, linesOf, show, verify, verifySetIn } from "./_trail.ts";

const encoder = new TextEncoder();

const made: CallEvent[] = [];

/** Event `i` (made once): lines of every length mod 4, some wide (up to 4 bytes a character), 200 to 2,000 bytes. */
function event(i: number): CallEvent {
  return made[i] ??= createCallEvent({
    call_id: `call-${i}`,
    tool_id: "ref:echo.say",
    duration_ms: i % 997,
    outcome: i % 11 === 0 ? { kind: "rate_limited", retry_after_ms: i } : { kind: "success" },
    tier: "warm",
    caller_id: (i % 4 === 0 ? "agent-ü€😀" : "agent-").repeat(1 + (i * 37) % 150) + "x".repeat(i % 4),
    granted_capabilities: ["read", "write"],
  });
}

/** Asserts that `text` holds the lines of events `0…count`, in order, and nothing else. */
function assertLines(text: string, count: number): void {
  assertExactLines(text, Array.from({ length: count }, (_, i) => encodeCallEvent(event(i)) + "\n"));
}

/** Block mode as a tool server writes: `onCall`, waiting on `ready` when full; a flush now and then. */
async function writeAll(sink: JsonLinesAuditSink, count: number): Promise<void> {
  for (let i = 0; i < count; i++) {
    if (sink.desiredSize <= 0) await sink.ready;
    sink.onCall(event(i));
    if (i % 1999 === 1998) await sink.flush();
  }
  await sink.close();
}

describe("SegmentBytes and chunks encoded in place", () => {
  const text = encoder.encode('{"ts":"a"}\n{"ts":"bb"}\n');
  const ends = new Uint32Array([10, 22]);

  it("SegmentBytes.append takes a chunk encoded into its spare space as it is, and writes it from there", () => {
    const data = new SegmentBytes(1 << 16, 16);
    assert.equal(data.spare(1 << 17), undefined, "less room than asked: none");
    const spare = data.spare(text.length)!;
    spare.set(text);
    const chunk = spare.subarray(0, text.length);
    const before = { ...segmentCounts };
    assert.equal(data.append(chunk, 2, ends), chunk);
    assert.deepEqual([segmentCounts.inPlace - before.inPlace, segmentCounts.copied - before.copied], [1, 0]);
    assert.deepEqual(data.view().bytes, text);
    assert.deepEqual(data.view().ends, ends);
    // The next spare space starts after it.
    const next = data.spare(text.length)!;
    assert.equal(next.byteOffset, text.length);
    next.set(text);
    assert.equal(data.append(next.subarray(0, text.length), 2, ends).byteOffset, text.length);
    assert.deepEqual(data.view().bytes, new Uint8Array([...text, ...text]));
    assert.deepEqual(data.view().ends, new Uint32Array([10, 22, 33, 45]));
  });

  it("SegmentBytes.append copies a chunk from another segment's buffer, and that copy is what is written", () => {
    const data = new SegmentBytes(1 << 16, 16);
    const other = new SegmentBytes(1 << 16, 16);
    const elsewhere = other.spare(text.length)!;
    elsewhere.set(text);
    const written = data.append(elsewhere.subarray(0, text.length), 2, ends);
    // The other buffer may be reused once its own segment is sealed: the destination must not write from it.
    assert.notEqual(written.buffer, elsewhere.buffer);
    assert.equal(written.buffer, data.view().bytes.buffer);
    assert.deepEqual(written, text);
    elsewhere.fill(0x20);
    assert.deepEqual(written, text, "unchanged when the other buffer is");
    // An unshared chunk (a plain stream's) is copied in and written as it is.
    const plain = text.slice();
    assert.equal(data.append(plain, 2, ends), plain);
    assert.deepEqual(data.view().bytes, new Uint8Array([...text, ...text]));
  });

  it("SegmentPool: a buffer split at a stream boundary is never reused, nor any once reuse stopped", () => {
    const pool = new SegmentPool(1 << 16, 64);
    const split = pool.take();
    split.append(text.slice(), 2, ends);
    split.splitInto(1, pool.take());
    assert.equal(split.reusable, false);
    pool.give(split);
    const fresh = pool.take();
    assert.notEqual(fresh, split, "a split buffer may still be written from");
    pool.give(fresh);
    assert.equal(pool.take(), fresh, "reused");
    pool.give(fresh);
    pool.stopReuse();
    assert.notEqual(pool.take(), fresh, "the pool was emptied");
    pool.give(fresh);
    assert.notEqual(pool.take(), fresh, "and keeps none");
  });

  it("DeliveryLedger tells sealing which lines it counted failed without a report (a deadline), and no others", () => {
    const seen: [number, Fate, string, boolean | undefined][] = [];
    const ledger = new DeliveryLedger(
      { add() {} } as unknown as ConstructorParameters<typeof DeliveryLedger>[0],
      { tell() {} } as unknown as ConstructorParameters<typeof DeliveryLedger>[1],
    );
    ledger.observer = {
      settled: (count, fate, reason, unreported) => (seen.push([count, fate, reason, unreported]), count),
      newStream: (switchStreams) => switchStreams(),
    };
    ledger.handOut(5);
    ledger.report.delivered(2);
    ledger.report.failed(1, new Error("disk full"));
    ledger.settleUpTo(5, "deadline", new Error("deadline"));
    assert.deepEqual(seen, [[2, "delivered", "destination", false], [1, "failed", "destination", false], [
      2,
      "failed",
      "deadline",
      true,
    ]]);
  });
});

describe("Sealed sinks writing in place", () => {
  const EVENTS = 9_000;
  /** Writes of 32 lines: several to a segment. */
  const CAPACITY = 64;
  /** Small segments: each buffer is reused many times. */
  const SEGMENT_BYTES = 96 * 1024;

  it("JsonLinesAuditSink to a fileDestination with fileSeal: written in place, the file exact, the trail intact", async () => {
    await inTempDir("in-place", async (dir) => {
      const path = join(dir, "audit.jsonl");
      const key = await keys();
      const counts = await countsDuring(segmentCounts, async () => {
        const seal = await fileSeal(path, { key: key.seal, maxSegmentBytes: SEGMENT_BYTES });
        await writeAll(
          new JsonLinesAuditSink(fileDestination(path), { seal, backpressure: "block", capacity: CAPACITY }),
          EVENTS,
        );
      });
      assert.ok(counts.inPlace > 10, JSON.stringify(counts));
      const text = readFileSync(path, "utf8");
      assertLines(text, EVENTS);
      const seal = readFileSync(`${path}.seal`, "utf8");
      assert.ok(linesOf(seal).length > 20, `many segments: ${linesOf(seal).length}, ${text.length} bytes`);
      const { findings, summary } = await verify(text, { keys: key.verify, seal });
      assert.deepEqual(findings, [], show(findings));
      assert.deepEqual([summary.intact, summary.verifiedLines], [true, EVENTS]);
    });
  });

  it("JsonLinesAuditSink to a rotating fileDestination with fileSeal: in place across file switches, every file verifies", async () => {
    await inTempDir("in-place-rotate", async (dir) => {
      const key = await keys();
      const destination = fileDestination(join(dir, "audit.jsonl"), { rotate: { maxBytes: 700_000, writerId: "w" } });
      const ahead = hashCounts.ahead;
      const counts = await countsDuring(segmentCounts, async () => {
        const seal = await fileSeal(destination, { key: key.seal, maxSegmentBytes: 3 << 19 });
        await writeAll(
          new JsonLinesAuditSink(destination, { seal, backpressure: "block", capacity: CAPACITY }),
          EVENTS,
        );
      });
      assert.ok(counts.inPlace > 10, JSON.stringify(counts));
      assert.ok(hashCounts.ahead > ahead, "segments were sent ahead too");
      const names = setFiles(dir);
      assert.ok(names.length >= 4, `${names.length} files`);
      const { findings, summary } = await verifySetIn(dir, names, key.verify);
      assert.deepEqual(findings.map((f) => `${f.file}: ${f.kind} ${f.message}`), []);
      assert.deepEqual([summary.intact, summary.verifiedLines], [true, EVENTS]);
      assertLines(names.map((name) => readFileSync(join(dir, name), "utf8")).join(""), EVENTS);
    });
  });

  it("JsonLinesAuditSink to any other stream: its chunks are its own, never shared memory, never changed after", async () => {
    const key = await keys();
    const chunks: { chunk: Uint8Array; copy: Uint8Array }[] = [];
    const stream = new WritableStream<Uint8Array>({
      write: (chunk) => void chunks.push({ chunk, copy: chunk.slice() }),
    });
    const seal: string[] = [];
    const sealStream = new WritableStream<Uint8Array>({
      write: (chunk) => void seal.push(new TextDecoder().decode(chunk)),
    });
    const counts = await countsDuring(segmentCounts, async () => {
      const sink = new JsonLinesAuditSink(stream, {
        seal: { key: key.seal, to: sealStream, maxSegmentBytes: SEGMENT_BYTES },
        backpressure: "block",
        capacity: CAPACITY,
      });
      await writeAll(sink, EVENTS);
    });
    assert.equal(counts.inPlace, 0);
    assert.ok(counts.copied > 10, JSON.stringify(counts));
    for (const { chunk, copy } of chunks) {
      assert.ok(!(chunk.buffer instanceof SharedArrayBuffer), "a plain ArrayBuffer");
      assert.deepEqual(chunk, copy, "unchanged since it was written");
    }
    const text = chunks.map(({ copy }) => new TextDecoder().decode(copy)).join("");
    assertLines(text, EVENTS);
    const { findings, summary } = await verify(text, { keys: key.verify, seal: seal.join("") });
    assert.deepEqual(findings, [], show(findings));
    assert.equal(summary.intact, true);
  });

  it("JsonLinesAuditSink to a proxy of a fileDestination: not written in place (only the file destination itself is)", async () => {
    await inTempDir("in-place-proxy", async (dir) => {
      const path = join(dir, "audit.jsonl");
      const key = await keys();
      const file = fileDestination(path);
      const proxy = new Proxy(file, {
        get: (target, name) => {
          const value = Reflect.get(target, name, target);
          return typeof value === "function" ? value.bind(target) : value;
        },
      });
      const counts = await countsDuring(segmentCounts, async () => {
        const seal = await fileSeal(path, { key: key.seal, maxSegmentBytes: SEGMENT_BYTES });
        await writeAll(new JsonLinesAuditSink(proxy, { seal, backpressure: "block", capacity: CAPACITY }), 2_000);
      });
      assert.equal(counts.inPlace, 0, JSON.stringify(counts));
      assertLines(readFileSync(path, "utf8"), 2_000);
    });
  });
});
