// Attacks on sealing without a copy (src/sink/_segment_bytes.ts, src/sink/_sealing.ts `space`): the sink's queue
// encodes a write's lines into the open segment's reused shared buffer for this library's file destinations. What
// must hold whatever the load: the data file holds exactly the lines accepted (in order), the checkpoints hash
// exactly those bytes (the trail verifies), no other stream ever sees shared memory or a chunk that changes after
// it was handed over, and the hashing worker lowers only its own thread's priority.
import { describe, it } from "node:test";
import assert from "node:assert/strict";
import { existsSync, readdirSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import process from "node:process";
import { type CallEvent, createCallEvent, encodeCallEvent, JsonLinesAuditSink } from "../../mod.ts";
import { fileDestination, fileSeal } from "../../src/destination/file_destination.ts";
import type { FileSealOptions } from "../../src/destination/file_seal.ts";
import { importAuditVerifyKey } from "../../src/seal/audit_seal_key.ts";
import { segmentCounts } from "../../src/sink/_segment_bytes.ts";
import { countsDuring } from "../_helpers/counts.ts";
import { inTempDir } from "../_helpers/temp_dir.ts";
import { Child, mountTmpfs } from "../_helpers/run_script.ts";
import { setFiles } from "../destination/_rotation_files.ts";
import { assertExactLines, keys, linesOf, problems, show, verify, verifySetIn } from "./_trail.ts";

const decoder = new TextDecoder();
const encoder = new TextEncoder();

/** A caller id of `units` UTF-16 units: mostly 4-byte emoji (2 units each), so its UTF-8 is about twice as long. */
/** Mostly emoji (4 bytes for 2 UTF-16 units). */
const EMOJI = ["😀", "🦀", "€", "ü", "😀😀", "x"];
/** Mostly 3 bytes a UTF-16 unit, the widest UTF-8 gets. */
const EURO = ["€", "€€", "ü€"];

function wide(units: number, i: number, pieces: readonly string[] = EMOJI): string {
  let out = "";
  for (let k = 0; out.length < units; k++) out += pieces[(i + k) % pieces.length];
  return out;
}

const made = new Map<string, CallEvent>();

/** Event `i` of a run (`salt`), its caller id of `units` UTF-16 units, emoji-heavy when `emoji` (or of those pieces). */
function event(i: number, units: number, emoji: boolean | readonly string[], salt = "c"): CallEvent {
  const id = `${salt}/${i}/${units}/${emoji}`;
  let e = made.get(id);
  if (e === undefined) {
    e = createCallEvent({
      call_id: `${salt}-${i}`,
      tool_id: "ref:echo.say",
      duration_ms: i % 997,
      outcome: { kind: "success" },
      tier: "warm",
      caller_id: emoji === false ? "a".repeat(units) : wide(units, i, emoji === true ? EMOJI : emoji),
      granted_capabilities: ["read"],
    });
    if (made.size < 50_000) made.set(id, e);
  }
  return e;
}

/** Writes `events` in block mode (waiting on `ready`), flushing every `flushEvery`, then closes. */
async function writeBlock(sink: JsonLinesAuditSink, events: readonly CallEvent[], flushEvery = 0): Promise<void> {
  for (let i = 0; i < events.length; i++) {
    if (sink.desiredSize <= 0) await sink.ready;
    sink.onCall(events[i]!);
    if (flushEvery > 0 && i % flushEvery === flushEvery - 1) await sink.flush();
  }
  await sink.close();
}

/** Verifies a single file and its seal file: no finding at all, every line verified. */
async function assertIntact(path: string, lines: number, sealPath = `${path}.seal`): Promise<void> {
  const key = await keys();
  const { findings, summary } = await verify(readFileSync(path, "utf8"), {
    keys: key.verify,
    seal: readFileSync(sealPath, "utf8"),
  });
  assert.deepEqual(findings, [], show(findings));
  assert.deepEqual([summary.intact, summary.verifiedLines], [true, lines]);
}

async function assertSetIntact(dir: string, lines: number): Promise<void> {
  const key = await keys();
  const { findings, summary } = await verifySetIn(dir, setFiles(dir), key.verify);
  assert.deepEqual(findings.map((f) => `${f.file}: ${f.kind} ${f.message}`), []);
  assert.deepEqual([summary.intact, summary.verifiedLines], [true, lines]);
}

/**
 * Writes `events` to a fresh sealed file (`fileSeal` with `seal`, a block-mode sink of `capacity`): with `write`, or
 * waiting on `ready` and flushing every `write` events; then asserts that the file holds exactly their lines and that
 * its trail is intact, and returns the chunks encoded in place and copied meanwhile.
 */
async function writeExactAndIntact(
  prefix: string,
  events: readonly CallEvent[],
  seal: Omit<FileSealOptions, "key">,
  capacity: number,
  write: number | ((sink: JsonLinesAuditSink) => Promise<void>),
): Promise<{ inPlace: number; copied: number }> {
  return await inTempDir(prefix, async (dir) => {
    const path = join(dir, "audit.jsonl");
    const key = await keys();
    const counts = await countsDuring(segmentCounts, async () => {
      const sealing = await fileSeal(path, { key: key.seal, ...seal });
      const sink = new JsonLinesAuditSink(fileDestination(path), { seal: sealing, backpressure: "block", capacity });
      await (typeof write === "number" ? writeBlock(sink, events, write) : write(sink));
    });
    assertExactLines(readFileSync(path, "utf8"), events.map((e) => encodeCallEvent(e) + "\n"));
    await assertIntact(path, events.length);
    return counts;
  });
}

describe("In place: encoding that outgrows the spare space", () => {
  it("emoji-heavy writes (UTF-8 twice the UTF-16 count): file exact, trail intact", async () => {
    // Buffers of 64 KiB (the smallest), segments of at most 30,000 bytes; writes of up to 8 lines of 1,000 to 10,000
    // UTF-16 units (at most 30,000 units: a write stays within the segment's limit), most of them emoji.
    const events = Array.from({ length: 1_500 }, (_, i) => event(i, 1_000 + (i * 7919) % 9_000, i % 5 !== 4));
    const counts = await writeExactAndIntact("ip-emoji", events, { maxSegmentBytes: 30_000 }, 16, 97);
    assert.ok(counts.inPlace > 10, JSON.stringify(counts));
  });

  it("writes of 3 bytes a UTF-16 unit into partly full buffers: the spare space holds the units, not the bytes", async () => {
    // A segment ends before a write whose units would take it past 30,000 bytes, so it holds at most 30,000 -
    // units bytes before the write; the write's bytes, up to 3 × units, outgrow a 64 KiB buffer from 17,768 units on.
    const events = Array.from({ length: 1_500 }, (_, i) => event(i, 1_000 + (i * 7919) % 9_000, i % 5 !== 4 && EURO));
    const counts = await writeExactAndIntact("ip-euro", events, { maxSegmentBytes: 30_000 }, 16, 97);
    assert.ok(counts.inPlace > 10 && counts.copied > 0, JSON.stringify(counts)); // how many outgrow it depends on the writes
  });

  it("events larger than a segment and than the buffer, ASCII and wide, among small ones: file exact, trail intact", async () => {
    const sizes = [10, 70_000, 5, 300_000, 20, 65_000, 1, 140_000, 3, 600_000];
    const events = Array.from(
      { length: 120 },
      (_, i) => event(i, sizes[i % sizes.length]! + (i % 3), i % 4 === 1 || i % 4 === 2, "huge"),
    );
    const counts = await writeExactAndIntact("ip-huge", events, { maxSegmentBytes: 16_384, maxSegmentLines: 7 }, 4, 13);
    assert.ok(counts.inPlace > 0 && counts.copied > 0, JSON.stringify(counts));
  });
});

describe("In place: tiny segments, tiny capacities, bursts", () => {
  for (const [capacity, maxSegmentLines] of [[1, 1], [2, 1], [2, 3], [1, 5]] as const) {
    it(`capacity ${capacity}, maxSegmentLines ${maxSegmentLines}: every buffer reused many times; exact and intact`, async () => {
      const events = Array.from({ length: 600 }, (_, i) => event(i, 50 + (i * 31) % 400, i % 3 === 0, "tiny"));
      const seal = { maxSegmentLines, maxSegmentBytes: 1 };
      const counts = await writeExactAndIntact("ip-tiny", events, seal, capacity, 101);
      assert.ok(counts.inPlace > 100, JSON.stringify(counts));
    });
  }

  it("block mode, synchronous bursts far beyond capacity (lines encoded ahead, then in place): exact and intact", async () => {
    const events = Array.from({ length: 12_000 }, (_, i) => event(i, 20 + (i * 13) % 700, i % 2 === 0, "burst"));
    await writeExactAndIntact("ip-burst", events, { maxSegmentBytes: 70_000 }, 32, async (sink) => {
      // Bursts of 3,000 synchronous calls (block mode takes them all), with a turn between bursts.
      for (let at = 0; at < events.length; at += 3_000) {
        for (let i = at; i < at + 3_000; i++) sink.onCall(events[i]!);
        await new Promise((resolve) => setTimeout(resolve, 0));
      }
      await sink.close();
    });
  });

  it("drop mode, bursts beyond capacity: the file holds exactly the events not dropped; the trail tells the drops", async () => {
    await inTempDir("ip-drop", async (dir) => {
      const path = join(dir, "audit.jsonl");
      const key = await keys();
      const events = Array.from({ length: 8_000 }, (_, i) => event(i, 30 + (i * 17) % 900, i % 3 !== 0, "drop"));
      const seal = await fileSeal(path, { key: key.seal, maxSegmentBytes: 50_000, maxSegmentLines: 40 });
      const sink = new JsonLinesAuditSink(fileDestination(path), { seal, backpressure: "drop", capacity: 64 });
      for (let at = 0; at < events.length; at += 500) {
        for (let i = at; i < at + 500; i++) sink.onCall(events[i]!);
        await new Promise((resolve) => setTimeout(resolve, 1));
      }
      await sink.close();
      const text = readFileSync(path, "utf8");
      const lines = linesOf(text);
      assert.ok(sink.drops > 0 && lines.length > 0, `${sink.drops} dropped, ${lines.length} written`);
      assert.equal(lines.length + sink.drops, events.length);
      // In order, each exactly an event's line.
      const all = events.map((e) => encodeCallEvent(e) + "\n");
      let at = 0;
      for (const [n, line] of lines.entries()) {
        while (at < all.length && all[at] !== line) at++;
        assert.ok(at < all.length, `line ${n + 1} is no event's line, or out of order: ${line.slice(0, 120)}`);
        at++;
      }
      const { findings, summary } = await verify(text, {
        keys: key.verify,
        seal: readFileSync(`${path}.seal`, "utf8"),
      });
      assert.deepEqual(problems(findings), [], show(findings));
      assert.deepEqual([summary.intact, summary.verifiedLines], [true, lines.length]);
      const dropped = findings.filter((f) => f.kind === "gap").reduce((sum, f) => sum + (f.count ?? 0), 0);
      assert.equal(dropped, sink.drops, show(findings));
    });
  });
});

describe("In place: rotation, failures, deadlines", () => {
  it("a rotating file with tiny segments and wide lines: a boundary inside nearly every segment; the set verifies", async () => {
    await inTempDir("ip-rotate", async (dir) => {
      const key = await keys();
      const destination = fileDestination(join(dir, "audit.jsonl"), { rotate: { maxBytes: 40_000, writerId: "w" } });
      const events = Array.from({ length: 2_500 }, (_, i) => event(i, 40 + (i * 53) % 1_500, i % 2 === 1, "rot"));
      const counts = await countsDuring(segmentCounts, async () => {
        // Segments far larger than a file: each file's end splits the open segment (the chunk written there is
        // in place in the split buffer).
        const seal = await fileSeal(destination, { key: key.seal, maxSegmentBytes: 200_000, maxSegmentLines: 1_000 });
        const sink = new JsonLinesAuditSink(destination, { seal, backpressure: "block", capacity: 6 });
        await writeBlock(sink, events, 211);
      });
      assert.ok(counts.inPlace > 100, JSON.stringify(counts));
      const names = setFiles(dir);
      assert.ok(names.length >= 20, `${names.length} files`);
      assertExactLines(
        names.map((name) => readFileSync(join(dir, name), "utf8")).join(""),
        events.map((e) => encodeCallEvent(e) + "\n"),
      );
      await assertSetIntact(dir, events.length);
    });
  });

  it("a rotating file whose every chunk is larger than maxBytes, segments of 1 line: the set verifies", async () => {
    await inTempDir("ip-rotate-big", async (dir) => {
      const key = await keys();
      const destination = fileDestination(join(dir, "audit.jsonl"), { rotate: { maxBytes: 1_000, writerId: "w" } });
      const events = Array.from({ length: 300 }, (_, i) => event(i, 300 + (i * 53) % 3_000, i % 2 === 0, "rotbig"));
      const seal = await fileSeal(destination, { key: key.seal, maxSegmentLines: 1 });
      const sink = new JsonLinesAuditSink(destination, { seal, backpressure: "block", capacity: 2 });
      await writeBlock(sink, events, 37);
      const names = setFiles(dir);
      assertExactLines(
        names.map((name) => readFileSync(join(dir, name), "utf8")).join(""),
        events.map((e) => encodeCallEvent(e) + "\n"),
      );
      await assertSetIntact(dir, events.length);
    });
  });

  it("a full disk that frees up again (tmpfs): every line in the file is exact, in order, and the trail verifies", async (t) => {
    const mount = mountTmpfs(t, "size=192k");
    if (mount === undefined) return;
    try {
      await inTempDir("ip-full", async (dir) => {
        const key = await keys();
        const path = join(mount.path, "audit.jsonl");
        const filler = join(mount.path, "filler");
        writeFileSync(filler, new Uint8Array(96 * 1024));
        const events = Array.from({ length: 600 }, (_, i) => event(i, 200 + (i * 71) % 900, i % 3 === 0, "full"));
        const seal = await fileSeal(path, { key: key.seal, sealPath: join(dir, "audit.seal"), maxSegmentBytes: 9_000 });
        const sink = new JsonLinesAuditSink(fileDestination(path), { seal, backpressure: "block", capacity: 8 });
        for (let i = 0; i < events.length; i++) {
          if (sink.desiredSize <= 0) await sink.ready;
          sink.onCall(events[i]!);
          if (i % 25 === 24) await sink.flush();
          // Room again once writes failed for a while: the destination reopens and goes on.
          if (i > 300 && existsSync(filler) && sink.stats().failed > 0) rmSync(filler);
        }
        await sink.close();
        const stats = sink.stats();
        assert.ok(stats.failed > 0 && stats.written > 0, JSON.stringify(stats));
        const bytes = readFileSync(path);
        const text = decoder.decode(bytes);
        const all = events.map((e) => encodeCallEvent(e) + "\n");
        const allBytes = all.map((line) => encoder.encode(line));
        let at = 0;
        let whole = 0;
        let torn = 0;
        for (let start = 0; start < bytes.length;) {
          const newline = bytes.indexOf(0x0a, start);
          const end = newline === -1 ? bytes.length : newline + 1;
          const line = bytes.subarray(start, end);
          start = end;
          const found = all.indexOf(decoder.decode(line), at);
          if (found === -1) {
            // A line torn by the full disk (a prefix of an event's line, then the newline the next write puts
            // before its lines) is allowed, nothing else.
            const part = line.subarray(0, -1);
            const prefix = allBytes.some((l) => l.length > part.length && part.every((b, k) => l[k] === b));
            assert.ok(prefix, `not an event's line: ${decoder.decode(line).slice(0, 120)}`);
            if (end < bytes.length) torn++;
            continue;
          }
          at = found + 1;
          whole++;
        }
        assert.equal(whole, stats.written);
        const { findings, summary } = await verify(text, {
          keys: key.verify,
          seal: readFileSync(join(dir, "audit.seal"), "utf8"),
        });
        // A torn line (no event's: its write failed part-way) is a torn write where its checkpoint declares the
        // failure, one finding a line; nothing is a problem.
        assert.deepEqual(problems(findings), [], show(findings));
        const tornWrites = findings.filter((f) => f.kind === "torn_write");
        assert.ok(tornWrites.every((f) => f.count === 1 && f.line === f.lastLine), show(findings));
        assert.equal(tornWrites.length, torn, show(findings));
        assert.deepEqual([summary.intact, summary.problems, summary.tornLines], [true, 0, torn], show(findings));
        assert.equal(summary.verifiedLines, stats.written, show(findings));
      });
    } finally {
      mount.unmount();
    }
  });

  it("flushes that hit their deadline mid-burst, then more writes and a close: no line changed, no finding but gaps", async () => {
    await inTempDir("ip-deadline", async (dir) => {
      const path = join(dir, "audit.jsonl");
      const key = await keys();
      const events = Array.from({ length: 6_000 }, (_, i) => event(i, 100 + (i * 29) % 2_000, i % 2 === 0, "dl"));
      const seal = await fileSeal(path, { key: key.seal, maxSegmentBytes: 40_000 });
      const sink = new JsonLinesAuditSink(fileDestination(path), { seal, backpressure: "block", capacity: 64 });
      for (let at = 0; at < events.length; at += 1_000) {
        for (let i = at; i < at + 1_000; i++) sink.onCall(events[i]!);
        // Gives up at once on what is queued or under way: the lines still being written are counted failed.
        await sink.flush({ signal: AbortSignal.abort() });
      }
      await sink.close({ signal: AbortSignal.abort() });
      const stats = sink.stats();
      const text = readFileSync(path, "utf8");
      const all = events.map((e) => encodeCallEvent(e) + "\n");
      let at = 0;
      for (const [n, line] of linesOf(text).entries()) {
        const found = all.indexOf(line, at);
        assert.ok(found !== -1, `line ${n + 1} is no event's line, or out of order: ${line.slice(0, 120)}`);
        at = found + 1;
      }
      const { findings } = await verify(text, { keys: key.verify, seal: readFileSync(`${path}.seal`, "utf8") });
      assert.ok(stats.written + stats.failed === events.length, JSON.stringify(stats));
      assert.deepEqual(problems(findings), [], show(findings));
    });
  });
});

describe("In place: many sinks, short-lived sinks, other streams", () => {
  it("twelve sealed sinks writing at once (shared hashing worker, many buffers): every file exact and intact", async () => {
    await inTempDir("ip-many", async (dir) => {
      const key = await keys();
      const runs = await Promise.all(Array.from({ length: 12 }, async (_, s) => {
        const path = join(dir, `audit-${s}.jsonl`);
        const events = Array.from(
          { length: 1_500 },
          (_, i) => event(i, 50 + ((i + s) * 37) % 1_200, (i + s) % 2 === 0, `m${s}`),
        );
        const seal = await fileSeal(path, { key: key.seal, maxSegmentBytes: s % 2 === 0 ? 600_000 : 20_000 });
        const sink = new JsonLinesAuditSink(fileDestination(path), {
          seal,
          backpressure: "block",
          capacity: 2 + s * 8,
        });
        await writeBlock(sink, events, 333);
        return { path, events };
      }));
      for (const { path, events } of runs) {
        assertExactLines(readFileSync(path, "utf8"), events.map((e) => encodeCallEvent(e) + "\n"));
        await assertIntact(path, events.length);
      }
    });
  });

  it("sinks made and closed one after another on the same file (the chain goes on): exact and intact", async () => {
    await inTempDir("ip-rapid", async (dir) => {
      const path = join(dir, "audit.jsonl");
      const key = await keys();
      const expected: string[] = [];
      for (let s = 0; s < 30; s++) {
        const seal = await fileSeal(path, { key: key.seal, maxSegmentLines: 1 + (s % 4) });
        const sink = new JsonLinesAuditSink(fileDestination(path), {
          seal,
          backpressure: "block",
          capacity: 1 + s % 3,
        });
        const events = Array.from(
          { length: s % 5 === 0 ? 0 : 7 + s },
          (_, i) => event(i, 30 + i * 11, i % 2 === 0, `r${s}`),
        );
        expected.push(...events.map((e) => encodeCallEvent(e) + "\n"));
        // Half of them closed right after the calls, without waiting for room.
        if (s % 2 === 0) await writeBlock(sink, events);
        else {
          for (const e of events) sink.onCall(e);
          await sink.close();
        }
      }
      assertExactLines(readFileSync(path, "utf8"), expected);
      await assertIntact(path, expected.length);
    });
  });

  it("a fallback sink's stream and the seal streams: chunks never shared memory, never changed after they were given", async () => {
    await inTempDir("ip-fallback", async (dir) => {
      const path = join(dir, "audit.jsonl");
      const key = await keys();
      const seen: { chunk: Uint8Array; copy: Uint8Array }[] = [];
      const keep = (): WritableStream<Uint8Array> =>
        new WritableStream<Uint8Array>({ write: (chunk) => void seen.push({ chunk, copy: chunk.slice() }) });
      const fallback = new JsonLinesAuditSink(keep(), {
        seal: { key: key.seal, to: keep(), maxSegmentLines: 3 },
        backpressure: "block",
        capacity: 4,
      });
      const events = Array.from({ length: 1_200 }, (_, i) => event(i, 40 + (i * 19) % 800, i % 2 === 0, "fb"));
      const sink = new JsonLinesAuditSink(fileDestination(path), {
        seal: { key: key.seal, to: keep(), maxSegmentBytes: 30_000 },
        backpressure: { fallback },
        capacity: 16,
      });
      for (let at = 0; at < events.length; at += 300) {
        for (let i = at; i < at + 300; i++) sink.onCall(events[i]!);
        await new Promise((resolve) => setTimeout(resolve, 0));
      }
      await sink.close();
      await fallback.close();
      assert.ok(fallback.stats().written > 0 && sink.stats().written > 0, "both wrote");
      assert.ok(seen.length > 20);
      for (const { chunk, copy } of seen) {
        assert.ok(!(chunk.buffer instanceof SharedArrayBuffer), "a plain ArrayBuffer");
        assert.deepEqual(chunk, copy, "unchanged since it was written");
      }
      // The file holds, in order, exactly the events that did not go to the fallback.
      const lines = linesOf(readFileSync(path, "utf8"));
      assert.equal(lines.length + fallback.stats().written, events.length);
    });
  });
});

describe("The hashing worker's priority", () => {
  /** Each thread's niceness in process `pid`, by thread id (Linux's /proc). */
  function niceness(pid: number): Map<string, number> {
    const out = new Map<string, number>();
    for (const tid of readdirSync(`/proc/${pid}/task`)) {
      try {
        const stat = readFileSync(`/proc/${pid}/task/${tid}/stat`, "utf8");
        out.set(tid, Number(stat.slice(stat.lastIndexOf(")") + 2).split(" ")[16]));
      } catch {
        // The thread ended meanwhile.
      }
    }
    return out;
  }

  for (const sys of [false, true]) {
    it(
      `Deno ${sys ? "with" : "without"} --allow-sys=setPriority: no prompt, the sink works, ${
        sys ? "only the worker's thread is lowered" : "no thread is lowered"
      }`,
      { skip: process.platform !== "linux" },
      async () => {
        await inTempDir("ip-nice", async (dir) => {
          const path = join(dir, "audit.jsonl");
          const script = join(process.cwd(), "tests/seal/_in_place_nice_script.ts");
          const flags = ["run", "--allow-read", "--allow-write", ...(sys ? ["--allow-sys=setPriority"] : [])];
          let child: Child;
          try {
            child = new Child("Deno" in globalThis ? process.execPath : "deno", [...flags, script, path], {
              stdin: "ignore",
            });
            await child.waitFor("the child's sink to have written", (c) => c.lines.length > 0, 30_000);
          } catch (error) {
            if (String(error).includes("ENOENT")) return; // no deno here
            throw error;
          }
          const report = JSON.parse(child.lines[0]!) as { offThread: number; pid: number };
          assert.ok(report.offThread > 0, "the worker hashed");
          const nice = niceness(child.process.pid!);
          writeFileSync(`${path}.done`, "");
          const { code, stderr } = await child.result(30_000);
          assert.equal(code, 0, stderr);
          assert.doesNotMatch(stderr, /Allow\?|granted|prompt|NotCapable|PermissionDenied/i);
          const lowered = [...nice].filter(([, n]) => n !== 0);
          if (sys) {
            assert.equal(lowered.length, 1, JSON.stringify([...nice]));
            assert.equal(lowered[0]![1], 10);
            assert.notEqual(lowered[0]![0], String(child.process.pid), "not the main thread");
          } else assert.deepEqual(lowered, [], "no thread lowered without the permission");
          const verifyKey = await importAuditVerifyKey(JSON.parse(readFileSync(`${path}.pub`, "utf8")));
          const { findings, summary } = await verify(readFileSync(path, "utf8"), {
            keys: verifyKey,
            seal: readFileSync(`${path}.seal`, "utf8"),
          });
          assert.deepEqual(findings, [], show(findings));
          assert.deepEqual([summary.intact, summary.verifiedLines], [true, 3_000]);
        });
      },
    );
  }
});
