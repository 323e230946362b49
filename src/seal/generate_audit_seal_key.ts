import type { AuditSealAlgorithm } from "./audit_checkpoint.ts";
import { type AuditSealJwk, importAuditVerifyKey } from "./audit_seal_key.ts";
import { toBase64Url } from "./_encoding.ts";

/** Options for {@linkcode generateAuditSealKey}. */
export interface GenerateAuditSealKeyOptions {
  /** `"Ed25519"` (anyone with the public key verifies) or `"HMAC-SHA256"` (a shared secret). @default {"Ed25519"} */
  readonly algorithm?: AuditSealAlgorithm;
  /** The key id (printable ASCII without `"`, `%` or `\`, at most 128 bytes). @default {the RFC 7638 thumbprint} */
  readonly keyId?: string;
}

/** A new seal key, as JWKs ready to be written to files. */
export interface AuditSealKeyPair {
  /** The key id, also the `kid` of both JWKs. */
  readonly keyId: string;
  /** The signature algorithm. */
  readonly algorithm: AuditSealAlgorithm;
  /** The key that signs: the Ed25519 private key, or the HMAC secret. Keep it secret. */
  readonly privateJwk: AuditSealJwk;
  /** The key that verifies: the Ed25519 public key; for HMAC, the secret itself (keep it secret too). */
  readonly publicJwk: AuditSealJwk;
}

/** One file `audit keygen` writes. */
export interface AuditSealKeyFile {
  /** The file name: `audit-seal.private.jwk`, `audit-seal.public.jwk` or, for HMAC, `audit-seal.secret.jwk`. */
  readonly name: string;
  /** Its contents: the JWK as indented JSON, with a final newline. */
  readonly text: string;
  /** Whether the file holds a secret (write it readable by its owner only). */
  readonly secret: boolean;
}

/**
 * Generates a key to seal audit trails with: Ed25519 by default, or an
 * HMAC-SHA-256 secret (32 random bytes) for keys that cannot be public.
 *
 * @param options The algorithm and key id.
 * @returns The key id and both JWKs.
 * @throws {TypeError} When `algorithm` or `keyId` is not valid.
 *
 * @example
 * ```ts
 * import { generateAuditSealKey } from "./generate_audit_seal_key.ts";
 * import assert from "node:assert/strict";
 * const pair = await generateAuditSealKey({ keyId: "prod-2026" });
 * assert.equal(pair.publicJwk.kid, "prod-2026");
 * assert.equal(pair.publicJwk.d, undefined);
 * ```
 */
export async function generateAuditSealKey(options: GenerateAuditSealKeyOptions = {}): Promise<AuditSealKeyPair> {
  const algorithm = options.algorithm ?? "Ed25519";
  if (algorithm !== "Ed25519" && algorithm !== "HMAC-SHA256") {
    throw new TypeError(`Cannot generate seal key: algorithm must be "Ed25519" or "HMAC-SHA256", got ${algorithm}`);
  }
  let privateJwk: AuditSealJwk;
  let publicJwk: AuditSealJwk;
  if (algorithm === "Ed25519") {
    const pair = await crypto.subtle.generateKey({ name: "Ed25519" }, true, ["sign", "verify"]) as CryptoKeyPair;
    const exported = await crypto.subtle.exportKey("jwk", pair.privateKey);
    publicJwk = { kty: "OKP", crv: "Ed25519", x: exported.x! };
    privateJwk = { ...publicJwk, d: exported.d! };
  } else {
    privateJwk = publicJwk = { kty: "oct", k: toBase64Url(crypto.getRandomValues(new Uint8Array(32))) };
  }
  // Importing checks the key id and derives the thumbprint when none is given.
  const { keyId } = await importAuditVerifyKey(publicJwk, options.keyId === undefined ? {} : { keyId: options.keyId });
  const alg = algorithm === "Ed25519" ? "EdDSA" : "HS256";
  return {
    keyId,
    algorithm,
    privateJwk: { ...privateJwk, kid: keyId, alg, use: "sig" },
    publicJwk: { ...publicJwk, kid: keyId, alg, use: "sig" },
  };
}

/**
 * The files `audit keygen --out DIR` writes for a key: for Ed25519
 * `audit-seal.private.jwk` (secret) and `audit-seal.public.jwk`; for HMAC
 * `audit-seal.secret.jwk` alone.
 *
 * @param pair A key from {@linkcode generateAuditSealKey}.
 * @returns The files' names and contents.
 *
 * @example
 * ```ts
 * import { auditSealKeyFiles, generateAuditSealKey } from "./generate_audit_seal_key.ts";
 * import assert from "node:assert/strict";
 * const files = auditSealKeyFiles(await generateAuditSealKey());
 * assert.deepEqual(files.map((f) => [f.name, f.secret]), [
 *   ["audit-seal.private.jwk", true],
 *   ["audit-seal.public.jwk", false],
 * ]);
 * ```
 */
export function auditSealKeyFiles(pair: AuditSealKeyPair): AuditSealKeyFile[] {
  const text = (jwk: AuditSealJwk): string => JSON.stringify(jwk, null, 2) + "\n";
  if (pair.algorithm === "HMAC-SHA256") {
    return [{ name: "audit-seal.secret.jwk", text: text(pair.privateJwk), secret: true }];
  }
  return [
    { name: "audit-seal.private.jwk", text: text(pair.privateJwk), secret: true },
    { name: "audit-seal.public.jwk", text: text(pair.publicJwk), secret: false },
  ];
}
