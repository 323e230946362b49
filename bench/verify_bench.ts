// Sealing and verifying throughput: writes a sealed log of --mb megabytes
// (sidecar seal, and a copy sealed in band) to a temp folder, then times
// verifyAuditTrail reading each from disk, and AuditSealer sealing in memory.
//
//   deno run -A bench/verify_bench.ts [--mb 1024] [--reps 3]
//   bun bench/verify_bench.ts [--mb 1024]
//   node_modules/.bin/esbuild bench/verify_bench.ts --bundle --platform=node --format=esm \
//     --packages=external --outfile=.build/bench/verify.mjs && node .build/bench/verify.mjs [--mb 1024]
import { closeSync, mkdtempSync, openSync, readSync, rmSync, writeSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import process from "node:process";
import { createCallEvent, encodeCallEvent } from "../mod.ts";
import { AuditSealer } from "../src/seal/audit_sealer.ts";
import { importAuditSealKey, importAuditVerifyKey } from "../src/seal/audit_seal_key.ts";
import { generateAuditSealKey } from "../src/seal/generate_audit_seal_key.ts";
import { verifyAuditTrail } from "../src/seal/verify_audit_trail.ts";

function option(name: string, fallback: number): number {
  const i = process.argv.indexOf(`--${name}`);
  return i > 0 ? Number(process.argv[i + 1]) : fallback;
}
const megabytes = option("mb", 1024);
const reps = option("reps", 3);
const runtime = "Deno" in globalThis ? "deno" : "Bun" in globalThis ? "bun" : "node";
const encoder = new TextEncoder();

/** A chunk of `count` distinct lines, as the sink writes them. */
function chunk(first: number, count: number): Uint8Array {
  let text = "";
  for (let i = first; i < first + count; i++) {
    text += encodeCallEvent(createCallEvent({
      ts: new Date(1_764_633_600_000 + i).toISOString(),
      call_id: `01J${i.toString(36).padStart(23, "0").toUpperCase()}`,
      tool_id: "ref:echo.say",
      caller_id: "test-client",
      granted_capabilities: ["read", "write"],
      duration_ms: i % 1000,
      outcome: { kind: "success" },
      tier: "warm",
    })) + "\n";
  }
  return encoder.encode(text);
}

/** Reads a file in 1 MiB chunks, as an async iterable (a source every runtime's verifyAuditTrail accepts). */
async function* fileChunks(path: string): AsyncGenerator<Uint8Array<ArrayBuffer>> {
  const fd = openSync(path, "r");
  try {
    for (;;) {
      const buffer = new Uint8Array(1 << 20);
      const n = readSync(fd, buffer, 0, buffer.length, null);
      if (n === 0) return;
      yield buffer.subarray(0, n);
    }
  } finally {
    closeSync(fd);
  }
}

const pair = await generateAuditSealKey();
const signing = await importAuditSealKey(pair.privateJwk);
const verifying = await importAuditVerifyKey(pair.publicJwk);
const dir = mkdtempSync(join(tmpdir(), "atd-verify-bench-"));
const dataPath = join(dir, "audit.jsonl");
const sealPath = join(dir, "audit.jsonl.seal");
const inbandPath = join(dir, "inband.jsonl");

// Write the logs, sealing as a sink would: 512-line chunks, a checkpoint when due.
const LINES_PER_CHUNK = 512;
const target = megabytes * 1e6;
const data = openSync(dataPath, "w");
const seal = openSync(sealPath, "w");
const inband = openSync(inbandPath, "w");
const sealer = new AuditSealer(signing, { origin: "bench" });
let written = 0;
let lines = 0;
let sealTime = 0;
let sealCpu = 0;
while (written < target) {
  const bytes = chunk(lines, LINES_PER_CHUNK);
  writeSync(data, bytes);
  writeSync(inband, bytes);
  written += bytes.length;
  lines += LINES_PER_CHUNK;
  const t = performance.now();
  const cpu = process.cpuUsage();
  const due = sealer.append(bytes, LINES_PER_CHUNK);
  const checkpoint = due || written >= target ? await sealer.seal() : undefined;
  const used = process.cpuUsage(cpu);
  sealCpu += (used.user + used.system) / 1e6;
  sealTime += performance.now() - t;
  if (checkpoint !== undefined) {
    writeSync(seal, checkpoint);
    writeSync(inband, checkpoint);
  }
}
closeSync(data);
closeSync(seal);
closeSync(inband);
const mb = written / 1e6;
console.log(
  `${runtime}: ${mb.toFixed(0)} MB, ${lines} lines; sealing ${(mb / sealTime * 1000).toFixed(0)} MB/s, ` +
    `${(mb / sealCpu).toFixed(0)} MB/CPU-s (${(sealCpu * 1e9 / lines).toFixed(0)} ns of CPU a line)`,
);

/** CPU seconds (user + system, all threads) used by `f`, and its wall seconds. */
async function timed(f: () => Promise<void>): Promise<{ wall: number; cpu: number }> {
  const cpu = process.cpuUsage();
  const start = performance.now();
  await f();
  const used = process.cpuUsage(cpu);
  return { wall: (performance.now() - start) / 1000, cpu: (used.user + used.system) / 1e6 };
}

function check(name: string, result: Awaited<ReturnType<ReturnType<typeof verifyAuditTrail>["result"]>>): void {
  if (result.findings.length !== 0 || result.summary.verifiedLines !== lines) {
    throw new Error(`${name}: ${result.findings.length} findings, ${result.summary.verifiedLines} of ${lines} lines`);
  }
}

const median = (values: number[]): number => [...values].sort((a, b) => a - b)[Math.floor(values.length / 2)]!;
const runs: [string, () => Promise<void>][] = [
  // The floor: reading the file and one SHA-256 per MiB, nothing else.
  ["sha-256 only", async () => {
    for await (const piece of fileChunks(dataPath)) await crypto.subtle.digest("SHA-256", piece);
  }],
  // Sealing the same bytes as a sink would hand them over: whole-line chunks of about 64 KiB.
  ["seal (AuditSealer)", async () => {
    const sealer = new AuditSealer(signing, { origin: "bench" });
    let carry = new Uint8Array(0);
    for await (const piece of fileChunks(dataPath)) {
      const joined = new Uint8Array(carry.length + piece.length);
      joined.set(carry);
      joined.set(piece, carry.length);
      const end = joined.lastIndexOf(0x0a) + 1;
      for (let at = 0; at < end; at += 1 << 16) {
        const stop = at + (1 << 16) >= end ? end : joined.lastIndexOf(0x0a, at + (1 << 16)) + 1;
        if (sealer.append(joined.subarray(at, stop), 0)) await sealer.seal();
        at = stop - (1 << 16);
      }
      carry = joined.slice(end);
    }
    await sealer.seal();
  }],
  ["verify, seal stream", async () => {
    check(
      "seal stream",
      await verifyAuditTrail(fileChunks(dataPath), { keys: verifying, seal: fileChunks(sealPath) }).result(),
    );
  }],
  ["verify, in band", async () => {
    check("in band", await verifyAuditTrail(fileChunks(inbandPath), { keys: verifying }).result());
  }],
];
let peak = 0;
const sampler = setInterval(() => (peak = Math.max(peak, process.memoryUsage().rss)), 20);
const results = new Map(runs.map(([name]) => [name, { wall: [] as number[], cpu: [] as number[] }]));
for (let r = 0; r < reps; r++) {
  // Interleaved, so that the machine's noise falls on every contender alike.
  for (const [name, run] of runs) {
    const t = await timed(run);
    results.get(name)!.wall.push(mb / t.wall);
    results.get(name)!.cpu.push(mb / t.cpu);
  }
}
clearInterval(sampler);
const floor = median(results.get("sha-256 only")!.wall);
for (const [name, { wall, cpu }] of results) {
  console.log(
    `${runtime} ${name}: ${median(wall).toFixed(0)} MB/s (${wall.map((s) => s.toFixed(0)).join(", ")}), ` +
      `${median(cpu).toFixed(0)} MB/CPU-s, ${(median(wall) / floor).toFixed(2)}x sha-256 only`,
  );
}
console.log(`${runtime} peak RSS ${(peak / 2 ** 20).toFixed(0)} MiB (the log is ${mb.toFixed(0)} MB)`);
rmSync(dir, { recursive: true, force: true });
