// What sealing computes per line and per segment: line tags (FORMAT.md "Line
// tags"), the segment's SHA-256 and the per-line digests. `hashCore` is
// self-contained (it uses only its own locals and the runtime's globals) so
// that the hashing worker runs the very same code, from its source text:
// what the main thread and the worker compute cannot drift apart.

/**
 * A segment split into lines, tagged and hashed: what its checkpoint needs,
 * made where the hashing happens (the main thread then has no per-line work).
 */
export interface SegmentHash {
  /** Lines, a torn last one included. */
  readonly count: number;
  /** Offset of each line's newline (for a torn last line, the segment's length). */
  readonly ends: Uint32Array;
  /** The lines' tags, 4 bytes each, big-endian, in base64 (the checkpoint's `seg_tags`). */
  readonly tags: string;
  /** SHA-256 of those tag bytes, lowercase hex (the text form's `seg_tags_sha256`). */
  readonly tagsSha: string;
  /** The segment does not end with a newline. */
  readonly torn: boolean;
  /** SHA-256 of the segment, lowercase hex. */
  readonly sha: string;
  /** SHA-256 of each line cut to 16 bytes, when asked for. */
  readonly digests: Uint8Array<ArrayBuffer> | undefined;
  /** Lines of it done ahead (`done`) and gone on from: 0 when it started over. */
  readonly ahead?: number;
}

/** The functions of {@linkcode hashCore}. */
export interface HashCore {
  /** MurmurHash3_x86_32 of `bytes[start, end)` seeded with its length; `view` is a DataView over `bytes`. */
  lineTag(bytes: Uint8Array, start: number, end: number, view: DataView): number;
  /** Standard base64 with padding (the runtime's encoder where it has one). */
  toBase64(bytes: Uint8Array): string;
  /** SHA-256, lowercase hex. */
  sha256Hex(bytes: Uint8Array<ArrayBuffer>): Promise<string>;
  /**
   * Splits `bytes` into lines (using `ends`, the newlines' offsets, when
   * known), tags each, and hashes the whole and (with `digests`) each line.
   * With `done` (and `ends`), the part of that work done already, as
   * {@linkcode HashCore.tagLines} and an incremental SHA-256 did it, goes on
   * from there.
   */
  hashSegment(
    bytes: Uint8Array<ArrayBuffer>,
    ends: Uint32Array | undefined,
    digests: boolean,
    done?: HashedPart,
  ): Promise<SegmentHash>;
  /** Tags lines `[first, last)` of `bytes` (line `i` ends at `ends[i]`) into `tags`, 4 bytes a line from `4 * first`. */
  tagLines(bytes: Uint8Array, ends: Uint32Array, first: number, last: number, tags: Uint8Array): void;
  /**
   * SHA-256 of each of the first `count` lines, cut to 16 bytes, concatenated; line `i` ends at `ends[i]` and
   * starts at `starts[i]`, or (without `starts`) right after the line before's newline.
   */
  digestLines(
    bytes: Uint8Array<ArrayBuffer>,
    count: number,
    ends: Uint32Array,
    starts?: Uint32Array,
  ): Promise<Uint8Array<ArrayBuffer>>;
}

/** An incremental SHA-256 (`node:crypto`'s `Hash`). */
export interface IncrementalSha256 {
  update(bytes: Uint8Array): unknown;
  digest(): Uint8Array;
}

/** The first lines of a segment, tagged and hashed ahead of the rest (by the hashing worker, as they come). */
export interface HashedPart {
  /** Lines done. */
  readonly lines: number;
  /** Bytes done: the lines' (the last one's newline included). */
  readonly bytes: number;
  /** Their tags, 4 bytes a line (a buffer that may hold more). */
  readonly tags: Uint8Array;
  /** SHA-256 of the bytes done, to go on with. */
  readonly sha: IncrementalSha256;
}

/** A SHA-256 other than Web Crypto's (the worker's `node:crypto`, which hashes in place, without a copy). */
export type Sha256 = (bytes: Uint8Array) => Uint8Array;

/**
 * Builds the hashing functions, with `sha256` when given (else Web Crypto's).
 * Must stay self-contained: the worker is started with `(${hashCore})(…)`.
 */
export function hashCore(fastSha256?: Sha256): HashCore {
  const LF = 0x0a;
  const DIGEST_BATCH = 1024;
  const HEX: string[] = [];
  for (let i = 0; i < 256; i++) HEX.push((i < 16 ? "0" : "") + i.toString(16));
  const CODES = Uint8Array.from(
    "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/",
    (c) => c.charCodeAt(0),
  );
  const ascii = new TextDecoder();
  // The runtime's own encoder (V8 15 and JavaScriptCore have it; Node 20 does not).
  const nativeBase64 = (Uint8Array.prototype as { toBase64?: (this: Uint8Array) => string }).toBase64;

  // A checkpoint holds 4 bytes a line of tags: building a binary string for `btoa` cost up to 0.8 µs a line on
  // Node, this table about 0.02 (and the native encoder, where there is one, less).
  function toBase64(bytes: Uint8Array): string {
    if (nativeBase64 !== undefined) return nativeBase64.call(bytes);
    const n = bytes.length;
    const out = new Uint8Array(Math.ceil(n / 3) * 4);
    let o = 0;
    let i = 0;
    for (; i + 3 <= n; i += 3, o += 4) {
      const v = (bytes[i]! << 16) | (bytes[i + 1]! << 8) | bytes[i + 2]!;
      out[o] = CODES[v >>> 18]!;
      out[o + 1] = CODES[(v >>> 12) & 63]!;
      out[o + 2] = CODES[(v >>> 6) & 63]!;
      out[o + 3] = CODES[v & 63]!;
    }
    if (i < n) {
      const two = i + 1 < n;
      const v = (bytes[i]! << 16) | ((two ? bytes[i + 1]! : 0) << 8);
      out[o] = CODES[v >>> 18]!;
      out[o + 1] = CODES[(v >>> 12) & 63]!;
      out[o + 2] = two ? CODES[(v >>> 6) & 63]! : 0x3d;
      out[o + 3] = 0x3d;
    }
    return ascii.decode(out);
  }

  function lineTag(b: Uint8Array, start: number, end: number, view: DataView): number {
    const length = end - start;
    let h = length;
    let i = start;
    for (; i + 4 <= end; i += 4) {
      // One unaligned little-endian read: about twice as fast in V8 as four byte reads.
      let k = view.getUint32(i, true);
      k = Math.imul(k, 0xcc9e2d51);
      k = (k << 15) | (k >>> 17);
      h ^= Math.imul(k, 0x1b873593);
      h = (h << 13) | (h >>> 19);
      h = (Math.imul(h, 5) + 0xe6546b64) | 0;
    }
    const rest = end - i;
    if (rest > 0) {
      let k = b[i]!;
      if (rest > 1) k |= b[i + 1]! << 8;
      if (rest > 2) k |= b[i + 2]! << 16;
      k = Math.imul(k, 0xcc9e2d51);
      k = (k << 15) | (k >>> 17);
      h ^= Math.imul(k, 0x1b873593);
    }
    h ^= length;
    h ^= h >>> 16;
    h = Math.imul(h, 0x85ebca6b);
    h ^= h >>> 13;
    h = Math.imul(h, 0xc2b2ae35);
    h ^= h >>> 16;
    return h >>> 0;
  }

  function newlines(bytes: Uint8Array): { ends: Uint32Array; torn: boolean } {
    let count = 0;
    for (let i = bytes.indexOf(LF); i !== -1; i = bytes.indexOf(LF, i + 1)) count++;
    const torn = bytes.length > 0 && bytes[bytes.length - 1] !== LF;
    const ends = new Uint32Array(count + (torn ? 1 : 0));
    let k = 0;
    for (let i = bytes.indexOf(LF); i !== -1; i = bytes.indexOf(LF, i + 1)) ends[k++] = i;
    if (torn) ends[k] = bytes.length;
    return { ends, torn };
  }

  async function sha256(bytes: Uint8Array<ArrayBuffer>): Promise<Uint8Array> {
    if (fastSha256 !== undefined) return fastSha256(bytes);
    return new Uint8Array(await crypto.subtle.digest("SHA-256", bytes));
  }

  function hex(bytes: Uint8Array): string {
    let out = "";
    for (const byte of bytes) out += HEX[byte];
    return out;
  }

  /** The SHA-256 of what `sha` was given, and `rest`, lowercase hex. */
  function goOn(sha: IncrementalSha256, rest: Uint8Array): string {
    sha.update(rest);
    return hex(sha.digest());
  }

  async function sha256Hex(bytes: Uint8Array<ArrayBuffer>): Promise<string> {
    return hex(await sha256(bytes));
  }

  async function digestLines(
    bytes: Uint8Array<ArrayBuffer>,
    count: number,
    ends: Uint32Array,
    starts?: Uint32Array,
  ): Promise<Uint8Array<ArrayBuffer>> {
    const out = new Uint8Array(16 * count);
    // In batches: Web Crypto slows down with a promise for every line at once (Deno: ten times, at 262,144 lines).
    for (let first = 0; first < count; first += DIGEST_BATCH) {
      const each: Promise<Uint8Array>[] = [];
      for (let i = first; i < Math.min(count, first + DIGEST_BATCH); i++) {
        const start = starts === undefined ? (i === 0 ? 0 : ends[i - 1]! + 1) : starts[i]!;
        each.push(sha256(bytes.subarray(start, ends[i]!)));
      }
      (await Promise.all(each)).forEach((digest, k) => out.set(digest.subarray(0, 16), 16 * (first + k)));
    }
    return out;
  }

  function tagLines(bytes: Uint8Array, ends: Uint32Array, first: number, last: number, tagBytes: Uint8Array): void {
    const tags = new DataView(tagBytes.buffer, tagBytes.byteOffset, tagBytes.byteLength);
    const view = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
    let start = first === 0 ? 0 : ends[first - 1]! + 1;
    for (let i = first; i < last; i++) {
      tags.setUint32(4 * i, lineTag(bytes, start, ends[i]!, view));
      start = ends[i]! + 1;
    }
  }

  async function hashSegment(
    bytes: Uint8Array<ArrayBuffer>,
    known: Uint32Array | undefined,
    digests: boolean,
    done?: HashedPart,
  ): Promise<SegmentHash> {
    const resume = done !== undefined && known !== undefined && done.lines <= known.length &&
      done.bytes === (done.lines === 0 ? 0 : known[done.lines - 1]! + 1);
    // Started first: where the runtime hashes on another thread, it overlaps the tags.
    const sha = resume ? Promise.resolve(goOn(done.sha, bytes.subarray(done.bytes))) : sha256Hex(bytes);
    sha.catch(() => {});
    const { ends, torn } = known === undefined ? newlines(bytes) : { ends: known, torn: false };
    const count = ends.length;
    const tagBytes = new Uint8Array(4 * count);
    const first = resume ? done.lines : 0;
    if (resume) tagBytes.set(done.tags.subarray(0, 4 * first));
    tagLines(bytes, ends, first, count, tagBytes);
    const tagsSha = sha256Hex(tagBytes);
    tagsSha.catch(() => {});
    const lineDigests = digests ? await digestLines(bytes, count, ends) : undefined;
    return {
      count,
      ends,
      tags: toBase64(tagBytes),
      tagsSha: await tagsSha,
      torn,
      sha: await sha,
      digests: lineDigests,
      ahead: first,
    };
  }

  return { lineTag, toBase64, sha256Hex, hashSegment, tagLines, digestLines };
}
