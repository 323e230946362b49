// Splits a segment's bytes into lines and computes what checkpoints hold per
// line: tags, 16-byte digests, and the `ts` of the first and last line.
import { concatBytes } from "../_bytes.ts";
import { encodeValueBytes, lineTag, sha256Hex } from "./_encoding.ts";
import { hashCore } from "./_hash_core.ts";

const LF = 0x0a;
const core = hashCore();
const TS_PREFIX = [0x7b, 0x22, 0x74, 0x73, 0x22, 0x3a, 0x22]; // {"ts":"

/** The lines of a block of bytes: each line is `[starts[i], ends[i])`, without its newline. */
export interface Lines {
  readonly count: number;
  readonly starts: Uint32Array;
  readonly ends: Uint32Array;
  readonly tags: Uint32Array;
  /** The bytes end without a newline: the last line is torn (it is counted). */
  readonly torn: boolean;
  /**
   * Lines (indices, ascending) that end their file without a newline, in
   * files read back to back (see BackToBack): the newline after each is
   * not in the data.
   */
  readonly unended?: readonly number[];
}

/** Splits `bytes` into lines and tags each; a last line without a newline is included and flagged `torn`. */
export function splitLines(bytes: Uint8Array, expected = 64): Lines {
  let capacity = Math.max(16, expected);
  let starts: Uint32Array = new Uint32Array(capacity);
  let ends: Uint32Array = new Uint32Array(capacity);
  let tags: Uint32Array = new Uint32Array(capacity);
  let count = 0;
  let start = 0;
  const view = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  const push = (end: number): void => {
    if (count === capacity) {
      capacity *= 2;
      starts = grow(starts, capacity);
      ends = grow(ends, capacity);
      tags = grow(tags, capacity);
    }
    starts[count] = start;
    ends[count] = end;
    tags[count++] = lineTag(bytes, start, end, view);
  };
  for (let nl = bytes.indexOf(LF); nl !== -1; nl = bytes.indexOf(LF, start)) {
    push(nl);
    start = nl + 1;
  }
  const torn = start < bytes.length;
  if (torn) push(bytes.length);
  return {
    count,
    starts: starts.subarray(0, count),
    ends: ends.subarray(0, count),
    tags: tags.subarray(0, count),
    torn,
  };
}

function grow(array: Uint32Array, capacity: number): Uint32Array {
  const out = new Uint32Array(capacity);
  out.set(array);
  return out;
}

/** The value-encoded `ts` of the line `bytes[start, end)` (FORMAT.md: the raw bytes between its quotes). */
export function lineTs(bytes: Uint8Array, start: number, end: number): string {
  if (end - start < TS_PREFIX.length) return "-";
  for (let i = 0; i < TS_PREFIX.length; i++) if (bytes[start + i] !== TS_PREFIX[i]) return "-";
  const from = start + TS_PREFIX.length;
  let at = from;
  // The value ends at the first quote a backslash does not escape; past 64 bytes the cut falls anyway.
  const limit = Math.min(end, from + 64);
  while (at < limit && bytes[at] !== 0x22) at += bytes[at] === 0x5c ? 2 : 1;
  return encodeValueBytes(bytes, from, Math.min(at, limit));
}

/** SHA-256 of each line, cut to 16 bytes, concatenated (the sealer's own code). */
export function lineDigests(bytes: Uint8Array<ArrayBuffer>, lines: Lines): Promise<Uint8Array<ArrayBuffer>> {
  return core.digestLines(bytes, lines.count, lines.ends, lines.starts);
}

/** Data lines: their bytes, where each starts, and where its newline is (or the bytes end). */
export interface LineBytes {
  readonly bytes: Uint8Array<ArrayBuffer>;
  readonly starts: Uint32Array;
  readonly ends: Uint32Array;
}

/**
 * SHA-256 of `count` lines from line `from`, newlines included; with
 * `order`, the lines at `order[from]`, `order[from + 1]`, … instead (line
 * indices, a copy made of them).
 */
export function hashLines(lines: LineBytes, from: number, count: number, order?: Uint32Array): Promise<string> {
  const { bytes, starts, ends } = lines;
  const endOf = (i: number): number => Math.min(ends[i]! + 1, bytes.length);
  if (count === 0) return sha256Hex(bytes.subarray(0, 0));
  if (order === undefined) return sha256Hex(bytes.subarray(starts[from]!, endOf(from + count - 1)));
  const parts: Uint8Array[] = [];
  for (let p = from; p < from + count; p++) parts.push(bytes.subarray(starts[order[p]!]!, endOf(order[p]!)));
  return sha256Hex(concatBytes(parts) as Uint8Array<ArrayBuffer>);
}

/**
 * The hashes of data lines read from one place on, each taken once however
 * often it is asked for: a search that tries many line counts, or that reads
 * the same lines again in a larger window, hashes each line once. Every call
 * must give lines of the same data from the same place (the first lines of a
 * window read there; a last line cut short only where the data ends).
 */
export class LineHashes {
  #digests: Promise<Uint8Array<ArrayBuffer>> = Promise.resolve(new Uint8Array(0));
  #count = 0;
  readonly #runs = new Map<string, Promise<string>>();

  /** {@linkcode lineDigests} of the first `count` lines. */
  digests(bytes: Uint8Array<ArrayBuffer>, lines: Lines, count: number): Promise<Uint8Array<ArrayBuffer>> {
    const from = this.#count;
    if (count > from) {
      const before = this.#digests;
      const more = core.digestLines(bytes, count - from, lines.ends.subarray(from, count), lines.starts.subarray(from));
      this.#digests = Promise.all([before, more]).then((parts) => concatBytes(parts) as Uint8Array<ArrayBuffer>);
      this.#count = count;
    }
    return this.#digests.then((all) => all.subarray(0, 16 * count));
  }

  /** {@linkcode hashLines} of `count` lines from line `from`, as they stand. */
  run(lines: LineBytes, from: number, count: number): Promise<string> {
    const key = `${from} ${count}`;
    let sha = this.#runs.get(key);
    if (sha === undefined) this.#runs.set(key, sha = hashLines(lines, from, count));
    return sha;
  }
}
