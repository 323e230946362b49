// The load benchmark: a tool server (bench/load_server.ts) on Deno.serve,
// Bun.serve and node:http, with and without the audit, driven by a load
// generator in its own Node process (bench/load_client.mjs). Runs are
// interleaved; after each audited run the file must hold exactly one line per
// request. Prints Markdown tables of medians; see bench/README.md.
//
//   node bench/load_bench.mjs [--reps 5] [--requests 20000] [--warmup 2000] [--connections 64]
//                             [--runtimes deno,bun,node] [--shape prov|ref] [--client net|http]
//                             [--dir /tmp/somewhere] [--json load.json] [--parts]
//
// --parts also runs the server with the audit's parts alone (load_server.ts's
// `create`, `encode`, `discard`), with JSON.stringify alone and with pino
// instead, and prints what each adds to the server's CPU time per request.
import { spawn } from "node:child_process";
import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import process from "node:process";
import {
  bundleForNode,
  checkFile,
  fmt,
  machineInfo,
  mark,
  median,
  option,
  pairedRatio,
  rotate,
} from "./_bench_util.mjs";

const root = new URL("..", import.meta.url).pathname;
const bin = (name) => join(root, "node_modules", ".bin", name);
const reps = Number(option("reps", "5"));
const requests = Number(option("requests", "20000"));
const warmup = Number(option("warmup", "2000"));
const connections = Number(option("connections", "64"));
const runtimes = option("runtimes", "deno,bun,node").split(",");
const shape = option("shape", "prov");
const client = option("client", "net");
const AUDITS = process.argv.includes("--parts")
  ? ["off", "create", "encode", "stringify", "discard", "on", "pino"]
  : ["off", "on"];
const dir = option("dir", undefined) ?? mkdtempSync(join(tmpdir(), "atd-audit-load-"));
mkdirSync(dir, { recursive: true });
const jsonPath = option("json", join(root, ".build", "bench", "load.json"));
/** Issue 11's bars: the audit costs at most 5% of requests/s and 0.2 ms of p50. */
const TARGET = { ratio: 0.95, p50Ms: 0.2 };

const nodeServer = join(root, ".build", "bench", "load_server.mjs");
await bundleForNode(join(root, "bench", "load_server.ts"), nodeServer);
const tsServer = join(root, "bench", "load_server.ts");
const COMMANDS = {
  deno: [bin("deno"), "run", "-A", tsServer],
  bun: [bin("bun"), tsServer],
  node: [process.execPath, nodeServer],
};

/** Starts `cmd`; resolves with its exit status and output. */
function run(cmd, args) {
  const child = spawn(cmd, args, { cwd: root, stdio: ["ignore", "pipe", "pipe"] });
  let stdout = "", stderr = "";
  child.stdout.on("data", (d) => (stdout += d));
  child.stderr.on("data", (d) => (stderr += d));
  const done = new Promise((resolve) => child.on("close", (status) => resolve({ status, stdout, stderr })));
  return { child, done, stdout: () => stdout, stderr: () => stderr };
}

async function waitFor(check, ms, what) {
  const until = Date.now() + ms;
  for (;;) {
    const value = check();
    if (value !== undefined) return value;
    if (Date.now() > until) throw new Error(`timed out waiting for ${what}`);
    await new Promise((resolve) => setTimeout(resolve, 20));
  }
}

/** One server process, one generator process against it, then shutdown and the file check. */
async function runOne(runtime, audit, rep) {
  const file = join(dir, `load-${runtime}-${audit}-${rep}.jsonl`);
  rmSync(file, { force: true });
  const [cmd, ...args] = COMMANDS[runtime];
  const server = run(cmd, [...args, "--audit", audit, "--file", file, "--shape", shape]);
  const label = `${runtime} audit ${audit} #${rep}`;
  try {
    const port = await waitFor(
      () => {
        if (server.child.exitCode !== null) throw new Error(`${label}: server exited:\n${server.stderr()}`);
        const line = server.stdout().split("\n")[0];
        return server.stdout().includes("\n") ? JSON.parse(line).port : undefined;
      },
      30_000,
      `${label} to listen`,
    );
    const gen = run(process.execPath, [
      join(root, "bench", "load_client.mjs"),
      ...["--port", port, "--connections", connections, "--requests", requests, "--warmup", warmup, "--client", client]
        .map(String),
    ]);
    const { status, stdout, stderr } = await gen.done;
    if (status !== 0) throw new Error(`${label}: load generator failed (${status}):\n${stderr}`);
    const result = JSON.parse(stdout.trim().split("\n").pop());
    const answer = await (await fetch(`http://127.0.0.1:${port}/shutdown`, { method: "POST" })).json();
    const exit = await Promise.race([server.done, new Promise((r) => setTimeout(() => r(undefined), 10_000))]);
    if (exit === undefined) throw new Error(`${label}: server did not exit after /shutdown`);
    const sent = warmup + requests;
    const { lines, ok, missing } = checkFile(file);
    // Unaudited (or not into the file), the file must not even exist; audited, it holds one line per request.
    const fileOk = audit === "on" || audit === "pino" ? ok && lines === sent : missing;
    if (answer.calls !== sent || !fileOk) {
      throw new Error(`${label}: ${sent} requests, server saw ${answer.calls}, file has ${lines} lines (ok=${ok})`);
    }
    if (answer.stats !== null && (answer.stats.written !== sent || answer.stats.dropped !== 0)) {
      throw new Error(`${label}: sink stats ${JSON.stringify(answer.stats)}`);
    }
    return { runtime, audit, rep, ...result, linesOnDisk: lines, stats: answer.stats };
  } finally {
    if (server.child.exitCode === null) server.child.kill();
    rmSync(file, { force: true });
  }
}

const machine = { ...machineInfo(runtimes.map((r) => [r, COMMANDS[r][0]])), reps, requests, warmup, connections };
console.error(`# ${machine.date} · ${machine.nproc} cores ${machine.cpu} · ${machine.runtimes.join(", ")}`);
const results = [];
for (let rep = 0; rep < reps; rep++) {
  for (const runtime of rotate(runtimes, rep)) {
    for (const audit of rotate(AUDITS, rep)) {
      const r = await runOne(runtime, audit, rep);
      results.push(r);
      console.error(
        `rep ${rep + 1}/${reps} ${runtime.padEnd(4)} audit ${audit.padEnd(7)} ${Math.round(r.requestsPerSec)} req/s, ` +
          `p50 ${r.p50Ms.toFixed(2)} ms, p99 ${r.p99Ms.toFixed(2)} ms, server ${
            r.serverCpuUsPerRequest.toFixed(0)
          } µs CPU/req`,
      );
    }
  }
}
mkdirSync(join(jsonPath, ".."), { recursive: true });
writeFileSync(jsonPath, JSON.stringify({ machine, results }, null, 1));

const pick = (runtime, audit) => results.filter((r) => r.runtime === runtime && r.audit === audit);
/** Median over repetitions of on − off, each pair from the same repetition. */
const pairedDelta = (runtime, field) => {
  const off = new Map(pick(runtime, "off").map((r) => [r.rep, r[field]]));
  return median(pick(runtime, "on").map((r) => r[field] - off.get(r.rep)));
};
const m = (runtime, audit, field) => median(pick(runtime, audit).map((r) => r[field]));
const out = [
  `Medians of ${reps} runs; ${connections} keep-alive connections (${client} client), ${warmup} untimed then ` +
  `${requests} timed requests per run; \`${shape}\` events; ratios and deltas paired within each repetition. ` +
  `Load average at the start: ${machine.loadavg}.`,
  "",
  "| runtime | req/s off | req/s on | on ÷ off | p50 ms off | p50 ms on | Δ p50 ms | p99 ms off | p99 ms on | server CPU µs/req off | on | lines = requests |",
  "| --- | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: | --- |",
];
for (const runtime of runtimes) {
  const ratio = pairedRatio(pick(runtime, "on"), pick(runtime, "off"), "requestsPerSec");
  const dp50 = pairedDelta(runtime, "p50Ms");
  const checked = pick(runtime, "on").map((r) => r.linesOnDisk).join(", ");
  out.push(
    `| ${machine.runtimes[runtimes.indexOf(runtime)]} | ${fmt(m(runtime, "off", "requestsPerSec"), 0)} | ${
      fmt(m(runtime, "on", "requestsPerSec"), 0)
    } | ${mark(fmt(ratio), ratio >= TARGET.ratio)} | ${fmt(m(runtime, "off", "p50Ms"))} | ${
      fmt(m(runtime, "on", "p50Ms"))
    } | ${mark(fmt(dp50), dp50 <= TARGET.p50Ms)} | ${fmt(m(runtime, "off", "p99Ms"))} | ${
      fmt(m(runtime, "on", "p99Ms"))
    } | ${fmt(m(runtime, "off", "serverCpuUsPerRequest"), 0)} | ${
      fmt(m(runtime, "on", "serverCpuUsPerRequest"), 0)
    } | ${checked || "–"} |`,
  );
}
out.push("", `✓ met, ✗ missed: on ÷ off ≥ ${TARGET.ratio}, Δ p50 ≤ ${TARGET.p50Ms} ms (issue 11).`);
if (AUDITS.length > 2) {
  const parts = AUDITS.slice(1);
  out.push(
    "",
    "Server CPU µs per request that each part adds to the server without audit (paired medians): `create` is " +
      "createCallEvent alone, `encode` that and encodeCallEvent, `stringify` JSON.stringify of the same fields " +
      "(what any JSON logger pays at least), `discard` the sink into a `WritableStream` that drops every chunk, " +
      "`on` the sink into a file, `pino` pino logging the same fields into a file (asynchronous destination).",
    "",
    `| runtime | ${parts.join(" | ")} |`,
    `| --- | ${parts.map(() => "---:").join(" | ")} |`,
  );
  for (const runtime of runtimes) {
    const off = new Map(pick(runtime, "off").map((r) => [r.rep, r.serverCpuUsPerRequest]));
    const added = (audit) => median(pick(runtime, audit).map((r) => r.serverCpuUsPerRequest - off.get(r.rep)));
    out.push(`| ${runtime} | ${parts.map((audit) => fmt(added(audit), 1)).join(" | ")} |`);
  }
}
console.log(out.join("\n"));
console.error(`raw results: ${jsonPath}`);
if (option("dir", undefined) === undefined) rmSync(dir, { recursive: true, force: true });
