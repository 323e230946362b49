// One benchmark run in a fresh process: `<worker> <contender> <out-file> <events>`.
// Prints one JSON line with the measurements; `run.mjs` starts it once per
// (runtime, contender, repetition) and checks the output file's line count.
import { openSync, rmSync, writeSync as nodeWriteSync } from "node:fs";
import { argv, cpuUsage, memoryUsage, stdout } from "node:process";
import { setImmediate } from "node:timers";
import pino from "pino";
import { configure, dispose, getLogger, jsonLinesFormatter } from "@logtape/logtape";
import { getFileSink } from "@logtape/file";
import type { CallEvent } from "../src/event/call_event.ts";
import { createCallEvent } from "../src/event/create_call_event.ts";
import { encodeCallEvent } from "../src/event/encode_call_event.ts";
import { JsonLinesAuditSink } from "../src/sink/json_lines_audit_sink.ts";
import { fileDestination } from "../src/destination/file_destination.ts";

interface DenoLike {
  openSync(path: string, options: { append: boolean; create: boolean }): { writeSync(bytes: Uint8Array): number };
}
const deno = (globalThis as { Deno?: DenoLike }).Deno;

const [contender = "", targetPath = "", eventsArg = "200000", warmupArg = "0"] = argv.slice(2).filter((a) =>
  !a.startsWith("--")
);
const total = Number(eventsArg);
/** Events each contender first writes, untimed, to a scratch file: JIT warm-up, the same for all. */
const warmup = Number(warmupArg);
let outPath = targetPath;

/** The reference tests' `mk_event`, with a distinct `call_id` per event so lines differ. */
function mkEvent(i: number): CallEvent {
  return createCallEvent({
    call_id: `01J${String(i).padStart(23, "0")}`,
    tool_id: "ref:echo.say",
    duration_ms: 17,
    outcome: { kind: "success" },
    tier: "warm",
    caller_id: "test-client",
    granted_capabilities: ["read", "write"],
  });
}

function makeEvents(n: number): CallEvent[] {
  const events = new Array<CallEvent>(n);
  for (let i = 0; i < n; i++) events[i] = mkEvent(i);
  return events;
}

const yieldToLoop = (): Promise<void> => new Promise((resolve) => setImmediate(resolve));

/** Peak RSS while running: sampled by the loops (`sample()`) and by a 5 ms timer during awaits. */
class RssMeter {
  readonly base: number = memoryUsage.rss();
  peak: number = this.base;
  #timer = setInterval(() => this.sample(), 5);
  sample(): void {
    const rss = memoryUsage.rss();
    if (rss > this.peak) this.peak = rss;
  }
  stop(): { baseRss: number; peakRss: number } {
    clearInterval(this.#timer);
    this.sample();
    return { baseRss: this.base, peakRss: this.peak };
  }
}

type Result = Record<string, number | string | boolean>;

/** Starts the clock on a collected heap, so that garbage from making the events is not billed to the contender. */
function collectGarbage(): void {
  const g = globalThis as { gc?: () => void; Bun?: { gc(force: boolean): void } };
  if (g.Bun) g.Bun.gc(true);
  else g.gc?.(); // --expose-gc (run.mjs passes it to Deno and Node)
}

/** Wall time from the first call to the last line written, and the process's CPU time meanwhile. */
async function timed(events: CallEvent[], body: (meter: RssMeter) => Promise<Result | void>): Promise<Result> {
  collectGarbage();
  const meter = new RssMeter();
  const cpu = cpuUsage();
  const start = performance.now();
  const extra = await body(meter);
  const wallMs = performance.now() - start;
  const { user, system } = cpuUsage(cpu);
  return {
    wallMs,
    eventsPerSec: events.length / (wallMs / 1000),
    cpuMs: (user + system) / 1000,
    eventsPerCpuSec: events.length / ((user + system) / 1e6),
    ...meter.stop(),
    ...extra,
  };
}

async function sinkBlock(events: CallEvent[]): Promise<Result> {
  const sink = new JsonLinesAuditSink(fileDestination(outPath), { backpressure: "block" });
  return await timed(events, async (meter) => {
    for (let i = 0; i < events.length; i++) {
      if (sink.desiredSize <= 0) {
        meter.sample();
        await sink.ready;
      }
      sink.onCall(events[i]!);
    }
    await sink.close();
    const s = sink.stats();
    return { accepted: s.accepted, dropped: s.dropped, expectedLines: s.accepted };
  });
}

async function sinkDrop(events: CallEvent[], yieldEvery: number): Promise<Result> {
  const sink = new JsonLinesAuditSink(fileDestination(outPath), { backpressure: "drop" });
  return await timed(events, async (meter) => {
    for (let i = 0; i < events.length; i++) {
      if (yieldEvery > 0 && i > 0 && i % yieldEvery === 0) {
        meter.sample();
        await yieldToLoop();
      }
      sink.onCall(events[i]!);
    }
    await sink.close();
    const s = sink.stats();
    return { accepted: s.accepted, dropped: s.dropped, expectedLines: s.accepted };
  });
}

async function pinoAsync(events: CallEvent[]): Promise<Result> {
  const dest = pino.destination({ dest: outPath, sync: false });
  await new Promise((resolve) => dest.once("ready", resolve));
  const logger = pino(dest);
  return await timed(events, async (meter) => {
    for (let i = 0; i < events.length; i++) {
      if ((i & 1023) === 0) meter.sample();
      logger.info(events[i]!);
    }
    await new Promise((resolve, reject) => {
      dest.once("close", resolve);
      dest.once("error", reject);
      dest.end();
    });
    return { expectedLines: events.length };
  });
}

async function logtapeFile(events: CallEvent[]): Promise<Result> {
  await configure({
    reset: true,
    sinks: { file: getFileSink(outPath, { formatter: jsonLinesFormatter }) },
    loggers: [
      { category: ["bench"], sinks: ["file"], lowestLevel: "info" },
      { category: ["logtape", "meta"], sinks: [], lowestLevel: "warning" },
    ],
  });
  const logger = getLogger(["bench"]);
  return await timed(events, async (meter) => {
    for (let i = 0; i < events.length; i++) {
      if ((i & 1023) === 0) meter.sample();
      logger.info("tool call", events[i] as unknown as Record<string, unknown>);
    }
    await dispose();
    return { expectedLines: events.length };
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

async function rawLimit(events: CallEvent[]): Promise<Result> {
  const append = syncAppender(outPath);
  return await timed(events, (meter) => {
    let buffer = "";
    for (let i = 0; i < events.length; i++) {
      buffer += JSON.stringify(events[i]) + "\n";
      if (buffer.length >= 65536) {
        meter.sample();
        append(buffer);
        buffer = "";
      }
    }
    if (buffer.length > 0) append(buffer);
    return Promise.resolve({ expectedLines: events.length });
  });
}

/**
 * ns inside `onCall` only, against `JSON.stringify` and `encodeCallEvent` of
 * the same events in the same process: chunks of 512 events, the three loops
 * interleaved (order rotating per chunk), the sink drained between chunks
 * outside the clock. A first pass over 10% of the events warms the JIT.
 */
async function onCallCost(events: CallEvent[]): Promise<Result> {
  const sink = new JsonLinesAuditSink(fileDestination(outPath), { backpressure: "block" });
  const chunk = 512;
  let sink_ = 0; // keeps the results alive
  const measure = async (from: number, to: number): Promise<[number, number, number]> => {
    let onCallNs = 0, stringifyNs = 0, encodeNs = 0;
    for (let c = from; c < to; c += chunk) {
      const end = Math.min(c + chunk, to);
      for (let k = 0; k < 3; k++) {
        const which = (k + c / chunk) % 3;
        const t0 = performance.now();
        if (which === 0) { for (let i = c; i < end; i++) sink.onCall(events[i]!); }
        else if (which === 1) { for (let i = c; i < end; i++) sink_ += JSON.stringify(events[i]).length; }
        else for (let i = c; i < end; i++) sink_ += encodeCallEvent(events[i]!).length;
        const dt = (performance.now() - t0) * 1e6;
        if (which === 0) onCallNs += dt;
        else if (which === 1) stringifyNs += dt;
        else encodeNs += dt;
      }
      if (sink.desiredSize <= 0) await sink.ready;
    }
    const n = to - from;
    return [onCallNs / n, stringifyNs / n, encodeNs / n];
  };
  const warm = Math.floor(events.length / 10 / chunk) * chunk;
  await measure(0, warm);
  await sink.flush();
  collectGarbage();
  const [onCallNs, stringifyNs, encodeNs] = await measure(0, events.length);
  await sink.close();
  const s = sink.stats();
  return {
    onCallNs,
    stringifyNs,
    encodeNs,
    onCallOverStringify: onCallNs / stringifyNs,
    accepted: s.accepted,
    expectedLines: s.accepted,
    checksum: sink_ % 997,
  };
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
  const template = mkEvent(0);
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
    sink.onCall({ ...template, call_id: `01J${String(i).padStart(23, "0")}` });
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

async function main(): Promise<Result> {
  if (contender === "stall") return await stalled(total);
  if (warmup > 0 && contender !== "oncall") {
    outPath = `${targetPath}.warmup`;
    await run(makeEvents(warmup));
    rmSync(outPath, { force: true });
    outPath = targetPath;
  }
  return await run(makeEvents(total));
}

async function run(events: CallEvent[]): Promise<Result> {
  switch (contender) {
    case "sink_block":
      return await sinkBlock(events);
    case "sink_drop":
      return await sinkDrop(events, 0);
    case "sink_drop_yield":
      return await sinkDrop(events, 1024);
    case "pino":
      return await pinoAsync(events);
    case "logtape":
      return await logtapeFile(events);
    case "raw":
      return await rawLimit(events);
    case "oncall":
      return await onCallCost(events);
    default:
      throw new Error(`unknown contender ${JSON.stringify(contender)}`);
  }
}

const result = await main();
stdout.write(JSON.stringify({ contender, events: total, ...result }) + "\n");
