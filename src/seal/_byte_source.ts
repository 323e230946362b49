// Reading for the verifier: a byte source that can look ahead by a bounded
// number of bytes without consuming them, and a reader of seal-stream lines.
import type { CallEventSource } from "../read/read_call_events.ts";
import { isBytes, notBytes, toByteStream } from "../read/_byte_stream.ts";
import { grownBuffer } from "../_bytes.ts";

/**
 * A buffer up to this size is kept however little is read ahead (segments
 * are 1 MiB by default: one fill after another reuses it); a larger one, made
 * for a wide look-ahead (realigning after damage), goes once a quarter of it
 * is enough.
 */
const KEEP_BUFFER = 32 * 1024 * 1024;

/**
 * Bytes of a stream, read ahead on demand; memory holds what was asked for
 * plus one chunk. What is read ahead is copied into one buffer of its own:
 * a source may reuse or transfer a chunk once the next is asked for (a
 * file read into one buffer, over and over), and the look-ahead outlives
 * many chunks. The copy is the only one: a segment that spans chunks is
 * then contiguous already, and a stream of tiny chunks (a pipe, or a
 * hostile source that hands out one byte at a time) is one piece.
 */
export class ByteSource {
  readonly #reader: ReadableStreamDefaultReader<Uint8Array>;
  /** The buffered bytes are `#buffer[#start, #end)`. */
  #buffer = new Uint8Array(0);
  #start = 0;
  #end = 0;
  #eof = false;
  /** Bytes consumed so far. */
  position = 0;

  constructor(source: CallEventSource) {
    this.#reader = toByteStream(source).getReader();
  }

  /** Bytes read ahead and not consumed. */
  get buffered(): number {
    return this.#end - this.#start;
  }

  /** Pieces the buffered bytes are held in (tests: tiny chunks are gathered): one. */
  get pieces(): number {
    return this.buffered > 0 ? 1 : 0;
  }

  /** Whether the source has ended (what is buffered is all that is left). */
  get eof(): boolean {
    return this.#eof;
  }

  /** Reads until `n` bytes are buffered or the source ends. */
  async fill(n: number): Promise<void> {
    while (this.buffered < n && !this.#eof) {
      const next = await this.#reader.read();
      if (next.done) this.#eof = true;
      else if (bytesOf(next.value).length > 0) this.#append(next.value);
    }
  }

  /**
   * Copies `chunk` in after the buffered bytes. What is left after a skip
   * moves to the front first when that costs no more than the chunk's copy
   * (once per segment: the rest of a chunk), or when there is no room left.
   */
  #append(chunk: Uint8Array): void {
    const buffered = this.buffered;
    const need = buffered + chunk.length;
    const size = this.#buffer.length;
    if (this.#start > 0 && (buffered <= chunk.length || this.#end + chunk.length > size)) {
      this.#buffer.copyWithin(0, this.#start, this.#end);
      this.#start = 0;
      this.#end = buffered;
    }
    // Twice what is needed when growing; a very large buffer (a wide look-ahead) goes once a quarter of it is enough.
    if (need > size || (size > KEEP_BUFFER && size > 4 * need)) {
      this.#buffer = grownBuffer(this.#buffer.subarray(this.#start, this.#end), need);
      this.#start = 0;
      this.#end = buffered;
    }
    this.#buffer.set(chunk, this.#end);
    this.#end += chunk.length;
  }

  /**
   * The next `min(n, buffered)` bytes, contiguous, without consuming them.
   * With `scratch`, a view of the buffer, valid until the next `fill()`;
   * else a copy.
   */
  peek(n: number, scratch = false): Uint8Array<ArrayBuffer> {
    const view = this.#buffer.subarray(this.#start, this.#start + Math.min(n, this.buffered));
    return scratch ? view : view.slice();
  }

  /** Offset, from the current position, of the first `byte` at or after `from` among buffered bytes; -1 if none. */
  indexOf(byte: number, from = 0): number {
    if (from >= this.buffered) return -1;
    const at = this.#buffer.subarray(0, this.#end).indexOf(byte, this.#start + Math.max(0, from));
    return at === -1 ? -1 : at - this.#start;
  }

  /** Consumes `n` buffered bytes. */
  skip(n: number): void {
    const left = Math.min(n, this.buffered);
    this.position += left;
    this.#start += left;
    if (this.#start === this.#end) this.#start = this.#end = 0;
  }

  /**
   * Hands out the rest of the source, chunk by chunk, consuming it. The
   * source's own chunks are handed on as they come: a consumer that keeps
   * one past asking for the next must copy it.
   */
  async *rest(): AsyncGenerator<Uint8Array, void, undefined> {
    if (this.buffered > 0) {
      const head = this.peek(this.buffered);
      this.skip(head.length);
      yield head;
    }
    while (!this.#eof) {
      const next = await this.#reader.read();
      if (next.done) this.#eof = true;
      else {
        this.position += bytesOf(next.value).length;
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

/**
 * `chunk`, checked to be bytes: anything else (an ArrayBuffer, a DataView, a
 * string) has no bytes to count or hash and would be passed over, leaving a
 * trail that was never read to look intact.
 *
 * @throws {TypeError} As the readers do.
 */
function bytesOf(chunk: unknown): Uint8Array {
  if (!isBytes(chunk)) throw notBytes(chunk, "Cannot verify");
  return chunk;
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
