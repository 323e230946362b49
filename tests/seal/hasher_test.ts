import { describe, it } from "node:test";
import assert from "node:assert/strict";
import { readdirSync, readFileSync } from "node:fs";
import { platform } from "node:os";
import { JsonLinesAuditSink } from "../../mod.ts";
import { hashCounts, Hasher, hashSegment, useHasher, WORKER_NICE } from "../../src/seal/_hasher.ts";
import type { SegmentHash } from "../../src/seal/_hash_core.ts";
import { lineDigests, splitLines } from "../../src/seal/_lines.ts";
import { sha256Hex, toBase64 } from "../../src/seal/_encoding.ts";
import { MemoryDestination, numbered } from "../_helpers/events.ts";
import { runScript } from "../_helpers/run_script.ts";
import { SealStream } from "../sink/_sealed.ts";
import { exitingWorker, SILENT_WORKER, TELLS_EXIT } from "./_faulty_workers.ts";
import { eventLine, keys, problems, show, verify } from "./_trail.ts";

const encoder = new TextEncoder();

/** `text` in shared memory, as the sink's segment buffers hold it. */
function shared(text: string): Uint8Array {
  const bytes = encoder.encode(text);
  const out = new Uint8Array(new SharedArrayBuffer(bytes.length + 16), 8, bytes.length);
  out.set(bytes);
  return out;
}

/** Tags as a checkpoint holds them: 4 bytes each, big-endian. */
function tagBytes(tags: Uint32Array): Uint8Array<ArrayBuffer> {
  const out = new Uint8Array(4 * tags.length);
  tags.forEach((tag, i) => new DataView(out.buffer).setUint32(4 * i, tag));
  return out;
}

describe("hashSegment", () => {
  it("hashSegment off the main thread gives what the verifier computes: tags, SHA-256, line digests", async () => {
    // Lines of every length mod 4, non-ASCII included, over the off-thread threshold.
    let text = "";
    for (let i = 0; text.length < 200_000; i++) text += eventLine(i).replace("agent-A", "agent-ü".repeat(i % 5));
    const bytes = shared(text);
    const plain = encoder.encode(text);
    const before = hashCounts.offThread;
    for (const digests of [false, true]) {
      const hash = await hashSegment(bytes, undefined, digests);
      const lines = splitLines(plain);
      assert.equal(hash.count, lines.count);
      assert.equal(hash.tags, toBase64(tagBytes(lines.tags)));
      assert.equal(hash.tagsSha, await sha256Hex(tagBytes(lines.tags)));
      assert.deepEqual([...hash.ends], [...lines.ends]);
      assert.equal(hash.sha, await sha256Hex(plain));
      assert.deepEqual(hash.digests, digests ? await lineDigests(plain, lines) : undefined);
      assert.equal(hash.torn, false);
    }
    // With the line ends known: the worker does not send them back; they come back all the same.
    const lines = splitLines(plain);
    const known = await hashSegment(bytes, lines.ends.slice(0, lines.count), false);
    assert.deepEqual([known.count, [...known.ends], known.tags], [
      lines.count,
      [...lines.ends.subarray(0, lines.count)],
      toBase64(tagBytes(lines.tags.subarray(0, lines.count))),
    ]);
    assert.equal(hashCounts.offThread - before, 3, "all three went to the worker");
  });

  it("hashSegment in place for a small or unshared segment, with the same result", async () => {
    const text = eventLine(1) + eventLine(2) + "torn";
    const before = hashCounts.inPlace;
    const hash = await hashSegment(encoder.encode(text), undefined, false);
    assert.equal(hashCounts.inPlace - before, 1);
    assert.deepEqual([hash.count, hash.torn], [3, true]);
    assert.equal(hash.tags, toBase64(tagBytes(splitLines(encoder.encode(text)).tags)));
  });
});

/** Events long enough that a segment of `lines` of them goes to the worker (64 KiB and more). */
function segmentText(first: number, lines: number): string {
  let text = "";
  for (let i = first; i < first + lines; i++) text += eventLine(i);
  return text;
}

/** What hashing `text` in place gives (an unshared segment never goes to a worker). */
function inPlace(text: string, digests: boolean): Promise<SegmentHash> {
  return new Hasher().hash(encoder.encode(text), undefined, digests);
}

const FAULTY = [
  {
    name: "a worker that exits mid-job",
    source: exitingWorker(1),
    answered: 1,
    // Where the runtime tells, the exit is what drops the worker (long before the watchdog would); elsewhere only
    // the watchdog can, once the first job (the worker's start) is done.
    allowance: (job: number) => TELLS_EXIT || job === 0 ? 30_000 : 50,
    failure: TELLS_EXIT ? /exited|ended/ : /did not answer/,
  },
  {
    name: "a worker that never answers",
    source: SILENT_WORKER,
    answered: 0,
    allowance: () => 0,
    failure: /did not answer/,
  },
];

/** A hasher with `faulty`'s worker; its allowance is by job (0: the first job posted). */
function faultyHasher(faulty: (typeof FAULTY)[number]): Hasher {
  let job = 0;
  return new Hasher({ source: faulty.source, allowance: () => faulty.allowance(job++) });
}

describe("Hasher with a worker that fails without an error", () => {
  for (const faulty of FAULTY) {
    it(`Hasher hashes in place what ${faulty.name} leaves, and drops the worker`, async () => {
      const hasher = faultyHasher(faulty);
      const texts = [0, 1, 2, 3].map((k) => segmentText(400 * k, 400));
      const before = { ...hashCounts };
      // The first job alone; then two at once; then one more.
      const first = await hasher.hash(shared(texts[0]!), undefined, false);
      const pair = await Promise.all([
        hasher.hash(shared(texts[1]!), undefined, true),
        hasher.hash(shared(texts[2]!), undefined, false),
      ]);
      const last = await hasher.hash(shared(texts[3]!), undefined, true);
      const expected = await Promise.all(texts.map((text, k) => inPlace(text, k % 2 === 1)));
      assert.deepEqual([first, ...pair, last], expected);
      assert.match(String(hasher.failure), faulty.failure);
      assert.equal(hashCounts.offThread - before.offThread, faulty.answered, "answered by the worker");
      // In place: the jobs the worker left, and the next one (the worker is not used again); plus the expected ones.
      assert.equal(hashCounts.inPlace - before.inPlace, 4 - faulty.answered + 4);
    });

    it(`JsonLinesAuditSink seal: checkpoints go on and verify with ${faulty.name}`, async () => {
      const key = await keys();
      const hasher = faultyHasher(faulty);
      const before = useHasher(hasher);
      try {
        const data = new MemoryDestination();
        const seal = new SealStream();
        const sink = new JsonLinesAuditSink(data.stream, {
          capacity: 1000,
          backpressure: "block",
          seal: { key: key.seal, to: seal.stream, origin: "test.example/watchdog", maxSegmentLines: 500 },
        });
        const offThread = hashCounts.offThread;
        for (let i = 0; i < 2000; i++) await sink.record(numbered(i));
        await sink.close();
        assert.equal(hashCounts.offThread - offThread, faulty.answered, "the worker's part");
        assert.match(String(hasher.failure), faulty.failure);
        const checkpoints = seal.checkpoints();
        assert.ok(checkpoints.length >= 3, `${checkpoints.length} checkpoints`);
        assert.equal(checkpoints.reduce((sum, c) => sum + c.seg_lines, 0), 2000);
        const { findings, summary } = await verify(data.text(), { keys: key.verify, seal: seal.text() });
        assert.deepEqual(findings, [], show(findings));
        assert.deepEqual([summary.checkpoints, summary.verifiedLines], [checkpoints.length, 2000]);
      } finally {
        useHasher(before);
      }
    });
  }
});

describe("Hasher in a hurry (a deadline passed)", () => {
  it("Hasher.hurry hashes the pending jobs here, and what comes while it lasts; the worker stays", async () => {
    // A worker that never answers, with an allowance no test outlasts: only hurry can answer its jobs.
    const hasher = new Hasher({ source: SILENT_WORKER, allowance: () => 600_000, idleMs: 10 });
    const texts = [0, 1].map((k) => segmentText(400 * k, 400));
    let answered = 0;
    const pending = hasher.hash(shared(texts[0]!), undefined, true).then((hash) => (answered++, hash));
    await new Promise((resolve) => setTimeout(resolve, 20));
    assert.equal(answered, 0, "the worker does not answer");
    const before = hashCounts.inPlace;
    hasher.hurry(600_000);
    assert.deepEqual(await pending, await inPlace(texts[0]!, true));
    // Within the hurry: in place at once, never posted to the worker.
    assert.deepEqual(await hasher.hash(shared(texts[1]!), undefined, false), await inPlace(texts[1]!, false));
    assert.equal(hashCounts.inPlace - before, 2 + 2, "the taken-back job and the new one (plus the two expected)");
    assert.equal(hasher.failure, undefined, "the worker is not dropped");
  });

  it("Hasher.hurry lasts its time: jobs go to the worker again after it", async () => {
    const hasher = new Hasher({ source: SILENT_WORKER, allowance: () => 600_000, idleMs: 10 });
    const text = segmentText(0, 400);
    hasher.hurry(1);
    await new Promise((resolve) => setTimeout(resolve, 10));
    let answered = false;
    const next = hasher.hash(shared(text), undefined, false).then((hash) => (answered = true, hash));
    await new Promise((resolve) => setTimeout(resolve, 20));
    assert.equal(answered, false, "posted to the worker, which does not answer");
    hasher.hurry(600_000);
    assert.deepEqual(await next, await inPlace(text, false));
  });

  it("JsonLinesAuditSink seal: a close deadline seals what the worker holds back, within the deadline's grace", async () => {
    const key = await keys();
    const hasher = new Hasher({ source: SILENT_WORKER, allowance: () => 600_000, idleMs: 10 });
    const before = useHasher(hasher);
    try {
      const data = new MemoryDestination();
      const seal = new SealStream();
      const errors: unknown[] = [];
      const sink = new JsonLinesAuditSink(data.stream, {
        capacity: 1000,
        backpressure: "block",
        onError: (error) => errors.push(error),
        seal: { key: key.seal, to: seal.stream, origin: "test.example/hurry", maxSegmentLines: 500 },
      });
      for (let i = 0; i < 1200; i++) await sink.record(numbered(i));
      await sink.flush({ signal: AbortSignal.timeout(50) }); // the checkpoints wait for the silent worker
      await sink.close({ signal: AbortSignal.timeout(50) });
      // Without the hurry nothing is sealed: the worker never answers. With it, every line is, unless the machine is
      // so loaded that even hashing here outlasts the grace (then the sink says so, and the rest is an unsealed tail).
      const graceOut = errors.some((e) => String(e).includes("Sealing did not finish before the deadline"));
      const sealed = seal.checkpoints().reduce((sum, c) => sum + c.seg_lines, 0);
      assert.ok(sealed > 0, "nothing sealed");
      if (!graceOut) assert.equal(sealed, 1200, "every line sealed");
      const { findings, summary } = await verify(data.text(), { keys: key.verify, seal: seal.text() });
      assert.deepEqual(problems(findings), [], show(findings));
      assert.equal(summary.verifiedLines, sealed);
      assert.equal(hasher.failure, undefined, "the watchdog did not drop the worker: the deadline's hurry answered");
    } finally {
      useHasher(before);
      hasher.hurry(600_000); // a job posted after the grace would keep the process alive for the allowance
    }
  });
});

describe("Hasher's idle worker", () => {
  it("stops a worker that cannot be unreferenced (Deno's) once it had no job for idleMs since its last, not its first", async () => {
    const idleMs = 1000;
    const hasher = new Hasher({ idleMs });
    const bytes = shared("x".repeat(100_000) + "\n");
    const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));
    await hasher.hash(bytes, undefined, false);
    assert.ok(hasher.running);
    await sleep(600);
    await hasher.hash(bytes, undefined, false);
    const lastJob = performance.now();
    await sleep(600); // past the first rest's idleMs, not the last's
    const deno = "Deno" in globalThis;
    if (performance.now() - lastJob < idleMs) {
      assert.ok(hasher.running, "still running: its last job was not idleMs ago");
    }
    for (let waited = 0; hasher.running && deno && waited < 10_000; waited += 50) await sleep(50);
    assert.equal(hasher.running, !deno, deno ? "stopped once idle" : "kept, unreferenced (Bun, Node)");
  });
});

describe("Hasher and the end of the process (subprocess)", () => {
  const workers = {
    answers: "a worker that answers",
    silent: "a worker that never answers",
    exits: "a worker that ends itself",
  };

  for (const [mode, worker] of Object.entries(workers)) {
    it(`Hasher keeps the process alive while a job is pending, and only then (${worker})`, async () => {
      // A watchdog (an hour away) left holding the process after the answer would have runScript kill it; a job
      // left by its worker that nothing held would leave the top-level await unsettled (exit code 13 on Node).
      const result = await runScript("tests/seal/_hasher_exit_script.ts", [mode]);
      assert.deepEqual([result.code, result.signal], [0, null], result.stderr);
      const line = `{"n":"${"x".repeat(90)}"}\n`;
      const sha = await sha256Hex(encoder.encode(line.repeat(1000)));
      assert.equal(result.stdout, `${sha} 1000 ${mode === "answers" ? 1 : 0}\n`);
    });
  }
});

/** A segment of `count` lines (wide ones among them) at the start of its own shared buffer, and its line ends. */
function sharedSegment(first: number, count: number): { bytes: Uint8Array; ends: Uint32Array; text: string } {
  let text = "";
  for (let i = first; i < first + count; i++) text += eventLine(i).replace("agent-A", "agent-ü€".repeat(i % 4));
  const plain = encoder.encode(text);
  const bytes = new Uint8Array(new SharedArrayBuffer(plain.length + 4096), 0, plain.length);
  bytes.set(plain);
  const lines = splitLines(plain);
  return { bytes, ends: lines.ends.slice(0, lines.count), text };
}

/** Sends lines `[from, to)` of a segment ahead, as the sink's segment buffer does. */
function sendPiece(
  hasher: Hasher,
  segment: { bytes: Uint8Array; ends: Uint32Array },
  from: number,
  to: number,
): boolean {
  const { bytes, ends } = segment;
  const fromByte = from === 0 ? 0 : ends[from - 1]! + 1;
  const pieceEnds = ends.slice(from, to).map((end) => end - fromByte);
  return hasher.ahead(bytes.subarray(0, ends[to - 1]! + 1), fromByte, to, pieceEnds);
}

describe("Hasher: a segment sent ahead", () => {
  it("Hasher goes on from the pieces sent ahead, with what hashing the segment whole gives", async () => {
    const hasher = new Hasher();
    const segment = sharedSegment(0, 3000);
    for (const digests of [false, true]) {
      const before = { ...hashCounts };
      for (const [from, to] of [[0, 700], [700, 701], [701, 2400]] as const) {
        assert.ok(sendPiece(hasher, segment, from, to), `piece ${from}–${to} sent`);
      }
      const hash = await hasher.hash(segment.bytes, segment.ends, digests);
      assert.deepEqual(hash, { ...await inPlace(segment.text, digests), ahead: 2400 });
      assert.deepEqual([hashCounts.ahead - before.ahead, hashCounts.headStarts - before.headStarts], [3, 1]);
    }
  });

  it("Hasher starts over when a piece went missing, or the head start is not the segment's first lines", async () => {
    const hasher = new Hasher();
    const segment = sharedSegment(5000, 2000);
    const expected = await inPlace(segment.text, false);
    const cases: { name: string; pieces: [number, number][]; lines: number }[] = [
      { name: "a piece skipped", pieces: [[0, 500], [900, 1500]], lines: 2000 },
      { name: "more lines ahead than the segment holds (cut after them)", pieces: [[0, 1800]], lines: 1200 },
      { name: "the first piece never sent", pieces: [[300, 900]], lines: 2000 },
    ];
    for (const { name, pieces, lines } of cases) {
      const before = hashCounts.headStarts;
      for (const [from, to] of pieces) sendPiece(hasher, segment, from, to);
      const end = segment.ends[lines - 1]! + 1;
      const hash = await hasher.hash(segment.bytes.subarray(0, end), segment.ends.subarray(0, lines), false);
      const whole = lines === 2000
        ? expected
        : await inPlace(new TextDecoder().decode(segment.bytes.slice(0, end)), false);
      assert.deepEqual(hash, { ...whole, ahead: 0 }, name);
      assert.equal(hashCounts.headStarts - before, 0, name);
    }
  });

  it("Hasher sends nothing ahead of a segment that is not at the start of shared memory", () => {
    const hasher = new Hasher();
    const text = segmentText(0, 100);
    const lines = splitLines(encoder.encode(text));
    const ends = lines.ends.slice(0, lines.count);
    assert.equal(hasher.ahead(encoder.encode(text), 0, ends.length, ends), false, "unshared");
    assert.equal(hasher.ahead(shared(text), 0, ends.length, ends), false, "shared, at an offset");
  });
});

describe("JsonLinesAuditSink seal: segments sent ahead", () => {
  it("JsonLinesAuditSink seal: a segment sent ahead as it fills is sealed from its head start and verifies", async () => {
    const key = await keys();
    const data = new MemoryDestination();
    const seal = new SealStream();
    const sink = new JsonLinesAuditSink(data.stream, {
      backpressure: "block",
      seal: { key: key.seal, to: seal.stream, origin: "test.example/ahead" },
    });
    const before = { ...hashCounts };
    for (let i = 0; i < 12_000; i++) {
      if (sink.desiredSize <= 0) await sink.ready;
      sink.onCall(numbered(i));
    }
    await sink.flush(); // one segment (the default limits: 16,384 lines, 4 MiB) of more than 1 MiB
    for (let i = 12_000; i < 20_000; i++) await sink.record(numbered(i));
    await sink.close();
    const checkpoints = seal.checkpoints();
    assert.ok(hashCounts.ahead - before.ahead >= 2, `${hashCounts.ahead - before.ahead} pieces sent ahead`);
    assert.ok(hashCounts.headStarts - before.headStarts >= 1, "a segment sealed from its head start");
    const { findings, summary } = await verify(data.text(), { keys: key.verify, seal: seal.text() });
    assert.deepEqual(findings, [], show(findings));
    assert.deepEqual([summary.checkpoints, summary.verifiedLines], [checkpoints.length, 20_000]);
  });
});

describe("Hasher: the worker's priority", () => {
  /** Each thread's niceness, by thread id (Linux's /proc). */
  function niceness(): Map<string, number> {
    const out = new Map<string, number>();
    for (const tid of readdirSync("/proc/self/task")) {
      try {
        const stat = readFileSync(`/proc/self/task/${tid}/stat`, "utf8");
        out.set(tid, Number(stat.slice(stat.lastIndexOf(")") + 2).split(" ")[16]));
      } catch {
        // The thread ended meanwhile.
      }
    }
    return out;
  }

  it(`Hasher: on Linux its worker's thread runs at nice ${WORKER_NICE}, and no other thread's priority changes`, {
    skip: platform() === "linux" ? false : "SKIPPED: only Linux gives a thread a priority of its own (none is set)",
  }, async () => {
    const self = readFileSync("/proc/thread-self/stat", "utf8").split(" ", 1)[0]!;
    const before = niceness();
    const hasher = new Hasher();
    const segment = sharedSegment(0, 2000);
    const offThread = hashCounts.offThread;
    await hasher.hash(segment.bytes, segment.ends, false);
    assert.equal(hashCounts.offThread, offThread + 1, "hashed by the worker");
    // The worker lowers itself as it starts, alongside loading node:crypto: look for a while.
    let lowered: string[] = [];
    for (let tries = 0; tries < 100 && lowered.length === 0; tries++) {
      lowered = [...niceness()].filter(([tid, nice]) => nice === WORKER_NICE && !before.has(tid)).map(([tid]) => tid);
      if (lowered.length === 0) await new Promise((resolve) => setTimeout(resolve, 20));
    }
    assert.ok(lowered.length > 0, `a new thread at nice ${WORKER_NICE}: ${JSON.stringify([...niceness()])}`);
    const after = niceness();
    assert.equal(after.get(self), before.get(self), "this thread's niceness is unchanged");
    const changed = [...before].filter(([tid, nice]) => after.has(tid) && after.get(tid) !== nice);
    assert.deepEqual(changed, [], "no thread that was there before changed");
  });
});
