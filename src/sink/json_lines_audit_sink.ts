import type { CallEvent } from "../event/call_event.ts";
import { encodeCallEvent } from "../event/encode_call_event.ts";
import { stdioDestination } from "../destination/stdio_destination.ts";
import {
  type AuditDestination,
  type DeliveryReport,
  isAuditDestination,
  toAuditDestination,
} from "../destination/audit_destination.ts";
import { type AuditSink, type BackpressureStrategy, DEFAULT_AUDIT_QUEUE_CAPACITY } from "./audit_sink.ts";

/** Options for {@linkcode JsonLinesAuditSink}. */
export interface JsonLinesAuditSinkOptions {
  /** Events the queue holds before backpressure applies. @default {1024} */
  readonly capacity?: number;
  /** What to do with an event that finds the queue full. @default {"drop"} */
  readonly backpressure?: BackpressureStrategy;
  /**
   * Told about every loss that is not a plain queue drop: an event that cannot
   * be serialized (with the event), a destination write that failed, a fallback
   * sink that threw, a destination or fallback `flush`/`close` that rejected. Must not throw. @default {reports to console.error}
   */
  readonly onError?: (error: unknown, event?: CallEvent) => void;
  /** Leave the destination open on `close()` (for streams the caller owns). @default {false} */
  readonly preventClose?: boolean;
}

/** Counters of a {@linkcode JsonLinesAuditSink}; every `onCall` lands in exactly one of the first four. */
export interface AuditSinkStats {
  /** Events admitted to the queue. */
  readonly accepted: number;
  /** Events dropped: queue full in `"drop"` mode, recorded after `close()`, or refused by a throwing fallback sink. */
  readonly dropped: number;
  /** Events handed to the fallback sink. */
  readonly fallback: number;
  /** Events that could not be serialized (wrong shape, bad values). */
  readonly invalid: number;
  /** Accepted events the destination delivered (for HTTP: acknowledged with a 2xx). */
  readonly written: number;
  /** Accepted events the destination could not deliver and handed to its own fallback. */
  readonly rerouted: number;
  /** Accepted events lost because the destination failed (a write error, an undeliverable batch). */
  readonly failed: number;
  /** Accepted events not yet written, rerouted nor failed. */
  readonly queued: number;
}

/** A queued batch of lines; `taken` once its bytes went out with an earlier batch. */
interface Batch {
  readonly lines: string[];
  taken: boolean;
}

/** Lines per queued batch at most, so that a huge burst in `"block"` mode stays in bounded pieces. */
const MAX_BATCH_LINES = 4096;
/** Characters gathered into one destination write. */
const MAX_WRITE_CHARS = 1 << 20;
const RESOLVED: Promise<void> = Promise.resolve();
const encoder = new TextEncoder();

/**
 * Writes each recorded `CallEvent` as one JSON line to a
 * `WritableStream<Uint8Array>` (a file, stdout, an HTTP endpoint, or any
 * stream), without ever blocking or throwing into the call being audited.
 *
 * Events wait in a Web Streams queue whose `highWaterMark` is `capacity`
 * events; lines that arrive while the destination is busy go out together in
 * one write. When the queue is full the `backpressure` strategy decides.
 *
 * @example Lossless recording to a stream
 * ```ts
 * import { createCallEvent, JsonLinesAuditSink } from "@atd/audit";
 * import assert from "node:assert/strict";
 * const chunks: Uint8Array[] = [];
 * const sink = new JsonLinesAuditSink(
 *   new WritableStream({ write(chunk) { chunks.push(chunk); } }),
 *   { backpressure: "block" },
 * );
 * await sink.record(createCallEvent({
 *   call_id: "c1", tool_id: "ref:echo.say", duration_ms: 17, outcome: { kind: "success" }, tier: "warm",
 * }));
 * await sink.close();
 * assert.equal(sink.stats().written, 1);
 * ```
 */
export class JsonLinesAuditSink implements AuditSink, AsyncDisposable {
  readonly #capacity: number;
  /**
   * Events per destination write: half the capacity, so that while one write
   * is in flight callers can fill the other half (I/O overlaps encoding)
   * without ever exceeding `capacity`.
   */
  readonly #writeLimit: number;
  readonly #strategy: BackpressureStrategy;
  readonly #onError: (error: unknown, event?: CallEvent) => void;
  readonly #preventClose: boolean;
  readonly #destination: AuditDestination;
  readonly #out: WritableStreamDefaultWriter<Uint8Array>;
  readonly #queue: WritableStreamDefaultWriter<Batch>;
  /** Lines recorded since the last pump, not yet in the queue. */
  #pending: string[] = [];
  /** Batches in the queue whose bytes have not gone out yet. */
  #unwritten: Batch[] = [];
  #lastWrite: Promise<void> = RESOLVED;
  #pumpScheduled = false;
  #closing: Promise<void> | undefined;
  /** `record()` callers waiting for room, first come first served. */
  #waiters: (() => void)[] = [];
  #admitting = false;
  #accepted = 0;
  #dropped = 0;
  #fallback = 0;
  #invalid = 0;
  #written = 0;
  #rerouted = 0;
  #failed = 0;

  /**
   * Creates a sink writing to `destination`.
   *
   * @param destination Where the lines go. The sink takes its writer (so it
   *   must not be locked) and closes it on `close()` unless `preventClose`.
   *   A destination with a `flush(): Promise<void>` method (such as
   *   `fetchDestination`) is flushed by {@linkcode JsonLinesAuditSink.flush}.
   * @param options Capacity, backpressure strategy, error hook.
   * @throws {TypeError} When `destination` is not a writable stream or is
   *   locked, or `backpressure` is not a known strategy.
   * @throws {RangeError} When `capacity` is not a positive integer.
   */
  constructor(destination: WritableStream<Uint8Array>, options: JsonLinesAuditSinkOptions = {}) {
    const capacity = options.capacity ?? DEFAULT_AUDIT_QUEUE_CAPACITY;
    if (!Number.isSafeInteger(capacity) || capacity < 1) {
      throw new RangeError(`Cannot create sink: capacity must be a positive integer, got ${capacity}`);
    }
    const strategy = options.backpressure ?? "drop";
    if (
      strategy !== "drop" && strategy !== "block" &&
      typeof (strategy as { fallback?: AuditSink })?.fallback?.onCall !== "function"
    ) {
      throw new TypeError(
        `Cannot create sink: backpressure must be "drop", "block" or { fallback: AuditSink }, got ${String(strategy)}`,
      );
    }
    if (typeof destination?.getWriter !== "function") {
      throw new TypeError("Cannot create sink: destination must be a WritableStream");
    }
    const own = !isAuditDestination(destination); // a plain stream, wrapped here
    const target = toAuditDestination(destination, { preventClose: options.preventClose ?? false });
    this.#capacity = capacity;
    this.#writeLimit = Math.min(MAX_BATCH_LINES, Math.ceil(capacity / 2));
    this.#strategy = strategy;
    this.#onError = options.onError ?? reportToConsole;
    // The wrapper of a plain stream applies preventClose itself.
    this.#preventClose = !own && (options.preventClose ?? false);
    this.#destination = target;
    target.attach(this.#delivery);
    this.#out = target.getWriter();
    this.#out.closed.catch(() => {}); // a failed destination is reported per write
    const queue = new WritableStream<Batch>(
      { write: (batch) => this.#writeOut(batch) },
      { highWaterMark: capacity, size: (batch) => batch.lines.length },
    );
    this.#queue = queue.getWriter();
  }

  /**
   * A sink writing to standard output (Deno, Bun, Node), or to
   * `console.log` where there is no stdout (browsers, Workers).
   *
   * @param options Sink options; the process's stdout is never closed.
   * @returns A new sink.
   */
  static stdout(options: JsonLinesAuditSinkOptions = {}): JsonLinesAuditSink {
    return new JsonLinesAuditSink(stdioDestination("stdout"), options);
  }

  /**
   * A sink writing to standard error, or to `console.error` where there is none.
   *
   * @param options Sink options; the process's stderr is never closed.
   * @returns A new sink.
   */
  static stderr(options: JsonLinesAuditSinkOptions = {}): JsonLinesAuditSink {
    return new JsonLinesAuditSink(stdioDestination("stderr"), options);
  }

  /** The queue capacity in events. */
  get capacity(): number {
    return this.#capacity;
  }

  /** The strategy given at construction. */
  get backpressure(): BackpressureStrategy {
    return this.#strategy;
  }

  /** Events lost so far: dropped on a full queue, recorded after `close()`, or refused by a throwing fallback. */
  get drops(): number {
    return this.#dropped;
  }

  /** Room left in the queue, in events; zero or less means full (as in Web Streams). */
  get desiredSize(): number {
    return (this.#queue.desiredSize ?? 0) - this.#pending.length;
  }

  /**
   * Resolves when the queue has room, as a Web Streams writer's `ready` does:
   * `await sink.ready; sink.onCall(event);` keeps a single producer within
   * `capacity`. Several concurrent producers all wake on the same promise;
   * they should use {@linkcode JsonLinesAuditSink.record} instead.
   */
  get ready(): Promise<void> {
    if (this.desiredSize > 0) return RESOLVED;
    this.#pump(); // the queue's own backpressure must see the pending lines
    return this.#queue.ready;
  }

  /**
   * Records one event once the queue has room for it: the lossless,
   * bounded way to record from many concurrent callers. In `"block"` mode it
   * waits, first come first served, so that however many callers wait, no
   * more than `capacity` events are ever queued; in the other modes it is
   * `onCall` and resolves at once. If the sink closes while it waits, the
   * event counts as a drop. Never rejects.
   *
   * @param event The event to record.
   * @returns A promise that resolves once the event was handed to `onCall`.
   */
  record(event: CallEvent): Promise<void> {
    if (this.#strategy !== "block" || (this.#waiters.length === 0 && this.desiredSize > 0)) {
      this.onCall(event);
      return RESOLVED;
    }
    return new Promise((resolve) => {
      this.#waiters.push(() => {
        this.onCall(event);
        resolve();
      });
      this.#admitWhenReady();
    });
  }

  /**
   * Records one event: serializes it now (so later changes to the object do
   * not show) and queues the line. Synchronous; never throws, never waits.
   *
   * @param event The event to record.
   */
  onCall(event: CallEvent): void {
    if (this.#closing !== undefined) {
      this.#dropped++;
      return;
    }
    if (this.desiredSize <= 0) {
      const strategy = this.#strategy;
      if (strategy === "drop") {
        this.#dropped++;
        return;
      }
      if (strategy !== "block") {
        this.#handToFallback(strategy.fallback, event);
        return;
      }
    }
    let line: string;
    try {
      line = encodeCallEvent(event);
    } catch (error) {
      this.#invalid++;
      this.#report(error, event);
      return;
    }
    this.#pending.push(line);
    this.#accepted++;
    if (!this.#pumpScheduled) {
      this.#pumpScheduled = true;
      queueMicrotask(this.#pump);
    }
  }

  /**
   * Resolves once every event accepted before the call has been written to the
   * destination (and the destination's and fallback's own `flush`, if any,
   * resolved). Never rejects: failures go to `onError` and `stats().failed`.
   *
   * @returns A promise that resolves when delivered.
   */
  async flush(): Promise<void> {
    this.#pump();
    await this.#lastWrite;
    await this.#settle(() => this.#destination.flush());
    const strategy = this.#strategy;
    if (typeof strategy === "object") await this.#settle(() => strategy.fallback.flush?.());
  }

  /**
   * Flushes, then closes the destination (unless `preventClose`). Idempotent;
   * events recorded afterwards count as drops. Never rejects.
   *
   * @returns A promise that resolves when closed.
   */
  close(): Promise<void> {
    this.#closing ??= this.#close();
    this.#admit(); // record() callers still waiting now see a closed sink: their events count as drops
    return this.#closing;
  }

  /** Same as {@linkcode JsonLinesAuditSink.close}, for `await using`. */
  [Symbol.asyncDispose](): Promise<void> {
    return this.close();
  }

  /**
   * A snapshot of the counters.
   *
   * @returns The counts so far.
   */
  stats(): AuditSinkStats {
    return {
      accepted: this.#accepted,
      dropped: this.#dropped,
      fallback: this.#fallback,
      invalid: this.#invalid,
      written: this.#written,
      rerouted: this.#rerouted,
      failed: this.#failed,
      queued: this.#accepted - this.#written - this.#rerouted - this.#failed,
    };
  }

  async #close(): Promise<void> {
    await this.flush();
    await this.#queue.close();
    if (this.#preventClose) this.#out.releaseLock();
    else if (this.#failed > 0) this.#out.releaseLock(); // a failed write errored it for good, and was reported
    else await this.#settle(() => this.#out.close());
  }

  /** Wakes waiting `record()` callers as the queue drains. */
  #admitWhenReady(): void {
    if (this.#admitting) return;
    this.#admitting = true;
    this.#pump(); // the queue's own backpressure must see the pending lines
    this.#queue.ready.then(() => {
      this.#admitting = false;
      this.#admit();
      if (this.#waiters.length > 0) this.#admitWhenReady();
    }, () => {
      this.#admitting = false;
      this.#admit();
    });
  }

  /** Admits waiters, one per free slot (all of them once closing). */
  #admit(): void {
    while (this.#waiters.length > 0 && (this.#closing !== undefined || this.desiredSize > 0)) {
      this.#waiters.shift()!();
    }
  }

  /** Moves pending lines into the queue as batches (runs as a microtask after a burst). */
  #pump = (): void => {
    this.#pumpScheduled = false;
    const pending = this.#pending;
    if (pending.length === 0) return;
    this.#pending = [];
    const limit = this.#writeLimit;
    for (let i = 0; i < pending.length; i += limit) {
      const lines = pending.length <= limit ? pending : pending.slice(i, i + limit);
      const batch: Batch = { lines, taken: false };
      this.#unwritten.push(batch);
      this.#lastWrite = this.#queue.write(batch); // #writeOut never throws
    }
  };

  /**
   * The queue's sink. Takes this batch and the batches queued behind it, up to
   * the write limit (in events) and MAX_WRITE_CHARS, into one destination
   * write; the batches it took are no-ops when their turn comes, so the
   * queue's size stays exact.
   */
  async #writeOut(batch: Batch): Promise<void> {
    if (batch.taken) return;
    const lines: string[][] = [];
    let chars = 0;
    let count = 0;
    for (const next of this.#unwritten) {
      if (lines.length > 0 && (count + next.lines.length > this.#writeLimit || chars >= MAX_WRITE_CHARS)) break;
      next.taken = true;
      lines.push(next.lines);
      for (const line of next.lines) chars += line.length + 1;
      count += next.lines.length;
    }
    this.#unwritten.splice(0, lines.length);
    try {
      await this.#out.write(encodeLines(lines, chars)); // the destination reports each line's fate
    } catch (error) {
      // A rejected write reports none of its lines: they are lost.
      this.#failed += count;
      this.#report(error);
    }
  }

  /** What the destination tells about the lines it took. */
  readonly #delivery: DeliveryReport = {
    delivered: (lines) => {
      this.#written += lines;
    },
    rerouted: (lines) => {
      this.#rerouted += lines;
    },
    failed: (lines, error) => {
      this.#failed += lines;
      this.#report(error);
    },
    warn: (error) => this.#report(error),
  };

  #handToFallback(fallback: AuditSink, event: CallEvent): void {
    try {
      fallback.onCall(event);
      this.#fallback++;
    } catch (error) {
      this.#dropped++;
      this.#report(error, event);
    }
  }

  async #settle(step: () => Promise<unknown> | undefined): Promise<void> {
    try {
      await step();
    } catch (error) {
      this.#report(error);
    }
  }

  #report(error: unknown, event?: CallEvent): void {
    try {
      this.#onError(error, event);
    } catch {
      // onError must not throw; nothing is left to tell.
    }
  }
}

/**
 * UTF-8 of the lines, each followed by "\n". Encodes line by line into one
 * buffer sized for ASCII (grown on the first wider character): joining a
 * batch into one large string first costs up to 4× more on Node and Bun.
 */
function encodeLines(batches: readonly string[][], chars: number): Uint8Array {
  let bytes = new Uint8Array(chars);
  let at = 0;
  for (const lines of batches) {
    for (const line of lines) {
      let read = 0;
      for (;;) {
        const done = encoder.encodeInto(read === 0 ? line : line.slice(read), bytes.subarray(at));
        read += done.read;
        at += done.written;
        if (read === line.length && at < bytes.length) break;
        // Out of room: at most 3 bytes per UTF-16 unit left, plus the newline.
        const grown = new Uint8Array(Math.max(bytes.length * 2, at + (line.length - read) * 3 + 1));
        grown.set(bytes.subarray(0, at));
        bytes = grown;
        if (read === line.length) break;
      }
      bytes[at++] = 0x0a;
    }
  }
  return bytes.subarray(0, at);
}

function reportToConsole(error: unknown, event?: CallEvent): void {
  console.error("@atd/audit:", error, ...(event === undefined ? [] : ["event:", event]));
}
