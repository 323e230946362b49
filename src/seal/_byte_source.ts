// Reading for the verifier: a byte source that can look ahead by a bounded
// number of bytes without consuming them, and a reader of seal-stream lines.
import type { CallEventSource } from "../read/read_call_events.ts";
import { toByteStream } from "../read/_byte_stream.ts";

/**
 * Chunks smaller than this are copied into a buffer of {@linkcode GATHER_BYTES}
 * shared with their neighbours: a stream of tiny chunks (a pipe, or a hostile
 * source that hands out one byte at a time) would otherwise make every look
 * ahead walk, and every skip shift, a list of a chunk per byte.
 */
const SMALL_CHUNK = 4096;
const GATHER_BYTES = 64 * 1024;

/** Bytes of a stream, read ahead on demand; memory holds what was asked for plus one chunk. */
export class ByteSource {
  readonly #reader: ReadableStreamDefaultReader<Uint8Array>;
  #chunks: Uint8Array[] = [];
  /** Where small chunks are gathered, and its bytes in use; its view is `#chunks`' last while it takes more. */
  #gather = new Uint8Array(0);
  #gathered = 0;
  /** Offset of the first unconsumed byte in `#chunks[0]`. */
  #head = 0;
  #buffered = 0;
  #eof = false;
  /** Bytes consumed so far. */
  position = 0;
  /** Reused by scratch peeks, so that each segment does not allocate its own copy. */
  #scratch = new Uint8Array(0);

  constructor(source: CallEventSource) {
    this.#reader = toByteStream(source).getReader();
  }

  /** Bytes read ahead and not consumed. */
  get buffered(): number {
    return this.#buffered;
  }

  /** Pieces the buffered bytes are held in (tests: tiny chunks are gathered). */
  get pieces(): number {
    return this.#chunks.length;
  }

  /** Whether the source has ended (what is buffered is all that is left). */
  get eof(): boolean {
    return this.#eof;
  }

  /** Reads until `n` bytes are buffered or the source ends. */
  async fill(n: number): Promise<void> {
    while (this.#buffered < n && !this.#eof) {
      const next = await this.#reader.read();
      if (next.done) this.#eof = true;
      else if (next.value.length > 0) this.#append(next.value);
    }
  }

  #append(chunk: Uint8Array): void {
    this.#buffered += chunk.length;
    if (chunk.length >= SMALL_CHUNK) {
      this.#chunks.push(chunk);
      return;
    }
    const last = this.#chunks.length - 1;
    const gathering = last >= 0 && this.#chunks[last]!.buffer === this.#gather.buffer &&
      this.#gathered + chunk.length <= this.#gather.length;
    if (!gathering) {
      this.#gather = new Uint8Array(GATHER_BYTES);
      this.#gathered = 0;
      this.#chunks.push(this.#gather.subarray(0, 0));
    }
    this.#gather.set(chunk, this.#gathered);
    this.#gathered += chunk.length;
    this.#chunks[this.#chunks.length - 1] = this.#gather.subarray(0, this.#gathered);
  }

  /**
   * The next `min(n, buffered)` bytes, contiguous, without consuming them.
   * With `scratch`, bytes from several chunks are copied into a buffer that
   * the next scratch peek reuses: use them before peeking again.
   */
  peek(n: number, scratch = false): Uint8Array<ArrayBuffer> {
    const length = Math.min(n, this.#buffered);
    const first = this.#chunks[0];
    if (first !== undefined && first.length - this.#head >= length && first.buffer instanceof ArrayBuffer) {
      return first.subarray(this.#head, this.#head + length) as Uint8Array<ArrayBuffer>;
    }
    if (scratch && this.#scratch.length < length) this.#scratch = new Uint8Array(length);
    const out = scratch ? this.#scratch.subarray(0, length) : new Uint8Array(length);
    let at = 0;
    for (let i = 0; at < length; i++) {
      const chunk = this.#chunks[i]!;
      const from = i === 0 ? this.#head : 0;
      const take = Math.min(chunk.length - from, length - at);
      out.set(chunk.subarray(from, from + take), at);
      at += take;
    }
    return out;
  }

  /** Offset, from the current position, of the first `byte` at or after `from` among buffered bytes; -1 if none. */
  indexOf(byte: number, from = 0): number {
    let base = 0;
    for (let i = 0; i < this.#chunks.length; i++) {
      const chunk = this.#chunks[i]!;
      const start = i === 0 ? this.#head : 0;
      const length = chunk.length - start;
      if (from < base + length) {
        const at = chunk.indexOf(byte, start + Math.max(0, from - base));
        if (at !== -1) return base + at - start;
      }
      base += length;
    }
    return -1;
  }

  /** Consumes `n` buffered bytes. */
  skip(n: number): void {
    let left = Math.min(n, this.#buffered);
    this.#buffered -= left;
    this.position += left;
    while (left > 0) {
      const room = this.#chunks[0]!.length - this.#head;
      if (left < room) {
        this.#head += left;
        return;
      }
      left -= room;
      this.#chunks.shift();
      this.#head = 0;
    }
  }

  /** Hands out the rest of the source, chunk by chunk, consuming it. */
  async *rest(): AsyncGenerator<Uint8Array, void, undefined> {
    if (this.#buffered > 0) {
      const head = this.peek(this.#buffered);
      this.skip(head.length);
      yield head;
    }
    while (!this.#eof) {
      const next = await this.#reader.read();
      if (next.done) this.#eof = true;
      else {
        this.position += next.value.length;
        yield next.value;
      }
    }
  }

  /** Stops reading: cancels the source if it has not ended. */
  async close(): Promise<void> {
    if (!this.#eof) await this.#reader.cancel().catch(() => {});
    this.#reader.releaseLock();
  }
}

/** One line of a seal stream. */
export interface SealLine {
  readonly text: string;
  /** 1-based line number in the seal stream. */
  readonly line: number;
  /** The stream ended without a newline after it. */
  readonly torn: boolean;
}

const decoder = new TextDecoder();

/** The non-blank lines of a seal stream; a line longer than `max` bytes comes back cut to its first `max` bytes. */
export async function* sealLines(source: ByteSource, max: number): AsyncGenerator<SealLine, void, undefined> {
  let line = 0;
  for (;;) {
    let nl = -1;
    let searched = 0;
    for (let want = 1 << 16; nl === -1; want *= 2) {
      await source.fill(Math.min(want, max + 1));
      nl = source.indexOf(0x0a, searched);
      searched = source.buffered;
      if (source.eof || source.buffered > max) break;
    }
    if (source.buffered === 0) return;
    line++;
    const end = nl === -1 ? Math.min(source.buffered, max + 1) : nl;
    const text = decoder.decode(source.peek(Math.min(end, max))).replace(/\r$/, "");
    if (nl === -1 && end > max) {
      // Over-long: skip to its end without keeping it.
      for (let at = -1; at === -1;) {
        if (source.buffered === 0) {
          if (source.eof) break;
          await source.fill(1 << 16);
          continue;
        }
        at = source.indexOf(0x0a);
        source.skip(at === -1 ? source.buffered : at + 1);
      }
      yield { text, line, torn: false };
      continue;
    }
    source.skip(nl === -1 ? end : nl + 1);
    if (text.trim() !== "") yield { text, line, torn: nl === -1 };
  }
}
