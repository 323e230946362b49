// The core benchmark: this sink (ready loop, record() loop, single burst, drop
// modes), pino's async destination, LogTape's file sink and the raw limit, on
// Deno, Bun and Node, warm and cold, with events made before the clock or in
// the timed loop, for two event shapes. Each run is a fresh process; runs are
// interleaved; every output file's line count is checked. Prints Markdown
// tables of medians; see bench/README.md.
//
//   node bench/run.mjs [--reps 5] [--events 200000] [--warmup 20000] [--stall-events 1000000]
//                      [--runtimes deno,bun,node] [--contenders raw,pino,sink_block,...]
//                      [--temps warm,cold] [--builds prebuilt,inloop] [--shapes ref,prov]
//                      [--dir /tmp/somewhere] [--json results.json]
import { spawnSync } from "node:child_process";
import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import process from "node:process";
import { bundleForNode, checkFile, machineInfo, option, rotate } from "./_bench_util.mjs";
import { report, THROUGHPUT } from "./_report.mjs";

const root = new URL("..", import.meta.url).pathname;
const bin = (name) => join(root, "node_modules", ".bin", name);

const list = (name, fallback) => option(name, fallback.join(",")).split(",").filter((x) => x !== "");
const reps = Number(option("reps", "5"));
const events = Number(option("events", "200000"));
const stallEvents = Number(option("stall-events", "1000000"));
const warmup = Number(option("warmup", "20000"));
const runtimes = list("runtimes", ["deno", "bun", "node"]);
const contenders = list("contenders", [...THROUGHPUT, "oncall", "oncall_sealed", "stall"]);
const temps = list("temps", ["warm", "cold"]);
const builds = list("builds", ["prebuilt", "inloop"]);
const shapes = list("shapes", ["ref", "prov"]);
for (const c of contenders) {
  if (![...THROUGHPUT, "oncall", "oncall_sealed", "stall"].includes(c)) throw new Error(`unknown contender ${c}`);
}
for (
  const [name, values, allowed] of [
    ["runtimes", runtimes, ["deno", "bun", "node"]],
    ["temps", temps, ["warm", "cold"]],
    ["builds", builds, ["prebuilt", "inloop"]],
    ["shapes", shapes, ["ref", "prov"]],
  ]
) {
  for (const v of values) if (!allowed.includes(v)) throw new Error(`--${name}: unknown ${v} (${allowed.join(", ")})`);
}
const dir = option("dir", undefined) ?? mkdtempSync(join(tmpdir(), "atd-audit-bench-"));
mkdirSync(dir, { recursive: true });
const jsonPath = option("json", join(root, ".build", "bench", "results.json"));

// Node 20 runs the TypeScript worker as an esbuild bundle, as tests/_run/node.mjs does.
const nodeWorker = join(root, ".build", "bench", "worker.mjs");
await bundleForNode(join(root, "bench", "_worker.ts"), nodeWorker);
const tsWorker = join(root, "bench", "_worker.ts");
const COMMANDS = {
  deno: [bin("deno"), "run", "-A", "--v8-flags=--expose-gc", tsWorker],
  bun: [bin("bun"), tsWorker],
  node: [process.execPath, "--expose-gc", nodeWorker],
};

/** One fresh worker process; throws unless it printed a result and its file holds the expected lines. */
function runOne({ runtime, contender, temp = "warm", build = "prebuilt", shape = "ref" }, rep) {
  const out = join(dir, `${contender}-${runtime}-${temp}-${build}-${shape}-${rep}.jsonl`);
  rmSync(out, { force: true });
  const n = contender === "stall" ? stallEvents : events;
  const w = temp === "cold" ? 0 : warmup;
  const [cmd, ...args] = COMMANDS[runtime];
  const child = spawnSync(cmd, [...args, contender, out, String(n), String(w), shape, build], {
    cwd: root,
    encoding: "utf8",
    timeout: 600_000,
    maxBuffer: 1 << 24,
  });
  const lastLine = child.stdout?.trim().split("\n").pop() ?? "";
  const label = `${runtime} ${contender} ${temp}/${build}/${shape} #${rep}`;
  let result;
  try {
    result = JSON.parse(lastLine);
  } catch {
    throw new Error(`${label} failed (status ${child.status}):\n${child.stderr}\n${child.stdout}`);
  }
  if (contender !== "stall") {
    const { lines, bytes, ok } = checkFile(out);
    if (!ok || lines !== result.expectedLines) {
      throw new Error(`${label}: file has ${lines} lines (ok=${ok}), expected ${result.expectedLines}`);
    }
    result.linesOnDisk = lines;
    result.lineBytes = lines > 0 ? bytes / lines : 0;
  }
  rmSync(out, { force: true });
  // The kernel writes this run's pages back now, not during the next run: left to overlap, that slowed whichever ran
  // next by up to 2x (seen in the kernel's page-cache copy, 8x more samples).
  spawnSync("sync");
  return { runtime, rep, temp, build, shape, variant: `${temp}/${build}/${shape}`, ...result };
}

const machine = {
  ...machineInfo(runtimes.map((r) => [r, COMMANDS[r][0]])),
  events,
  stallEvents,
  warmup,
  reps,
};
console.error(
  `# ${machine.date} · ${machine.nproc} cores ${machine.cpu} · ${machine.memory} · ${machine.runtimes.join(", ")}`,
);

// Groups of runs whose ratios are taken together: one per variant (every
// runtime and throughput contender), one per shape for `oncall`, one for
// `stall`. Each repetition visits every group, every runtime within it and
// every contender within that, each list rotated by the repetition number, so
// the runs a ratio pairs are close in time.
const variants = temps.flatMap((temp) => builds.flatMap((build) => shapes.map((shape) => ({ temp, build, shape }))));
const groups = [];
const throughput = contenders.filter((c) => THROUGHPUT.includes(c));
if (throughput.length > 0) { for (const v of variants) groups.push({ ...v, contenders: throughput }); }
const calls = contenders.filter((c) => c === "oncall" || c === "oncall_sealed");
if (calls.length > 0) { for (const shape of shapes) groups.push({ shape, contenders: calls }); }
if (contenders.includes("stall")) groups.push({ contenders: ["stall"] });

const results = [];
for (let rep = 0; rep < reps; rep++) {
  for (const group of rotate(groups, rep)) {
    for (const runtime of rotate(runtimes, rep)) {
      for (const contender of rotate(group.contenders, rep)) {
        const r = runOne({ ...group, runtime, contender }, rep);
        results.push(r);
        const summary = r.eventsPerSec !== undefined
          ? `${Math.round(r.eventsPerSec)} ev/s`
          : r.onCallNs !== undefined
          ? `onCall ${r.onCallNs.toFixed(0)} ns, stringify ${r.stringifyNs.toFixed(0)} ns, create ${
            r.createNs.toFixed(0)
          } ns`
          : `accepted ${r.accepted}, peak ${(r.peakRss / 2 ** 20).toFixed(0)} MiB`;
        const where = contender === "stall" ? "" : contender.startsWith("oncall") ? r.shape : r.variant;
        console.error(
          `rep ${rep + 1}/${reps} ${runtime.padEnd(4)} ${contender.padEnd(15)} ${where.padEnd(20)} ${summary}`,
        );
      }
    }
  }
}
mkdirSync(join(jsonPath, ".."), { recursive: true });
writeFileSync(jsonPath, JSON.stringify({ machine, results }, null, 1));
console.log(report({ machine, results, runtimes, variants, shapes, contenders }));
console.error(`raw results: ${jsonPath}`);
if (option("dir", undefined) === undefined) rmSync(dir, { recursive: true, force: true });
