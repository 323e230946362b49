// One benchmark run in a fresh process:
//   <worker> <contender> <out-file> <events> <warmup> <shape> <build>
// `shape` is `ref` or `prov` (see _shapes.ts); `build` is `prebuilt` (events
// made before the clock starts) or `inloop` (each made inside the timed loop
// with createCallEvent). `warmup` 0 is the cold variant. Prints one JSON line
// with the measurements; `run.mjs` starts it once per (variant, runtime,
// contender, repetition) and checks the output file's line count.
import { openSync, readdirSync, readFileSync, rmSync, writeSync as nodeWriteSync } from "node:fs";
import { argv, cpuUsage, memoryUsage, stdout } from "node:process";
import { setImmediate } from "node:timers";
import pino from "pino";
import { configure, dispose, getLogger, jsonLinesFormatter } from "@logtape/logtape";
import { getFileSink } from "@logtape/file";
import { type CallEvent, JsonLinesAuditSink, type JsonLinesAuditSinkOptions } from "../mod.ts";
import { fileDestination } from "../src/destination/file_destination.ts";
import { importAuditSealKey } from "../src/seal/audit_seal_key.ts";
import { generateAuditSealKey } from "../src/seal/generate_audit_seal_key.ts";
import { callId, makeEvent, parseShape } from "./_shapes.ts";
import { collectGarbage, onCallCost, type Result } from "./_worker_oncall.ts";

interface DenoLike {
  openSync(path: string, options: { append: boolean; create: boolean }): { writeSync(bytes: Uint8Array): number };
}
const deno = (globalThis as { Deno?: DenoLike }).Deno;

const [contender = "", targetPath = "", eventsArg = "200000", warmupArg = "0", shapeArg = "ref", build = "prebuilt"] =
  argv.slice(2).filter((a) => !a.startsWith("--"));
const total = Number(eventsArg);
/** Events each contender first writes, untimed, to a scratch file: JIT warm-up, the same for all. 0 = cold. */
const warmup = Number(warmupArg);
const shape = parseShape(shapeArg);
if (build !== "prebuilt" && build !== "inloop") throw new TypeError(`Unknown build ${build}: prebuilt or inloop`);
let outPath = targetPath;

/** Where a contender gets event `i`: from an array made before the clock, or made on the spot. */
interface Source {
  readonly length: number;
  at(i: number): CallEvent;
}
function source(n: number): Source {
  if (build === "inloop") return { length: n, at: (i) => makeEvent(shape, i) };
  const events = new Array<CallEvent>(n);
  for (let i = 0; i < n; i++) events[i] = makeEvent(shape, i);
  return { length: n, at: (i) => events[i]! };
}

const yieldToLoop = (): Promise<void> => new Promise((resolve) => setImmediate(resolve));

/**
 * Peak RSS while running: sampled by the loops (`sample()`, at most once a
 * millisecond: reading the RSS costs 9 to 15 µs, and a ready loop that waits
 * every few dozen events spent up to a tenth of its time here) and by a 5 ms
 * timer during awaits.
 */
class RssMeter {
  readonly base: number = memoryUsage.rss();
  peak: number = this.base;
  #last = performance.now();
  #timer = setInterval(() => this.#read(), 5);
  sample(): void {
    const now = performance.now();
    if (now - this.#last < 1) return;
    this.#last = now;
    this.#read();
  }
  #read(): void {
    const rss = memoryUsage.rss();
    if (rss > this.peak) this.peak = rss;
  }
  stop(): { baseRss: number; peakRss: number } {
    clearInterval(this.#timer);
    this.#read();
    return { baseRss: this.base, peakRss: this.peak };
  }
}

/**
 * CPU time of each thread so far, in milliseconds (Linux only: 10 ms steps;
 * empty elsewhere), summed by thread name, the main thread as `main`: with
 * cpuUsage (every thread) it tells the main thread's work from what the
 * others do (the hashing worker, the runtime's file writes, the collector).
 */
function threadCpuMs(): Record<string, number> {
  const out: Record<string, number> = {};
  try {
    const self = readFileSync("/proc/thread-self/stat", "utf8").split(" ", 1)[0];
    for (const tid of readdirSync("/proc/self/task")) {
      const stat = readFileSync(`/proc/self/task/${tid}/stat`, "utf8");
      const name = tid === self ? "main" : stat.slice(stat.indexOf("(") + 1, stat.lastIndexOf(")"));
      const fields = stat.slice(stat.lastIndexOf(")") + 2).split(" ");
      out[name] = (out[name] ?? 0) + (Number(fields[11]) + Number(fields[12])) * 10;
    }
  } catch {
    // Not Linux: no per-thread times.
  }
  return out;
}

/** CPU time of each thread since `before`, as `threadCpuMs <name>` fields (threads that ran). */
function threadsSince(before: Record<string, number>): Result {
  const out: Result = {};
  for (const [name, ms] of Object.entries(threadCpuMs())) {
    if (ms > (before[name] ?? 0)) out[`threadCpuMs ${name}`] = ms - (before[name] ?? 0);
  }
  return out;
}

/** Wall time from the first call to the last line written, and the process's CPU time meanwhile. */
async function timed(n: number, body: (meter: RssMeter) => Promise<Result | void>): Promise<Result> {
  collectGarbage();
  const meter = new RssMeter();
  const cpu = cpuUsage();
  const threads = threadCpuMs();
  const start = performance.now();
  const extra = await body(meter);
  const wallMs = performance.now() - start;
  const { user, system } = cpuUsage(cpu);
  return {
    wallMs,
    eventsPerSec: n / (wallMs / 1000),
    cpuMs: (user + system) / 1000,
    ...threadsSince(threads),
    eventsPerCpuSec: n / ((user + system) / 1e6),
    ...meter.stop(),
    ...extra,
  };
}

/** Closes a lossless sink and reports its counters; the file must hold every event. */
async function closeLossless(sink: JsonLinesAuditSink, n: number): Promise<Result> {
  await sink.close();
  const s = sink.stats();
  return { accepted: s.accepted, dropped: s.dropped, expectedLines: n };
}

/** Block mode, one producer that awaits `ready` whenever the queue is full. */
async function sinkReady(src: Source, options: JsonLinesAuditSinkOptions = {}): Promise<Result> {
  const sink = new JsonLinesAuditSink(fileDestination(outPath), { backpressure: "block", ...options });
  return await timed(src.length, async (meter) => {
    for (let i = 0; i < src.length; i++) {
      if (sink.desiredSize <= 0) {
        meter.sample();
        await sink.ready;
      }
      sink.onCall(src.at(i));
    }
    return await closeLossless(sink, src.length);
  });
}

/**
 * The ready loop with sealing on: checkpoints (Ed25519, default segments of
 * 16384 lines or 4 MiB) to a seal file beside the log. The key is made before
 * the clock; the seal file is checked (every line a checkpoint) and removed.
 */
async function sinkReadySealed(src: Source): Promise<Result> {
  const key = await importAuditSealKey((await generateAuditSealKey()).privateJwk);
  const sealPath = `${outPath}.seal`;
  const result = await sinkReady(src, { seal: { key, to: fileDestination(sealPath) } });
  const seal = readFileSync(sealPath, "utf8").split("\n").slice(0, -1);
  rmSync(sealPath, { force: true });
  if (seal.length === 0 || !seal.every((line) => line.startsWith('{"audit_checkpoint":'))) {
    throw new Error(`the seal file holds ${seal.length} lines, not all checkpoints`);
  }
  return { ...result, checkpoints: seal.length };
}

/** Block mode, `await sink.record(event)` for every event. */
async function sinkRecord(src: Source): Promise<Result> {
  const sink = new JsonLinesAuditSink(fileDestination(outPath), { backpressure: "block" });
  return await timed(src.length, async (meter) => {
    for (let i = 0; i < src.length; i++) {
      if ((i & 1023) === 0) meter.sample();
      await sink.record(src.at(i));
    }
    return await closeLossless(sink, src.length);
  });
}

/** Block mode, one synchronous burst of `onCall`s, then `close()`. */
async function sinkBurst(src: Source): Promise<Result> {
  const sink = new JsonLinesAuditSink(fileDestination(outPath), { backpressure: "block" });
  return await timed(src.length, async (meter) => {
    for (let i = 0; i < src.length; i++) {
      if ((i & 1023) === 0) meter.sample();
      sink.onCall(src.at(i));
    }
    return await closeLossless(sink, src.length);
  });
}

async function sinkDrop(src: Source, yieldEvery: number): Promise<Result> {
  const sink = new JsonLinesAuditSink(fileDestination(outPath), { backpressure: "drop" });
  return await timed(src.length, async (meter) => {
    for (let i = 0; i < src.length; i++) {
      if (yieldEvery > 0 && i > 0 && i % yieldEvery === 0) {
        meter.sample();
        await yieldToLoop();
      }
      sink.onCall(src.at(i));
    }
    await sink.close();
    const s = sink.stats();
    return { accepted: s.accepted, dropped: s.dropped, expectedLines: s.accepted };
  });
}

async function pinoAsync(src: Source): Promise<Result> {
  const dest = pino.destination({ dest: outPath, sync: false });
  await new Promise((resolve) => dest.once("ready", resolve));
  const logger = pino(dest);
  return await timed(src.length, async (meter) => {
    for (let i = 0; i < src.length; i++) {
      if ((i & 1023) === 0) meter.sample();
      logger.info(src.at(i));
    }
    await new Promise((resolve, reject) => {
      dest.once("close", resolve);
      dest.once("error", reject);
      dest.end();
    });
    return { expectedLines: src.length };
  });
}

async function logtapeFile(src: Source): Promise<Result> {
  await configure({
    reset: true,
    sinks: { file: getFileSink(outPath, { formatter: jsonLinesFormatter }) },
    loggers: [
      { category: ["bench"], sinks: ["file"], lowestLevel: "info" },
      { category: ["logtape", "meta"], sinks: [], lowestLevel: "warning" },
    ],
  });
  const logger = getLogger(["bench"]);
  return await timed(src.length, async (meter) => {
    for (let i = 0; i < src.length; i++) {
      if ((i & 1023) === 0) meter.sample();
      logger.info("tool call", src.at(i) as unknown as Record<string, unknown>);
    }
    await dispose();
    return { expectedLines: src.length };
  });
}

/** Appends a string with synchronous writes: Deno's own file API, else node:fs. */
function syncAppender(path: string): (text: string) => void {
  if (deno) {
    const file = deno.openSync(path, { append: true, create: true });
    const encoder = new TextEncoder();
    return (text) => {
      const bytes = encoder.encode(text);
      for (let done = 0; done < bytes.length;) done += file.writeSync(bytes.subarray(done));
    };
  }
  const fd = openSync(path, "a");
  return (text) => {
    nodeWriteSync(fd, text); // node:fs writes a whole string (loops internally)
  };
}

async function rawLimit(src: Source): Promise<Result> {
  const append = syncAppender(outPath);
  return await timed(src.length, (meter) => {
    let buffer = "";
    for (let i = 0; i < src.length; i++) {
      buffer += JSON.stringify(src.at(i)) + "\n";
      if (buffer.length >= 65536) {
        meter.sample();
        append(buffer);
        buffer = "";
      }
    }
    if (buffer.length > 0) append(buffer);
    return Promise.resolve({ expectedLines: src.length });
  });
}

/**
 * Drop mode against a destination whose write never resolves, recording
 * `count` distinct events (yielding to the event loop every 1024, as a server
 * does): RSS must stay flat. Events are made on the fly, not held.
 */
async function stalled(count: number): Promise<Result> {
  const sink = new JsonLinesAuditSink(
    new WritableStream<Uint8Array>({ write: () => new Promise<void>(() => {}) }),
    { backpressure: "drop", preventClose: true },
  );
  const template = makeEvent("ref", 0);
  collectGarbage();
  const meter = new RssMeter();
  const at100k: number[] = [];
  const start = performance.now();
  for (let i = 0; i < count; i++) {
    if (i > 0 && i % 1024 === 0) {
      meter.sample();
      await yieldToLoop();
    }
    if (i % 100_000 === 0) at100k.push(memoryUsage.rss());
    sink.onCall({ ...template, call_id: callId(i) });
  }
  const wallMs = performance.now() - start;
  const s = sink.stats();
  const mem = meter.stop();
  return {
    wallMs,
    ...mem,
    rssAt100k: at100k.map((b) => Math.round(b / 2 ** 20)).join(" "),
    endRss: memoryUsage.rss(),
    accepted: s.accepted,
    dropped: s.dropped,
    queued: s.queued,
  };
}

const CONTENDERS: Record<string, (src: Source) => Promise<Result>> = {
  sink_block: (src) => sinkReady(src),
  sink_block_sealed: sinkReadySealed,
  sink_record: sinkRecord,
  sink_burst: sinkBurst,
  sink_drop: (src) => sinkDrop(src, 0),
  sink_drop_yield: (src) => sinkDrop(src, 1024),
  pino: pinoAsync,
  logtape: logtapeFile,
  raw: rawLimit,
};

async function main(): Promise<Result> {
  if (contender === "stall") return await stalled(total);
  if (contender === "oncall") return await onCallCost(shape, total, outPath);
  if (contender === "oncall_sealed") return await onCallCost(shape, total, outPath, true);
  const run = CONTENDERS[contender];
  if (run === undefined) throw new Error(`unknown contender ${JSON.stringify(contender)}`);
  if (warmup > 0) {
    outPath = `${targetPath}.warmup`;
    await run(source(warmup));
    rmSync(outPath, { force: true });
    outPath = targetPath;
  }
  return await run(source(total));
}

const result = await main();
stdout.write(JSON.stringify({ contender, shape, build, warmup, events: total, ...result }) + "\n");
