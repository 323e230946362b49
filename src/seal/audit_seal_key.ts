import type { AuditSealAlgorithm } from "./audit_checkpoint.ts";
import { fromBase64Url, isName, toBase64Url } from "./_encoding.ts";

/** A JSON Web Key as `@atd/audit` writes and reads seal keys: Ed25519 (`OKP`) or an HMAC secret (`oct`). */
export interface AuditSealJwk {
  /** `"OKP"` for Ed25519, `"oct"` for an HMAC-SHA-256 secret. */
  readonly kty: "OKP" | "oct";
  /** `"Ed25519"` for an `OKP` key. */
  readonly crv?: "Ed25519";
  /** The Ed25519 public key, base64url. */
  readonly x?: string;
  /** The Ed25519 private key, base64url (private keys only). */
  readonly d?: string;
  /** The HMAC secret, base64url. */
  readonly k?: string;
  /** The key id checkpoints name. */
  readonly kid?: string;
  /** `"EdDSA"` or `"HS256"`. */
  readonly alg?: string;
  /** `"sig"`. */
  readonly use?: string;
}

/**
 * What signs checkpoints. {@linkcode importAuditSealKey} makes one from a JWK;
 * any object of this shape works (a key held by a KMS, for instance).
 */
export interface AuditSealKey {
  /** The id written in each checkpoint (a name: printable ASCII, no `"`, `%` or `\`, at most 128 bytes). */
  readonly keyId: string;
  /** The signature algorithm. */
  readonly algorithm: AuditSealAlgorithm;
  /**
   * Signs a checkpoint's text form.
   *
   * @param message The bytes to sign.
   * @returns The signature: 64 bytes for Ed25519, 32 for HMAC-SHA-256.
   */
  sign(message: Uint8Array<ArrayBuffer>): Promise<Uint8Array>;
}

/** What checks checkpoint signatures; {@linkcode importAuditVerifyKey} makes one from a JWK. */
export interface AuditVerifyKey {
  /** The key id it answers to. */
  readonly keyId: string;
  /** The signature algorithm. */
  readonly algorithm: AuditSealAlgorithm;
  /**
   * Checks a signature.
   *
   * @param message The signed bytes.
   * @param signature The signature.
   * @returns Whether the signature is valid.
   */
  verify(message: Uint8Array<ArrayBuffer>, signature: Uint8Array<ArrayBuffer>): Promise<boolean>;
}

/** Options for {@linkcode importAuditSealKey} and {@linkcode importAuditVerifyKey}. */
export interface ImportAuditSealKeyOptions {
  /** The key id, overriding the JWK's `kid`. @default {the JWK's kid, else its RFC 7638 thumbprint} */
  readonly keyId?: string;
}

const ED25519 = { name: "Ed25519" } as const;
const HMAC = { name: "HMAC", hash: "SHA-256" } as const;
const CHECK = new TextEncoder().encode("audit-seal key check");

interface CheckedJwk {
  readonly algorithm: AuditSealAlgorithm;
  /** The members Web Crypto imports (no `alg`, `use`, `kid`: runtimes disagree on which they accept). */
  readonly publicPart: JsonWebKey;
  readonly privatePart: JsonWebKey | undefined;
  readonly keyId: Promise<string>;
}

/** Checks a JWK's shape and works out its key id. */
function checkJwk(jwk: unknown, options: ImportAuditSealKeyOptions, what: string): CheckedJwk {
  const value = typeof jwk === "string" ? parseJson(jwk, what) : jwk;
  if (typeof value !== "object" || value === null) throw new TypeError(`Cannot import ${what}: expected a JWK object`);
  const j = value as Record<string, unknown>;
  const kid = options.keyId ?? j.kid;
  if (kid !== undefined && !isName(kid, 128)) {
    throw new TypeError(`Cannot import ${what}: key id must be 1 to 128 printable ASCII characters without " % or \\`);
  }
  if (j.kty === "OKP" && j.crv === "Ed25519") {
    if (typeof j.x !== "string" || fromBase64Url(j.x)?.length !== 32) {
      throw new TypeError(`Cannot import ${what}: x must be a 32-byte base64url Ed25519 public key`);
    }
    if (j.d !== undefined && (typeof j.d !== "string" || fromBase64Url(j.d)?.length !== 32)) {
      throw new TypeError(`Cannot import ${what}: d must be a 32-byte base64url Ed25519 private key`);
    }
    const publicPart = { kty: "OKP", crv: "Ed25519", x: j.x };
    return {
      algorithm: "Ed25519",
      publicPart,
      privatePart: j.d === undefined ? undefined : { ...publicPart, d: j.d as string },
      keyId: kid === undefined ? thumbprint(`{"crv":"Ed25519","kty":"OKP","x":"${j.x}"}`) : Promise.resolve(kid),
    };
  }
  if (j.kty === "oct") {
    const secret = typeof j.k === "string" ? fromBase64Url(j.k) : undefined;
    if (secret === undefined) throw new TypeError(`Cannot import ${what}: k must be a base64url HMAC secret`);
    if (secret.length < 32) {
      throw new RangeError(`Cannot import ${what}: an HMAC secret must be at least 32 bytes, got ${secret.length}`);
    }
    const part = { kty: "oct", k: j.k as string };
    return {
      algorithm: "HMAC-SHA256",
      publicPart: part,
      privatePart: part,
      keyId: kid === undefined ? thumbprint(`{"k":"${j.k}","kty":"oct"}`) : Promise.resolve(kid),
    };
  }
  throw new TypeError(`Cannot import ${what}: expected an Ed25519 (kty OKP, crv Ed25519) or HMAC (kty oct) JWK`);
}

function parseJson(text: string, what: string): unknown {
  try {
    return JSON.parse(text);
  } catch {
    throw new TypeError(`Cannot import ${what}: the text is not JSON`);
  }
}

async function thumbprint(canonical: string): Promise<string> {
  return toBase64Url(new Uint8Array(await crypto.subtle.digest("SHA-256", new TextEncoder().encode(canonical))));
}

/**
 * Imports a private Ed25519 JWK or an HMAC secret JWK as the key that signs
 * checkpoints. A private Ed25519 key is checked against its public half.
 *
 * @param jwk The JWK, as an object or JSON text (such as the contents of `audit-seal.private.jwk`).
 * @param options The key id, if not the JWK's own.
 * @returns The signing key.
 * @throws {TypeError} When `jwk` is not an Ed25519 private JWK or an HMAC JWK, or its halves do not match.
 * @throws {RangeError} When an HMAC secret is shorter than 32 bytes.
 *
 * @example
 * ```ts
 * import { importAuditSealKey } from "./audit_seal_key.ts";
 * import { generateAuditSealKey } from "./generate_audit_seal_key.ts";
 * import assert from "node:assert/strict";
 * const pair = await generateAuditSealKey();
 * const key = await importAuditSealKey(pair.privateJwk);
 * assert.equal(key.keyId, pair.keyId);
 * ```
 */
export async function importAuditSealKey(
  jwk: unknown,
  options: ImportAuditSealKeyOptions = {},
): Promise<AuditSealKey> {
  const checked = checkJwk(jwk, options, "seal key");
  if (checked.privatePart === undefined) {
    throw new TypeError("Cannot import seal key: an Ed25519 JWK needs its private part d to sign");
  }
  const keyId = await checked.keyId;
  if (checked.algorithm === "HMAC-SHA256") {
    const key = await crypto.subtle.importKey("jwk", checked.privatePart, HMAC, false, ["sign"]);
    return {
      keyId,
      algorithm: "HMAC-SHA256",
      sign: async (m) => new Uint8Array(await crypto.subtle.sign(HMAC, key, m)),
    };
  }
  const mismatch = "Cannot import seal key: its private part d does not match its public part x";
  // Some runtimes check the pair on import; the others are checked below by signing.
  const key = await crypto.subtle.importKey("jwk", checked.privatePart, ED25519, false, ["sign"]).catch((cause) => {
    throw new TypeError(mismatch, { cause });
  });
  const sign = async (m: Uint8Array<ArrayBuffer>): Promise<Uint8Array<ArrayBuffer>> =>
    new Uint8Array(await crypto.subtle.sign(ED25519, key, m));
  const publicKey = await crypto.subtle.importKey("jwk", checked.publicPart, ED25519, false, ["verify"]);
  if (!await crypto.subtle.verify(ED25519, publicKey, await sign(CHECK), CHECK)) {
    throw new TypeError(mismatch);
  }
  return { keyId, algorithm: "Ed25519", sign };
}

/**
 * Imports the key that checks checkpoint signatures: an Ed25519 public JWK, or
 * the HMAC secret JWK that signed. A private Ed25519 JWK is accepted too, and
 * only its public part (`x`) is imported, so the key returned cannot sign; but
 * verifiers should be handed the public key, as whoever holds the private one
 * can seal anything (`audit verify` warns of a private key). An HMAC secret
 * is both, by nature.
 *
 * @param jwk The JWK, as an object or JSON text (such as the contents of `audit-seal.public.jwk`).
 * @param options The key id, if not the JWK's own.
 * @returns The verifying key.
 * @throws {TypeError} When `jwk` is not an Ed25519 or HMAC JWK.
 * @throws {RangeError} When an HMAC secret is shorter than 32 bytes.
 *
 * @example
 * ```ts
 * import { importAuditVerifyKey } from "./audit_seal_key.ts";
 * import { generateAuditSealKey } from "./generate_audit_seal_key.ts";
 * import assert from "node:assert/strict";
 * const pair = await generateAuditSealKey();
 * const key = await importAuditVerifyKey(JSON.stringify(pair.publicJwk));
 * assert.equal(key.algorithm, "Ed25519");
 * ```
 */
export async function importAuditVerifyKey(
  jwk: unknown,
  options: ImportAuditSealKeyOptions = {},
): Promise<AuditVerifyKey> {
  const checked = checkJwk(jwk, options, "verify key");
  const keyId = await checked.keyId;
  const algorithm = checked.algorithm === "Ed25519" ? ED25519 : HMAC;
  const key = await crypto.subtle.importKey("jwk", checked.publicPart, algorithm, false, ["verify"]).catch((cause) => {
    throw new TypeError("Cannot import verify key: the runtime rejects it as a key of its kind", { cause });
  });
  return {
    keyId,
    algorithm: checked.algorithm,
    verify: (message, signature) => crypto.subtle.verify(algorithm, key, signature, message),
  };
}
