// The bytes of a segment waiting to be sealed, copied as the sink writes
// them into a buffer that is reused once its checkpoint is made. Holding the
// chunks themselves instead keeps every chunk alive past the garbage
// collector's young generation (a segment lives for milliseconds, many
// scavenges): on Node that promotion cost more than hashing the bytes. The
// buffers are shared memory where the runtime has it, so that the hashing
// worker reads them without a copy; there, each AHEAD_BYTES of whole lines is
// sent ahead to the worker as it comes (see src/seal/_hasher.ts), so that
// sealing the segment leaves it little to do.
import { sendAhead } from "../seal/_hasher.ts";

/** Buffers kept for reuse, at most: a segment filling, one settling, one hashing. */
const POOLED = 3;
/** Smallest buffer made. */
const MIN_BYTES = 64 * 1024;
/** Largest buffer made at first; a larger segment grows it. */
const START_BYTES = 2 * 1024 * 1024;
const SHARED = typeof SharedArrayBuffer === "function";
/**
 * Bytes of a segment sent ahead to the hashing worker at a time: less sends
 * more messages (about 40 µs of the main thread each, Deno), more hashes
 * bytes that have left the caches (bench/README.md, thirteenth session).
 */
const AHEAD_BYTES = 512 * 1024;

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

  constructor(bytes: number, lines: number) {
    this.#bytes = new Uint8Array(buffer(bytes));
    // Not shared: stores into shared memory one by one are slow (in V8, about 0.8 µs a line here).
    this.#ends = new Uint32Array(lines);
  }

  get length(): number {
    return this.#length;
  }

  get lines(): number {
    return this.#lines;
  }

  /** Copies in a chunk of `lines` whole lines; `ends` are its newlines' offsets, if known. */
  append(chunk: Uint8Array, lines: number, ends: Uint32Array | undefined): void {
    const base = this.#length;
    if (base + chunk.length > this.#bytes.length) {
      const grown = new Uint8Array(buffer(Math.max(2 * this.#bytes.length, base + chunk.length)));
      grown.set(this.#bytes.subarray(0, base));
      this.#bytes = grown;
      this.#ahead = false; // what was sent is in the old buffer
    }
    this.#bytes.set(chunk, base);
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
}

/** Segment buffers for a sealer with these limits, reused once their checkpoint is made. */
export class SegmentPool {
  readonly #free: SegmentBytes[] = [];
  /** Bytes of a new buffer: at first at most START_BYTES, then what a segment grew to. */
  #bytes: number;
  readonly #lines: number;

  constructor(maxSegmentBytes: number, maxSegmentLines: number) {
    // A segment is cut at its limit, so it holds at most about one chunk more: twice the limit, grown to as it fills
    // (a buffer in the pool keeps its size), so that a sink that seals a few lines a second holds no 8 MiB.
    this.#bytes = Math.max(MIN_BYTES, Math.min(maxSegmentBytes * 2, START_BYTES));
    this.#lines = Math.min(maxSegmentLines, 1 << 16) + 1024;
  }

  take(): SegmentBytes {
    return this.#free.pop() ?? new SegmentBytes(this.#bytes, this.#lines);
  }

  give(segment: SegmentBytes): void {
    // New buffers start as large as one had to grow: a grown buffer is not sent ahead (src/seal/_hasher.ts).
    this.#bytes = Math.max(this.#bytes, segment.capacity);
    segment.reset();
    if (this.#free.length < POOLED) this.#free.push(segment);
  }
}
