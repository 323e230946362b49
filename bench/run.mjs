// The core benchmark: this sink (block and drop modes), pino's async
// destination, LogTape's file sink and the raw limit, on Deno, Bun and Node,
// each run in a fresh process, interleaved, with every output file's line
// count checked. Prints Markdown tables of medians; see bench/README.md.
//
//   node bench/run.mjs [--reps 5] [--events 200000] [--warmup 20000] [--stall-events 1000000]
//                      [--runtimes deno,bun,node] [--contenders raw,pino,...]
//                      [--dir /tmp/somewhere] [--json results.json]
import { build } from "esbuild";
import { spawnSync } from "node:child_process";
import { existsSync, mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import process from "node:process";

const root = new URL("..", import.meta.url).pathname;
const bin = (name) => join(root, "node_modules", ".bin", name);

function option(name, fallback) {
  const i = process.argv.indexOf(`--${name}`);
  return i > 0 && i + 1 < process.argv.length ? process.argv[i + 1] : fallback;
}
const reps = Number(option("reps", "5"));
const events = Number(option("events", "200000"));
const stallEvents = Number(option("stall-events", "1000000"));
const warmup = Number(option("warmup", "20000"));
const runtimes = option("runtimes", "deno,bun,node").split(",");
const THROUGHPUT = ["sink_block", "sink_drop", "sink_drop_yield", "pino", "logtape", "raw"];
const contenders = option("contenders", [...THROUGHPUT, "oncall", "stall"].join(",")).split(",");
const dir = option("dir", undefined) ?? mkdtempSync(join(tmpdir(), "atd-audit-bench-"));
mkdirSync(dir, { recursive: true });
const jsonPath = option("json", join(root, ".build", "bench", "results.json"));

// Node 20 runs the TypeScript worker as an esbuild bundle, as tests/_run/node.mjs does.
const nodeWorker = join(root, ".build", "bench", "worker.mjs");
await build({
  entryPoints: [join(root, "bench", "_worker.ts")],
  outfile: nodeWorker,
  bundle: true,
  platform: "node",
  format: "esm",
  target: "node20",
  packages: "external",
  logLevel: "warning",
});
const tsWorker = join(root, "bench", "_worker.ts");
const COMMANDS = {
  deno: [bin("deno"), "run", "-A", "--v8-flags=--expose-gc", tsWorker],
  bun: [bin("bun"), tsWorker],
  node: [process.execPath, "--expose-gc", nodeWorker],
};

function version(runtime) {
  const [cmd] = COMMANDS[runtime];
  const out = spawnSync(cmd, ["--version"], { encoding: "utf8" }).stdout.trim().split("\n")[0];
  return `${runtime} ${out.replace(/^(deno|v)\s*/, "")}`;
}

/** Counts lines and checks the file ends with a newline and its last line is JSON. */
function checkFile(path) {
  if (!existsSync(path)) return { lines: 0, ok: false };
  const bytes = readFileSync(path);
  let lines = 0;
  for (let i = bytes.indexOf(10); i !== -1; i = bytes.indexOf(10, i + 1)) lines++;
  let ok = bytes.length === 0 || bytes[bytes.length - 1] === 10;
  if (ok && bytes.length > 0) {
    const lastStart = bytes.lastIndexOf(10, bytes.length - 2) + 1;
    try {
      JSON.parse(bytes.subarray(lastStart).toString("utf8"));
    } catch {
      ok = false;
    }
  }
  return { lines, ok };
}

function runOne(runtime, contender, rep) {
  const out = join(dir, `${contender}-${runtime}-${rep}.jsonl`);
  rmSync(out, { force: true });
  const n = contender === "stall" ? stallEvents : events;
  const [cmd, ...args] = COMMANDS[runtime];
  const child = spawnSync(cmd, [...args, contender, out, String(n), String(warmup)], {
    cwd: root,
    encoding: "utf8",
    timeout: 600_000,
    maxBuffer: 1 << 24,
  });
  const lastLine = child.stdout?.trim().split("\n").pop() ?? "";
  let result;
  try {
    result = JSON.parse(lastLine);
  } catch {
    throw new Error(
      `${runtime} ${contender} #${rep} failed (status ${child.status}):\n${child.stderr}\n${child.stdout}`,
    );
  }
  if (contender !== "stall") {
    const { lines, ok } = checkFile(out);
    if (!ok || lines !== result.expectedLines) {
      throw new Error(
        `${runtime} ${contender} #${rep}: file has ${lines} lines (ok=${ok}), expected ${result.expectedLines}`,
      );
    }
    result.linesOnDisk = lines;
  }
  rmSync(out, { force: true });
  return { runtime, rep, ...result };
}

const machine = {
  date: new Date().toISOString(),
  nproc: spawnSync("nproc", { encoding: "utf8" }).stdout.trim(),
  cpu: (spawnSync("lscpu", { encoding: "utf8" }).stdout.match(/Model name:\s*(.*)/) ?? [])[1] ?? "?",
  memory: (spawnSync("free", ["-h"], { encoding: "utf8" }).stdout.match(/Mem:\s+(\S+)/) ?? [])[1] ?? "?",
  runtimes: runtimes.map(version),
  events,
  stallEvents,
  reps,
};
console.error(
  `# ${machine.date} · ${machine.nproc} cores ${machine.cpu} · ${machine.memory} · ${machine.runtimes.join(", ")}`,
);

// Interleave: each repetition visits every contender, and every runtime within
// it, in an order rotated by the repetition number.
const rotate = (list, by) => list.map((_, i) => list[(i + by) % list.length]);
const results = [];
for (let rep = 0; rep < reps; rep++) {
  for (const contender of rotate(contenders, rep)) {
    for (const runtime of rotate(runtimes, rep)) {
      const r = runOne(runtime, contender, rep);
      results.push(r);
      const summary = r.eventsPerSec !== undefined
        ? `${Math.round(r.eventsPerSec)} ev/s`
        : r.onCallNs !== undefined
        ? `onCall ${r.onCallNs.toFixed(0)} ns, stringify ${r.stringifyNs.toFixed(0)} ns`
        : `accepted ${r.accepted}, peak ${mib(r.peakRss)} MiB`;
      console.error(`rep ${rep + 1}/${reps} ${runtime.padEnd(4)} ${contender.padEnd(15)} ${summary}`);
    }
  }
}
mkdirSync(join(jsonPath, ".."), { recursive: true });
writeFileSync(jsonPath, JSON.stringify({ machine, results }, null, 1));

function median(values) {
  const s = values.filter((v) => Number.isFinite(v)).sort((a, b) => a - b);
  if (s.length === 0) return NaN;
  const m = s.length >> 1;
  return s.length % 2 ? s[m] : (s[m - 1] + s[m]) / 2;
}
function mib(bytes) {
  return (bytes / 2 ** 20).toFixed(0);
}
const pick = (runtime, contender) => results.filter((r) => r.runtime === runtime && r.contender === contender);
/** Median over repetitions of a / b, each pair from the same repetition. */
function pairedRatio(runtime, a, b, field = "eventsPerSec") {
  const bs = new Map(pick(runtime, b).map((r) => [r.rep, r[field]]));
  return median(pick(runtime, a).map((r) => r[field] / bs.get(r.rep)));
}
const fmt = (x, digits = 2) => (Number.isFinite(x) ? x.toFixed(digits) : "–");
const thousands = (x) => (Number.isFinite(x) ? `${Math.round(x / 1000)}k` : "–");

const lines = [];
lines.push(`Medians of ${reps} runs, ${events} events each; ratios are medians of per-repetition ratios.`);
for (const runtime of runtimes) {
  const rows = THROUGHPUT.filter((c) => contenders.includes(c));
  if (rows.length === 0) break;
  lines.push("", `#### ${machine.runtimes[runtimes.indexOf(runtime)]}`, "");
  lines.push(
    "| contender | events/s (min–max) | × raw | × pino | events/CPU-s | × raw (CPU) | accepted / dropped | peak RSS MiB | Δ RSS MiB |",
  );
  lines.push("| --- | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: |");
  for (const c of rows) {
    const rs = pick(runtime, c);
    if (rs.length === 0) continue;
    const eps = median(rs.map((r) => r.eventsPerSec));
    const spread = `${thousands(Math.min(...rs.map((r) => r.eventsPerSec)))}–${
      thousands(Math.max(...rs.map((r) => r.eventsPerSec)))
    }`;
    const drops = rs[0].dropped !== undefined
      ? `${median(rs.map((r) => r.accepted))} / ${median(rs.map((r) => r.dropped))}`
      : `${events} / 0`;
    lines.push(
      `| ${c} | ${thousands(eps)} (${spread}) | ${fmt(pairedRatio(runtime, c, "raw"))} | ${
        fmt(pairedRatio(runtime, c, "pino"))
      } | ${thousands(median(rs.map((r) => r.eventsPerCpuSec)))} | ${
        fmt(pairedRatio(runtime, c, "raw", "eventsPerCpuSec"))
      } | ${drops} | ${mib(median(rs.map((r) => r.peakRss)))} | ${mib(median(rs.map((r) => r.peakRss - r.baseRss)))} |`,
    );
  }
}
if (contenders.includes("oncall")) {
  lines.push("", "#### ns per call (synchronous time only, same events, same process)", "");
  lines.push("| runtime | ns/onCall | ns/JSON.stringify | ns/encodeCallEvent | onCall ÷ stringify |");
  lines.push("| --- | ---: | ---: | ---: | ---: |");
  for (const runtime of runtimes) {
    const rs = pick(runtime, "oncall");
    if (rs.length === 0) continue;
    lines.push(
      `| ${runtime} | ${fmt(median(rs.map((r) => r.onCallNs)), 0)} | ${
        fmt(median(rs.map((r) => r.stringifyNs)), 0)
      } | ${fmt(median(rs.map((r) => r.encodeNs)), 0)} | ${fmt(median(rs.map((r) => r.onCallOverStringify)))} |`,
    );
  }
}
if (contenders.includes("stall")) {
  lines.push("", `#### drop mode, destination stalled forever, ${stallEvents} events`, "");
  lines.push(
    "| runtime | accepted | dropped | RSS at start MiB | peak RSS MiB | RSS at end MiB | RSS every 100k events MiB |",
  );
  lines.push("| --- | ---: | ---: | ---: | ---: | ---: | --- |");
  for (const runtime of runtimes) {
    const rs = pick(runtime, "stall");
    if (rs.length === 0) continue;
    const last = rs[rs.length - 1];
    lines.push(
      `| ${runtime} | ${median(rs.map((r) => r.accepted))} | ${median(rs.map((r) => r.dropped))} | ${
        mib(median(rs.map((r) => r.baseRss)))
      } | ${mib(median(rs.map((r) => r.peakRss)))} | ${mib(median(rs.map((r) => r.endRss)))} | ${last.rssAt100k} |`,
    );
  }
}
if (contenders.includes("sink_block")) {
  lines.push("", "#### Targets", "");
  for (const runtime of runtimes) {
    const vsRaw = pairedRatio(runtime, "sink_block", "raw");
    const vsPino = pairedRatio(runtime, "sink_block", "pino");
    const onCall = median(pick(runtime, "oncall").map((r) => r.onCallOverStringify));
    lines.push(
      `- ${runtime}: block ÷ raw ${fmt(vsRaw)} (≥ 0.80: ${vsRaw >= 0.8 ? "met" : "missed"}), block ÷ pino ${
        fmt(vsPino)
      } (≥ 2: ${vsPino >= 2 ? "met" : "missed"}), onCall ÷ stringify ${fmt(onCall)} (≤ 1.5: ${
        onCall <= 1.5 ? "met" : "missed"
      })`,
    );
  }
}
console.log(lines.join("\n"));
console.error(`raw results: ${jsonPath}`);
if (option("dir", undefined) === undefined) rmSync(dir, { recursive: true, force: true });
