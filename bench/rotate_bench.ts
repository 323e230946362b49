// Block-mode file throughput with rotation every 16 MiB against the same
// without rotation (issue 12's target: at least 0.9×). One process per
// runtime; runs alternate (plain, rotating, plain, …, the order flipped every
// repetition), each in a fresh folder, after one untimed warm-up of each;
// every run's files are counted line by line, and written back to disk
// (`sync`) before the next run. Prints one Markdown row:
// events per second by the wall clock, and the ratio of medians by wall clock
// and by the process's CPU time (steadier on a shared machine).
//
//   deno run -A bench/rotate_bench.ts [events] [reps]
//   bun bench/rotate_bench.ts [events] [reps]
//   node .build/bench/rotate_bench.mjs [events] [reps]   (esbuild bundle of this file)
import { spawnSync } from "node:child_process";
import { mkdtempSync, readdirSync, readFileSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import process from "node:process";
import { type CallEvent, JsonLinesAuditSink } from "../mod.ts";
import { fileDestination } from "../src/destination/file_destination.ts";
import { makeEvent } from "./_shapes.ts";
import { collectGarbage } from "./_worker_oncall.ts";

const events = Number(process.argv[2] ?? 500_000);
const reps = Number(process.argv[3] ?? 5);
const MAX_BYTES = 16 << 20;
const made: CallEvent[] = Array.from({ length: events }, (_, i) => makeEvent("ref", i));

async function run(rotate: boolean): Promise<{ seconds: number; cpu: number; files: number }> {
  const dir = mkdtempSync(join(tmpdir(), "atd-rotate-bench-"));
  try {
    const destination = fileDestination(
      join(dir, "audit.jsonl"),
      rotate ? { rotate: { maxBytes: MAX_BYTES, writerId: "bench" } } : {},
    );
    const sink = new JsonLinesAuditSink(destination, { backpressure: "block" });
    collectGarbage();
    const cpuStart = process.cpuUsage();
    const start = performance.now();
    for (let i = 0; i < made.length; i++) {
      if (sink.desiredSize <= 0) await sink.ready;
      sink.onCall(made[i]!);
    }
    await sink.close();
    const seconds = (performance.now() - start) / 1000;
    const used = process.cpuUsage(cpuStart);
    const cpu = (used.user + used.system) / 1e6;
    const names = readdirSync(dir);
    let lines = 0;
    for (const name of names) {
      const bytes = readFileSync(join(dir, name));
      for (let at = bytes.indexOf(10); at !== -1; at = bytes.indexOf(10, at + 1)) lines++;
    }
    if (lines !== events) throw new Error(`${lines} lines in ${names.length} files, expected ${events}`);
    return { seconds, cpu, files: names.length };
  } finally {
    rmSync(dir, { recursive: true, force: true });
    // Outside the clock: the kernel writes the run's pages back now, not during the next run (which it slowed by up
    // to 2x, in either order, when left to overlap).
    spawnSync("sync");
  }
}

const median = (values: number[]): number => {
  const sorted = [...values].sort((a, b) => a - b);
  const mid = sorted.length >> 1;
  return sorted.length % 2 === 1 ? sorted[mid]! : (sorted[mid - 1]! + sorted[mid]!) / 2;
};

await run(false);
await run(true);
const plain: number[] = [];
const rotating: number[] = [];
const ratios: number[] = [];
const cpuRatios: number[] = [];
let files = 0;
for (let rep = 0; rep < reps; rep++) {
  const order = rep % 2 === 0 ? [false, true] : [true, false];
  const pair: Record<string, number> = {};
  const cpu: Record<string, number> = {};
  for (const rotate of order) {
    const result = await run(rotate);
    pair[String(rotate)] = events / result.seconds;
    cpu[String(rotate)] = result.cpu;
    if (rotate) files = result.files;
  }
  cpuRatios.push(cpu["false"]! / cpu["true"]!); // throughput per CPU second, rotating over plain
  plain.push(pair["false"]!);
  rotating.push(pair["true"]!);
  ratios.push(pair["true"]! / pair["false"]!);
}
const runtime = "Deno" in globalThis ? "deno" : "Bun" in globalThis ? "bun" : "node";
const k = (n: number) => `${Math.round(n / 1000)}k`;
console.log(
  `| ${runtime} | ${k(median(plain))} ev/s | ${k(median(rotating))} ev/s (${files} files) | ` +
    `${median(ratios).toFixed(3)}× (${ratios.map((r) => r.toFixed(2)).join(", ")}) | ` +
    `${median(cpuRatios).toFixed(3)}× (${cpuRatios.map((r) => r.toFixed(2)).join(", ")}) |`,
);
