import { describe, it } from "node:test";
import assert from "node:assert/strict";
import { importAuditSealKey, importAuditVerifyKey } from "../../src/seal/audit_seal_key.ts";
import { auditSealKeyFiles, generateAuditSealKey } from "../../src/seal/generate_audit_seal_key.ts";

const encoder = new TextEncoder();
const message = encoder.encode("audit-checkpoint/1\norigin x\n");

async function thumbprint(canonical: string): Promise<string> {
  const digest = new Uint8Array(await crypto.subtle.digest("SHA-256", encoder.encode(canonical)));
  return btoa(String.fromCharCode(...digest)).replace(/=+$/, "").replace(/\+/g, "-").replace(/\//g, "_");
}

describe("generateAuditSealKey", () => {
  it("makes an Ed25519 pair whose key id is the RFC 7638 thumbprint of the public key", async () => {
    const pair = await generateAuditSealKey();
    assert.equal(pair.algorithm, "Ed25519");
    assert.equal(pair.keyId, await thumbprint(`{"crv":"Ed25519","kty":"OKP","x":"${pair.publicJwk.x}"}`));
    assert.deepEqual(Object.keys(pair.publicJwk).sort(), ["alg", "crv", "kid", "kty", "use", "x"]);
    assert.equal(pair.privateJwk.x, pair.publicJwk.x);
    assert.equal(typeof pair.privateJwk.d, "string");
    assert.equal(pair.publicJwk.kid, pair.keyId);
  });

  it("signs with the private JWK and verifies with the public one", async () => {
    const pair = await generateAuditSealKey();
    const seal = await importAuditSealKey(pair.privateJwk);
    const verify = await importAuditVerifyKey(pair.publicJwk);
    const sig = new Uint8Array(await seal.sign(message));
    assert.equal(sig.length, 64);
    assert.equal(await verify.verify(message, sig), true);
    sig[0]! ^= 1;
    assert.equal(await verify.verify(message, sig), false);
    const other = await importAuditVerifyKey((await generateAuditSealKey()).publicJwk);
    assert.equal(await other.verify(message, new Uint8Array(await seal.sign(message))), false);
  });

  it("makes a 32-byte HMAC secret that signs and verifies, written to one secret file", async () => {
    const pair = await generateAuditSealKey({ algorithm: "HMAC-SHA256", keyId: "shared-1" });
    assert.equal(pair.keyId, "shared-1");
    assert.equal(atob(pair.privateJwk.k!.replace(/-/g, "+").replace(/_/g, "/") + "=").length, 32);
    const sig = new Uint8Array(await (await importAuditSealKey(pair.privateJwk)).sign(message));
    assert.equal(sig.length, 32);
    assert.equal(await (await importAuditVerifyKey(pair.publicJwk)).verify(message, sig), true);
    assert.deepEqual(auditSealKeyFiles(pair).map((f) => [f.name, f.secret]), [["audit-seal.secret.jwk", true]]);
  });

  it("auditSealKeyFiles writes both JWKs as JSON files that import back", async () => {
    const pair = await generateAuditSealKey({ keyId: "prod-2026" });
    const files = auditSealKeyFiles(pair);
    assert.deepEqual(files.map((f) => [f.name, f.secret]), [
      ["audit-seal.private.jwk", true],
      ["audit-seal.public.jwk", false],
    ]);
    for (const file of files) assert.ok(file.text.endsWith("}\n"));
    assert.deepEqual(JSON.parse(files[1]!.text), pair.publicJwk);
    assert.equal(files[1]!.text.includes(pair.privateJwk.d!), false);
    const seal = await importAuditSealKey(files[0]!.text);
    const verify = await importAuditVerifyKey(files[1]!.text);
    assert.equal(seal.keyId, "prod-2026");
    assert.equal(await verify.verify(message, new Uint8Array(await seal.sign(message))), true);
  });

  it("rejects an unknown algorithm or a key id that is not a name", async () => {
    await assert.rejects(generateAuditSealKey({ algorithm: "RSA" as "Ed25519" }), TypeError);
    await assert.rejects(generateAuditSealKey({ keyId: "has space" }), TypeError);
    await assert.rejects(generateAuditSealKey({ keyId: 'quote"' }), TypeError);
    await assert.rejects(generateAuditSealKey({ keyId: "x".repeat(129) }), TypeError);
  });
});

describe("importAuditSealKey", () => {
  it("refuses a public key, a private key that does not match its public half, and malformed JWKs", async () => {
    const pair = await generateAuditSealKey();
    const other = await generateAuditSealKey();
    await assert.rejects(importAuditSealKey(pair.publicJwk), /needs its private part d/);
    await assert.rejects(importAuditSealKey({ ...pair.privateJwk, x: other.publicJwk.x }), /does not match/);
    await assert.rejects(importAuditSealKey({ ...pair.privateJwk, d: "AAAA" }), TypeError);
    await assert.rejects(importAuditSealKey({ kty: "RSA" }), TypeError);
    await assert.rejects(importAuditSealKey(null), TypeError);
    await assert.rejects(importAuditSealKey("{not json"), /not JSON/);
    await assert.rejects(importAuditSealKey({ kty: "oct", k: "c2hvcnQ" }), RangeError);
    await assert.rejects(importAuditSealKey({ kty: "oct", k: "!!!" }), TypeError);
  });

  it("takes the key id from the options, else the JWK's kid, else the thumbprint", async () => {
    const pair = await generateAuditSealKey({ keyId: "from-jwk" });
    assert.equal((await importAuditSealKey(pair.privateJwk)).keyId, "from-jwk");
    assert.equal((await importAuditSealKey(pair.privateJwk, { keyId: "override" })).keyId, "override");
    const { kid: _, ...bare } = pair.privateJwk;
    const thumb = await thumbprint(`{"crv":"Ed25519","kty":"OKP","x":"${pair.publicJwk.x}"}`);
    assert.equal((await importAuditSealKey(bare)).keyId, thumb);
    assert.equal((await importAuditVerifyKey(bare)).keyId, thumb);
  });
});

describe("importAuditVerifyKey", () => {
  it("accepts the private JWK too, using only its public half", async () => {
    const pair = await generateAuditSealKey();
    const verify = await importAuditVerifyKey(pair.privateJwk);
    const sig = new Uint8Array(await (await importAuditSealKey(pair.privateJwk)).sign(message));
    assert.equal(await verify.verify(message, sig), true);
    assert.equal(verify.keyId, pair.keyId);
  });

  it("rejects JWKs of the wrong shape", async () => {
    await assert.rejects(importAuditVerifyKey({ kty: "OKP", crv: "X25519", x: "AAAA" }), TypeError);
    await assert.rejects(importAuditVerifyKey({ kty: "OKP", crv: "Ed25519", x: "AAAA" }), /32-byte/);
    await assert.rejects(importAuditVerifyKey(42), TypeError);
  });
});
