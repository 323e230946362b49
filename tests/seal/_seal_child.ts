// Child process of the cross-runtime test: seals a trail with the keys in DIR
// (Ed25519 and HMAC, seal stream and in band) and writes it there under this
// runtime's name, then verifies the trails the parent sealed and prints what
// it found, as JSON.  Usage: <dir>
import { readFileSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import process from "node:process";
import { importAuditSealKey, importAuditVerifyKey } from "../../src/seal/audit_seal_key.ts";
import { verifyAuditTrail } from "../../src/seal/verify_audit_trail.ts";
import { dataLines, inBandLines, sealTrail } from "./_trail.ts";

const dir = process.argv[process.argv.length - 1]!;
const runtime = "Deno" in globalThis ? "deno" : "Bun" in globalThis ? "bun" : "node";
const read = (name: string): string => readFileSync(join(dir, name), "utf8");
const results: Record<string, unknown> = { runtime };
for (const algorithm of ["ed25519", "hmac"]) {
  const key = await importAuditSealKey(read(`${algorithm}.private.jwk`));
  const trail = await sealTrail(key, [3, 0, 5, 2], 1, { origin: `cross/${runtime}`, salt: runtime });
  writeFileSync(join(dir, `${runtime}.${algorithm}.jsonl`), dataLines(trail).join(""));
  writeFileSync(join(dir, `${runtime}.${algorithm}.jsonl.seal`), trail.checkpoints.join(""));
  writeFileSync(join(dir, `${runtime}.${algorithm}.inband.jsonl`), inBandLines(trail).join(""));
  const keys = await importAuditVerifyKey(read(`${algorithm}.public.jwk`));
  const blob = (name: string): Blob => new Blob([read(name)]);
  const sidecar = await verifyAuditTrail(blob(`parent.${algorithm}.jsonl`), {
    keys,
    seal: blob(`parent.${algorithm}.jsonl.seal`),
  }).result();
  const inBand = await verifyAuditTrail(blob(`parent.${algorithm}.inband.jsonl`), { keys }).result();
  results[algorithm] = [sidecar, inBand].map(({ findings, summary }) => ({
    kinds: findings.map((f) => f.kind),
    verified: summary.verifiedLines,
    intact: summary.intact,
  }));
}
console.log(JSON.stringify(results));
