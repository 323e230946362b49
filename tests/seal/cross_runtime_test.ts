// Sealed under one runtime, verified under another, in the same run: this
// test (under Deno, Bun or Node) seals trails for the children to verify,
// then runs a child under each of Deno, Bun and Node that seals its own
// trails and verifies the parent's; the parent verifies the children's.
import { describe, it } from "node:test";
import assert from "node:assert/strict";
import { spawn } from "node:child_process";
import { readFileSync, rmSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import process from "node:process";
import { build } from "esbuild";
import { importAuditSealKey, importAuditVerifyKey } from "../../src/seal/audit_seal_key.ts";
import { auditSealKeyFiles, generateAuditSealKey } from "../../src/seal/generate_audit_seal_key.ts";
import { verifyAuditTrail } from "../../src/seal/verify_audit_trail.ts";
import { repoRoot } from "../_helpers/streams.ts";
import { dataLines, inBandLines, sealTrail } from "./_trail.ts";
import { tempDir } from "../_helpers/temp_dir.ts";

const RUNTIMES = ["deno", "bun", "node"] as const;

/** The command that runs a bundled ESM script under `runtime`. */
function command(runtime: (typeof RUNTIMES)[number], script: string): string[] {
  const bin = join(repoRoot(), "node_modules", ".bin");
  if (runtime === "deno") return [join(bin, "deno"), "run", "-A", script];
  if (runtime === "bun") return [join(bin, "bun"), script];
  const self = !("Deno" in globalThis) && !("Bun" in globalThis);
  return [self ? process.execPath : "node", script];
}

function run(argv: string[]): Promise<{ code: number | null; stdout: string; stderr: string }> {
  const child = spawn(argv[0]!, argv.slice(1), { stdio: ["ignore", "pipe", "pipe"] });
  let stdout = "";
  let stderr = "";
  child.stdout.on("data", (d) => (stdout += d));
  child.stderr.on("data", (d) => (stderr += d));
  return new Promise((resolve) => child.on("close", (code) => resolve({ code, stdout, stderr })));
}

describe("sealed trails across runtimes", () => {
  it("verify where they were not sealed: Deno, Bun and Node each seal for the others", async () => {
    const dir = tempDir("seal-cross");
    try {
      const pairs = {
        ed25519: await generateAuditSealKey(),
        hmac: await generateAuditSealKey({ algorithm: "HMAC-SHA256" }),
      };
      for (const [name, pair] of Object.entries(pairs)) {
        const files = auditSealKeyFiles(pair);
        writeFileSync(join(dir, `${name}.private.jwk`), files[0]!.text);
        writeFileSync(join(dir, `${name}.public.jwk`), (files[1] ?? files[0]!).text);
        const trail = await sealTrail(await importAuditSealKey(pair.privateJwk), [2, 4, 0, 3], 2, { salt: "parent" });
        writeFileSync(join(dir, `parent.${name}.jsonl`), dataLines(trail).join(""));
        writeFileSync(join(dir, `parent.${name}.jsonl.seal`), trail.checkpoints.join(""));
        writeFileSync(join(dir, `parent.${name}.inband.jsonl`), inBandLines(trail).join(""));
      }
      const script = join(dir, "child.mjs");
      await build({
        entryPoints: [join(repoRoot(), "tests", "seal", "_seal_child.ts")],
        outfile: script,
        bundle: true,
        platform: "node",
        format: "esm",
        target: "node20",
        logLevel: "error",
      });
      for (const runtime of RUNTIMES) {
        const { code, stdout, stderr } = await run([...command(runtime, script), dir]);
        assert.equal(code, 0, `${runtime}: ${stderr}`);
        const result = JSON.parse(stdout.trim().split("\n").pop()!);
        assert.equal(result.runtime, runtime);
        // The child verified the parent's trails: 9 sealed lines, the 2-line tail reported unsealed, nothing else.
        for (const name of ["ed25519", "hmac"]) {
          assert.deepEqual(result[name], [
            { kinds: ["unsealed_tail"], verified: 9, intact: true },
            { kinds: ["unsealed_tail"], verified: 9, intact: true },
          ], `${runtime} verifying ${name}`);
        }
        // And the parent verifies the child's.
        for (const [name, pair] of Object.entries(pairs)) {
          const keys = await importAuditVerifyKey(pair.publicJwk);
          const read = (suffix: string): Blob => new Blob([readFileSync(join(dir, `${runtime}.${name}${suffix}`))]);
          for (const [data, seal] of [[".jsonl", ".jsonl.seal"], [".inband.jsonl", undefined]] as const) {
            const { findings, summary } = await verifyAuditTrail(read(data), {
              keys,
              ...(seal === undefined ? {} : { seal: read(seal) }),
            }).result();
            assert.deepEqual(findings.map((f) => f.kind), ["unsealed_tail"], `${name} sealed by ${runtime}`);
            assert.deepEqual([summary.verifiedLines, summary.origin], [10, `cross/${runtime}`]);
          }
        }
      }
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });
});
