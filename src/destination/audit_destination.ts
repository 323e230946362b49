import { writerOf } from "../_writer.ts";
import { writingDestination } from "./_writing_destination.ts";

/**
 * What an {@linkcode AuditDestination} tells the sink that writes to it about
 * the lines it was given. Every line of every chunk whose `write()` resolved is
 * reported exactly once, at any later time, delivered, rerouted or failed, in
 * the order the lines were written: a report of `n` lines is about the `n`
 * oldest lines not reported yet. A destination whose lines settle out of
 * order (per-item results, parallel requests, a slow fallback) holds a report
 * back until every earlier line was reported, as `fetchDestination` does: a
 * sealed trail declares each loss in the segment of the line by this order.
 */
export interface DeliveryReport {
  /** `lines` lines reached their target (the file, a 2xx response). */
  delivered(lines: number): void;
  /** `lines` lines could not reach their target and went to the destination's own fallback instead. */
  rerouted(lines: number): void;
  /** `lines` lines are lost; `error` says why (it reaches the sink's `onError`). */
  failed(lines: number, error: unknown): void;
  /**
   * Something the sink's `onError` should hear that lost none of this sink's
   * lines: a torn last line left by an earlier writer, repaired; a rotation
   * that failed and was retried.
   */
  warn(error: unknown): void;
  /**
   * The lines reported so far were the last of a stream, and later ones go
   * to a new stream (a file destination rotating to a new file). The sink
   * calls `switchStreams` once whatever belongs to the old stream is written
   * (the sealed trail's last checkpoint for it, in the old file's seal file),
   * and before anything of the new stream is; it resolves or rejects as
   * `switchStreams` does. Absent from reports that have nothing to do there.
   *
   * @param switchStreams Closes the old stream and starts the new one.
   * @returns A promise that settles once `switchStreams` has.
   */
  newStream?(switchStreams: () => Promise<void>): Promise<void>;
}

/**
 * The contract between a sink and where its lines go: a
 * `WritableStream<Uint8Array>` of whole JSON lines (each chunk holds one or
 * more lines, each ended by `"\n"`) that also reports what became of every
 * line and can be flushed against a deadline.
 *
 * - `attach(report)` is called once, by the sink that owns the destination,
 *   before its first write. From then on:
 * - a `write()` that resolves means the chunk was taken (it may still be
 *   buffered, as an HTTP batch is); each of its lines is later reported
 *   exactly once through `report`. A `write()` that rejects means none of the
 *   chunk's lines were or will be reported: the sink counts them failed.
 * - `flush(signal)` resolves once every line written before the call has been
 *   reported. If `signal` aborts first, the destination gives up on what it
 *   still holds (reporting it failed or rerouted) and resolves. Never rejects.
 * - `abort(reason)` gives up on everything not yet delivered, reporting it,
 *   and releases the destination's resources.
 *
 * A plain `WritableStream<Uint8Array>` is turned into one by
 * {@linkcode toAuditDestination}: a resolved write counts as delivered.
 *
 * @example A destination that keeps lines in memory
 * ```ts
 * import { type AuditDestination, toAuditDestination } from "@atd/audit";
 * const lines: string[] = [];
 * const decoder = new TextDecoder();
 * const destination: AuditDestination = toAuditDestination(
 *   new WritableStream({ write(chunk) { lines.push(...decoder.decode(chunk).split("\n").slice(0, -1)); } }),
 * );
 * console.log(typeof destination.flush);
 * ```
 */
export interface AuditDestination extends WritableStream<Uint8Array> {
  /**
   * Connects the destination to the sink that writes to it. Called once,
   * before the first write.
   *
   * @param report Where the fate of each line goes.
   */
  attach(report: DeliveryReport): void;
  /**
   * Resolves once every line written before the call has been reported
   * delivered, rerouted or failed. When `signal` aborts first, what is still
   * undelivered is given up (and reported) and the promise resolves. Never
   * rejects.
   *
   * @param signal A deadline, such as `AbortSignal.timeout(5_000)`.
   * @returns A promise that resolves when every line written so far is settled.
   */
  flush(signal?: AbortSignal): Promise<void>;
}

/**
 * Whether `value` is an {@linkcode AuditDestination} (a writable stream with
 * `attach` and `flush`).
 *
 * @param value Anything.
 * @returns `true` for an audit destination.
 *
 * @example
 * ```ts
 * import { isAuditDestination } from "@atd/audit";
 * console.log(isAuditDestination(new WritableStream())); // false
 * ```
 */
export function isAuditDestination(value: unknown): value is AuditDestination {
  const candidate = value as Partial<AuditDestination> | null | undefined;
  return typeof candidate?.getWriter === "function" && typeof candidate.attach === "function" &&
    typeof candidate.flush === "function";
}

/** Options for {@linkcode toAuditDestination}. */
export interface ToAuditDestinationOptions {
  /** Closing or aborting the destination releases `stream` instead of closing or aborting it. @default {false} */
  readonly preventClose?: boolean;
}

/**
 * `stream` as an {@linkcode AuditDestination}: each write that resolves
 * reports its lines delivered; a write that rejects reports nothing (the sink
 * counts its lines failed). A `flush(): Promise<void>` method on `stream`, if
 * any (looked up once, now), is awaited by the destination's `flush`. The
 * destination takes `stream`'s writer at once. An audit destination is
 * returned as it is.
 *
 * @param stream Where the bytes go.
 * @param options Whether closing leaves `stream` open.
 * @returns An audit destination writing to `stream`.
 * @throws {TypeError} When `stream` is not a writable stream, is locked, or
 *   its `getWriter()` returns something that is not a writer.
 *
 * @example
 * ```ts
 * import { toAuditDestination } from "@atd/audit";
 * const destination = toAuditDestination(new WritableStream<Uint8Array>());
 * await destination.flush();
 * ```
 */
export function toAuditDestination(
  stream: WritableStream<Uint8Array>,
  options: ToAuditDestinationOptions = {},
): AuditDestination {
  if (isAuditDestination(stream)) return stream;
  if (typeof (stream as Partial<WritableStream>)?.getWriter !== "function") {
    throw new TypeError(`Cannot use destination: expected a WritableStream<Uint8Array>, got ${describe(stream)}`);
  }
  const preventClose = options.preventClose ?? false;
  if (typeof preventClose !== "boolean") {
    throw new TypeError(`Cannot use destination: preventClose must be a boolean, got ${typeof preventClose}`);
  }
  const writer = writerOf(stream, "the destination");
  const own = (stream as { flush?: unknown }).flush;
  return writingDestination((chunk) => writer.write(chunk), {
    goOn: false,
    close: () => (preventClose ? writer.releaseLock() : writer.close()),
    abort: (reason) => (preventClose ? writer.releaseLock() : writer.abort(reason)),
    flush: typeof own === "function" ? () => own.call(stream) : undefined,
  });
}

function describe(value: unknown): string {
  if (value === null) return "null";
  if (Array.isArray(value)) return "an array";
  return typeof value === "object" ? "an object without getWriter()" : typeof value;
}
