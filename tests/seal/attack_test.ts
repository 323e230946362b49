// Hostile review of the sealed trail: forgeries and alterations the threat
// model says are detected, inputs meant to crash or stall the verifier, and
// output meant to reach a terminal.
import { describe, it } from "node:test";
import assert from "node:assert/strict";
import { verifyAuditTrail } from "../../src/seal/verify_audit_trail.ts";
import { JsonLinesAuditSink } from "../../mod.ts";
import { MemoryDestination, mkEvent } from "../_helpers/events.ts";
import { dataLines, eventLine, inBandLines, keys, problems, sealTrail, show, type Trail, verify } from "./_trail.ts";
import { AuditSealer } from "../../src/seal/audit_sealer.ts";
import { importAuditSealKey } from "../../src/seal/audit_seal_key.ts";
import { generateAuditSealKey } from "../../src/seal/generate_audit_seal_key.ts";
import { main } from "../../src/cli/main.ts";
import { rmSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { tempDir } from "../_helpers/temp_dir.ts";

const encoder = new TextEncoder();
/** Heavy cases: many verifications, or tens of megabytes. */
const SLOW = { timeout: 120_000 };

async function trail(plan = [3, 2, 3], salt = "atk"): Promise<Trail> {
  return await sealTrail((await keys()).seal, plan, 0, { salt, origin: "attack.example/log" });
}

/** `text` with the byte at `at` replaced by `byte`, as bytes. */
function withByte(text: string, at: number, byte: number): Uint8Array {
  const bytes = encoder.encode(text);
  bytes[at] = byte;
  return bytes;
}

async function verifyBytes(data: Uint8Array | string, seal?: Uint8Array | string) {
  const blob = (x: Uint8Array | string) => new Blob([x as BlobPart]);
  return await verifyAuditTrail(blob(data), {
    keys: (await keys()).verify,
    ...(seal === undefined ? {} : { seal: blob(seal) }),
  }).result();
}

describe("verifyAuditTrail under attack", () => {
  it("flags every single-byte change of the data file (seal stream)", SLOW, async () => {
    const t = await trail();
    const data = dataLines(t).join("");
    const seal = t.checkpoints.join("");
    const missed: string[] = [];
    for (let at = 0; at < data.length; at++) {
      for (const byte of [data.charCodeAt(at) ^ 1, 0x0a]) {
        if (byte === data.charCodeAt(at)) continue;
        const { findings, summary } = await verifyBytes(withByte(data, at, byte), seal);
        if (summary.intact) missed.push(`byte ${at} -> ${byte}: ${show(findings)}`);
      }
    }
    assert.deepEqual(missed, []);
  });

  it("flags every single-byte change of the data file (in band)", SLOW, async () => {
    const t = await trail();
    const data = inBandLines(t).join("");
    const missed: string[] = [];
    // The last checkpoint line's changes may make it look torn or unsealed: every other byte must be caught.
    for (let at = 0; at < data.length; at++) {
      for (const byte of [data.charCodeAt(at) ^ 1, 0x0a]) {
        if (byte === data.charCodeAt(at)) continue;
        const { findings, summary } = await verifyBytes(withByte(data, at, byte));
        if (summary.intact && problems(findings).length === 0 && summary.verifiedLines === 8) {
          missed.push(`byte ${at} (${JSON.stringify(data[at])}) -> ${byte}: ${show(findings)}`);
        }
      }
    }
    assert.deepEqual(missed, []);
  });

  it("flags every single-byte change of the seal file", SLOW, async () => {
    const t = await trail();
    const data = dataLines(t).join("");
    const seal = t.checkpoints.join("");
    const missed: string[] = [];
    for (let at = 0; at < seal.length; at++) {
      const byte = seal.charCodeAt(at) ^ 1;
      const { findings, summary } = await verifyBytes(data, withByte(seal, at, byte));
      if (summary.intact && summary.verifiedLines === 8) {
        missed.push(`byte ${at} (${JSON.stringify(seal.slice(at - 10, at + 3))}) -> ${byte}: ${show(findings)}`);
      }
    }
    assert.deepEqual(missed, []);
  });

  it("flags lines swapped across a segment boundary, with a seal stream and in band", async () => {
    const t = await trail([3, 3, 3]);
    const swap = (lines: string[], a: number, b: number): string[] => {
      const out = [...lines];
      [out[a], out[b]] = [out[b]!, out[a]!];
      return out;
    };
    const sidecar = await verify(swap(dataLines(t), 2, 3), { keys: (await keys()).verify, seal: t.checkpoints });
    assert.equal(sidecar.summary.intact, false, show(sidecar.findings));
    assert.ok(problems(sidecar.findings).every((f) => f.line <= 4 && f.lastLine >= 3), show(sidecar.findings));
    const lines = inBandLines(t); // 3 data, checkpoint, 3 data, ...: line indexes 2 and 4 are data across it
    const inBand = await verify(swap(lines, 2, 4), { keys: (await keys()).verify });
    assert.equal(inBand.summary.intact, false, show(inBand.findings));
  });

  it("flags a checkpoint dropped, duplicated, or two seal lines swapped", async () => {
    const t = await trail([2, 2, 2, 2]);
    const data = dataLines(t);
    const seals = {
      dropped: [t.checkpoints[0]!, t.checkpoints[2]!, t.checkpoints[3]!],
      duplicated: [t.checkpoints[0]!, t.checkpoints[1]!, t.checkpoints[1]!, t.checkpoints[2]!, t.checkpoints[3]!],
      swapped: [t.checkpoints[0]!, t.checkpoints[2]!, t.checkpoints[1]!, t.checkpoints[3]!],
      lastDuplicated: [...t.checkpoints, t.checkpoints[3]!],
    };
    for (const [name, seal] of Object.entries(seals)) {
      const { findings, summary } = await verify(data, { keys: (await keys()).verify, seal });
      assert.equal(summary.intact, false, `${name}: ${show(findings)}`);
    }
    const inBand = {
      dropped: [...t.segments[0]!, t.checkpoints[0]!, ...t.segments[1]!, ...t.segments[2]!, t.checkpoints[2]!],
      duplicated: [...t.segments[0]!, t.checkpoints[0]!, t.checkpoints[0]!, ...t.segments[1]!, t.checkpoints[1]!],
    };
    for (const [name, lines] of Object.entries(inBand)) {
      const { findings, summary } = await verify(lines, { keys: (await keys()).verify });
      assert.equal(summary.intact, false, `in band ${name}: ${show(findings)}`);
    }
  });

  it("calls checkpoints with huge or non-integer numbers malformed, without throwing", async () => {
    const t = await trail([2, 2]);
    const data = dataLines(t);
    const values = ["1e400", "9007199254740993", "-1", "1.5", "18446744073709551616", '"1"', "null", "[1]", "{}"];
    for (const field of ["seq", "lines", "bytes", "offered", "seg_lines", "seg_bytes"]) {
      for (const value of values) {
        const seal = [
          t.checkpoints[0]!,
          t.checkpoints[1]!.replace(new RegExp(`"${field}":\\d+`), `"${field}":${value}`),
        ];
        const { findings, summary } = await verify(data, { keys: (await keys()).verify, seal });
        assert.equal(summary.intact, false, `${field}=${value}: ${show(findings)}`);
        assert.ok(findings.some((f) => f.kind === "malformed"), `${field}=${value}: ${show(findings)}`);
      }
    }
  });

  it("treats a seal file with a giant line, or deep nesting, as malformed and reads on", SLOW, async () => {
    const t = await trail([2, 2]);
    const data = dataLines(t);
    const giant = '{"audit_checkpoint":1,"pad":"' + "A".repeat(20 << 20) + '"}\n';
    const deep = '{"audit_checkpoint":1,"x":' + "[".repeat(5_000_000) + "]".repeat(5_000_000) + "}\n";
    for (const [name, extra] of [["giant", giant], ["deep", deep]] as const) {
      const seal = [t.checkpoints[0]!, extra, t.checkpoints[1]!];
      const { findings, summary } = await verify(data, { keys: (await keys()).verify, seal });
      assert.equal(summary.intact, false, name);
      assert.ok(findings.some((f) => f.kind === "malformed"), `${name}: ${show(findings).slice(0, 2000)}`);
      assert.equal(summary.segments, 2, `${name}: both real segments still verify: ${show(findings).slice(0, 2000)}`);
    }
  });

  it("reads a data file with a giant line and no newline to its end (seal stream and in band)", SLOW, async () => {
    const t = await trail([2]);
    const giant = '{"ts":"' + "x".repeat(40 << 20);
    const sidecar = await verify([...dataLines(t), giant], { keys: (await keys()).verify, seal: t.checkpoints });
    assert.equal(sidecar.summary.verifiedLines, 2, show(sidecar.findings));
    assert.ok(sidecar.findings.some((f) => f.kind === "unsealed_tail"), show(sidecar.findings));
    const inBand = await verify([...inBandLines(t), giant], { keys: (await keys()).verify });
    assert.equal(inBand.summary.verifiedLines, 2, show(inBand.findings));
  });

  it("flags a checkpoint whose base64 members are re-spelled with other padding bits (same bytes, other text)", async () => {
    const t = await trail([3, 2]); // seg_tags of 2 lines: 8 bytes, one "=" of padding; sig: 64 bytes, "=="
    const data = dataLines(t);
    const alphabet = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
    for (const [member, flip] of [["sig", 0b1111], ["seg_tags", 0b11]] as const) {
      const seal = [...t.checkpoints];
      const value = new RegExp(`"${member}":"([^"]*)"`).exec(seal[1]!)![1]!;
      const at = value.indexOf("=") - 1; // the last character before the padding: its low bits are not data
      const respelled = value.slice(0, at) + alphabet[alphabet.indexOf(value[at]!) ^ flip] + value.slice(at + 1);
      assert.notEqual(respelled, value);
      seal[1] = seal[1]!.replace(`"${member}":"${value}"`, `"${member}":"${respelled}"`);
      const { findings, summary } = await verify(data, { keys: (await keys()).verify, seal });
      assert.equal(summary.intact, false, `${member} re-spelled: ${show(findings)}`);
      assert.ok(findings.some((f) => f.kind === "malformed"), `${member}: ${show(findings)}`);
    }
  });
});

describe("verifyAuditTrail on honest trails at the edges of its limits", () => {
  it("verifyAuditTrail verifies an honest segment of a single 17 MiB event by default", SLOW, async () => {
    const key = await keys();
    const data = new MemoryDestination();
    const seal = new MemoryDestination();
    const sink = new JsonLinesAuditSink(data.stream, { onError: () => {}, seal: { key: key.seal, to: seal.stream } });
    sink.onCall({ ...mkEvent({ kind: "success" }, "big"), tool_id: "t".repeat(17 << 20) });
    await sink.close();
    assert.equal(sink.stats().written, 1, JSON.stringify(sink.stats()));
    const { findings, summary } = await verify(data.text(), { keys: key.verify, seal: seal.text() });
    assert.deepEqual(problems(findings), [], show(findings));
    assert.equal(summary.verifiedLines, 1);
    // Below the segment, the verifier says which bound it hit.
    const small = await verify(data.text(), { keys: key.verify, seal: seal.text(), maxSegmentBytes: 16 << 20 });
    assert.equal(small.findings[0]?.kind, "malformed", show(small.findings));
    assert.equal(small.summary.intact, false);
    assert.match(small.findings[0]!.message, /more than maxSegmentBytes \(16777216\)/);
  });

  it("AuditSealer refuses a maxSegmentBytes above half of what verifyAuditTrail checks by default", async () => {
    const key = (await keys()).seal;
    assert.equal(new AuditSealer(key, { maxSegmentBytes: 1 << 27 }).maxSegmentBytes, 1 << 27);
    assert.throws(() => new AuditSealer(key, { maxSegmentBytes: (1 << 27) + 1 }), RangeError);
  });

  it("audit verify --max-segment-bytes bounds the segments it checks, and refuses a value that is not a size", async () => {
    const pair = await generateAuditSealKey();
    const sealer = new AuditSealer(await importAuditSealKey(pair.privateJwk));
    const dir = tempDir("verify-max");
    try {
      const lines = eventLine(1) + eventLine(2);
      sealer.append(encoder.encode(lines), 2);
      writeFileSync(join(dir, "a.jsonl"), lines);
      writeFileSync(join(dir, "a.jsonl.seal"), await sealer.seal());
      writeFileSync(join(dir, "key.jwk"), JSON.stringify(pair.publicJwk));
      const cli = async (...extra: string[]): Promise<[number | undefined, string]> => {
        let out = "";
        const write = (t: string): Promise<void> => Promise.resolve(void (out += t));
        const args = ["verify", join(dir, "a.jsonl"), "--key", join(dir, "key.jwk"), ...extra];
        return [await main(args, { stdout: write, stderr: write }), out];
      };
      assert.equal((await cli())[0], 0);
      const [status, out] = await cli("--max-segment-bytes", String(lines.length - 1));
      assert.equal(status, 1, out);
      assert.match(out, /malformed: checkpoint 0 seals \d+ bytes, more than maxSegmentBytes/);
      assert.equal((await cli("--max-segment-bytes", String(lines.length)))[0], 0);
      for (const bad of ["0", "-1", "1e6", "x", "99999999999999999"]) {
        const [code, text] = await cli("--max-segment-bytes", bad);
        assert.equal(code, 2, `${bad}: ${text}`);
        assert.match(text, /cannot read --max-segment-bytes/);
      }
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });
});
