// The bytes of a segment waiting to be sealed, in a buffer that is reused
// once its checkpoint is made. Holding the chunks themselves instead keeps
// every chunk alive past the garbage collector's young generation (a segment
// lives for milliseconds, many scavenges): on Node that promotion cost more
// than hashing the bytes. The buffers are shared memory where the runtime has
// it, so that the hashing worker reads them without a copy; there, each
// AHEAD_BYTES of whole lines is sent ahead to the worker as it comes (see
// src/seal/_hasher.ts), so that sealing the segment leaves it little to do.
//
// A chunk is copied in, unless it was encoded in place: for this library's
// file destinations, the sink's queue encodes a write's lines straight into
// the open segment's free space (`spare`), and the destination writes that
// view of it. Such a view must never reach anyone else's stream, and its
// buffer is reused only once every line in it was settled (written or
// failed: the destination is done with it), which sealing waits for anyway,
// except where a stream boundary split a segment (`splitInto`): that buffer
// is not reused.
import { sendAhead } from "../seal/_hasher.ts";

/** Buffers kept for reuse, at most: a segment filling, one settling, one hashing. */
const POOLED = 3;
/** Smallest buffer made. */
const MIN_BYTES = 64 * 1024;
/** Bytes a line a new buffer is made for (with at least MIN_BYTES): typical event lines are 0.3-1 KB. */
const LINE_BYTES = 2048;
/** Largest unshared buffer made at first (a Worker's isolate counts all of it); a larger segment grows it. */
const START_BYTES = 2 * 1024 * 1024;
const SHARED = typeof SharedArrayBuffer === "function";
/**
 * Bytes of a segment sent ahead to the hashing worker at a time: less sends
 * more messages (about 40 µs of the main thread each, Deno), more hashes
 * bytes that have left the caches (bench/README.md, thirteenth session).
 */
const AHEAD_BYTES = 512 * 1024;

/** Chunks a segment took as encoded in place, and chunks it copied (for tests and benchmarks). */
export const segmentCounts: { inPlace: number; copied: number } = { inPlace: 0, copied: 0 };

/** Bytes the hashing worker can read in place (shared memory), where there is any. */
function buffer(bytes: number): ArrayBufferLike {
  return SHARED ? new SharedArrayBuffer(bytes) : new ArrayBuffer(bytes);
}

/** One segment's bytes and the offset of each line's newline. */
export class SegmentBytes {
  #bytes: Uint8Array;
  #ends: Uint32Array;
  #length = 0;
  #lines = 0;
  /** Every chunk came with its line ends. */
  #known = true;
  /** Whether the segment is still sent ahead (while every line end is known), and how much of it was. */
  #ahead = SHARED;
  #sent = 0;
  #sentLines = 0;
  /** Whether the buffer may take another segment once this one is sealed (not after a split). */
  #reusable = true;

  constructor(bytes: number, lines: number) {
    this.#bytes = new Uint8Array(buffer(bytes));
    // Unshared: the hashing worker is sent a piece's line ends with the piece (see #sendAhead).
    this.#ends = new Uint32Array(lines);
  }

  get length(): number {
    return this.#length;
  }

  get lines(): number {
    return this.#lines;
  }

  /**
   * The buffer's free space after the segment's bytes, to encode the next
   * chunk into, when it has at least `bytes` of it (and is shared memory:
   * an unshared one may be moved to the hashing worker).
   */
  spare(bytes: number): Uint8Array | undefined {
    if (!SHARED || this.#bytes.length - this.#length < bytes) return undefined;
    return this.#bytes.subarray(this.#length);
  }

  /**
   * Adds a chunk of `lines` whole lines; `ends` are its newlines' offsets, if
   * known. A chunk encoded in place (into {@linkcode SegmentBytes.spare}) is
   * taken as it is; any other is copied in.
   *
   * @returns The bytes to write: the chunk, or, for a chunk in some segment's
   *   buffer but not in place, its copy here (a buffer is reused only once
   *   the lines written from it are settled).
   */
  append(chunk: Uint8Array, lines: number, ends: Uint32Array | undefined): Uint8Array {
    const base = this.#length;
    let bytes = chunk;
    if (chunk.buffer === this.#bytes.buffer && chunk.byteOffset === base) segmentCounts.inPlace++;
    else {
      segmentCounts.copied++;
      if (base + chunk.length > this.#bytes.length) {
        const grown = new Uint8Array(buffer(Math.max(2 * this.#bytes.length, base + chunk.length)));
        grown.set(this.#bytes.subarray(0, base));
        this.#bytes = grown;
        this.#ahead = false; // what was sent is in the old buffer
      }
      this.#bytes.set(chunk, base);
      if (SHARED && chunk.buffer instanceof SharedArrayBuffer) bytes = this.#bytes.subarray(base, base + chunk.length);
    }
    this.#length += chunk.length;
    if (ends === undefined || ends.length !== lines) this.#known = this.#ahead = false; // pieces need line ends
    if (this.#known) {
      const at = this.#lines;
      if (at + lines > this.#ends.length) {
        const grown = new Uint32Array(Math.max(2 * this.#ends.length, at + lines));
        grown.set(this.#ends.subarray(0, at));
        this.#ends = grown;
      }
      for (let i = 0; i < lines; i++) this.#ends[at + i] = base + ends![i]!;
    }
    this.#lines += lines;
    if (this.#ahead && this.#length - this.#sent >= AHEAD_BYTES) this.#sendAhead();
    return bytes;
  }

  /** Sends the lines not sent yet ahead to the hashing worker. */
  #sendAhead(): void {
    const ends = this.#ends.slice(this.#sentLines, this.#lines);
    for (let i = 0; i < ends.length; i++) ends[i] = ends[i]! - this.#sent;
    this.#ahead = sendAhead(this.#bytes.subarray(0, this.#length), this.#sent, this.#lines, ends);
    this.#sent = this.#length;
    this.#sentLines = this.#lines;
  }

  /** The bytes, and the line ends when every chunk gave them. Valid until the buffer is reused. */
  view(): { bytes: Uint8Array; ends: Uint32Array | undefined } {
    return {
      bytes: this.#bytes.subarray(0, this.#length),
      ends: this.#known ? this.#ends.subarray(0, this.#lines) : undefined,
    };
  }

  /**
   * Keeps the first `lines` lines and moves the rest into `into` (a stream
   * boundary fell inside the segment).
   */
  splitInto(lines: number, into: SegmentBytes): void {
    let cut = 0;
    if (this.#known) cut = lines === 0 ? 0 : this.#ends[lines - 1]! + 1;
    else for (let i = 0; i < lines; i++) cut = this.#bytes.indexOf(0x0a, cut) + 1;
    const rest = this.#lines - lines;
    const ends = this.#known ? this.#ends.slice(lines, this.#lines).map((end) => end - cut) : undefined;
    into.append(this.#bytes.slice(cut, this.#length), rest, ends);
    this.#length = cut;
    this.#lines = lines;
    this.#ahead = false; // what was sent may go past the cut: the worker starts over
    // The lines after the cut may still be written from this buffer (encoded in place) once this part is sealed.
    this.#reusable = false;
  }

  /** Empties it for reuse. */
  reset(): void {
    this.#length =
      this.#lines =
      this.#sent =
      this.#sentLines =
        0;
    this.#known = true;
    this.#ahead = SHARED;
  }

  /** Bytes it can hold without growing. */
  get capacity(): number {
    return this.#bytes.length;
  }

  /** Whether it may take another segment (see {@linkcode SegmentBytes.splitInto}). */
  get reusable(): boolean {
    return this.#reusable;
  }
}

/** Segment buffers for a sealer with these limits, reused once their checkpoint is made. */
export class SegmentPool {
  readonly #free: SegmentBytes[] = [];
  #reuse = true;
  /** Bytes of a new buffer: twice the segment limit, then what a segment grew to. */
  #bytes: number;
  readonly #lines: number;

  constructor(maxSegmentBytes: number, maxSegmentLines: number) {
    // A segment is cut at its limit, so it holds at most about one chunk more: twice the limit (a larger chunk grows
    // the buffer). Shared memory is made that large at once, not grown to (each growth a copy, and the next
    // segment's new buffer): the system gives it pages as the buffer is filled, so that a sink that seals a few
    // lines a second holds no 8 MiB. Elsewhere (a Worker's isolate counts a buffer whole) it starts smaller.
    // A segment of a few lines needs less: LINE_BYTES a line at first (a larger line grows the buffer), so that the
    // segments of a burst waiting to be hashed do not take 8 MiB each when each holds one line.
    const bytes = SHARED ? maxSegmentBytes * 2 : Math.min(maxSegmentBytes * 2, START_BYTES);
    this.#bytes = Math.max(MIN_BYTES, Math.min(bytes, maxSegmentLines * LINE_BYTES));
    this.#lines = Math.min(maxSegmentLines, 1 << 16) + 1024;
  }

  /** From now on no buffer is reused: lines may have been settled while a destination still wrote them. */
  stopReuse(): void {
    this.#reuse = false;
    this.#free.length = 0;
  }

  take(): SegmentBytes {
    return this.#free.pop() ?? new SegmentBytes(this.#bytes, this.#lines);
  }

  give(segment: SegmentBytes): void {
    // New buffers start as large as one had to grow: a grown buffer is not sent ahead (src/seal/_hasher.ts).
    this.#bytes = Math.max(this.#bytes, segment.capacity);
    if (!this.#reuse || !segment.reusable) return;
    segment.reset();
    if (this.#free.length < POOLED) this.#free.push(segment);
  }
}
