// What createCallEvent costs per event, for both bench shapes (`ref`, `prov`),
// with the default `ts` (the clock, formatted) and with a `ts` the caller gave.
//
//   deno run -A bench/create_bench.ts [--runtimes deno,bun,node] [--runs 5] [--rounds 40] [--events 20000]
//                                     [--json results.json]
//
// The parent runs one child process per runtime and run (Node runs an esbuild
// bundle) and prints a Markdown table: the median over runs of each child's
// median ns per event, and the range of those medians. Inside a child the
// four variants run in rotating order, round after round, each round
// `--events` calls on fields made before the clock (a distinct `call_id` per
// event; with a given `ts`, a distinct `ts` per event, so that its RFC 3339
// check runs every time); the first 5 rounds warm up. See bench/README.md.
import { existsSync, readFileSync, writeFileSync } from "node:fs";
import process from "node:process";
import { type CallEventFields, createCallEvent } from "../mod.ts";
import { eventFields, SHAPES } from "./_shapes.ts";
import { median, runChildren } from "./_children.ts";

const args = process.argv.slice(2);
const flag = (name: string, fallback: string): string => {
  const i = args.indexOf(name);
  return i === -1 ? fallback : args[i + 1]!;
};

const VARIANTS = SHAPES.flatMap((shape) => [`${shape} default ts`, `${shape} given ts`]);
const BASE_MS = Date.parse("2026-12-02T12:00:00Z");

// ---------------------------------------------------------------- child

function child(): void {
  const events = Number(flag("--events", "20000"));
  const rounds = Number(flag("--rounds", "40"));
  const inputs: CallEventFields[][] = SHAPES.flatMap((shape) => {
    const plain = Array.from({ length: events }, (_, i) => eventFields(shape, i));
    // A timestamp per event, as a caller's own clock would give it: the check cannot reuse the last one's.
    const given = plain.map((f, i) => ({ ts: new Date(BASE_MS + i).toISOString().replace("Z", "+00:00"), ...f }));
    return [plain, given];
  });
  let keep = 0; // keeps the results alive
  const samples: number[][] = VARIANTS.map(() => []);
  for (let round = 0; round < rounds + 5; round++) {
    for (let j = 0; j < VARIANTS.length; j++) {
      const which = (j + round) % VARIANTS.length;
      const fields = inputs[which]!;
      const t0 = performance.now();
      for (let i = 0; i < events; i++) keep += createCallEvent(fields[i]!).duration_ms;
      const ns = ((performance.now() - t0) * 1e6) / events;
      if (round >= 5) samples[which]!.push(ns); // the first rounds warm the JIT up
    }
  }
  console.log(JSON.stringify({ ...Object.fromEntries(VARIANTS.map((v, k) => [v, median(samples[k]!)])), keep }));
}

// ---------------------------------------------------------------- parent

function parent(): void {
  const runs = Number(flag("--runs", "5"));
  const runtimes = flag("--runtimes", "deno,bun,node").split(",");
  const passOn = ["--events", "--rounds"].flatMap((name) => args.includes(name) ? [name, flag(name, "")] : []);
  const results = runChildren("create_bench.ts", runtimes, runs, passOn);
  const json = flag("--json", "");
  if (json !== "") writeFileSync(json, JSON.stringify(results));
  const load = existsSync("/proc/loadavg")
    ? readFileSync("/proc/loadavg", "utf8").split(" ").slice(0, 3).join(" ")
    : "?";
  console.log(`createCallEvent, ns per event: median of ${runs} runs (range of the runs' medians); load ${load}\n`);
  console.log(`| runtime | ${VARIANTS.join(" | ")} |`);
  console.log(`| --- |${" ---: |".repeat(VARIANTS.length)}`);
  for (const r of runtimes) {
    const cells = VARIANTS.map((v) => {
      const values = results[r]!.map((x) => x[v]!);
      return `${median(values).toFixed(0)} (${Math.min(...values).toFixed(0)}–${Math.max(...values).toFixed(0)})`;
    });
    console.log(`| ${r} | ${cells.join(" | ")} |`);
  }
}

if (args.includes("--child")) child();
else parent();
