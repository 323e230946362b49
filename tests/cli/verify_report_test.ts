// What `audit verify` says, through main(args, io): a private key given to
// verify with is warned of; a log whose line endings were converted is named
// so; a summary whose counts the checkpoints cannot vouch for is marked
// unverified, not printed as an equation.
import { before, describe, it } from "node:test";
import assert from "node:assert/strict";
import { writeFileSync } from "node:fs";
import { join } from "node:path";
import { main } from "../../src/cli/main.ts";
import { importAuditSealKey } from "../../src/seal/audit_seal_key.ts";
import { generateAuditSealKey } from "../../src/seal/generate_audit_seal_key.ts";
import { dataLines, sealTrail, type Trail } from "../seal/_trail.ts";
import { tempDir } from "../_helpers/temp_dir.ts";

let dir = "";
let publicKey = "";
let privateKey = "";
let trail: Trail;
before(async () => {
  dir = tempDir("verify-report");
  const pair = await generateAuditSealKey();
  publicKey = join(dir, "audit-seal.public.jwk");
  privateKey = join(dir, "audit-seal.private.jwk");
  writeFileSync(publicKey, JSON.stringify(pair.publicJwk));
  writeFileSync(privateKey, JSON.stringify(pair.privateJwk));
  trail = await sealTrail(await importAuditSealKey(pair.privateJwk), [4, 3, 5]);
});

async function verify(...args: string[]): Promise<{ status: number; stdout: string; stderr: string }> {
  let stdout = "";
  let stderr = "";
  const status = await main(["verify", ...args], {
    stdout: (text) => Promise.resolve(void (stdout += text)),
    stderr: (text) => Promise.resolve(void (stderr += text)),
  });
  return { status, stdout, stderr };
}

/** Writes `name` and its seal, and verifies it with the public key. */
async function verifyLog(name: string, data: readonly string[], seal: readonly string[]) {
  writeFileSync(join(dir, name), data.join(""));
  writeFileSync(join(dir, `${name}.seal`), seal.join(""));
  return await verify(join(dir, name), "--key", publicKey);
}

/** `line` with a signed number changed: the checkpoint still parses, its signature fails. */
function bump(line: string, field: string, by: number): string {
  return line.replace(new RegExp(`"${field}":(\\d+)`), (_, n) => `"${field}":${Number(n) + by}`);
}

describe("audit verify's report", () => {
  it("audit verify says a log's line endings were converted to CRLF, not that its seal is another log's", async () => {
    const converted = dataLines(trail).map((line) => line.replace(/\n$/, "\r\n"));
    const result = await verifyLog("crlf.jsonl", converted, trail.checkpoints);
    assert.equal(result.status, 1, result.stdout);
    assert.doesNotMatch(result.stdout, /another log/);
    const [finding, summary, ...rest] = result.stdout.trim().split("\n");
    assert.match(
      finding!,
      /crlf\.jsonl:1-12: edited: lines 1–12 end in CRLF where checkpoints 0–2 sealed LF: the log's line endings were converted \(each line is altered; without their CR, they are the lines sealed\)$/,
    );
    assert.match(summary!, /: NOT intact \(1 problem\): 0 segments verified, 12 lines \(0 verified, 0 unsealed\)/);
    assert.deepEqual(rest, []);
  });

  it("audit verify verifies with a private key's public part, and warns on stderr that it was handed over", async () => {
    const log = join(dir, "keys.jsonl");
    writeFileSync(log, dataLines(trail).join(""));
    writeFileSync(`${log}.seal`, trail.checkpoints.join(""));
    const withPublic = await verify(log, "--key", publicKey);
    assert.deepEqual([withPublic.status, withPublic.stderr], [0, ""], withPublic.stdout);
    const withPrivate = await verify(log, "--key", privateKey);
    assert.equal(withPrivate.status, 0, withPrivate.stdout + withPrivate.stderr);
    assert.equal(withPrivate.stdout, withPublic.stdout, "the same verdict, by the public part");
    assert.equal(
      withPrivate.stderr,
      `audit: ${privateKey} is a private key: verifying with its public part; give verifiers the public key ` +
        "(audit-seal.public.jwk), as whoever holds the private key can seal anything\n",
    );
    // An HMAC secret is secret by nature: no warning.
    const hmac = await generateAuditSealKey({ algorithm: "HMAC-SHA256" });
    const secret = join(dir, "audit-seal.secret.jwk");
    writeFileSync(secret, JSON.stringify(hmac.privateJwk));
    const hmacTrail = await sealTrail(await importAuditSealKey(hmac.privateJwk), [2]);
    writeFileSync(log, dataLines(hmacTrail).join(""));
    writeFileSync(`${log}.seal`, hmacTrail.checkpoints.join(""));
    const withSecret = await verify(log, "--key", secret);
    assert.deepEqual([withSecret.status, withSecret.stderr], [0, ""], withSecret.stdout);
  });

  it("audit verify prints the account as an equation only when every checkpoint is trusted", async () => {
    const intact = await verifyLog("intact.jsonl", dataLines(trail), trail.checkpoints);
    assert.equal(intact.status, 0, intact.stdout);
    assert.match(intact.stdout, /; offered 12 = written 12 \+ lost 0\n$/);
    // A checkpoint in the middle that proves nothing: the trusted ones count 9 of 12 lines.
    const middle = trail.checkpoints.map((line, i) => (i === 1 ? bump(line, "offered", 5) : line));
    const bad = await verifyLog("middle.jsonl", dataLines(trail), middle);
    assert.equal(bad.status, 1, bad.stdout);
    assert.match(bad.stdout, /bad signature: the signature of checkpoint 1 does not verify/);
    const summary = bad.stdout.trim().split("\n").at(-1)!;
    assert.doesNotMatch(summary, /offered \d+ =/, summary);
    assert.match(
      summary,
      /; offered 12, written 9, lost 0 \(unverified: counted by the trusted checkpoints alone, which do not add up\)$/,
    );
    // The last checkpoint untrusted: the counts add up, but only over the checkpoints before it.
    const last = trail.checkpoints.map((line, i) => (i === 2 ? bump(line, "offered", 5) : line));
    const end = await verifyLog("last.jsonl", dataLines(trail), last);
    assert.equal(end.status, 1, end.stdout);
    assert.match(
      end.stdout.trim().split("\n").at(-1)!,
      /; offered 7, written 7, lost 0 \(unverified: counted by the trusted checkpoints alone\)$/,
    );
    // A checkpoint removed: the chain is broken, and the counts of those left do not add up.
    const removed = await verifyLog("removed.jsonl", dataLines(trail), trail.checkpoints.toSpliced(1, 1));
    assert.equal(removed.status, 1, removed.stdout);
    assert.match(removed.stdout, /broken chain/);
    assert.match(removed.stdout.trim().split("\n").at(-1)!, /\(unverified: counted by the trusted checkpoints alone/);
    // No seal at all: no checkpoint counted the lines (and an empty log has nothing to count).
    writeFileSync(join(dir, "plain.jsonl"), dataLines(trail).join(""));
    const plain = await verify(join(dir, "plain.jsonl"), "--key", publicKey);
    assert.equal(plain.status, 1, plain.stdout);
    assert.match(
      plain.stdout.trim().split("\n").at(-1)!,
      /NOT intact \(no trusted checkpoint\): .*; offered 0, written 0, lost 0 \(unverified: counted by the trusted checkpoints alone\)$/,
    );
    writeFileSync(join(dir, "empty.jsonl"), "");
    const empty = await verify(join(dir, "empty.jsonl"), "--key", publicKey);
    assert.equal(empty.status, 0, empty.stdout);
    assert.match(empty.stdout, /: intact: .*; offered 0 = written 0 \+ lost 0\n$/);
  });
});
