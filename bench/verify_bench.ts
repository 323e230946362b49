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
async function* fileChunks(path: string): AsyncGenerator<Uint8Array> {
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
while (written < target) {
  const bytes = chunk(lines, LINES_PER_CHUNK);
  writeSync(data, bytes);
  writeSync(inband, bytes);
  written += bytes.length;
  lines += LINES_PER_CHUNK;
  const t = performance.now();
  const due = sealer.append(bytes, LINES_PER_CHUNK);
  const checkpoint = due || written >= target ? await sealer.seal() : undefined;
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
console.log(`${runtime}: ${mb.toFixed(0)} MB, ${lines} lines; sealing ${(mb / sealTime * 1000).toFixed(0)} MB/s`);

for (
  const [name, run] of [
    ["sidecar", () => verifyAuditTrail(fileChunks(dataPath), { keys: verifying, seal: fileChunks(sealPath) })],
    ["in band", () => verifyAuditTrail(fileChunks(inbandPath), { keys: verifying })],
  ] as const
) {
  const speeds: number[] = [];
  let peak = 0;
  for (let r = 0; r < reps; r++) {
    const verification = run();
    const start = performance.now();
    let findings = 0;
    const sampler = setInterval(() => (peak = Math.max(peak, process.memoryUsage().rss)), 20);
    for await (const _ of verification) findings++;
    clearInterval(sampler);
    const seconds = (performance.now() - start) / 1000;
    const summary = verification.summary;
    if (findings !== 0 || summary.verifiedLines !== lines) {
      throw new Error(`${name}: ${findings} findings, ${summary.verifiedLines} of ${lines} lines verified`);
    }
    speeds.push(mb / seconds);
  }
  speeds.sort((a, b) => a - b);
  console.log(
    `${runtime} verify ${name}: median ${speeds[Math.floor(speeds.length / 2)]!.toFixed(0)} MB/s ` +
      `(${speeds.map((s) => s.toFixed(0)).join(", ")}), peak RSS ${(peak / 2 ** 20).toFixed(0)} MiB`,
  );
}
rmSync(dir, { recursive: true, force: true });
