// An adversary with write access to the log and its seal file, but not the
// private key: every attack below is either detected, or (where the threat
// model in the README says it cannot be) shows up as what it is.
import { describe, it } from "node:test";
import assert from "node:assert/strict";
import { AuditSealer } from "../../src/seal/audit_sealer.ts";
import { importAuditSealKey } from "../../src/seal/audit_seal_key.ts";
import { generateAuditSealKey } from "../../src/seal/generate_audit_seal_key.ts";
import { checkpointLine, parseCheckpoint } from "../../src/seal/_checkpoint.ts";
import { sha256Hex, toBase64 } from "../../src/seal/_encoding.ts";
import { splitLines } from "../../src/seal/_lines.ts";
import type { AuditTrailFinding } from "../../src/seal/verify_audit_trail.ts";
import { dataLines, eventLine, inBandLines, keys, problems, sealTrail, show, type Trail, verify } from "./_trail.ts";

const encoder = new TextEncoder();
const decoder = new TextDecoder();

/** What the attacker can compute for a segment: its size, SHA-256 and tags (everything but the signature). */
async function recompute(checkpoint: string, lines: readonly string[]): Promise<string> {
  const parsed = parseCheckpoint(checkpoint.trimEnd());
  if (typeof parsed === "string") throw new Error(parsed);
  const c = parsed.checkpoint;
  const bytes = encoder.encode(lines.join(""));
  const tags = splitLines(bytes).tags;
  const tagBytes = new Uint8Array(4 * tags.length);
  tags.forEach((tag, i) => new DataView(tagBytes.buffer).setUint32(4 * i, tag));
  const delta = bytes.length - c.seg_bytes;
  return checkpointLine({
    ...c,
    seg_bytes: bytes.length,
    bytes: c.bytes + delta,
    seg_sha256: await sha256Hex(bytes),
    seg_tags: toBase64(tagBytes),
  });
}

function kindsOf(findings: readonly AuditTrailFinding[]): string[] {
  return [...new Set(problems(findings).map((f) => f.kind))].sort();
}

async function trail(plan = [3, 4, 2, 3], salt = "adv"): Promise<Trail> {
  return await sealTrail((await keys()).seal, plan, 0, { salt, origin: "adversary.example/log" });
}

describe("sealed trail against an adversary with write access", () => {
  it("detects a line edited and its checkpoint recomputed without the key: a bad signature", async () => {
    const t = await trail();
    const segment = [...t.segments[1]!];
    segment[2] = segment[2]!.replace('"agent-A"', '"agent-Z"');
    const seal = [...t.checkpoints];
    seal[1] = await recompute(seal[1]!, segment);
    const data = [...t.segments[0]!, ...segment, ...t.segments.slice(2).flat()];
    const { findings, summary } = await verify(data, { keys: (await keys()).verify, seal });
    assert.deepEqual(kindsOf(findings), ["bad_signature"], show(findings));
    const bad = findings.find((f) => f.kind === "bad_signature")!;
    assert.deepEqual([bad.line, bad.lastLine], [4, 7], "the segment it sealed is not verified");
    assert.equal(summary.verifiedLines, 3 + 2 + 3);
  });

  it("detects a segment re-sealed with the attacker's own key, under the real key id or their own", async () => {
    const t = await trail();
    const own = await importAuditSealKey((await generateAuditSealKey()).privateJwk);
    const real = (await keys()).seal;
    for (const [key, kind] of [[{ ...own, keyId: real.keyId }, "bad_signature"], [own, "unknown_key"]] as const) {
      // A whole new chain, from checkpoint 0, over edited data.
      const sealer = new AuditSealer(key, { origin: "adversary.example/log" });
      const data = dataLines(t).map((line, i) => (i === 0 ? line.replace('"warm"', '"cold"') : line));
      sealer.append(encoder.encode(data.join("")), data.length);
      const seal = [decoder.decode(await sealer.seal())];
      const { findings } = await verify(data, { keys: (await keys()).verify, seal });
      assert.deepEqual(kindsOf(findings), [kind], show(findings));
    }
  });

  it("detects whole segments swapped with their checkpoints: a broken chain", async () => {
    const t = await trail();
    const order = [0, 2, 1, 3];
    const data = order.flatMap((i) => t.segments[i]!);
    const seal = order.map((i) => t.checkpoints[i]!);
    for (
      const [lines, sealed] of [[data, seal], [
        order.flatMap((i) => [...t.segments[i]!, t.checkpoints[i]!]),
        undefined,
      ]] as const
    ) {
      const { findings, summary } = await verify(lines, {
        keys: (await keys()).verify,
        ...(sealed ? { seal: sealed } : {}),
      });
      assert.equal(summary.intact, false, show(findings));
      assert.ok(kindsOf(findings).includes("broken_chain"), show(findings));
    }
  });

  it("detects a forged gap: lines deleted and declared lost, or a loss count lowered", async () => {
    const t = await trail();
    // Declaring the deleted line lost means editing the signed text: the signature fails.
    const c = JSON.parse(t.checkpoints[1]!);
    const forged = checkpointLine({
      ...c,
      gaps: [{ reason: "destination", count: 1, in_segment: true, first_ts: "t1", last_ts: "t1" }],
      line_digests: toBase64(new Uint8Array(16 * c.seg_lines)),
    });
    const data = dataLines(t).filter((_, i) => i !== 4);
    const seal = [t.checkpoints[0]!, forged, ...t.checkpoints.slice(2)];
    const result = await verify(data, { keys: (await keys()).verify, seal });
    assert.ok(kindsOf(result.findings).includes("bad_signature"), show(result.findings));
    // A real gap cannot be made smaller either.
    const sealer = new AuditSealer((await keys()).seal, { origin: "adversary.example/log" });
    sealer.append(encoder.encode(eventLine(1)), 1);
    sealer.lost("queue_full", 500, "t1", "t2");
    const honest = decoder.decode(await sealer.seal());
    const smaller = honest.replace('"count":500', '"count":5').replace('"offered":501', '"offered":6');
    const lowered = await verify([eventLine(1)], { keys: (await keys()).verify, seal: [smaller] });
    assert.deepEqual(kindsOf(lowered.findings), ["bad_signature"], show(lowered.findings));
  });

  it("detects a line that arrived deleted or moved within a segment that declares a lost line", async () => {
    const key = await keys();
    const sealer = new AuditSealer(key.seal, { origin: "adversary.example/log" });
    const lines = [0, 1, 2, 3].map((i) => eventLine(i, "lossy"));
    sealer.append(encoder.encode(lines.join("")), 4);
    sealer.undelivered("destination", 1, "t1"); // line 3 never arrived
    const seal = [decoder.decode(await sealer.seal())];
    const arrived = lines.slice(0, 3);
    assert.deepEqual(problems((await verify(arrived, { keys: key.verify, seal })).findings), []);
    // The attacker also deletes a line that did arrive: one more than declared.
    const deleted = await verify([arrived[0]!, arrived[2]!], { keys: key.verify, seal });
    assert.equal(deleted.summary.intact, false, show(deleted.findings));
    // Or swaps two that arrived: not in their sealed order.
    const swapped = await verify([arrived[1]!, arrived[0]!, arrived[2]!], { keys: key.verify, seal });
    assert.equal(swapped.summary.intact, false, show(swapped.findings));
  });

  it("detects two sealed logs spliced together, of another origin or restarting the same chain", async () => {
    const a = await trail([3, 2], "a");
    const other = await sealTrail((await keys()).seal, [2, 2], 0, { salt: "b", origin: "other.example/log" });
    const restart = await trail([2, 2], "c");
    for (const b of [other, restart]) {
      const data = [...dataLines(a), ...dataLines(b)];
      const seal = [...a.checkpoints, ...b.checkpoints];
      const { findings, summary } = await verify(data, { keys: (await keys()).verify, seal });
      assert.equal(summary.intact, false, show(findings));
      const expected = b === other ? "foreign_seal" : "broken_chain";
      assert.ok(kindsOf(findings).includes(expected), `${expected}:\n${show(findings)}`);
    }
  });

  it("shows a replayed older seal file for what it is: every later line unsealed, none verified", async () => {
    const t = await trail();
    const old = t.checkpoints.slice(0, 2);
    const { findings, summary } = await verify(dataLines(t), { keys: (await keys()).verify, seal: old });
    // Not proof of tampering (a crash looks the same), but none of those lines is vouched for.
    assert.deepEqual(findings.map((f) => [f.kind, f.line, f.lastLine]), [["unsealed_tail", 8, 12]]);
    assert.equal(summary.verifiedLines, 7);
  });

  it("cannot see both files truncated at a checkpoint without a witness (the threat model's limit)", async () => {
    const t = await trail();
    const data = t.segments.slice(0, 2).flat();
    const { findings, summary } = await verify(data, { keys: (await keys()).verify, seal: t.checkpoints.slice(0, 2) });
    assert.deepEqual(findings, []);
    // What a witness keeps, the last checkpoint seen elsewhere, says how far the trail went.
    const witness = JSON.parse(t.checkpoints.at(-1)!);
    assert.ok(summary.lastSeq! < witness.seq && summary.lines < witness.lines);
  });

  it("flags a forged in-band checkpoint line and lines appended after the last checkpoint", async () => {
    const t = await trail([2, 2]);
    const fake = '{"audit_checkpoint":1,"origin":"adversary.example/log","note":"all good"}\n';
    const data = [...inBandLines(t).slice(0, 3), fake, ...inBandLines(t).slice(3), eventLine(77, "late")];
    const { findings } = await verify(data, { keys: (await keys()).verify });
    assert.deepEqual(kindsOf(findings), ["malformed"], show(findings));
    assert.ok(findings.some((f) => f.kind === "unsealed_tail" && f.line === 8), show(findings));
  });

  it("is helpless against a writer who holds the private key (the threat model's limit)", async () => {
    const t = await trail([3, 3]);
    const rewritten = dataLines(t).map((line) => line.replace('"execution_failed"', '"success"'));
    assert.notDeepEqual(rewritten, dataLines(t));
    const sealer = new AuditSealer((await keys()).seal, { origin: "adversary.example/log" });
    sealer.append(encoder.encode(rewritten.join("")), 6);
    const seal = [decoder.decode(await sealer.seal())];
    assert.deepEqual((await verify(rewritten, { keys: (await keys()).verify, seal })).findings, []);
  });

  it("refuses an HMAC checkpoint keyed with the Ed25519 public key (algorithm confusion): an unknown key", async () => {
    const t = await trail([2]);
    const real = (await keys()).seal;
    const publicX = (await generateAuditSealKey()).publicJwk; // any public key: the verifier never takes it as a secret
    const confused = await importAuditSealKey({ kty: "oct", k: `${publicX.x}${publicX.x}` }, { keyId: real.keyId });
    const sealer = new AuditSealer(confused, { origin: "adversary.example/log" });
    sealer.append(encoder.encode(dataLines(t).join("")), 2);
    const seal = [decoder.decode(await sealer.seal())];
    const { findings } = await verify(dataLines(t), { keys: (await keys()).verify, seal });
    assert.deepEqual(kindsOf(findings), ["unknown_key"], show(findings));
  });

  it("cannot tell which lines of a lossy segment were the lost ones (the threat model's limit)", async () => {
    // Line b went to the destination's fallback; a and c arrived. An attacker who also holds b's exact bytes
    // (from the fallback) can put it in c's place: the segment still has its lines in order, less one declared.
    const key = await keys();
    const sealer = new AuditSealer(key.seal, { origin: "adversary.example/log" });
    const [a, b, c] = [0, 1, 2].map((i) => eventLine(i, "fallback"));
    sealer.append(encoder.encode(a! + b! + c!), 3);
    sealer.undelivered("rerouted", 1, "t1");
    const seal = [decoder.decode(await sealer.seal())];
    assert.deepEqual(problems((await verify([a!, c!], { keys: key.verify, seal })).findings), []);
    assert.deepEqual(problems((await verify([a!, b!], { keys: key.verify, seal })).findings), []);
    // Without b's bytes, replacing c is caught.
    const edited = await verify([a!, c!.replace("fallback", "FALLBACK")], { keys: key.verify, seal });
    assert.equal(edited.summary.intact, false);
  });
});
