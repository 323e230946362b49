// Sealed logs for the seal tests: realistic event lines, sealed as a sink
// would seal them (chunks, checkpoints when due), kept line by line so a
// test can tamper with them and know which line it touched; and trails a real
// sink wrote to a destination whose writes failed part way.
import assert from "node:assert/strict";
import { readFileSync } from "node:fs";
import { join } from "node:path";
import { createCallEvent, encodeCallEvent, JsonLinesAuditSink } from "../../mod.ts";
import { AuditSealer, type AuditSealerOptions } from "../../src/seal/audit_sealer.ts";
import {
  type AuditSealKey,
  type AuditVerifyKey,
  importAuditSealKey,
  importAuditVerifyKey,
} from "../../src/seal/audit_seal_key.ts";
import { generateAuditSealKey } from "../../src/seal/generate_audit_seal_key.ts";
import { type AuditSetFinding, type AuditSetSummary, verifyAuditSet } from "../../src/seal/verify_audit_set.ts";
import {
  type AuditTrailFinding,
  type AuditTrailSummary,
  verifyAuditTrail,
  type VerifyAuditTrailOptions,
} from "../../src/seal/verify_audit_trail.ts";
import { numbered, tick } from "../_helpers/events.ts";
import { OrderedDestination, SealStream } from "../sink/_sealed.ts";

const encoder = new TextEncoder();
const decoder = new TextDecoder();

/** A CallEvent line (with its newline), unique per `i` and `salt`. */
export function eventLine(i: number, salt = "call"): string {
  return encodeCallEvent(createCallEvent({
    ts: new Date(Date.UTC(2026, 11, 2, 10) + i * 1000 + (salt.length % 7)).toISOString(),
    call_id: `${salt}-${i.toString().padStart(6, "0")}`,
    tool_id: i % 3 === 0 ? "fs.read" : "ref:echo.say",
    caller_id: "agent-A",
    granted_capabilities: ["read", "write"],
    duration_ms: (i * 37) % 1000,
    outcome: i % 5 === 0 ? { kind: "execution_failed", code: "E42", retryable: true } : { kind: "success" },
    tier: "warm",
  })) + "\n";
}

/** A signing key and the matching verify key. */
export interface Keys {
  readonly seal: AuditSealKey;
  readonly verify: AuditVerifyKey;
}

const cache = new Map<string, Promise<Keys>>();

/** A key pair per algorithm (and name), made once per test file. */
export function keys(algorithm: "Ed25519" | "HMAC-SHA256" = "Ed25519", name = ""): Promise<Keys> {
  const id = `${algorithm}/${name}`;
  if (!cache.has(id)) {
    cache.set(
      id,
      generateAuditSealKey({ algorithm }).then(async (pair) => ({
        seal: await importAuditSealKey(pair.privateJwk),
        verify: await importAuditVerifyKey(pair.publicJwk),
      })),
    );
  }
  return cache.get(id)!;
}

/** A sealed log: segments of lines, each followed by its checkpoint, then unsealed lines. */
export interface Trail {
  /** Segments' data lines (with newlines); an empty one is a heartbeat. */
  readonly segments: readonly (readonly string[])[];
  /** One checkpoint line per segment. */
  readonly checkpoints: readonly string[];
  /** Lines written after the last checkpoint. */
  readonly tail: readonly string[];
}

/** Seals `segments` (line counts; 0 for a heartbeat), then appends `tail` unsealed lines. */
export async function sealTrail(
  key: AuditSealKey,
  plan: readonly number[],
  tail = 0,
  options: AuditSealerOptions & { salt?: string } = {},
): Promise<Trail> {
  const sealer = new AuditSealer(key, { origin: "test.example/audit", ...options });
  const segments: string[][] = [];
  const checkpoints: string[] = [];
  let i = 0;
  for (const count of plan) {
    const lines = Array.from({ length: count }, () => eventLine(i++, options.salt));
    // Hand them over in chunks of up to 3 lines, as a sink batches writes.
    for (let at = 0; at < lines.length; at += 3) {
      const chunk = lines.slice(at, at + 3);
      sealer.append(encoder.encode(chunk.join("")), chunk.length);
    }
    segments.push(lines);
    checkpoints.push(decoder.decode(await sealer.seal()));
  }
  return { segments, checkpoints, tail: Array.from({ length: tail }, () => eventLine(i++, options.salt)) };
}

/** A trail a sealed sink wrote to a destination whose writes failed part way, as on a full disk. */
export interface TornTrail {
  /**
   * What arrived at the destination, line by line (in band, checkpoint lines
   * too): a torn line is the start of an event's line, ended by the newline
   * the next write put first (as fileDestination does).
   */
  readonly data: string[];
  /** The checkpoint lines of the seal stream; `undefined` in band. */
  readonly seal: string[] | undefined;
  /** Lines the sink counted written. */
  readonly written: number;
}

/**
 * Writes events `numbered(0)` to `numbered(count - 1)`, a write each, through
 * a sealed JsonLinesAuditSink with segments of `segment` lines. The write of
 * event `i` in `failures` fails after `failures.get(i)` characters of its line
 * reached the destination (0: none): the sink counts the line failed, and its
 * checkpoint declares it lost in its segment, with per-line digests.
 */
export async function tornTrail(
  key: AuditSealKey,
  failures: ReadonlyMap<number, number>,
  options: { readonly inBand?: boolean; readonly count?: number; readonly segment?: number } = {},
): Promise<TornTrail> {
  const { inBand = false, count = 12, segment = 6 } = options;
  const destination = new OrderedDestination((_write, _lines, first) => {
    const torn = failures.get(Number(/"call_id":"call-(\d+)"/.exec(first)?.[1] ?? -1));
    return torn === undefined ? {} : { deliver: 0, torn };
  });
  const seal = inBand ? undefined : new SealStream();
  const sink = new JsonLinesAuditSink(destination.destination, {
    onError: () => {},
    seal: {
      key,
      origin: "test.example/torn",
      maxSegmentLines: segment,
      ...(seal === undefined ? { inBand: true } : { to: seal.stream }),
    },
  });
  for (let i = 0; i < count; i++) {
    sink.onCall(numbered(i));
    // A write of its own: the next event waits until this one is settled (a checkpoint may be under way).
    for (let turn = 0; turn < 2_000 && sink.stats().written + sink.stats().failed <= i; turn++) await tick();
  }
  await sink.close();
  const { written, failed } = sink.stats();
  // Each failure cost its own line alone: no write held two events.
  assert.deepEqual([written, failed], [count - failures.size, failures.size]);
  return { data: linesOf(destination.text()), seal: seal === undefined ? undefined : seal.lines, written };
}

/** The data stream of a trail sealed with a seal stream: its lines, physical order. */
export function dataLines(trail: Trail): string[] {
  return [...trail.segments.flat(), ...trail.tail];
}

/** The data stream of a trail sealed in band. */
export function inBandLines(trail: Trail): string[] {
  return [...trail.segments.flatMap((lines, i) => [...lines, trail.checkpoints[i]!]), ...trail.tail];
}

/** Verifies lines (and a seal) and collects everything. */
export async function verify(
  data: string | readonly string[],
  options: Omit<VerifyAuditTrailOptions, "seal"> & { seal?: string | readonly string[] | undefined },
): Promise<{ findings: AuditTrailFinding[]; summary: AuditTrailSummary }> {
  const { seal, ...rest } = options;
  const blob = (text: string | readonly string[]): Blob => new Blob(typeof text === "string" ? [text] : [...text]);
  return await verifyAuditTrail(blob(data), { ...rest, ...(seal === undefined ? {} : { seal: blob(seal) }) }).result();
}

/** The lines of `text`, each with its newline. */
export function linesOf(text: string): string[] {
  return text.split(/(?<=\n)/).filter((line) => line !== "");
}

/** Asserts that `text` holds exactly the `expected` lines (each with its newline), in order, naming the first that differs. */
export function assertExactLines(text: string, expected: readonly string[]): void {
  const lines = linesOf(text);
  const wrong = lines.findIndex((line, i) => line !== expected[i]);
  assert.equal(wrong, -1, `line ${wrong + 1} of ${lines.length}: ${lines[wrong]?.slice(0, 200)}`);
  assert.equal(lines.length, expected.length);
}

/** Verifies the files `names` in `dir`, each with its seal file beside it (`<name>.seal`), as one set. */
export async function verifySetIn(
  dir: string,
  names: readonly string[],
  keys: AuditVerifyKey | readonly AuditVerifyKey[],
): Promise<{ findings: AuditSetFinding[]; summary: AuditSetSummary }> {
  const files = names.map((name) => ({
    name,
    data: new Blob([readFileSync(join(dir, name))]),
    seal: new Blob([readFileSync(join(dir, `${name}.seal`))]),
  }));
  return await verifyAuditSet(files, { keys }).result();
}

/** The findings that mean tampering (all but gaps, torn writes, adopted lines and the unsealed tail). */
export function problems(findings: readonly AuditTrailFinding[]): AuditTrailFinding[] {
  return findings.filter((f) => !["gap", "torn_write", "unsealed_tail", "adopted"].includes(f.kind));
}

/** A compact view of findings for assertion messages. */
export function show(findings: readonly AuditTrailFinding[]): string {
  return findings.map((f) => `${f.kind} ${f.line}-${f.lastLine} x${f.count}: ${f.message}`).join("\n");
}

// MurmurHash3's steps can be run backwards (each multiplies by an odd constant, rotates or adds), so an attacker
// can change a line and fix up one 4-byte block so that its line tag stays the same.
const C1 = 0xcc9e2d51;
const C2 = 0x1b873593;
/** The inverse of odd `x` modulo 2^32 (Newton's iteration). */
function inverse(x: number): number {
  let y = x;
  for (let i = 0; i < 5; i++) y = Math.imul(y, 2 - Math.imul(x, y));
  return y;
}
const rotl = (x: number, r: number): number => (x << r) | (x >>> (32 - r));
/** The hash state after the first `blocks` 4-byte blocks of `bytes` (seeded with its length). */
function stateAfter(bytes: Uint8Array, blocks: number): number {
  const view = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  let h = bytes.length;
  for (let b = 0; b < blocks; b++) {
    const k = Math.imul(rotl(Math.imul(view.getUint32(4 * b, true), C1), 15), C2);
    h = (Math.imul(rotl(h ^ k, 13), 5) + 0xe6546b64) | 0;
  }
  return h;
}

/**
 * `line` (with its newline) with 8 bytes of its `ts` value changed: 4 to
 * letters, 4 solved so that the line keeps its line tag (printable ASCII,
 * never `"` or `\`, so the line stays text). Only its SHA-256 tells it apart.
 */
export function forgeKeepingTag(line: string, seed = 1): string {
  const original = encoder.encode(line.slice(0, -1));
  const at = line.indexOf('"ts":"') + 6;
  const block = Math.ceil(at / 4); // the first whole block inside the value, then the next: both in its 25+ characters
  const target = stateAfter(original, block + 2);
  for (let attempt = seed; attempt < seed + 100_000; attempt++) {
    const forged = original.slice();
    for (let i = 0; i < 4; i++) forged[4 * block + i] = 0x61 + ((attempt * 7 + i * 13 + (attempt >> (i * 3))) % 26);
    const before = stateAfter(forged, block + 1);
    // h_after = (rotl(h_before ^ k', 13) * 5 + c), k' = rotl(k * C1, 15) * C2: solve for k.
    const mixed = (rotl(Math.imul((target - 0xe6546b64) | 0, inverse(5)), 19) ^ before) | 0;
    const k = Math.imul(rotl(Math.imul(mixed, inverse(C2)), 17), inverse(C1)) >>> 0;
    const bytes = [k & 0xff, (k >>> 8) & 0xff, (k >>> 16) & 0xff, k >>> 24];
    if (bytes.some((b) => b < 0x20 || b > 0x7e || b === 0x22 || b === 0x5c)) continue;
    forged.set(bytes, 4 * (block + 1));
    return decoder.decode(forged) + "\n";
  }
  throw new Error("no printable forgery found");
}
