// Hostile review of `audit verify`: crafted files and names must not reach a
// terminal as control sequences, and crafted input must end in an exit status.
import { describe, it } from "node:test";
import assert from "node:assert/strict";
import { rmSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { main } from "../../src/cli/main.ts";
import { generateAuditSealKey } from "../../src/seal/generate_audit_seal_key.ts";
import { dataLines, keys, sealTrail } from "../seal/_trail.ts";
import { tempDir } from "../_helpers/temp_dir.ts";

// deno-lint-ignore no-control-regex -- finding control characters is the point
const TERMINAL = /[\u0000-\u0009\u000b-\u001f\u007f-\u009f\u200e\u200f\u2028\u2029\u202a-\u202e\u2066-\u2069]/;
const ESC = "\u001b]0;pwned\u0007\u001b[2J\u009b31m\u202e";

async function run(args: string[]): Promise<{ status: number; out: string; err: string }> {
  let out = "";
  let err = "";
  const status = await main(args, {
    stdout: (text) => Promise.resolve(void (out += text)),
    stderr: (text) => Promise.resolve(void (err += text)),
  });
  return { status, out, err };
}

describe("audit verify under attack", () => {
  it("audit verify prints no terminal control character from crafted names, lines and keys", async () => {
    const dir = tempDir("verify-attack");
    try {
      const pair = await generateAuditSealKey();
      const publicKey = join(dir, "public.jwk");
      writeFileSync(publicKey, JSON.stringify(pair.publicJwk));
      const t = await sealTrail((await keys()).seal, [2, 2], 0, { origin: "esc.example/log" });
      const name = join(dir, `log${ESC}.jsonl`);
      writeFileSync(name, dataLines(t).join("") + `{"ts":"${ESC}"}\n`);
      // A seal of checkpoints, a lookalike full of control bytes, and one cut short.
      writeFileSync(
        `${name}.seal`,
        t.checkpoints.join("") +
          `{"audit_checkpoint":1,"origin":"${ESC}","key_id":"${ESC}"}\n{"audit_checkpoint":${ESC}`,
      );
      const badKey = join(dir, `key${ESC}.jwk`);
      writeFileSync(badKey, JSON.stringify({ ...pair.publicJwk, kid: ESC }));
      const runs = [
        await run(["verify", name, "--key", publicKey]),
        await run(["verify", name, "--key", badKey]),
        await run(["verify", name, "--in-band", "--key", publicKey]),
        await run(["verify", `${name}.missing`, "--key", publicKey]),
        await run(["verify", name, "--key", publicKey, "--origin", ESC]),
      ];
      for (const [i, r] of runs.entries()) {
        assert.ok([0, 1, 2].includes(r.status), `run ${i}: exit ${r.status}`);
        assert.doesNotMatch(r.out, TERMINAL, `run ${i} stdout: ${JSON.stringify(r.out)}`);
        assert.doesNotMatch(r.err, TERMINAL, `run ${i} stderr: ${JSON.stringify(r.err)}`);
      }
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });
});
