import { describe, it } from "node:test";
import assert from "node:assert/strict";
import fc from "fast-check";
import { isAuditCheckpointLine } from "../../src/seal/audit_checkpoint.ts";
import { AuditSealer } from "../../src/seal/audit_sealer.ts";
import { importAuditSealKey } from "../../src/seal/audit_seal_key.ts";
import { parseCheckpoint } from "../../src/seal/_checkpoint.ts";
import { encodeValue, fromBase64, lineTag, toBase64 } from "../../src/seal/_encoding.ts";
import { lineTs } from "../../src/seal/_lines.ts";

const encoder = new TextEncoder();
const decoder = new TextDecoder();

// The conformance vector of FORMAT.md: a fixed key, clock and data give one exact line (Ed25519 is deterministic).
const VECTOR_KEY = {
  kty: "OKP",
  crv: "Ed25519",
  x: "w03CYl8KtBm7hOXoJ7UXae0V40XvWcI7y3eIG_THgbw",
  d: "v4zsvAPN7VPL6N-CIAkNwoUSkQ4BKqdRfNtaLvl8g1k",
  kid: "test-vector",
};
const VECTOR_DATA =
  '{"ts":"2026-12-02T10:00:00.000Z","call_id":"a"}\n{"ts":"2026-12-02T10:00:01.000Z","call_id":"b"}\n';
const VECTOR_LINE = '{"audit_checkpoint":1,"origin":"example.com/audit","key_id":"test-vector","alg":"Ed25519",' +
  '"seq":0,"prev":"0000000000000000000000000000000000000000000000000000000000000000",' +
  '"time":"2026-12-02T10:00:05.000Z","lines":2,"bytes":96,"offered":5,"seg_lines":2,"seg_bytes":96,' +
  '"seg_sha256":"f8ec4e4ea36b080b5062560cb36d01c79ffb5e17378f2e9f95463fd92b5d32a7","seg_tags":"P4FzLrryD44=",' +
  '"first_ts":"2026-12-02T10:00:00.000Z","last_ts":"2026-12-02T10:00:01.000Z","gaps":[{"reason":"queue_full",' +
  '"count":3,"in_segment":false,"first_ts":"2026-12-02T10:00:02Z","last_ts":"2026-12-02T10:00:03Z"}],' +
  '"sig":"y2Y4mUnTGDoFacXISoO81NHx/0PpieHzzfW7xuzCFxylh+S81Kzfb2CR0Sx61uHdrWCkwDWNTWFjk7isp3SFCQ=="}\n';

/** MurmurHash3_x86_32, written from the reference, to check tags against. */
function murmur3(bytes: Uint8Array, seed: number): number {
  let h = seed >>> 0;
  const blocks = bytes.length & ~3;
  for (let i = 0; i < blocks; i += 4) {
    let k = bytes[i]! | (bytes[i + 1]! << 8) | (bytes[i + 2]! << 16) | (bytes[i + 3]! << 24);
    k = Math.imul(k, 0xcc9e2d51);
    k = (k << 15) | (k >>> 17);
    h ^= Math.imul(k, 0x1b873593);
    h = (h << 13) | (h >>> 19);
    h = (Math.imul(h, 5) + 0xe6546b64) | 0;
  }
  let k = 0;
  switch (bytes.length & 3) {
    case 3:
      k ^= bytes[blocks + 2]! << 16; // falls through
    case 2:
      k ^= bytes[blocks + 1]! << 8; // falls through
    case 1:
      k ^= bytes[blocks]!;
      k = Math.imul(k, 0xcc9e2d51);
      k = (k << 15) | (k >>> 17);
      h ^= Math.imul(k, 0x1b873593);
  }
  h ^= bytes.length;
  h ^= h >>> 16;
  h = Math.imul(h, 0x85ebca6b);
  h ^= h >>> 13;
  h = Math.imul(h, 0xc2b2ae35);
  return (h ^ (h >>> 16)) >>> 0;
}

async function sha256(bytes: Uint8Array<ArrayBuffer>): Promise<string> {
  return [...new Uint8Array(await crypto.subtle.digest("SHA-256", bytes))]
    .map((b) => b.toString(16).padStart(2, "0")).join("");
}

function vectorSealer(key: Awaited<ReturnType<typeof importAuditSealKey>>): AuditSealer {
  return new AuditSealer(key, { origin: "example.com/audit", now: () => Date.UTC(2026, 11, 2, 10, 0, 5) });
}

describe("checkpoint format", () => {
  it("AuditSealer reproduces the conformance vector byte for byte", async () => {
    const sealer = vectorSealer(await importAuditSealKey(VECTOR_KEY));
    sealer.append(encoder.encode(VECTOR_DATA), 2);
    sealer.lost("queue_full", 3, "2026-12-02T10:00:02Z", "2026-12-02T10:00:03Z");
    assert.equal(decoder.decode(await sealer.seal()), VECTOR_LINE);
  });

  it("the vector's signature covers the text form of FORMAT.md, and the next checkpoint chains to its hash", async () => {
    const c = JSON.parse(VECTOR_LINE);
    const tags = fromBase64(c.seg_tags)!;
    const lines = VECTOR_DATA.split("\n").slice(0, -1).map((line) => encoder.encode(line));
    const view = new DataView(tags.buffer);
    assert.deepEqual(lines.map((_, i) => view.getUint32(4 * i)), lines.map((l) => murmur3(l, l.length)));
    assert.equal(c.seg_sha256, await sha256(encoder.encode(VECTOR_DATA)));
    const text = "audit-checkpoint/1\norigin example.com/audit\nkey_id test-vector\nalg Ed25519\nseq 0\n" +
      `prev ${"0".repeat(64)}\ntime 2026-12-02T10:00:05.000Z\nlines 2\nbytes 96\noffered 5\nseg_lines 2\n` +
      `seg_bytes 96\nseg_sha256 ${c.seg_sha256}\nseg_tags_sha256 ${await sha256(tags)}\n` +
      "first_ts 2026-12-02T10:00:00.000Z\nlast_ts 2026-12-02T10:00:01.000Z\n" +
      "gap queue_full 3 out 2026-12-02T10:00:02Z 2026-12-02T10:00:03Z\nline_digests_sha256 -\n";
    const publicKey = await crypto.subtle.importKey(
      "jwk",
      { kty: "OKP", crv: "Ed25519", x: VECTOR_KEY.x },
      { name: "Ed25519" },
      false,
      ["verify"],
    );
    assert.equal(
      await crypto.subtle.verify({ name: "Ed25519" }, publicKey, fromBase64(c.sig)!, encoder.encode(text)),
      true,
    );
    const sealer = vectorSealer(await importAuditSealKey(VECTOR_KEY));
    sealer.append(encoder.encode(VECTOR_DATA), 2);
    sealer.lost("queue_full", 3, "2026-12-02T10:00:02Z", "2026-12-02T10:00:03Z");
    assert.equal(decoder.decode(await sealer.seal()), VECTOR_LINE);
    const next = JSON.parse(decoder.decode(await sealer.seal()));
    assert.equal(next.prev, await sha256(encoder.encode(text)));
    assert.equal(next.seq, 1);
  });

  it("isAuditCheckpointLine tells checkpoint lines from data lines, as text or bytes", () => {
    for (const line of [VECTOR_LINE, '{"audit_checkpoint":2}', '{"audit_checkpoint":']) {
      assert.equal(isAuditCheckpointLine(line), true, line);
      assert.equal(isAuditCheckpointLine(encoder.encode(line)), true, line);
    }
    for (const line of ['{"ts":"x"}', '{"audit_checkpoint"', ' {"audit_checkpoint":1}', '{"audit_checkpoinT":1', ""]) {
      assert.equal(isAuditCheckpointLine(line), false, line);
      assert.equal(isAuditCheckpointLine(encoder.encode(line)), false, line);
    }
  });

  it("lineTag is MurmurHash3_x86_32 of the line seeded with its length", () => {
    fc.assert(
      fc.property(fc.uint8Array({ maxLength: 400 }), fc.nat(5), (line, offset) => {
        const inside = new Uint8Array(offset + line.length + 3);
        inside.set(line, offset);
        assert.equal(lineTag(inside, offset, offset + line.length), murmur3(line, line.length));
      }),
    );
    // Published vectors of the reference implementation (seed 0 and 1), through the reference above.
    assert.equal(murmur3(encoder.encode(""), 1), 0x514e28b7);
    assert.equal(murmur3(encoder.encode("The quick brown fox jumps over the lazy dog"), 0), 0x2e4ff723);
  });

  it("value encoding keeps printable ASCII and escapes the rest, so the text form stays one token a field", () => {
    assert.equal(encodeValue("2026-12-02T10:00:00+01:00"), "2026-12-02T10:00:00+01:00");
    assert.equal(encodeValue(""), "-");
    assert.equal(encodeValue("-"), "%2D");
    assert.equal(encodeValue('a b"%\\é\n'), "a%20b%22%25%5C%C3%A9%0A");
    assert.equal(encodeValue("x".repeat(100)), "x".repeat(64));
    fc.assert(fc.property(fc.string({ unit: "binary" }), (text) => {
      assert.match(encodeValue(text), /^[\x21\x23-\x5b\x5d-\x7e]{1,192}$/);
    }));
  });

  it("the ts of a line is the raw text between its quotes, escapes kept", () => {
    const ts = (line: string): string => {
      const bytes = encoder.encode(line);
      return lineTs(bytes, 0, bytes.length);
    };
    assert.equal(ts('{"ts":"2026-12-02T10:00:00Z","call_id":"a"}'), "2026-12-02T10:00:00Z");
    assert.equal(ts('{"ts":"a\\"b\\\\","x":1}'), "a%5C%22b%5C%5C");
    assert.equal(ts('{"call_id":"a","ts":"x"}'), "-");
    assert.equal(ts('{"ts":""}'), "-");
  });

  it("base64 encodes and decodes every length, and rejects what is not base64", () => {
    fc.assert(fc.property(fc.uint8Array({ maxLength: 100 }), (bytes) => {
      const text = toBase64(bytes);
      assert.equal(text, btoa(String.fromCharCode(...bytes)));
      assert.deepEqual(fromBase64(text), bytes);
    }));
    for (const bad of ["A", "AB=C", "A===", "AB C", "ABC*", "=ABC"]) assert.equal(fromBase64(bad), undefined, bad);
  });

  it("parseCheckpoint names what is wrong with a malformed line", () => {
    const c = JSON.parse(VECTOR_LINE);
    const line = (patch: Record<string, unknown>): string => JSON.stringify({ ...c, ...patch });
    assert.equal(typeof parseCheckpoint(VECTOR_LINE.trimEnd()), "object");
    assert.equal(parseCheckpoint('{"audit_checkpoint":1,'), "it is not JSON");
    assert.equal(parseCheckpoint(line({ audit_checkpoint: 2 })), "audit_checkpoint is not 1");
    assert.equal(parseCheckpoint(line({ origin: "a b" })), "origin is not a name");
    assert.equal(parseCheckpoint(line({ seq: -1 })), "seq is not a non-negative integer");
    assert.equal(parseCheckpoint(line({ seq: 1.5 })), "seq is not a non-negative integer");
    assert.equal(parseCheckpoint(line({ prev: "ab" })), "prev is not 64 lowercase hex digits");
    assert.equal(parseCheckpoint(line({ prev: "1".repeat(64) })), "prev of checkpoint 0 is not zeros");
    assert.equal(parseCheckpoint(line({ seg_lines: 3 })), "its counters contradict each other");
    assert.equal(parseCheckpoint(line({ seg_tags: "AAAA" })), "seg_tags does not hold seg_lines tags");
    assert.equal(parseCheckpoint(line({ gaps: [{ reason: "Q", count: 1 }] })), "a gap is malformed");
    assert.equal(parseCheckpoint(line({ sig: "AAAA" })), "sig is not a signature of its alg");
    assert.equal(parseCheckpoint(line({ line_digests: "" })), "line_digests is present without an in-segment gap");
  });
});
