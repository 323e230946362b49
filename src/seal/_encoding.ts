// The byte-level pieces of the checkpoint format (FORMAT.md): hex, base64,
// value encoding, names, line tags and SHA-256.
import { hashCore } from "./_hash_core.ts";

/** The bytes every checkpoint line starts with. */
export const CHECKPOINT_PREFIX = '{"audit_checkpoint":';
/** `prev` of a log's first checkpoint. */
export const ZERO_HASH = "0".repeat(64);
/** Source bytes a value keeps. */
const VALUE_SOURCE_BYTES = 64;
const HEX = Array.from({ length: 256 }, (_, i) => i.toString(16).padStart(2, "0"));
const encoder = new TextEncoder();

const core = hashCore();

/** SHA-256 of `bytes`, in lowercase hex. */
export function sha256Hex(bytes: Uint8Array<ArrayBuffer>): Promise<string> {
  return core.sha256Hex(bytes);
}

const ALPHABET = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
const DECODE = new Uint8Array(128).fill(255);
for (let i = 0; i < 64; i++) DECODE[ALPHABET.charCodeAt(i)] = i;

/** Standard base64 with padding. */
export function toBase64(bytes: Uint8Array): string {
  return core.toBase64(bytes);
}

/**
 * Decodes standard base64 with padding; `undefined` when `text` is not base64,
 * or (with `canonical`, as checkpoints are read) when bits the padding leaves
 * over are not zero.
 */
export function fromBase64(text: string, canonical = true): Uint8Array<ArrayBuffer> | undefined {
  if (text.length % 4 !== 0) return undefined;
  const pad = text.endsWith("==") ? 2 : text.endsWith("=") ? 1 : 0;
  const out = new Uint8Array((text.length / 4) * 3 - pad);
  let at = 0;
  for (let i = 0; i < text.length; i += 4) {
    const a = DECODE[text.charCodeAt(i)] ?? 255;
    const b = DECODE[text.charCodeAt(i + 1)] ?? 255;
    const last = i + 4 === text.length;
    const c = last && pad === 2 ? 0 : DECODE[text.charCodeAt(i + 2)] ?? 255;
    const d = last && pad >= 1 ? 0 : DECODE[text.charCodeAt(i + 3)] ?? 255;
    if ((a | b | c | d) > 63) return undefined;
    // Bits the padding leaves over must be zero (RFC 4648 §3.5): else one value has several spellings.
    if (canonical && last && ((pad === 2 && (b & 15) !== 0) || (pad === 1 && (c & 3) !== 0))) return undefined;
    const n = (a << 18) | (b << 12) | (c << 6) | d;
    out[at++] = n >>> 16;
    if (at < out.length) out[at++] = (n >>> 8) & 255;
    if (at < out.length) out[at++] = n & 255;
  }
  return out;
}

/** Base64url without padding (RFC 7515), as JWK members are written. */
export function toBase64Url(bytes: Uint8Array): string {
  return toBase64(bytes).replace(/=+$/, "").replace(/\+/g, "-").replace(/\//g, "_");
}

/** Decodes base64url without padding; `undefined` when malformed. */
export function fromBase64Url(text: string): Uint8Array<ArrayBuffer> | undefined {
  if (!/^[A-Za-z0-9_-]*$/.test(text) || text.length % 4 === 1) return undefined;
  const padded = text.replace(/-/g, "+").replace(/_/g, "/") + "==".slice(0, (4 - (text.length % 4)) % 4);
  return fromBase64(padded, false); // JWK members (keys from other tools): trailing bits ignored, as before
}

function isPlain(byte: number): boolean {
  return byte >= 0x21 && byte <= 0x7e && byte !== 0x22 && byte !== 0x25 && byte !== 0x5c;
}

/** Value-encodes the first 64 bytes of `bytes[start, end)` (FORMAT.md "value encoding"). */
export function encodeValueBytes(bytes: Uint8Array, start = 0, end = bytes.length): string {
  const stop = Math.min(end, start + VALUE_SOURCE_BYTES);
  let s = "";
  for (let i = start; i < stop; i++) {
    const byte = bytes[i]!;
    s += isPlain(byte) ? String.fromCharCode(byte) : `%${HEX[byte]!.toUpperCase()}`;
  }
  return s === "" ? "-" : s === "-" ? "%2D" : s;
}

/** Value-encodes a string given by the writer (a time). */
export function encodeValue(text: string): string {
  return encodeValueBytes(encoder.encode(text));
}

const NAME = /^[\x21\x23-\x24\x26-\x5b\x5d-\x7e]+$/;
const VALUE = /^[\x21\x23-\x5b\x5d-\x7e]+$/;

/** Whether `text` is a _name_ of at most `max` bytes. */
export function isName(text: unknown, max: number): text is string {
  return typeof text === "string" && text.length <= max && NAME.test(text);
}

/** Whether `text` is a well-formed encoded _value_. */
export function isValue(text: unknown): text is string {
  return typeof text === "string" && text.length <= 3 * VALUE_SOURCE_BYTES && VALUE.test(text);
}

/** Whether `text` is a gap reason. */
export function isReason(text: unknown): text is string {
  return typeof text === "string" && /^[a-z0-9_]{1,32}$/.test(text);
}

/** Whether `text` is 64 lowercase hex digits. */
export function isHash(text: unknown): text is string {
  return typeof text === "string" && /^[0-9a-f]{64}$/.test(text);
}

/** Whether `value` is a non-negative safe integer. */
export function isCount(value: unknown): value is number {
  return typeof value === "number" && Number.isSafeInteger(value) && value >= 0;
}

/**
 * The tag of the line `bytes[start, end)` (without its newline): MurmurHash3_x86_32
 * of it, seeded with its length. `view` is a DataView over `bytes` (pass one
 * made once for many lines).
 */
export function lineTag(
  bytes: Uint8Array,
  start: number,
  end: number,
  view: DataView = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength),
): number {
  return core.lineTag(bytes, start, end, view);
}
