// What the command line reads: a file, read once (through gunzip for a `.gz`)
// or followed as it grows (noticing truncation and replacement), or stdin.
import { concatBytes } from "../_bytes.ts";
import type { FileHandle, RuntimeDriver } from "../runtime/runtime_driver.ts";
import { toByteStream } from "../read/_byte_stream.ts";

/** Bytes read per read. */
const READ_SIZE = 64 * 1024;
const EMPTY = new Uint8Array(0);
/**
 * Bytes before the read position kept to notice a file rewritten under it
 * (truncated and grown again): several whole lines, since lines end alike.
 */
const MARK_BYTES = 4096;

/** Why the last {@linkcode Input.chunks} ended. */
export type InputEnd = "end" | "aborted" | "truncated" | "replaced";

/** Options for {@linkcode Input.chunks}. */
export interface ChunksOptions {
  /** At the end, wait for more (polling), noticing truncation and replacement. */
  readonly follow: boolean;
  /** Ends a followed read (`ended` is then `"aborted"`). */
  readonly signal?: AbortSignal | undefined;
  /** Milliseconds between looks at a followed file that has not grown. */
  readonly pollMs?: number;
  /**
   * Awaited each time a followed read reaches the file's current end, before
   * it waits for more: everything read so far was handed out (the reader
   * pulls one chunk at a time), but for a partial last line.
   */
  readonly atEnd?: () => Promise<void>;
}

/** A file or stdin, read in chunks. */
export class Input {
  readonly #driver: RuntimeDriver | undefined;
  readonly #path: string;
  #handle: FileHandle | undefined;
  #stdin: ReadableStreamDefaultReader<Uint8Array> | undefined;
  #identity: string | undefined;
  #position = 0;
  /** The last bytes read, up to the read position. */
  #mark: Uint8Array = EMPTY;
  /** Read through gunzip. */
  #gzip = false;
  /** Why the last `chunks()` ended. */
  ended: InputEnd = "end";

  private constructor(driver: RuntimeDriver | undefined, path: string) {
    this.#driver = driver;
    this.#path = path;
  }

  /**
   * Opens the file at `path` (rejecting with an IoError when it cannot be read).
   * Opening a FIFO waits for a writer. With `gzip`, its bytes are
   * decompressed (it cannot be followed then).
   */
  static async file(driver: RuntimeDriver, path: string, gzip = false): Promise<Input> {
    const input = new Input(driver, path);
    input.#gzip = gzip;
    const handle = await driver.openRead(path);
    input.#handle = handle;
    try {
      input.#identity = (await handle.stat()).identity;
    } catch (error) {
      await handle.close().catch(() => {});
      throw error;
    }
    return input;
  }

  /** The file's identity when opened (see `FileInfo.identity`); `undefined` for stdin. */
  get identity(): string | undefined {
    return this.#identity;
  }

  /** Reads `stream` (stdin). */
  static stream(stream: ReadableStream<Uint8Array>): Input {
    const input = new Input(undefined, "-");
    input.#stdin = stream.getReader();
    return input;
  }

  /** The bytes from where the last call stopped; see {@linkcode ChunksOptions}. */
  async *chunks(options: ChunksOptions): AsyncGenerator<Uint8Array, void, undefined> {
    this.ended = "end";
    yield* this.#gzip ? gunzip(this.#raw({ ...options, follow: false })) : this.#raw(options);
  }

  /**
   * The bytes read once, to the end, as a stream: what `readCallEvents` reads
   * one chunk ahead (an async iterable it pulls only when needed, since a
   * followed read acts on being pulled).
   */
  readable(): ReadableStream<Uint8Array> {
    return toByteStream(this.chunks({ follow: false }));
  }

  /** Releases the file (stdin stays open). */
  async close(): Promise<void> {
    this.#stdin?.releaseLock();
    await this.#handle?.close().catch(() => {});
  }

  async *#raw(options: ChunksOptions): AsyncGenerator<Uint8Array, void, undefined> {
    const { follow, signal, pollMs = 200, atEnd } = options;
    for (;;) {
      if (signal?.aborted) {
        this.ended = "aborted";
        return;
      }
      if (this.#stdin !== undefined) {
        const next = await this.#stdin.read();
        if (next.done) return;
        yield next.value;
        continue;
      }
      const handle = this.#handle!;
      const seekable = handle.kind === "file";
      // A fresh buffer each time: the reader may keep the bytes it was given.
      const buffer = new Uint8Array(READ_SIZE);
      const n = await handle.read(buffer, seekable ? this.#position : null);
      if (n > 0) {
        this.#position += n;
        const read = buffer.subarray(0, n);
        this.#mark = n >= MARK_BYTES ? read.slice(n - MARK_BYTES) : concatBytes([this.#mark, read]).slice(-MARK_BYTES);
        yield read;
        continue;
      }
      if (!follow) return;
      await atEnd?.();
      const change = seekable ? await this.#change(handle) : undefined;
      if (change !== undefined) {
        this.ended = change;
        return;
      }
      await sleep(pollMs, signal);
      // Truncated and written again while we slept (copytruncate, then new lines;
      // or rewritten to the same size): the bytes before our position changed.
      if (seekable && !signal?.aborted && await this.#rewritten(handle)) {
        this.ended = "truncated";
        return;
      }
    }
  }

  /** Whether the bytes just before the read position are no longer those read there (then starts again at 0). */
  async #rewritten(handle: FileHandle): Promise<boolean> {
    const mark = this.#mark;
    if (mark.length === 0) return false;
    const now = new Uint8Array(mark.length);
    const n = await handle.read(now, this.#position - mark.length).catch(() => -1);
    if (n === mark.length && now.every((byte, i) => byte === mark[i])) return false;
    this.#position = 0;
    this.#mark = EMPTY;
    return true;
  }

  /**
   * At the end of a followed file: whether it was truncated (its size is now
   * below what was read: start again from its beginning) or replaced (the
   * path names another file: rotated, or removed and created again; switch to
   * it once the old one is read to its end).
   */
  async #change(handle: FileHandle): Promise<"truncated" | "replaced" | undefined> {
    const own = await handle.stat();
    if (own.size < this.#position) {
      this.#position = 0;
      this.#mark = EMPTY;
      return "truncated";
    }
    if (own.size > this.#position) return undefined; // grew since the read: read on
    const now = await this.#driver!.stat(this.#path).catch(() => undefined);
    // Removed and not (yet) created again, or the same file: keep the old one.
    if (now === undefined || now.identity === undefined || now.identity === this.#identity) return undefined;
    const next = await this.#driver!.openRead(this.#path).catch(() => undefined);
    if (next === undefined) return undefined; // try again at the next look
    const identity = await next.stat().then((info) => info.identity, () => undefined);
    await handle.close().catch(() => {});
    this.#handle = next;
    this.#identity = identity;
    this.#position = 0;
    this.#mark = EMPTY;
    return "replaced";
  }
}

/**
 * Decompresses gzip bytes (DecompressionStream). A stream that is not gzip,
 * or ends early (an archive still being written), fails with a
 * {@linkcode GzipError}.
 */
export async function* gunzip(source: AsyncIterable<Uint8Array>): AsyncGenerator<Uint8Array, void, undefined> {
  const iterator = source[Symbol.asyncIterator]();
  let sourceError: unknown;
  const compressed = new ReadableStream<Uint8Array<ArrayBuffer>>({
    async pull(controller) {
      try {
        const next = await iterator.next();
        if (next.done) controller.close();
        else controller.enqueue(next.value as Uint8Array<ArrayBuffer>);
      } catch (error) {
        sourceError = error;
        throw error;
      }
    },
    async cancel() {
      await iterator.return?.();
    },
  });
  const reader = compressed.pipeThrough(new DecompressionStream("gzip")).getReader();
  try {
    for (;;) {
      let next: ReadableStreamReadResult<Uint8Array>;
      try {
        next = await reader.read();
      } catch (error) {
        if (sourceError !== undefined) throw sourceError; // the file's own error, not gunzip's
        throw new GzipError(error);
      }
      if (next.done) return;
      yield next.value;
    }
  } finally {
    await reader.cancel().catch(() => {});
  }
}

/** Bytes that gunzip refused: not gzip, corrupt, or cut short. */
export class GzipError extends Error {
  constructor(cause: unknown) {
    const text = cause instanceof Error ? cause.message : String(cause);
    super(`not a complete gzip file (${text.split("\n")[0]})`, { cause });
  }
}

function sleep(ms: number, signal: AbortSignal | undefined): Promise<void> {
  return new Promise((resolve) => {
    const timer = setTimeout(done, ms);
    signal?.addEventListener("abort", done, { once: true });
    function done(): void {
      clearTimeout(timer);
      signal?.removeEventListener("abort", done);
      resolve();
    }
  });
}
