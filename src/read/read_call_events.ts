import type { CallEvent } from "../event/call_event.ts";
import { isCheckpointLine } from "../seal/_checkpoint.ts";
import { isBytes, isByteSource, isStreamKind, toByteStream } from "./_byte_stream.ts";
import { LineSplitter } from "./_line_splitter.ts";
import { plainKeysOfBytes } from "../event/_strict_json.ts";
import { type ReadOptions, readOptions } from "./_read_options.ts";
import { lineToEvent } from "./_line_to_event.ts";
import type { InvalidLineError } from "./invalid_line_error.ts";
import type { JsonLine } from "./json_lines_split_stream.ts";

/** Thrown through the line splitter to stop it; never seen outside. */
const STOP: unique symbol = Symbol("stop");

/** What {@linkcode readCallEvents} reads from. */
export type CallEventSource = ReadableStream<Uint8Array> | Response | Blob | AsyncIterable<Uint8Array>;

/** Options for {@linkcode readCallEvents}. */
export interface ReadCallEventsOptions {
  /**
   * Told about each line that is not a valid event: not JSON, not UTF-8,
   * wrong schema (`kind: "invalid"`), longer than `maxLineBytes`
   * (`"too_long"`), or a last line cut short (`"torn"`). Not called in
   * `strict` mode. If it throws, the iteration throws what it threw.
   * @default {undefined (invalid lines are skipped and counted in `stats`)}
   */
  readonly onInvalid?: (error: InvalidLineError) => void;
  /** Throw the first invalid line's {@linkcode InvalidLineError} instead of skipping it. @default {false} */
  readonly strict?: boolean;
  /**
   * Longest line read, in bytes; a longer one is reported and skipped
   * without being buffered.
   * @default {1048576}
   */
  readonly maxLineBytes?: number;
}

/** Counts of a {@linkcode CallEventReader}, so far. */
export interface ReadCallEventsStats {
  /** Lines seen, blank ones included (the number of the last line). */
  readonly lines: number;
  /** Valid events read. */
  readonly events: number;
  /** Lines rejected (all kinds). */
  readonly invalid: number;
  /** Checkpoint lines of a trail sealed in band (`{"audit_checkpoint":…` with a checkpoint's shape), skipped. */
  readonly checkpoints: number;
  /**
   * Bytes of the chunks parsed so far, the last one whole even when the read
   * stopped inside it (a chunk read ahead counts once it is parsed).
   */
  readonly bytes: number;
}

/**
 * The async iterable {@linkcode readCallEvents} returns: iterate it once with
 * `for await`; `stats` counts lines, events and invalid lines as it goes.
 * Breaking out of the loop cancels the source.
 */
export class CallEventReader implements AsyncIterable<CallEvent> {
  readonly #source: CallEventSource;
  readonly #options: ReadOptions;
  readonly #max: number;
  #started = false;
  #lines = 0;
  #events = 0;
  #invalid = 0;
  #checkpoints = 0;
  #bytes = 0;

  /**
   * Creates a reader; nothing is read until it is iterated.
   *
   * @param source Where to read bytes from.
   * @param options How to treat invalid lines.
   * @throws {TypeError} When `source` is none of the accepted kinds, or an
   *   option has the wrong type.
   * @throws {RangeError} When `maxLineBytes` is not a positive integer.
   */
  constructor(source: CallEventSource, options: ReadCallEventsOptions = {}) {
    if (!isByteSource(source)) {
      throw new TypeError(
        "Cannot read call events: source must be a ReadableStream, a Response, a Blob or an async iterable of bytes",
      );
    }
    this.#source = source;
    this.#options = readOptions(options, "read call events");
    this.#max = this.#options.maxLineBytes;
  }

  /** Counts so far. */
  get stats(): ReadCallEventsStats {
    return {
      lines: this.#lines,
      events: this.#events,
      invalid: this.#invalid,
      checkpoints: this.#checkpoints,
      bytes: this.#bytes,
    };
  }

  /**
   * Reads the source, line by line. Can be called once.
   *
   * @returns An iterator over the valid events, in file order.
   * @throws {TypeError} When iterated a second time.
   */
  [Symbol.asyncIterator](): AsyncIterator<CallEvent> {
    if (this.#started) throw new TypeError("Cannot read call events: this reader was already iterated");
    this.#started = true;
    return new Unbatch(this.#read(), () => void this.#events++);
  }

  /** The events of each chunk, as one array (the same array each time, refilled). */
  async *#read(): AsyncGenerator<readonly CallEvent[], void, undefined> {
    const reader = toByteStream(this.#source).getReader();
    const splitter = new LineSplitter(this.#max, plainKeysOfBytes);
    const { onInvalid, strict } = this.#options;
    const batch: CallEvent[] = [];
    // What ends the read once the events before it are out: the first
    // invalid line in strict mode, or what onInvalid threw.
    let failure: { error: unknown } | undefined;
    const onLine = (line: JsonLine, plainKeys: number): void => {
      if (line.kind !== "invalid_utf8" && isCheckpointLine(line.text, line.kind === "line")) {
        this.#checkpoints++;
        return;
      }
      const result = lineToEvent(line, this.#max, plainKeys);
      if (!(result instanceof Error)) {
        batch.push(result);
        return;
      }
      this.#invalid++;
      if (strict) failure = { error: result };
      else {
        try {
          onInvalid?.(result);
        } catch (error) {
          failure = { error };
        }
      }
      if (failure !== undefined) throw STOP; // stops the splitter mid-chunk
    };
    let done = false;
    // Every read is made in the try, so that the stream is cancelled and released even when a reader of the
    // caller's code (a subclass's getReader) throws.
    const chunks = new ChunksAhead(reader, isStreamKind(this.#source));
    try {
      while (!done) {
        const next = await chunks.read();
        const chunk: Uint8Array | null | undefined = next.value; // a source of untyped code may give anything
        try {
          if (next.done) {
            done = true;
            splitter.end(onLine);
          } else {
            this.#bytes += typeof chunk?.byteLength === "number" ? chunk.byteLength : 0;
            splitter.push(chunk as Uint8Array, onLine); // throws a TypeError for what is not bytes
          }
        } catch (error) {
          if (error !== STOP) throw error;
        }
        this.#lines = splitter.lineCount(done);
        if (batch.length > 0) {
          yield batch;
          batch.length = 0;
        }
        if (failure !== undefined) throw failure.error;
      }
    } finally {
      // A reader of the caller's code may throw here, or answer a plain value: what stopped the read stands.
      if (!done) await new Promise((resolve) => resolve(reader.cancel())).catch(() => {});
      reader.releaseLock();
    }
  }
}

/**
 * A stream's chunks, read one chunk ahead when `readsAhead`: the next chunk is
 * asked for before this one is parsed, so that its I/O (a file read on
 * another thread) runs while this thread parses. An async iterable is read
 * without (`readsAhead` false): it is pulled only when its next chunk is
 * needed, as `for await` pulls it, since a generator may act on being pulled
 * (the CLI's follow does). The read ahead's rejection is awaited in turn, or
 * dropped with the read when the caller cancels the stream.
 */
class ChunksAhead {
  readonly #reader: ReadableStreamDefaultReader<Uint8Array>;
  readonly #readsAhead: boolean;
  #ahead: Promise<ReadableStreamReadResult<Uint8Array>> | undefined;
  /** The chunk read ahead of, copied: reused from chunk to chunk (the line splitter keeps no view of it). */
  #copy = new Uint8Array(0);

  constructor(reader: ReadableStreamDefaultReader<Uint8Array>, readsAhead: boolean) {
    this.#reader = reader;
    this.#readsAhead = readsAhead;
  }

  /** The next chunk; one read ahead of is a copy, valid until the next call. */
  async read(): Promise<ReadableStreamReadResult<Uint8Array>> {
    const next = await (this.#ahead ?? this.#reader.read());
    this.#ahead = undefined;
    const chunk: unknown = next.value; // a source of untyped code may give anything
    if (!this.#readsAhead || next.done || !isBytes(chunk) || chunk.length > READ_AHEAD_BYTES) return next;
    // Copied first: once asked for its next chunk, a stream may reuse or transfer this one's buffer (a file read
    // into one buffer refills it), as the line splitter and verifyAuditTrail also allow.
    if (this.#copy.length < chunk.length) this.#copy = new Uint8Array(chunk.length);
    this.#copy.set(chunk);
    const value = this.#copy.subarray(0, chunk.length);
    // A reader of the caller's code may answer with a plain value, or throw: a throw rejects the read ahead, so
    // that it fails the read once this chunk's events are out, as a read that rejects does.
    this.#ahead = new Promise((resolve) => resolve(this.#reader.read()));
    this.#ahead.catch(() => {});
    await startOfPull();
    return { done: false, value };
  }
}

/**
 * Largest chunk read ahead of. A larger one (a runtime may hand out a Blob or
 * a Response held in memory as one chunk) is parsed before the next is asked
 * for: copying it would double what the reader holds.
 */
const READ_AHEAD_BYTES = 1 << 20;

/**
 * A few turns of the microtask queue: what a stream needs, once its last
 * pull's chunk came, to notice that a read is waiting and call its source's
 * pull again, which starts the read (its I/O) before this thread parses.
 * Without them the next read starts only once the parsing is done, and none
 * of its I/O overlaps it (measured with a 64 KiB file source: 4 turns were
 * enough on Deno, Bun and Node, for a pull that reads the file itself and for
 * one that reads it through an async generator).
 */
async function startOfPull(): Promise<void> {
  for (let turn = 0; turn < PULL_TURNS; turn++) await undefined;
}

/** Microtask turns {@linkcode startOfPull} waits: the 4 measured, and a margin. */
const PULL_TURNS = 6;

/**
 * Hands out the items of a generator's batches one at a time. An async
 * generator that yields each item pays an await and a queued request an
 * item; here an item of the batch at hand is an already resolved promise.
 * Calls are answered in order, as a generator answers them: while a step of
 * the source is pending, later calls wait for it.
 */
class Unbatch<T> implements AsyncIterator<T, undefined> {
  readonly #source: AsyncGenerator<readonly T[], void, undefined>;
  readonly #onItem: () => void;
  #batch: readonly T[] = [];
  #at = 0;
  /** Steps of the source queued or running. */
  #pending = 0;
  #tail: Promise<unknown> = Promise.resolve();

  constructor(source: AsyncGenerator<readonly T[], void, undefined>, onItem: () => void) {
    this.#source = source;
    this.#onItem = onItem;
  }

  next(): Promise<IteratorResult<T, undefined>> {
    if (this.#pending === 0 && this.#at < this.#batch.length) return Promise.resolve(this.#item());
    return this.#queue(async () => {
      while (this.#at >= this.#batch.length) {
        const next = await this.#source.next();
        if (next.done) return { value: undefined, done: true };
        this.#batch = next.value;
        this.#at = 0;
      }
      return this.#item();
    });
  }

  /** Ends the iteration: the source's `finally` runs (and cancels the stream). */
  return(): Promise<IteratorResult<T, undefined>> {
    return this.#queue(async () => {
      this.#batch = [];
      await this.#source.return();
      return { value: undefined, done: true };
    });
  }

  #item(): IteratorResult<T, undefined> {
    this.#onItem();
    return { value: this.#batch[this.#at++]!, done: false };
  }

  #queue(step: () => Promise<IteratorResult<T, undefined>>): Promise<IteratorResult<T, undefined>> {
    this.#pending++;
    const run = this.#tail.then(async () => {
      try {
        return await step();
      } finally {
        // Before the caller sees the result, so that its next call can take the quick way.
        this.#pending--;
      }
    });
    this.#tail = run.catch(() => {});
    return run;
  }
}

/**
 * Reads the `CallEvent`s of a JSON Lines source, streaming: memory stays flat
 * however large the source is. Lines split across chunks, `\r\n`, blank lines
 * and a UTF-8 byte order mark are handled; schema 1, 2 and 3 lines are
 * upgraded to the current shape (a missing `secrets_resolved` becomes
 * `false`).
 *
 * Checkpoint lines of a trail sealed in band are skipped and counted in
 * `stats.checkpoints` (a line that only starts like one is invalid). Bad lines never stop the read unless `strict` is set: each goes to
 * `onInvalid` as an {@linkcode InvalidLineError} with its line number, byte
 * offset, excerpt, field path and reason. A last line without a newline is
 * accepted when it holds a whole event, and reported as `"torn"` otherwise.
 *
 * Works in every runtime, browsers included (it never calls
 * `ReadableStream.from`).
 *
 * A stream (or a `Response`, a `Blob`) is read one chunk ahead, so that
 * reading the next chunk overlaps parsing this one: a chunk of up to 1 MiB,
 * parsed from a copy (the stream may reuse its buffer for the next one). An
 * async iterable is pulled only when its next chunk is needed, as `for await`
 * pulls it.
 *
 * @param source A `ReadableStream<Uint8Array>`, a `Response`, a `Blob` (or
 *   `File`), or an async iterable of byte chunks.
 * @param options Where invalid lines go; strict mode; longest line.
 * @returns An async iterable of events with running `stats`.
 * @throws {TypeError} When `source` is none of the accepted kinds, or an option has the wrong type.
 * @throws {RangeError} When `maxLineBytes` is not a positive integer.
 *
 * @example Reading a fetched log
 * ```ts ignore
 * import { readCallEvents } from "@atd/audit";
 * const events = readCallEvents(await fetch("https://example.com/audit.jsonl"), {
 *   onInvalid: (error) => console.warn(error.message),
 * });
 * for await (const event of events) {
 *   if (event.outcome.kind === "capability_denied") console.log(event.tool_id, event.outcome.missing);
 * }
 * console.log(events.stats);
 * ```
 *
 * @example Reading a Blob
 * ```ts
 * import { readCallEvents } from "@atd/audit";
 * import assert from "node:assert/strict";
 * const line = '{"ts":"2026-05-29T00:00:00+00:00","call_id":"c1","tool_id":"t","granted_capabilities":[],' +
 *   '"duration_ms":5,"outcome":{"kind":"success"},"tier":"warm","dry_run":false,"schema_version":3}';
 * const events = readCallEvents(new Blob([line, "\r\n", "not json\n"]));
 * const ids = [];
 * for await (const event of events) ids.push(event.call_id);
 * assert.deepEqual(ids, ["c1"]);
 * assert.deepEqual(events.stats.invalid, 1);
 * ```
 */
export function readCallEvents(source: CallEventSource, options: ReadCallEventsOptions = {}): CallEventReader {
  return new CallEventReader(source, options);
}
