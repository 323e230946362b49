// Hostile tests of a sealed sink's segment limits: the queue's writes stay
// within maxSegmentLines and maxSegmentBytes (in UTF-16 units plus newline),
// a segment ends before the write that would pass a limit (Sealing.fit, in
// the link and in Sealing.space), and still every line is written exactly
// once, in order, the trail verifies and the losses add up. Also: the
// unsealed queue's writes stay within half the capacity and 1 MiB.
import { describe, it } from "node:test";
import assert from "node:assert/strict";
import { readFileSync } from "node:fs";
import { join } from "node:path";
import fc from "fast-check";
import { AuditLossError, type CallEvent, encodeCallEvent, JsonLinesAuditSink } from "../../mod.ts";
import { COALESCE_WRITES } from "../../src/destination/_coalesce.ts";
import { fileDestination, fileSeal } from "../../src/destination/file_destination.ts";
import { runtime } from "../../src/runtime/runtime.ts";
import { WRITE_INTERVAL_MS } from "../../src/sink/_queue.ts";
import type { FileHandle } from "../../src/runtime/runtime_driver.ts";
import { MemoryDestination, numbered, tick } from "../_helpers/events.ts";
import { inTempDir } from "../_helpers/temp_dir.ts";
import { setFiles } from "../destination/_rotation_files.ts";
import { keys, linesOf, problems, show, verify, verifySetIn } from "../seal/_trail.ts";
import { OrderedDestination, SealStream } from "./_sealed.ts";

const encoder = new TextEncoder();
const decoder = new TextDecoder();
const CHECKPOINT = '{"audit_checkpoint":';
/** The queue's own bounds on a write (src/sink/_queue.ts). */
const MAX_WRITE_CHARS = 1 << 20;
const MAX_BATCH_LINES = 4096;

type Kind = "ascii" | "emoji" | "euro";
type Where = "stream" | "inband" | "file" | "rotate";
/** All at once; awaiting room; `record()`; awaiting room and a timer tick every few events (heartbeats cut meanwhile). */
type Producer = "burst" | "ready" | "record" | "trickle";

/** One event of a run: its line's UTF-16 units (at least the plain event's), mostly of one kind of character. */
interface Sized {
  readonly units: number;
  readonly kind: Kind;
}

interface Scenario {
  readonly where: Where;
  readonly capacity: number;
  readonly maxSegmentLines: number;
  readonly maxSegmentBytes: number;
  readonly events: readonly Sized[];
  readonly backpressure: "block" | "drop";
  readonly producer: Producer;
  /** Flush after every this many events (0: never). */
  readonly flushEvery: number;
  /** Stream and in band: the destination fails the last line of every third write (gaps in segment). */
  readonly failing: boolean;
  /** Heartbeat checkpoints every millisecond, racing with the cuts before writes. */
  readonly heartbeat: boolean;
  /** A flush with an aborted deadline after this many events (-1: none). */
  readonly deadlineAt: number;
  /** Close with a deadline of this many milliseconds (-1: none). */
  readonly closeDeadlineMs: number;
  /** Rotation: the file's size limit. */
  readonly rotateBytes: number;
}

interface Checkpoint {
  readonly seg_lines: number;
  readonly seg_bytes: number;
  readonly offered: number;
  readonly gaps: readonly { reason: string; count: number; in_segment: boolean }[];
}

const PIECES: Record<Kind, string> = { ascii: "a", emoji: "😀", euro: "€" };
let runs = 0;

/** Event `i` whose line has about `units` UTF-16 units (never fewer than the plain event's), padded with `kind`. */
function eventOf(i: number, { units, kind }: Sized, salt: string): CallEvent {
  const base = { ...numbered(i), call_id: `${salt}-${i}`, caller_id: "c" };
  const room = Math.max(0, units - encodeCallEvent(base).length);
  const piece = PIECES[kind];
  const pad = piece.repeat(Math.floor(room / piece.length));
  return { ...base, caller_id: `c${pad}${"b".repeat(room - pad.length)}` };
}

function utf8(line: string): number {
  return encoder.encode(line).length;
}

/** A line's size against the limits, as the queue counts it: UTF-16 units plus the newline. */
function units(line: string): number {
  return line.endsWith("\n") ? line.length : line.length + 1;
}

/** A plain destination that keeps each write's text; with `coalesce`, marked as the file and stdout ones are. */
class Recorder {
  readonly writes: string[] = [];
  readonly stream: WritableStream<Uint8Array>;
  constructor(delayMs = 0, coalesce = false) {
    const stream = new WritableStream<Uint8Array>({
      write: async (chunk) => {
        this.writes.push(decoder.decode(chunk));
        if (delayMs > 0) await tick(delayMs);
      },
    });
    this.stream = coalesce ? Object.assign(stream, { [COALESCE_WRITES]: true }) : stream;
  }
}

/** What a write may hold: at most `lines` lines and `chars` UTF-16 units with newlines, unless it is one line. */
function assertWrites(writes: readonly string[][], lines: number, chars: number, where: string): void {
  for (const [n, write] of writes.entries()) {
    const size = write.reduce((sum, line) => sum + units(line), 0);
    const at = `${where}: write ${n} of ${write.length} lines, ${size} units (at most ${lines} lines, ${chars} units)`;
    assert.ok(write.length <= lines, at);
    assert.ok(write.length === 1 || size <= chars, at);
  }
}

/**
 * Walks a stream's checkpoints over the data lines handed to it (`lines`, in order, lost ones included): each
 * segment within its limits (its bytes beyond `maxSegmentBytes` only as one line, or as one write whose UTF-16
 * units are within it), its size as the lines'. Returns the lines sealed.
 */
function assertSegments(
  checkpoints: readonly Checkpoint[],
  lines: readonly string[],
  s: Pick<Scenario, "maxSegmentLines" | "maxSegmentBytes">,
  where: string,
  unsealedTail = false,
): number {
  let at = 0;
  const sizes = checkpoints.map((c) => [c.seg_lines, c.seg_bytes]);
  for (const [n, c] of checkpoints.entries()) {
    const segment = lines.slice(at, at + c.seg_lines);
    at += c.seg_lines;
    const why = `${where}: checkpoint ${n} (${c.seg_lines} lines, ${c.seg_bytes} bytes), limits ` +
      `${s.maxSegmentLines} lines ${s.maxSegmentBytes} bytes; segments ${JSON.stringify(sizes.slice(0, 80))}`;
    assert.equal(segment.length, c.seg_lines, `more lines sealed than handed: ${why}`);
    assert.equal(segment.reduce((sum, line) => sum + utf8(line), 0), c.seg_bytes, `segment is not these lines: ${why}`);
    assert.ok(c.seg_lines <= s.maxSegmentLines, `lines over the limit: ${why}`);
    if (c.seg_bytes > s.maxSegmentBytes) {
      const chars = segment.reduce((sum, line) => sum + units(line), 0);
      assert.ok(c.seg_lines === 1 || chars <= s.maxSegmentBytes, `bytes over the limit: ${why}`);
    }
  }
  if (unsealedTail) assert.ok(at <= lines.length, `${where}: more lines sealed than handed`);
  else assert.equal(at, lines.length, `${where}: lines handed but never sealed`);
  return at;
}

/** `got` is `expected` (exact) or, after a deadline, an in-order subsequence of it without repeats. */
function assertLines(got: readonly string[], expected: readonly string[], exact: boolean, where: string): void {
  if (exact) {
    const wrong = got.findIndex((line, i) => line !== expected[i]);
    assert.equal(wrong, -1, `${where}: line ${wrong} of ${got.length} differs: ${got[wrong]?.slice(0, 120)}`);
    assert.equal(got.length, expected.length, `${where}: lines`);
    return;
  }
  let at = 0;
  for (const [n, line] of got.entries()) {
    const found = expected.indexOf(line, at);
    assert.ok(found !== -1, `${where}: line ${n} is repeated, out of order or no event's: ${line.slice(0, 120)}`);
    at = found + 1;
  }
}

/** In band: the data lines of a stream and its checkpoints, split apart. */
function splitInBand(lines: readonly string[]): { data: string[]; checkpoints: Checkpoint[] } {
  const data: string[] = [];
  const checkpoints: Checkpoint[] = [];
  for (const line of lines) {
    if (line.startsWith(CHECKPOINT)) checkpoints.push(JSON.parse(line));
    else data.push(line);
  }
  return { data, checkpoints };
}

function parseAll(text: string): Checkpoint[] {
  return linesOf(text).map((line) => JSON.parse(line));
}

/** Runs a scenario and checks everything the promise says. */
async function run(s: Scenario): Promise<void> {
  const key = await keys();
  const salt = `r${runs++}`;
  const events = s.events.map((sized, i) => eventOf(i, sized, salt));
  const lines = events.map((e) => encodeCallEvent(e) + "\n");
  const errors: unknown[] = [];
  const limits = {
    maxSegmentLines: s.maxSegmentLines,
    maxSegmentBytes: s.maxSegmentBytes,
    ...(s.heartbeat ? { heartbeat: true, intervalMs: 1 } : {}),
  };
  const options = { capacity: s.capacity, backpressure: s.backpressure, onError: (e: unknown) => errors.push(e) };
  const where = JSON.stringify({ ...s, events: s.events.length });
  const accepted: string[] = [];

  const produce = async (sink: JsonLinesAuditSink): Promise<void> => {
    for (const [i, event] of events.entries()) {
      if (i === s.deadlineAt) await sink.flush({ signal: AbortSignal.abort() });
      const dropped = sink.stats().dropped;
      if (s.producer === "record") await sink.record(event);
      else {
        if (s.producer !== "burst" && sink.desiredSize <= 0) await sink.ready;
        sink.onCall(event);
        if (s.producer === "trickle" && i % 3 === 2) await tick(1);
      }
      if (sink.stats().dropped === dropped) accepted.push(lines[i]!);
      if (s.flushEvery > 0 && i % s.flushEvery === s.flushEvery - 1) await sink.flush();
    }
    await sink.close(s.closeDeadlineMs < 0 ? undefined : { signal: AbortSignal.timeout(s.closeDeadlineMs) });
  };

  /** The loss equation, and that the sink was told nothing but losses. */
  const account = (sink: JsonLinesAuditSink, summary: { written: number; lost: number }): void => {
    const st = sink.stats();
    const at = `${where}: ${JSON.stringify(st)} ${JSON.stringify(summary)}`;
    assert.equal(st.accepted + st.dropped + st.fallback + st.invalid, events.length, at);
    assert.equal(st.accepted, accepted.length, at);
    assert.equal(st.queued, 0, at);
    if (!tailAllowed()) {
      assert.equal(summary.written, st.written, at);
      assert.equal(summary.written + summary.lost, events.length, at);
    }
    if (s.backpressure === "block") assert.equal(st.dropped, 0, at);
    // After a deadline, a line under way may still land, after it was counted failed: told, and allowed.
    const late = (e: unknown): boolean => !exact && String(e).includes("after a deadline counted");
    const other = errors.filter((e) => !(e instanceof AuditLossError) && !late(e) && !unfinished(e));
    assert.deepEqual(other.map(String), [], at);
  };

  const exact = s.deadlineAt < 0 && s.closeDeadlineMs < 0;
  // After a deadline, sealing has a grace of its own; on a loaded machine (the hashing worker runs at nice 10) it may
  // run out: the sink says so (and that the checkpoints still under way were lost with the seal stream), and the
  // lines it did not seal are an unsealed tail.
  const graceOut = (e: unknown): boolean => !exact && String(e).includes("Sealing did not finish before the deadline");
  const tailAllowed = (): boolean => errors.some(graceOut);
  const unfinished = (e: unknown): boolean =>
    graceOut(e) || (tailAllowed() && String(e).includes("Lost a checkpoint: the seal stream refused it"));
  const writeLines = Math.min(MAX_BATCH_LINES, Math.ceil(s.capacity / 2), s.maxSegmentLines);
  const writeChars = Math.min(MAX_WRITE_CHARS, s.maxSegmentBytes);

  if (s.where === "stream" || s.where === "inband") {
    const inBand = s.where === "inband";
    const seal = new SealStream();
    const sealOption = { key: key.seal, ...limits, ...(inBand ? { inBand: true } : { to: seal.stream }) };
    let handed: string[];
    let arrived: string[];
    let writes: string[][];
    let sink: JsonLinesAuditSink;
    if (s.failing) {
      const starts: [number, number][] = [];
      const data = new OrderedDestination((write, count, first) => {
        starts.push([data.written.length, count]);
        return first.startsWith(CHECKPOINT) || write % 3 !== 1 ? {} : { deliver: count - 1 };
      });
      sink = new JsonLinesAuditSink(data.destination, { ...options, seal: sealOption });
      await produce(sink);
      handed = data.written;
      arrived = data.arrived;
      writes = starts.map(([from, count]) => data.written.slice(from, from + count));
    } else {
      const data = new Recorder();
      sink = new JsonLinesAuditSink(data.stream, { ...options, seal: sealOption });
      await produce(sink);
      writes = data.writes.map(linesOf);
      handed = writes.flat();
      arrived = handed;
    }
    const dataWrites = writes.filter((w) => !w[0]!.startsWith(CHECKPOINT));
    assertWrites(dataWrites, writeLines, writeChars, where);
    const split = inBand ? splitInBand(handed) : { data: handed, checkpoints: parseAll(seal.text()) };
    assertLines(split.data, accepted, exact, where);
    assertSegments(split.checkpoints, split.data, s, where, tailAllowed());
    const { findings, summary } = inBand
      ? await verify(arrived.join(""), { keys: key.verify })
      : await verify(arrived.join(""), { keys: key.verify, seal: seal.text() });
    assert.deepEqual(problems(findings), [], `${where}\n${show(findings)}`);
    if (!tailAllowed()) assert.deepEqual([summary.unsealedLines, summary.offered], [0, events.length], where);
    account(sink, summary);
    return;
  }

  await inTempDir("seg-attack", async (dir) => {
    const path = join(dir, "audit.jsonl");
    if (s.where === "file") {
      const seal = await fileSeal(path, { key: key.seal, ...limits });
      const sink = new JsonLinesAuditSink(fileDestination(path), { ...options, seal });
      await produce(sink);
      const data = linesOf(readFileSync(path, "utf8"));
      assertLines(data, accepted, exact, where);
      const sealText = readFileSync(`${path}.seal`, "utf8");
      assertSegments(parseAll(sealText), data, s, where, tailAllowed());
      const { findings, summary } = await verify(data.join(""), { keys: key.verify, seal: sealText });
      assert.deepEqual(problems(findings), [], `${where}\n${show(findings)}`);
      if (!tailAllowed()) assert.deepEqual([summary.unsealedLines, summary.offered], [0, events.length], where);
      account(sink, summary);
      return;
    }
    const destination = fileDestination(path, { rotate: { maxBytes: s.rotateBytes, writerId: "w" } });
    const seal = await fileSeal(destination, { key: key.seal, ...limits });
    const sink = new JsonLinesAuditSink(destination, { ...options, seal });
    await produce(sink);
    const names = setFiles(dir);
    const all: string[] = [];
    for (const name of names) {
      const data = linesOf(readFileSync(join(dir, name), "utf8"));
      assertSegments(parseAll(readFileSync(join(dir, `${name}.seal`), "utf8")), data, s, `${where} ${name}`);
      all.push(...data);
    }
    assertLines(all, accepted, exact, where);
    const { findings, summary } = await verifySetIn(dir, names, key.verify);
    const bad = findings.filter((f) => f.kind !== "gap" && f.kind !== "adopted");
    assert.deepEqual(bad.map((f) => `${f.file}: ${f.kind} ${f.message}`), [], where);
    assert.equal(summary.unsealedLines, 0, where);
    account(sink, summary);
  });
}

const sized: fc.Arbitrary<Sized> = fc.record({
  units: fc.oneof(
    { arbitrary: fc.integer({ min: 1, max: 400 }), weight: 4 },
    { arbitrary: fc.integer({ min: 400, max: 3_000 }), weight: 4 },
    { arbitrary: fc.integer({ min: 3_000, max: 30_000 }), weight: 1 },
  ),
  kind: fc.constantFrom<Kind>("ascii", "ascii", "emoji", "euro"),
});

function scenario(where: fc.Arbitrary<Where>): fc.Arbitrary<Scenario> {
  return fc.record({
    where,
    capacity: fc.oneof(fc.integer({ min: 1, max: 64 }), fc.constantFrom(1, 2, 64)),
    maxSegmentLines: fc.oneof(fc.integer({ min: 1, max: 50 }), fc.constantFrom(1, 2, 50)),
    maxSegmentBytes: fc.oneof(fc.integer({ min: 1, max: 20_000 }), fc.constantFrom(1, 500, 1_000, 20_000)),
    events: fc.array(sized, { minLength: 1, maxLength: 80, size: "max" }),
    backpressure: fc.constantFrom<"block" | "drop">("block", "block", "drop"),
    producer: fc.constantFrom<Producer>("burst", "ready", "record", "trickle"),
    flushEvery: fc.oneof(fc.constant(0), fc.integer({ min: 1, max: 15 })),
    failing: fc.boolean(),
    heartbeat: fc.boolean(),
    deadlineAt: fc.oneof({ arbitrary: fc.constant(-1), weight: 3 }, { arbitrary: fc.nat({ max: 79 }), weight: 1 }),
    closeDeadlineMs: fc.oneof({ arbitrary: fc.constant(-1), weight: 4 }, { arbitrary: fc.nat({ max: 20 }), weight: 1 }),
    rotateBytes: fc.integer({ min: 1, max: 60_000 }),
  }).map((s) => ({
    ...s,
    // Only stream and in band take a failing destination.
    failing: s.failing && (s.where === "stream" || s.where === "inband"),
  }));
}

describe("sealed segment limits (attack): property", () => {
  it(
    "seal stream and in band, any capacity, limits, sizes, producers, failures: bounds, exact lines, intact, losses add up",
    { timeout: 120_000 },
    async () => {
      await fc.assert(fc.asyncProperty(scenario(fc.constantFrom<Where>("stream", "inband")), run), {
        numRuns: 300,
        timeout: 20_000,
      });
    },
  );

  it(
    "a rotating file and its seal files: bounds per file, exact lines, the set intact, losses add up",
    { timeout: 120_000 },
    async () => {
      // No deadline: a line under way at a deadline is counted lost (in the old file's trail) and may still be written
      // to the next file after the rotation, unsealed there; that is the deadline's documented caveat, not a limit.
      const rotating = scenario(fc.constant<Where>("rotate")).map((s) => ({
        ...s,
        deadlineAt: -1,
        closeDeadlineMs: -1,
      }));
      // Fails a few runs in a thousand on Deno (the rotation finding below): no shrinking, so that it fails in seconds.
      await fc.assert(fc.asyncProperty(rotating, run), { numRuns: 100, timeout: 20_000, endOnFailure: true });
    },
  );

  it(
    "a file and its seal file (encoded in place): bounds, exact lines, intact, losses add up",
    { timeout: 120_000 },
    async () => {
      await fc.assert(fc.asyncProperty(scenario(fc.constant<Where>("file")), run), {
        numRuns: 150,
        timeout: 20_000,
      });
    },
  );
});

/** A scenario with these fields, the rest plain: block mode, one burst, no flush, no failure, no deadline. */
function fixed(s: Partial<Scenario> & Pick<Scenario, "where" | "events">): Scenario {
  return {
    capacity: 64,
    maxSegmentLines: 50,
    maxSegmentBytes: 20_000,
    backpressure: "block",
    producer: "burst",
    flushEvery: 0,
    failing: false,
    heartbeat: false,
    deadlineAt: -1,
    closeDeadlineMs: -1,
    rotateBytes: 60_000,
    ...s,
  };
}

/** `n` events of every kind and size: mostly small, some of 3,000 and of 30,000 UTF-16 units. */
function mixed(n: number): Sized[] {
  const kinds: Kind[] = ["ascii", "emoji", "euro", "ascii"];
  return Array.from({ length: n }, (_, i) => ({
    units: i % 17 === 5 ? 30_000 : i % 5 === 2 ? 3_000 + (i * 131) % 2_000 : 1 + (i * 97) % 900,
    kind: kinds[i % kinds.length]!,
  }));
}

const SEALED: readonly Where[] = ["stream", "inband", "file"];

describe("sealed segment limits (attack): edges", () => {
  for (const where of SEALED) {
    it(`${where}: maxSegmentLines 1 makes every line a segment of its own, whatever the writes`, async () => {
      for (const capacity of [1, 2, 64]) {
        await run(fixed({ where, capacity, maxSegmentLines: 1, events: mixed(70) }));
        await run(fixed({ where, capacity, maxSegmentLines: 1, events: mixed(40), producer: "record", flushEvery: 7 }));
      }
    });

    it(`${where}: maxSegmentBytes 1 makes every line a segment of its own (wide lines too)`, async () => {
      for (const capacity of [1, 3, 64]) {
        await run(fixed({ where, capacity, maxSegmentBytes: 1, events: mixed(70) }));
        await run(fixed({ where, capacity, maxSegmentBytes: 1, events: mixed(40), producer: "ready", flushEvery: 9 }));
      }
    });

    it(`${where}: limits just under, at and over the lines' sizes (3-byte and emoji lines counted in units)`, async () => {
      const events: Sized[] = Array.from({ length: 60 }, (_, i) => ({
        units: 900 + (i % 3) * 50,
        kind: (["euro", "emoji", "ascii"] as const)[i % 3]!,
      }));
      for (const maxSegmentBytes of [899, 900, 951, 1_000, 1_901, 2_851, 2_852, 2_853]) {
        await run(fixed({ where, maxSegmentBytes, maxSegmentLines: 3, events }));
      }
    });

    it(`${where}: a flush and a close whose deadlines pass mid-burst: no line twice or out of order, intact, losses add up`, async () => {
      for (const deadlineAt of [0, 10, 39]) {
        for (const closeDeadlineMs of [0, 2, 10]) {
          await run(
            fixed({
              where,
              maxSegmentLines: 3,
              maxSegmentBytes: 5_000,
              events: mixed(60),
              deadlineAt,
              closeDeadlineMs,
            }),
          );
        }
      }
    });

    it(`${where}: heartbeats every millisecond racing the cuts before writes, a producer that yields`, async () => {
      for (const maxSegmentLines of [1, 4]) {
        await run(
          fixed({
            where,
            maxSegmentLines,
            maxSegmentBytes: 3_000,
            events: mixed(45),
            heartbeat: true,
            producer: "trickle",
          }),
        );
        await run(
          fixed({ where, maxSegmentLines, events: mixed(45), heartbeat: true, producer: "record", capacity: 2 }),
        );
      }
    });
  }

  for (const where of ["stream", "inband"] as const) {
    it(`${where}: a destination that fails some lines of some writes: gaps in their segments, within the limits`, async () => {
      for (const [maxSegmentLines, maxSegmentBytes] of [[1, 20_000], [50, 1], [4, 2_500]] as const) {
        await run(fixed({ where, maxSegmentLines, maxSegmentBytes, events: mixed(60), failing: true }));
        await run(
          fixed({ where, maxSegmentLines, maxSegmentBytes, events: mixed(30), failing: true, producer: "trickle" }),
        );
      }
    });
  }
});

describe("sealed segment limits (attack): a data stream that rejects a write", () => {
  it("stream: the lines of the rejected write and of every later one are gaps in their segments, within the limits", async () => {
    const key = await keys();
    for (
      const [failAfterWrites, maxSegmentLines, maxSegmentBytes] of [[0, 3, 2_000], [3, 1, 20_000], [10, 50, 1]] as const
    ) {
      const events = mixed(60).map((sized, i) => eventOf(i, sized, `rej${runs++}`));
      const lines = events.map((e) => encodeCallEvent(e) + "\n");
      const data = new MemoryDestination({ failAfterWrites });
      const seal = new SealStream();
      const limits = { maxSegmentLines, maxSegmentBytes };
      const sink = new JsonLinesAuditSink(data.stream, {
        backpressure: "block",
        onError: () => {},
        seal: { key: key.seal, to: seal.stream, ...limits },
      });
      for (const event of events) {
        if (sink.desiredSize <= 0) await sink.ready;
        sink.onCall(event);
      }
      await sink.close();
      const where = JSON.stringify({ failAfterWrites, ...limits });
      const st = sink.stats();
      assert.equal(st.written + st.failed, 60, where);
      const got = linesOf(data.text());
      assertLines(got, lines.slice(0, got.length), true, where); // the lines written before the rejection, then none
      assertSegments(parseAll(seal.text()), lines, limits, where); // every line handed sealed, lost ones as gaps
      const { findings, summary } = await verify(data.text(), { keys: key.verify, seal: seal.text() });
      assert.deepEqual(problems(findings), [], `${where}\n${show(findings)}`);
      assert.deepEqual([summary.written, summary.written + summary.lost], [st.written, 60], where);
    }
  });
});

interface Unsealed {
  readonly capacity: number;
  readonly events: readonly Sized[];
  readonly backpressure: "block" | "drop";
  readonly producer: Producer;
  /** The destination asks to gather trickling lines (writes held up to 2 ms), as a file does. */
  readonly coalesce: boolean;
  /** A slow destination: each write takes this long. */
  readonly delayMs: number;
  readonly maxQueueBytes: number;
}

/** An unsealed sink: every write within half the capacity (and 4,096) in lines and 1 MiB in units, but one line. */
async function runUnsealed(u: Unsealed): Promise<void> {
  const salt = `u${runs++}`;
  const events = u.events.map((sized, i) => eventOf(i, sized, salt));
  const lines = events.map((e) => encodeCallEvent(e) + "\n");
  const data = new Recorder(u.delayMs, u.coalesce);
  const sink = new JsonLinesAuditSink(data.stream, {
    capacity: u.capacity,
    backpressure: u.backpressure,
    maxQueueBytes: u.maxQueueBytes,
    onError: () => {},
  });
  const accepted: string[] = [];
  for (const [i, event] of events.entries()) {
    const dropped = sink.stats().dropped;
    if (u.producer === "record") await sink.record(event);
    else {
      if (u.producer !== "burst" && sink.desiredSize <= 0) await sink.ready;
      sink.onCall(event);
      if (u.producer === "trickle" && i % 3 === 2) await tick(1);
    }
    if (sink.stats().dropped === dropped) accepted.push(lines[i]!);
  }
  await sink.close();
  const where = JSON.stringify({ ...u, events: u.events.length });
  const writes = data.writes.map(linesOf);
  assertWrites(writes, Math.min(MAX_BATCH_LINES, Math.ceil(u.capacity / 2)), MAX_WRITE_CHARS, where);
  assertLines(writes.flat(), accepted, true, where);
  const st = sink.stats();
  assert.deepEqual([st.written, st.accepted + st.dropped, st.queued], [accepted.length, events.length, 0], where);
}

describe("unsealed writes (attack): unchanged bounds", () => {
  it(
    "any capacity, sizes, producers, byte bound: writes within half the capacity and 1 MiB, every line once, in order",
    {
      timeout: 120_000,
    },
    async () => {
      await fc.assert(
        fc.asyncProperty(
          fc.record({
            capacity: fc.oneof(fc.integer({ min: 1, max: 64 }), fc.constantFrom(1, 2, 3, 1024)),
            events: fc.array(sized, { minLength: 1, maxLength: 120, size: "max" }),
            backpressure: fc.constantFrom<"block" | "drop">("block", "drop"),
            producer: fc.constantFrom<Producer>("burst", "ready", "record", "trickle"),
            coalesce: fc.boolean(),
            delayMs: fc.constantFrom(0, 0, 1),
            maxQueueBytes: fc.oneof(fc.constant(Infinity), fc.integer({ min: 1, max: 200_000 })),
          }),
          runUnsealed,
        ),
        { numRuns: 100, timeout: 20_000 },
      );
    },
  );

  it("lines of hundreds of thousands of units: a write stops before the line that would pass 1 MiB; a larger line goes alone", async () => {
    const huge: Sized[] = [600_000, 600_000, 10, 500_000, 500_000, 300, 1_100_000, 20, 1_048_000, 600, 524_000, 524_000]
      .map((units, i) => ({ units, kind: i % 4 === 3 ? "euro" : "ascii" }));
    for (const capacity of [2, 64]) {
      for (const maxQueueBytes of [Infinity, 100]) {
        for (const producer of ["burst", "ready"] as const) {
          await runUnsealed({
            capacity,
            events: huge,
            backpressure: "block",
            producer,
            coalesce: true,
            delayMs: 0,
            maxQueueBytes,
          });
        }
      }
    }
  });

  it("a burst past a capacity of 10,000: writes of at most 4,096 lines", async () => {
    const small: Sized[] = Array.from({ length: 9_000 }, () => ({ units: 1, kind: "ascii" }));
    await runUnsealed({
      capacity: 10_000,
      events: small,
      backpressure: "block",
      producer: "burst",
      coalesce: false,
      delayMs: 0,
      maxQueueBytes: Infinity,
    });
  });
});

/**
 * Runs `body` with every write to a `.seal` file taking `ms` longer (a slow or busy disk under the seal files), by
 * wrapping the runtime driver's handles: the data files are untouched.
 */
async function withSlowSealFiles(ms: number, body: () => Promise<void>): Promise<void> {
  const driver = runtime();
  const open = driver.openAppendSync;
  driver.openAppendSync = (path, options) => {
    const handle = open.call(driver, path, options);
    if (!String(path).endsWith(".seal")) return handle;
    const slow: FileHandle = {
      path: handle.path,
      kind: handle.kind,
      read: (buffer, position) => handle.read(buffer, position),
      write: async (bytes) => {
        await tick(ms);
        return await handle.write(bytes);
      },
      stat: () => handle.stat(),
      sync: () => handle.sync(),
      close: () => handle.close(),
    };
    return slow;
  };
  try {
    await body();
  } finally {
    driver.openAppendSync = open;
  }
}

describe("finding: a seal file's flush does not wait for the checkpoints queued behind the one being written", () => {
  it("fileDestination.flush resolves once every line written before it was reported, also writes queued behind one", async () => {
    await inTempDir("seg-flush", async (dir) => {
      const path = join(dir, "audit.jsonl");
      const destination = fileDestination(path);
      let delivered = 0;
      destination.attach({ delivered: (n) => void (delivered += n), rerouted() {}, failed() {}, warn() {} });
      const writer = destination.getWriter();
      const written = Array.from({ length: 20 }, (_, i) => writer.write(encoder.encode(`{"i":${i}}\n`)));
      await destination.flush();
      const seen = [delivered, linesOf(readFileSync(path, "utf8")).length];
      await Promise.all(written);
      await writer.close();
      assert.deepEqual(seen, [20, 20], "lines reported delivered, and lines in the file, when flush() resolved");
    });
  });

  it("a rotating sealed file whose seal writes are slow: each file's checkpoints stay in its own seal file", async () => {
    await withSlowSealFiles(3, () =>
      inTempDir("seg-rotate-slow", async (dir) => {
        const key = await keys();
        const destination = fileDestination(join(dir, "audit.jsonl"), { rotate: { maxBytes: 3_000, writerId: "w" } });
        const seal = await fileSeal(destination, { key: key.seal, maxSegmentLines: 1 });
        const sink = new JsonLinesAuditSink(destination, { seal, backpressure: "block", capacity: 16 });
        for (let i = 0; i < 60; i++) sink.onCall(numbered(i));
        await sink.close();
        const names = setFiles(dir);
        const misplaced = names.filter((name) => {
          const sealed = parseAll(readFileSync(join(dir, `${name}.seal`), "utf8")).reduce((n, c) => n + c.seg_lines, 0);
          return sealed !== linesOf(readFileSync(join(dir, name), "utf8")).length;
        });
        const { findings, summary } = await verifySetIn(dir, names, key.verify);
        assert.deepEqual(misplaced, [], "files whose seal file seals other lines than theirs");
        assert.deepEqual(findings.map((f) => `${f.file}: ${f.kind}`), []);
        assert.equal(summary.verifiedLines, 60);
      }));
  });

  it("a sealed file whose seal writes are slow: once sink.flush() resolved, the seal file seals every line written", async () => {
    await withSlowSealFiles(3, () =>
      inTempDir("seg-flush-slow", async (dir) => {
        const key = await keys();
        const path = join(dir, "audit.jsonl");
        const seal = await fileSeal(path, { key: key.seal, maxSegmentLines: 1 });
        const sink = new JsonLinesAuditSink(fileDestination(path), { seal, backpressure: "block", capacity: 16 });
        for (let i = 0; i < 40; i++) sink.onCall(numbered(i));
        await sink.flush();
        const sealed = parseAll(readFileSync(`${path}.seal`, "utf8")).at(-1)?.offered ?? 0;
        const lines = linesOf(readFileSync(path, "utf8")).length;
        await sink.close();
        assert.deepEqual(
          [lines, sealed],
          [40, 40],
          "lines in the file, and offered as its seal file's last checkpoint says",
        );
      }));
  });
});

/** Runs `body`, counting the shared memory made meanwhile (the sealing's segment buffers), in bytes. */
async function sharedMemoryDuring(body: () => Promise<void>): Promise<number> {
  const g = globalThis as { SharedArrayBuffer: SharedArrayBufferConstructor };
  const original = g.SharedArrayBuffer;
  let bytes = 0;
  g.SharedArrayBuffer = new Proxy(original, {
    construct(target, args: [number]) {
      bytes += args[0];
      return Reflect.construct(target, args);
    },
  });
  try {
    await body();
  } finally {
    g.SharedArrayBuffer = original;
  }
  return bytes;
}

describe("finding: every small segment of a burst takes a buffer sized for maxSegmentBytes", () => {
  it("a burst of 300 events with maxSegmentLines 1 makes tens of MiB of segment buffers at most, not a 8 MiB one per line", async () => {
    if (typeof SharedArrayBuffer !== "function") return;
    const key = await keys();
    for (const where of ["stream", "file"] as const) {
      const events = Array.from({ length: 300 }, (_, i) => ({ ...numbered(i), caller_id: "c".repeat(600) }));
      const made = await sharedMemoryDuring(async () => {
        await inTempDir("seg-shared", async (dir) => {
          const path = join(dir, "audit.jsonl");
          const seal = new SealStream();
          const sink = where === "stream"
            ? new JsonLinesAuditSink(new Recorder().stream, {
              seal: { key: key.seal, to: seal.stream, maxSegmentLines: 1 },
            })
            : new JsonLinesAuditSink(fileDestination(path), {
              seal: await fileSeal(path, { key: key.seal, maxSegmentLines: 1 }),
            });
          for (const event of events) sink.onCall(event);
          await sink.close();
          assert.equal(sink.stats().written, 300);
        });
      });
      // 300 lines of about 900 bytes (270 KB) in 300 segments; the default maxSegmentBytes is 4 MiB.
      assert.ok(
        made <= 64 << 20,
        `${where}: ${(made / 2 ** 20).toFixed(0)} MiB of shared memory made for 270 KB of lines`,
      );
    }
  });
});

/** Runs `body`, counting the timers set meanwhile for at most WRITE_INTERVAL_MS (a write held back: src/sink/_queue.ts). */
async function holdsDuring(body: () => Promise<void>): Promise<number> {
  const g = globalThis as { setTimeout: typeof setTimeout };
  const original = g.setTimeout;
  let holds = 0;
  g.setTimeout = ((handler: () => void, ms?: number, ...rest: unknown[]) => {
    if (ms !== undefined && ms > 0 && ms <= WRITE_INTERVAL_MS) holds++;
    return original(handler, ms, ...rest);
  }) as typeof setTimeout;
  try {
    await body();
  } finally {
    g.setTimeout = original;
  }
  return holds;
}

describe("finding: writes cut by maxSegmentBytes are each held back 2 ms, even while a flush waits", () => {
  it("a flushed burst of one-line writes (a file's or stdout's destination) goes out without holding each write", async () => {
    const key = await keys();
    const run = async (limits: { maxSegmentLines?: number; maxSegmentBytes?: number }): Promise<[number, number]> => {
      const data = new Recorder(0, true); // gathers trickling lines, as a file does
      const seal = new SealStream();
      const sink = new JsonLinesAuditSink(data.stream, {
        backpressure: "block",
        seal: { key: key.seal, to: seal.stream, ...limits },
      });
      const started = performance.now();
      const holds = await holdsDuring(async () => {
        for (let i = 0; i < 200; i++) sink.onCall({ ...numbered(i), caller_id: "c".repeat(600) });
        await sink.flush();
      });
      const ms = performance.now() - started;
      await sink.close();
      assert.equal(data.writes.length, 200, JSON.stringify(limits));
      return [holds, Math.round(ms)];
    };
    // The same 200 one-line writes: cut by the segment's lines (a write's worth in lines), or by its bytes.
    const [byLines, linesMs] = await run({ maxSegmentLines: 1, maxSegmentBytes: 20_000 });
    const [byBytes, bytesMs] = await run({ maxSegmentBytes: 1_000 });
    const at =
      `held writes: ${byLines} when cut by lines (${linesMs} ms), ${byBytes} when cut by bytes (${bytesMs} ms)`;
    assert.ok(byLines <= 1, at);
    assert.ok(byBytes <= 1, at);
  });
});
