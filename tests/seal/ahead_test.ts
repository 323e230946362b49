import { describe, it } from "node:test";
import assert from "node:assert/strict";
import { createHash } from "node:crypto";
import { readFileSync } from "node:fs";
import { join } from "node:path";
import { type CallEvent, createCallEvent, JsonLinesAuditSink } from "../../mod.ts";
import { fileDestination, fileSeal } from "../../src/destination/file_destination.ts";
import { hashCore, type HashedPart, type SegmentHash } from "../../src/seal/_hash_core.ts";
import { hashCounts, Hasher, hashSegment, MAX_STREAMS, useHasher } from "../../src/seal/_hasher.ts";
import { SegmentBytes, SegmentPool } from "../../src/sink/_segment_bytes.ts";
import { splitLines } from "../../src/seal/_lines.ts";
import { toBase64 } from "../../src/seal/_encoding.ts";
import { runScript } from "../_helpers/run_script.ts";
import { countsDuring } from "../_helpers/counts.ts";
import { inTempDir } from "../_helpers/temp_dir.ts";
import { setFiles } from "../destination/_rotation_files.ts";
import { OrderedDestination, SealStream } from "../sink/_sealed.ts";
import { eventLine, keys, linesOf, show, verify, verifySetIn } from "./_trail.ts";

const encoder = new TextEncoder();
const core = hashCore();

/** Event lines from `first`, some wide (multi-byte UTF-8), of every length mod 4, until `bytes` at least. */
function lines(first: number, bytes: number, salt = "call"): string[] {
  const out: string[] = [];
  for (let i = first, size = 0; size < bytes; i++) {
    const line = eventLine(i, salt).replace(
      "agent-A",
      i % 3 === 0 ? "agent-ü€😀".repeat(i % 7) : "agent-A".repeat(i % 5),
    );
    out.push(line);
    size += encoder.encode(line).length;
  }
  return out;
}

/** The lines in a SharedArrayBuffer (as the sink's segment buffers hold them), with their newlines' offsets. */
function segment(text: readonly string[], room = 0): { bytes: Uint8Array; ends: Uint32Array } {
  const encoded = encoder.encode(text.join(""));
  const bytes = new Uint8Array(new SharedArrayBuffer(encoded.length + room), 0, encoded.length);
  bytes.set(encoded);
  const ends = new Uint32Array(text.length);
  for (let i = 0, at = -1; i < text.length; i++) ends[i] = at = encoded.indexOf(0x0a, at + 1);
  return { bytes, ends };
}

/** The first `count` lines of a segment done ahead, as the hashing worker does it: tagged and hashed on. */
function headStart(bytes: Uint8Array, ends: Uint32Array, count: number): HashedPart {
  const tags = new Uint8Array(4 * count);
  core.tagLines(bytes, ends, 0, count, tags);
  const done = count === 0 ? 0 : ends[count - 1]! + 1;
  const sha = createHash("sha256").update(bytes.subarray(0, done));
  return { lines: count, bytes: done, tags, sha };
}

/** What hashing from scratch gives, on this thread (an unshared copy never goes to a worker). */
function scratch(bytes: Uint8Array, ends: Uint32Array | undefined, digests: boolean): Promise<SegmentHash> {
  return new Hasher().hash(bytes.slice(), ends?.slice(), digests);
}

/** The hash without what says how it was made. */
function result(hash: SegmentHash): Omit<SegmentHash, "ahead"> {
  const { ahead: _, ...rest } = hash;
  return { ...rest, ends: new Uint32Array(rest.ends) };
}

/** Sends `bytes` ahead in pieces cut after the given lines, as SegmentBytes does. */
function sendPieces(hasher: Hasher, bytes: Uint8Array, ends: Uint32Array, cuts: readonly number[]): void {
  let from = 0;
  let line = 0;
  for (const cut of cuts) {
    const to = ends[cut - 1]! + 1;
    const piece = ends.slice(line, cut).map((end) => end - from);
    assert.ok(hasher.ahead(bytes.subarray(0, to), from, cut, piece), "sent");
    from = to;
    line = cut;
  }
}

describe("hashCore.hashSegment with a head start", () => {
  it("hashSegment going on from the first lines done gives what hashing from scratch gives", async () => {
    const { bytes, ends } = segment(lines(0, 300_000));
    const plain = bytes.slice();
    for (const digests of [false, true]) {
      const expected = await core.hashSegment(plain, ends, digests);
      assert.equal(expected.ahead, 0);
      for (const count of [1, 2, 3, 777, ends.length - 1, ends.length]) {
        const hash = await core.hashSegment(plain, ends, digests, headStart(plain, ends, count));
        assert.equal(hash.ahead, count, "went on from the head start");
        assert.deepEqual(result(hash), result(expected), `${count} lines ahead`);
      }
    }
  });

  it("hashSegment starts over when the head start is not the segment's first lines (cut shorter, other bytes)", async () => {
    const { bytes, ends } = segment(lines(0, 200_000));
    const plain = bytes.slice();
    const half = Math.floor(ends.length / 2);
    const expected = await core.hashSegment(plain.subarray(0, ends[half - 1]! + 1), ends.subarray(0, half), false);
    // Done ahead past the cut (a stream switch inside the segment after pieces were sent).
    const past = await core.hashSegment(
      plain.subarray(0, ends[half - 1]! + 1),
      ends.subarray(0, half),
      false,
      headStart(plain, ends, half + 10),
    );
    assert.deepEqual([past.ahead, result(past)], [0, result(expected)]);
    // Bytes done that do not end where a line does.
    const part = headStart(plain, ends, 10);
    const skewed = await core.hashSegment(plain, ends, false, { ...part, bytes: part.bytes - 1 });
    assert.deepEqual([skewed.ahead, result(skewed)], [0, result(await core.hashSegment(plain, ends, false))]);
    // Line ends not known: nothing to check the head start against.
    const unknown = await core.hashSegment(plain, undefined, false, headStart(plain, ends, 10));
    assert.equal(unknown.ahead, 0);
  });
});

describe("Hasher.ahead", () => {
  it("Hasher.hash goes on from the pieces sent ahead, with the result of hashing from scratch, digests too", async () => {
    for (const digests of [false, true]) {
      const hasher = new Hasher();
      const { bytes, ends } = segment(lines(0, 1_600_000));
      const third = Math.floor(ends.length / 3);
      const before = { ...hashCounts };
      sendPieces(hasher, bytes, ends, [third, 2 * third]);
      const hash = await hasher.hash(bytes, ends, digests);
      assert.equal(hash.ahead, 2 * third, "went on from both pieces");
      assert.deepEqual(result(hash), result(await scratch(bytes, ends, digests)));
      assert.deepEqual(
        [hashCounts.ahead - before.ahead, hashCounts.headStarts - before.headStarts],
        [2, 1],
      );
    }
  });

  it("Hasher.hash starts over, right, after a piece missed, a segment cut before its pieces' end, a restart", async () => {
    const { bytes, ends } = segment(lines(0, 1_200_000));
    const half = Math.floor(ends.length / 2);
    const expected = await scratch(bytes, ends, false);
    // A piece missed: the next does not go on from what the worker has.
    const missed = new Hasher();
    missed.ahead(bytes.subarray(0, ends[9]! + 1), 0, 10, ends.slice(0, 10));
    const from = ends[half - 1]! + 1;
    missed.ahead(bytes, from, ends.length, ends.slice(half).map((end) => end - from));
    const afterMiss = await missed.hash(bytes, ends, false);
    assert.deepEqual([afterMiss.ahead, result(afterMiss)], [0, result(expected)]);
    // Pieces past the segment's end (the rest went to the next segment).
    const cut = new Hasher();
    sendPieces(cut, bytes, ends, [half, ends.length]);
    const short = await cut.hash(bytes.subarray(0, ends[half - 11]! + 1), ends.subarray(0, half - 10), false);
    const shortExpected = await scratch(bytes.subarray(0, ends[half - 11]! + 1), ends.subarray(0, half - 10), false);
    assert.deepEqual([short.ahead, result(short)], [0, result(shortExpected)]);
    // A worker stopped once idle (Deno's) between the pieces and the job: the next one starts over.
    const idle = new Hasher({ idleMs: 50 });
    sendPieces(idle, bytes, ends, [half]);
    for (let waited = 0; idle.running && "Deno" in globalThis && waited < 5000; waited += 25) {
      await new Promise((resolve) => setTimeout(resolve, 25));
    }
    const later = await idle.hash(bytes, ends, false);
    assert.deepEqual(result(later), result(expected));
    if ("Deno" in globalThis) assert.equal(later.ahead, 0, "a new worker knows nothing of the pieces");
  });

  it("Hasher keeps the head start of the MAX_STREAMS latest segments sent ahead; older ones start over, right", async () => {
    const hasher = new Hasher();
    const segments = Array.from({ length: MAX_STREAMS + 2 }, (_, k) => segment(lines(0, 300_000, `s${k}`)));
    for (const { bytes, ends } of segments) sendPieces(hasher, bytes, ends, [ends.length - 5]);
    const before = hashCounts.headStarts;
    const hashes = await Promise.all(segments.map(({ bytes, ends }) => hasher.hash(bytes, ends, false)));
    assert.deepEqual(hashes.map((hash) => hash.ahead! > 0), segments.map((_, k) => k >= 2));
    assert.equal(hashCounts.headStarts - before, MAX_STREAMS);
    for (const [k, { bytes, ends }] of segments.entries()) {
      assert.deepEqual(result(hashes[k]!), result(await scratch(bytes, ends, false)), `segment ${k}`);
    }
  });
});

describe("SegmentBytes sends ahead", () => {
  /** Fills a SegmentBytes with `text` a few lines a chunk, as a sink does. */
  function fill(data: SegmentBytes, text: readonly string[], per = 50): void {
    for (let i = 0; i < text.length; i += per) {
      const chunk = segment(text.slice(i, i + per));
      data.append(chunk.bytes.slice(), chunk.ends.length, chunk.ends);
    }
  }

  /** Its hash (by the hasher in use), and what hashing from scratch gives. */
  async function sealed(data: SegmentBytes): Promise<{ hash: SegmentHash; expected: SegmentHash }> {
    const { bytes, ends } = data.view();
    return { hash: await hashSegment(bytes, ends, false), expected: await scratch(bytes, ends, false) };
  }

  it("SegmentBytes: a segment sent ahead, then grown, then split, is hashed right each time", async () => {
    const before = useHasher(new Hasher());
    try {
      const text = lines(0, 1_800_000);
      // Sent ahead all along: the hash goes on from the pieces.
      const whole = new SegmentBytes(4 << 20, 64);
      const ahead = hashCounts.ahead;
      fill(whole, text);
      assert.ok(hashCounts.ahead - ahead >= 3, `${hashCounts.ahead - ahead} pieces`);
      const one = await sealed(whole);
      assert.ok(one.hash.ahead! > 0, "went on from the pieces");
      assert.deepEqual(result(one.hash), result(one.expected));
      // Grown past its buffer after pieces were sent: no more pieces, hashed from scratch.
      const grown = new SegmentBytes(1 << 20, 64);
      fill(grown, text);
      const two = await sealed(grown);
      assert.equal(two.hash.ahead, 0);
      assert.deepEqual(result(two.hash), result(two.expected));
      // Split after pieces were sent (a stream switch): each part right, the first going on only from what it holds.
      whole.reset();
      fill(whole, text);
      const rest = new SegmentBytes(4 << 20, 64);
      whole.splitInto(Math.floor(text.length / 2), rest);
      const first = await sealed(whole);
      assert.deepEqual(result(first.hash), result(first.expected));
      fill(rest, lines(100_000, 600_000));
      const second = await sealed(rest);
      assert.deepEqual(result(second.hash), result(second.expected));
    } finally {
      useHasher(before);
    }
  });
});

/** An event whose line is about 300 to 1,100 bytes, some of them wide characters. */
function bigEvent(i: number): CallEvent {
  return createCallEvent({
    call_id: `call-${i}`,
    tool_id: "ref:echo.say",
    duration_ms: i % 1000,
    outcome: { kind: "success" },
    tier: "warm",
    caller_id: (i % 3 === 0 ? "agent-ü€😀" : "agent-").repeat(20 + (i * 13) % 100),
    granted_capabilities: ["read", "write"],
  });
}

/** Records events `0…count` through `sink`, flushing now and then (a segment cut right after a piece, or not). */
async function recordAll(sink: JsonLinesAuditSink, count: number): Promise<void> {
  for (let i = 0; i < count; i++) {
    await sink.record(bigEvent(i));
    if (i % 2777 === 2776) await sink.flush();
  }
  await sink.close();
}

function inDir(test: (dir: string) => Promise<void>): Promise<void> {
  return inTempDir("ahead", test);
}

/**
 * Asserts that each checkpoint's `seg_tags` are the tags of its lines, `data` read in order: a verifier reads the
 * tags only to say where a change is, so wrong tags would go unseen on an untouched log.
 */
function assertTags(data: readonly string[], checkpoints: readonly string[]): void {
  let at = 0;
  for (const line of checkpoints) {
    const c = JSON.parse(line) as { seq: number; seg_lines: number; seg_tags: string };
    const lines = splitLines(encoder.encode(data.slice(at, at + c.seg_lines).join("")));
    const tags = new Uint8Array(4 * c.seg_lines);
    for (let i = 0; i < c.seg_lines; i++) new DataView(tags.buffer).setUint32(4 * i, lines.tags[i]!);
    assert.equal(c.seg_tags, toBase64(tags), `checkpoint ${c.seq}'s tags`);
    at += c.seg_lines;
  }
  assert.equal(at, data.length, "every line sealed");
}

/** The data lines and the checkpoint lines of a log sealed in band. */
function inBand(text: string): { data: string[]; checkpoints: string[] } {
  const lines = linesOf(text);
  const checkpoint = (line: string) => line.startsWith('{"audit_checkpoint"');
  return { data: lines.filter((line) => !checkpoint(line)), checkpoints: lines.filter(checkpoint) };
}

const EVENTS = 12_000;
/** Segments small enough that the sink's buffers hold them without growing (growing stops the pieces). */
const SEGMENT_BYTES = 3 << 19;

describe("Sealed sinks whose segments are sent ahead", () => {
  it("JsonLinesAuditSink with fileSeal: segments hashed on from their pieces, and the trail verifies", async () => {
    await inDir(async (dir) => {
      const path = join(dir, "audit.jsonl");
      const key = await keys();
      const counts = await countsDuring(hashCounts, async () => {
        const seal = await fileSeal(path, { key: key.seal, maxSegmentBytes: SEGMENT_BYTES });
        await recordAll(new JsonLinesAuditSink(fileDestination(path), { seal, backpressure: "block" }), EVENTS);
      });
      assert.ok(counts.headStarts >= 2, JSON.stringify(counts));
      const { findings, summary } = await verify(readFileSync(path, "utf8"), {
        keys: key.verify,
        seal: readFileSync(`${path}.seal`, "utf8"),
      });
      assert.deepEqual(findings, [], show(findings));
      assert.deepEqual([summary.intact, summary.verifiedLines], [true, EVENTS]);
      assertTags(linesOf(readFileSync(path, "utf8")), linesOf(readFileSync(`${path}.seal`, "utf8")));
    });
  });

  it("JsonLinesAuditSink with in-band checkpoints: segments hashed on from their pieces, and the log verifies", async () => {
    await inDir(async (dir) => {
      const path = join(dir, "audit.jsonl");
      const key = await keys();
      const counts = await countsDuring(hashCounts, async () => {
        const seal = { key: key.seal, inBand: true, maxSegmentBytes: SEGMENT_BYTES };
        await recordAll(new JsonLinesAuditSink(fileDestination(path), { seal, backpressure: "block" }), EVENTS);
      });
      assert.ok(counts.headStarts >= 2, JSON.stringify(counts));
      const { findings, summary } = await verify(readFileSync(path, "utf8"), { keys: key.verify });
      assert.deepEqual(findings, [], show(findings));
      assert.deepEqual([summary.intact, summary.verifiedLines], [true, EVENTS]);
      const { data, checkpoints } = inBand(readFileSync(path, "utf8"));
      assertTags(data, checkpoints);
    });
  });

  it("JsonLinesAuditSink losing lines inside segments (line digests): the gaps are told, the rest verifies", async () => {
    const key = await keys();
    const destination = new OrderedDestination((write, lines) => (write % 5 === 2 ? { deliver: lines >> 1 } : {}));
    const seal = new SealStream();
    const counts = await countsDuring(hashCounts, async () => {
      const sink = new JsonLinesAuditSink(destination.destination, {
        seal: { key: key.seal, to: seal.stream, maxSegmentBytes: SEGMENT_BYTES },
        backpressure: "block",
        onError: () => {},
      });
      await recordAll(sink, EVENTS);
    });
    assert.ok(counts.headStarts >= 1, JSON.stringify(counts));
    assert.ok(seal.lines.some((line) => "line_digests" in JSON.parse(line)), "some segment has line digests");
    const { findings, summary } = await verify(destination.arrived.join(""), { keys: key.verify, seal: seal.text() });
    assert.deepEqual(findings.filter((f) => f.kind !== "gap"), [], show(findings));
    assert.equal(summary.intact, true);
    assert.equal(summary.verifiedLines, destination.arrived.length);
    assertTags(destination.written, seal.lines);
  });

  it("JsonLinesAuditSink with a rotating fileDestination and fileSeal: files switched inside segments sent ahead verify", async () => {
    await inDir(async (dir) => {
      const key = await keys();
      const destination = fileDestination(join(dir, "audit.jsonl"), { rotate: { maxBytes: 1_500_000, writerId: "w" } });
      const counts = await countsDuring(hashCounts, async () => {
        const seal = await fileSeal(destination, { key: key.seal, maxSegmentBytes: SEGMENT_BYTES });
        await recordAll(new JsonLinesAuditSink(destination, { seal, backpressure: "block" }), EVENTS);
      });
      assert.ok(counts.ahead >= 4, JSON.stringify(counts));
      const names = setFiles(dir);
      assert.ok(names.length >= 4, `${names.length} files`);
      const { findings, summary } = await verifySetIn(dir, names, key.verify);
      assert.deepEqual(findings.map((f) => `${f.file}: ${f.kind} ${f.message}`), []);
      assert.deepEqual([summary.intact, summary.verifiedLines], [true, EVENTS]);
      for (const name of names) {
        assertTags(
          linesOf(readFileSync(join(dir, name), "utf8")),
          linesOf(readFileSync(join(dir, `${name}.seal`), "utf8")),
        );
      }
    });
  });
});

describe("Segments sent ahead and the end of the process (subprocess)", () => {
  for (const mode of ["piece", "stalled"]) {
    it(`A worker started for pieces alone does not keep the process alive (${mode})`, async () => {
      // Before, a worker started by a piece was neither unreferenced nor stopped when idle: it held the process for
      // good once the segment was never sealed (a stalled destination, a sink not closed, sealing that failed).
      const result = await runScript("tests/seal/_ahead_exit_script.ts", [mode], 10_000);
      assert.deepEqual([result.code, result.signal], [0, null], result.stderr);
      assert.ok(Number(result.stdout) >= 1, `pieces sent: ${result.stdout}`);
    });
  }
});

describe("SegmentPool", () => {
  it("SegmentPool makes new buffers as large as one grew to, so that a segment need not grow (and stop being sent ahead)", () => {
    const pool = new SegmentPool(4 << 20, 16384);
    const first = pool.take();
    const start = first.capacity;
    const chunk = new Uint8Array(start + 1024).fill(0x20);
    chunk[chunk.length - 1] = 0x0a;
    first.append(chunk, 1, new Uint32Array([chunk.length - 1]));
    assert.ok(first.capacity > start, "grown past its first size");
    const busy = pool.take(); // the pool is empty: a new buffer
    pool.give(first);
    assert.equal(pool.take(), first, "reused");
    assert.equal(busy.capacity, start, "made before any grew");
    assert.equal(pool.take().capacity, first.capacity, "made once one grew: as large");
  });
});
