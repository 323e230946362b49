import { coalesces } from "../destination/_coalesce.ts";
import type { CallEvent } from "../event/call_event.ts";
import { encodeCallEvent } from "../event/encode_call_event.ts";
import { InvalidCallEventError } from "../event/errors.ts";
import { stdioDestination } from "../destination/stdio_destination.ts";
import { abortAfter, reasonOf, untilAborted } from "../_abort.ts";
import { handleRejection } from "../_promise.ts";
import {
  type AuditSink,
  type AuditSinkFlushOptions,
  type AuditSinkStats,
  type BackpressureStrategy,
  DEFAULT_AUDIT_QUEUE_BYTES,
  DEFAULT_AUDIT_QUEUE_CAPACITY,
} from "./audit_sink.ts";
import { LineQueue, WRITE_INTERVAL_MS } from "./_queue.ts";
import { type LossCounter, LossLedger, lossMessages } from "./_losses.ts";
import { DestinationLink } from "./_destination_link.ts";
import { Reporter } from "./_reporter.ts";
import { type FallbackSink, readSinkOptions, signalOf } from "./_options.ts";
import { readSealOptions, Sealing } from "./_sealing.ts";
import type { AuditSinkSealOptions } from "./audit_sink_seal_options.ts";

/** Options for {@linkcode JsonLinesAuditSink}. */
export interface JsonLinesAuditSinkOptions {
  /** Events the queue holds before backpressure applies. @default {1024} */
  readonly capacity?: number;
  /**
   * Bytes the queue holds before backpressure applies, as for `capacity`:
   * a line is counted as its length in UTF-16 units plus its newline (its
   * UTF-8 size for ASCII text), from `onCall` until the destination's write
   * of it settles. In `"drop"` and fallback modes the queue never holds more,
   * but for a single line larger than the bound, taken when the queue is
   * empty; in `"block"` mode `record()` admits an event while the queue is
   * under the bound, so it may go past it by one line. `Infinity` turns the
   * bound off.
   * @default {67108864 (64 MiB)}
   */
  readonly maxQueueBytes?: number;
  /** What to do with an event that finds the queue full. @default {"drop"} */
  readonly backpressure?: BackpressureStrategy;
  /**
   * Told about every problem: an event that cannot be serialized (an
   * `InvalidCallEventError`, with the event), a fallback sink that threw
   * (its error, with the event), events lost (an `AuditLossError`: dropped,
   * failed, past a deadline; gathered, see {@linkcode JsonLinesAuditSinkOptions.lossReportInterval}),
   * a destination's warning or a rejected `flush`/`close`. Must not throw.
   * @default {one line per problem on console.error; a repeated problem is counted, not repeated}
   */
  readonly onError?: (error: unknown, event?: CallEvent) => void;
  /** Leave the destination open on `close()` (for streams the caller owns). @default {false} */
  readonly preventClose?: boolean;
  /**
   * Milliseconds between two loss reports of one reason: the first loss is
   * reported at once, later ones at most once per interval (on a later loss;
   * no timer runs), and the rest when `flush()` or `close()` ends.
   * @default {10000}
   */
  readonly lossReportInterval?: number;
  /**
   * Seal the trail: checkpoints that sign each segment of lines written and
   * the losses since the previous one, to a seal stream or in band (see
   * {@linkcode AuditSinkSealOptions} and, for files, `fileSeal`).
   * @default {undefined (no sealing)}
   */
  readonly seal?: AuditSinkSealOptions;
}

/** Options for {@linkcode JsonLinesAuditSink.close}. */
export interface AuditSinkCloseOptions {
  /** A deadline, such as `AbortSignal.timeout(8_000)`: when it aborts, what is undelivered counts as failed. @default {no deadline} */
  readonly signal?: AbortSignal;
}

const RESOLVED: Promise<void> = Promise.resolve();
/** Once a deadline passed, how long sealing gets to seal what was settled and hand it on. */
const DEADLINE_SEAL_GRACE_MS = 100;

/**
 * Writes each recorded `CallEvent` as one JSON line to a
 * `WritableStream<Uint8Array>` (a file, stdout, an HTTP endpoint, or any
 * stream), without ever blocking or throwing into the call being audited.
 *
 * Events wait in a Web Streams queue whose `highWaterMark` is `capacity`
 * events; lines that arrive while the destination is busy, or within 2 ms of
 * the previous write, go out together in one write (`flush()` does not wait).
 * When the queue is full the `backpressure` strategy decides.
 * Every event offered ends in one of `stats()`'s counters, and every loss
 * reaches `onError`. `onCall`, `record`, `flush`, `close` and `stats` may be
 * called detached (`emitter.on("call", sink.onCall)`).
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
  readonly #maxQueueBytes: number;
  readonly #strategy: BackpressureStrategy;
  readonly #fallbackSink: FallbackSink | undefined;
  readonly #queue: LineQueue;
  readonly #destination: DestinationLink;
  readonly #reporter: Reporter;
  readonly #losses: LossLedger;
  readonly #droppedFull: LossCounter;
  readonly #droppedClosed: LossCounter;
  readonly #sealing: Sealing | undefined;
  /** With sealing: counts events that went to the fallback, were refused by it, or were invalid. */
  readonly #sealFallback: (() => void) | undefined;
  readonly #sealRefused: (() => void) | undefined;
  readonly #sealInvalid: (() => void) | undefined;
  #closing = false;
  #finished = false;
  /** A close deadline passed: its cut gives up and aborts the destination, and finishes the close. */
  #cutting = false;
  /** Settles once the sink finished closing: every event is settled then, so a flush still waiting is done too. */
  readonly #closed: Promise<void>;
  #resolveClosed: () => void = () => {};
  #inFallback = false;
  #accepted = 0;
  /** `onCall`s so far, and how deep they are nested (from the getters of an event being encoded). */
  #calls = 0;
  #nesting = 0;
  #dropped = 0;
  #fallback = 0;
  #invalid = 0;

  /**
   * Creates a sink writing to `destination`.
   *
   * @param destination Where the lines go: an `AuditDestination` (such as
   *   `fetchDestination`), or any `WritableStream<Uint8Array>`, whose resolved
   *   writes count as delivered (see `toAuditDestination`). The sink takes its
   *   writer (so it must not be locked) and closes it on `close()` unless
   *   `preventClose`.
   * @param options Capacity, backpressure strategy, error hook.
   * @throws {TypeError} When `destination` is not a writable stream, is
   *   locked, or its `getWriter()` returns no writer; when `backpressure` is
   *   not a known strategy or its fallback has no `onCall()`; when `onError`
   *   is not a function or `preventClose` not a boolean.
   * @throws {RangeError} When `capacity` is not a positive integer,
   *   `maxQueueBytes` neither one nor `Infinity`, or `lossReportInterval` is
   *   negative.
   */
  constructor(destination: WritableStream<Uint8Array>, options: JsonLinesAuditSinkOptions = {}) {
    this.#closed = new Promise((resolve) => (this.#resolveClosed = resolve));
    const settings = readSinkOptions(options, {
      capacity: DEFAULT_AUDIT_QUEUE_CAPACITY,
      maxQueueBytes: DEFAULT_AUDIT_QUEUE_BYTES,
      interval: 10_000,
    });
    this.#reporter = new Reporter(settings.onError, settings.lossReportInterval);
    this.#losses = new LossLedger(
      settings.lossReportInterval,
      lossMessages(settings.capacity, settings.maxQueueBytes),
      (error) => this.#reporter.tell(error),
      Date.now,
      () => this.#reporter.telling,
    );
    this.#droppedFull = this.#losses.counter("queue_full");
    this.#droppedClosed = this.#losses.counter("closed");
    const sealing = this.#sealing = options?.seal === undefined ? undefined : makeSealing(options.seal, this.#reporter);
    if (sealing !== undefined) {
      this.#losses.onOutOfStream = (reason, events, first, last) => sealing.lost(reason, events, first, last);
      this.#sealFallback = sealing.counter("fallback");
      this.#sealRefused = sealing.counter("fallback_failed");
      this.#sealInvalid = sealing.counter("invalid");
    }
    this.#destination = new DestinationLink(
      destination,
      settings.preventClose,
      this.#losses,
      this.#reporter,
      sealing,
    );
    this.#capacity = settings.capacity;
    this.#maxQueueBytes = settings.maxQueueBytes;
    this.#strategy = settings.strategy;
    this.#fallbackSink = settings.fallback;
    this.#queue = new LineQueue(
      settings.capacity,
      this.#destination.deliver,
      sealing !== undefined,
      settings.maxQueueBytes,
      // Only a file or stdout gathers lines that trickle in (a write held back at most 2 ms): any other
      // destination batches on its own, and a page leaving must find every line already there.
      coalesces(destination) ? WRITE_INTERVAL_MS : 0,
      this.#destination.space,
      sealing?.bound,
    );
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

  /** The queue's bound in bytes (see {@linkcode JsonLinesAuditSinkOptions.maxQueueBytes}). */
  get maxQueueBytes(): number {
    return this.#maxQueueBytes;
  }

  /** The strategy given at construction. */
  get backpressure(): BackpressureStrategy {
    return this.#strategy;
  }

  /** Events lost so far: dropped on a full queue, recorded after `close()`, or refused by a throwing fallback. */
  get drops(): number {
    return this.#dropped;
  }

  /** Room left in the queue, in events; zero or less means full (as in Web Streams), in events or in bytes. */
  get desiredSize(): number {
    return this.#queue.desiredSize;
  }

  /**
   * Resolves when the queue has room, as a Web Streams writer's `ready` does:
   * `await sink.ready; sink.onCall(event);` keeps a single producer within
   * `capacity`. Several concurrent producers all wake on the same promise;
   * they should use {@linkcode JsonLinesAuditSink.record} instead.
   */
  get ready(): Promise<void> {
    return this.#queue.ready;
  }

  /**
   * Records one event once the queue has room for it: the lossless,
   * bounded way to record from many concurrent callers. In `"block"` mode it
   * waits, first come first served, so that however many callers wait, no
   * more than `capacity` events are ever queued; in the other modes it is
   * `onCall` and resolves at once. Past `maxQueueBytes` it waits the same way. The event is serialized at the call,
   * as by `onCall` (changes to the object while it waits do not show; an invalid one is counted at once). If the sink
   * closes while it waits, the event counts as a drop. Never rejects; works detached.
   *
   * @param event The event to record.
   * @returns A promise that resolves once the event was queued (or counted as not).
   */
  readonly record = (event: CallEvent): Promise<void> => {
    if (this.#strategy !== "block" || this.#closing || (!this.#queue.waiting && this.#queue.desiredSize > 0)) {
      this.onCall(event);
      return RESOLVED;
    }
    // Serialized now, as onCall does: changes made to the object while it waits for room do not show.
    const line = this.#encode(event);
    if (line === undefined) return RESOLVED;
    return new Promise((resolve) => {
      this.#queue.wait(() => {
        this.#admit(line);
        resolve();
      });
    });
  };

  /**
   * Records one event: serializes it now (so later changes to the object do
   * not show) and queues the line. Synchronous; never throws, never waits;
   * works detached.
   *
   * @param event The event to record.
   */
  readonly onCall = (event: CallEvent): void => {
    if (this.#closing) {
      this.#dropped++;
      this.#droppedClosed.count();
      return;
    }
    if (this.#queue.desiredSize <= 0) {
      const strategy = this.#strategy;
      if (strategy === "drop") {
        this.#dropped++;
        this.#droppedFull.count();
        return;
      }
      if (strategy !== "block") {
        this.#handToFallback(event);
        return;
      }
    }
    const calls = this.#calls + 1;
    const line = this.#encode(event);
    if (line === undefined) return;
    // The line does not fit under the byte bound, or a getter of this event
    // recorded other events meanwhile and the queue filled up.
    if (
      this.#strategy !== "block" &&
      (!this.#queue.fits(line) || (calls !== this.#calls && this.#queue.desiredSize <= 0))
    ) {
      if (this.#strategy === "drop") {
        this.#dropped++;
        this.#droppedFull.count();
      } else this.#handToFallback(event);
      return;
    }
    this.#queue.push(line);
    this.#accepted++;
  };

  /** The event's line, serialized now; `undefined` when it is invalid (counted and reported here). */
  #encode(event: CallEvent): string | undefined {
    if (this.#nesting >= MAX_NESTING) {
      // Recorded from a getter of an event being recorded, over and over: stop
      // before the stack runs out, where nothing could be counted or reported.
      this.#invalid++;
      this.#sealInvalid?.(); // an invalid event like any other: a gap in the trail, or offered ≠ lines + gaps
      this.#reporter.tell(TOO_NESTED, event, "skipped an invalid event");
      return undefined;
    }
    this.#calls++;
    this.#nesting++;
    try {
      return encodeCallEvent(event);
    } catch (error) {
      this.#invalid++;
      this.#sealInvalid?.();
      this.#reporter.tell(invalidEventError(error), event, "skipped an invalid event");
      return undefined;
    } finally {
      this.#nesting--;
    }
  }

  /** A `record()` caller's line, serialized when it called, is admitted: queued, or dropped if the sink closed since. */
  #admit(line: string): void {
    if (this.#closing) {
      this.#dropped++;
      this.#droppedClosed.count();
      return;
    }
    this.#queue.push(line);
    this.#accepted++;
  }

  /**
   * Resolves once every event accepted before the call was delivered,
   * rerouted or counted failed, and the destination's and the fallback sink's
   * own `flush` resolved; then reports the losses not reported yet. Never
   * rejects (but for a `signal` that is not an `AbortSignal`); works detached.
   *
   * With a `signal`, it resolves at the latest shortly after the signal
   * aborts: the events still in the queue count as failed, the destination
   * gives up what it holds (`destination.flush(signal)`), whatever it still
   * has not reported counts as failed too (reason `"deadline"`), and the sink
   * stays open.
   *
   * @param options A deadline.
   * @returns A promise that resolves when settled.
   */
  readonly flush = (options?: AuditSinkFlushOptions): Promise<void> => {
    try {
      return this.#flush(signalOf(options, "flush sink"));
    } catch (error) {
      return Promise.reject(error);
    }
  };

  /**
   * Flushes, then closes the destination (unless `preventClose`). Idempotent;
   * events recorded afterwards, and `record()` callers still waiting, count
   * as drops. Never rejects (but for a `signal` that is not an
   * `AbortSignal`); works detached.
   *
   * Without a `signal` it waits as long as the destination takes. With one,
   * it resolves at the latest about 100 ms after the signal aborts (sealed:
   * 200 ms; in band 300 ms, as the last checkpoint line is handed to the
   * destination before it is aborted), even if the destination never
   * answers: what is still queued or undelivered counts as failed (reason
   * `"deadline"`), is reported, and the destination is aborted. A later
   * `close({ signal })` bounds an earlier `close()`.
   *
   * @example On SIGTERM with a 10 s grace period (Node; Deno: `Deno.addSignalListener`)
   * ```ts ignore
   * process.once("SIGTERM", async () => {
   *   // Stop taking requests first, then leave 2 s of the 10 s for the rest of the shutdown.
   *   await sink.close({ signal: AbortSignal.timeout(8_000) });
   *   process.exit(0);
   * });
   * ```
   *
   * @param options A deadline.
   * @returns A promise that resolves when closed.
   */
  readonly close = (options?: AuditSinkCloseOptions): Promise<void> => {
    let signal: AbortSignal | undefined;
    try {
      signal = signalOf(options, "close sink");
    } catch (error) {
      return Promise.reject(error);
    }
    if (!this.#closing) {
      this.#closing = true;
      this.#queue.admitAll(); // record() callers still waiting now see a closed sink: their events count as drops
      void this.#close(signal);
    } else if (this.#finished) this.#summarize(); // drops recorded after close() are told now
    return signal === undefined ? this.#closed : this.#closeBy(signal);
  };

  /** Same as {@linkcode JsonLinesAuditSink.close}, for `await using`. */
  [Symbol.asyncDispose](): Promise<void> {
    return this.close();
  }

  /**
   * A snapshot of the counters. Works detached.
   *
   * @returns The counts so far.
   */
  readonly stats = (): AuditSinkStats => {
    const { written, rerouted, failed } = this.#destination.deliveries;
    return {
      accepted: this.#accepted,
      dropped: this.#dropped,
      fallback: this.#fallback,
      invalid: this.#invalid,
      written,
      rerouted,
      failed,
      queued: this.#accepted - written - rerouted - failed,
    };
  };

  async #flush(signal: AbortSignal | undefined): Promise<void> {
    await untilAborted(Promise.race([this.#flushSteps(signal), this.#closed]), signal);
    if (signal?.aborted) await this.#cut(signal, false);
    this.#summarize();
  }

  async #flushSteps(signal: AbortSignal | undefined): Promise<void> {
    await this.#queue.drained();
    if (signal?.aborted) return;
    await this.#destination.flush(signal);
    const fallback = this.#fallbackSink?.flush;
    if (fallback !== undefined) {
      await this.#reporter.attempt(
        () => fallback(signal === undefined ? {} : { signal }),
        "the fallback sink's flush() failed",
      );
    }
    // A deadline passing here is not told: the deadline's cut follows, gives sealing a grace, and tells if it is not enough.
    if (this.#sealing !== undefined && !signal?.aborted) await this.#seal(signal, false);
  }

  /**
   * Seals what is written and lost so far; every line handed out is settled
   * by now. Returns whether sealing finished before `signal` aborted.
   */
  async #seal(signal: AbortSignal | undefined, closing: boolean): Promise<boolean> {
    const sealing = this.#sealing!;
    this.#losses.fold();
    const finished = await (closing ? sealing.close(signal) : sealing.flush(signal));
    // In band, the last checkpoint line went to the destination after its flush.
    if (sealing.isInBand && !signal?.aborted) await this.#destination.flush(signal);
    return finished;
  }

  /**
   * A deadline passed: seals within its grace, and tells when even that was
   * not enough (a checkpoint still being made, or waiting for the
   * destination to switch streams): the lines would otherwise read as an
   * unsealed tail, what a crash leaves, with nobody told why.
   */
  async #sealInGrace(closing: boolean): Promise<void> {
    this.#sealing!.hurry(DEADLINE_SEAL_GRACE_MS);
    if (await this.#seal(abortAfter(DEADLINE_SEAL_GRACE_MS), closing)) return;
    this.#reporter.tell(
      new Error(
        "Sealing did not finish before the deadline: checkpoints were still being made or waited for the " +
          "destination to switch streams; the lines they would seal are not sealed yet (an unsealed tail in the " +
          "trail, unless sealing finishes later: after close it does not)",
      ),
    );
  }

  async #close(signal: AbortSignal | undefined): Promise<void> {
    await this.#flushSteps(signal);
    // The deadline's cut finishes the close (a later close({ signal }) may have aborted the destination meanwhile).
    if (this.#finished || this.#cutting || signal?.aborted) return;
    await this.#queue.close();
    if (this.#finished || this.#cutting) return;
    if (this.#sealing !== undefined) await this.#seal(undefined, true);
    if (this.#finished || this.#cutting) return;
    await this.#destination.close();
    this.#finish();
  }

  async #closeBy(signal: AbortSignal): Promise<void> {
    await untilAborted(this.#closed, signal);
    if (!signal.aborted || this.#finished) return;
    if (this.#cutting) return this.#closed; // another deadline's cut, bounded too, finishes the close
    this.#cutting = true;
    await this.#cut(signal, true);
    this.#finish();
  }

  #finish(): void {
    if (this.#finished) return;
    this.#finished = true;
    this.#summarize();
    this.#resolveClosed();
  }

  /** A deadline passed: what is still queued or undelivered counts as failed. */
  async #cut(signal: AbortSignal, closing: boolean): Promise<void> {
    const discarded = this.#queue.discard();
    if (discarded > 0) this.#destination.deliveries.discard(discarded, reasonOf(signal));
    const sealing = this.#sealing;
    if (sealing?.isInBand === true) {
      // The last checkpoint line goes through the destination: seal what the grace lets settle (lines
      // under way included) before the destination is given up, so that the line can still reach it.
      // Lines not yet under way no longer go out (after the last checkpoint, nothing would cover them).
      // A checkpoint being made goes out first, so that giving up settles its line too: a line still unsettled
      // would hold back the last checkpoint until after the close.
      this.#destination.stop(reasonOf(signal));
      await this.#destination.giveUp(signal, false, true, sealing.handedOn());
      await this.#sealInGrace(closing);
      if (closing) await this.#destination.abandon(signal);
      else this.#destination.resume(); // a flush: what comes next goes out, in segments of its own
      return;
    }
    await this.#destination.giveUp(signal, closing);
    // Every line is settled now: seal them, within the deadline's grace (the stream may be stalled too).
    if (sealing !== undefined) await this.#sealInGrace(closing);
  }

  #handToFallback(event: CallEvent): void {
    if (this.#inFallback) {
      // The fallback recorded back into this sink (a cycle of sinks): stop here.
      this.#dropped++;
      this.#sealRefused?.();
      this.#reporter.tell(
        new TypeError("Cannot hand the event to the fallback sink: it recorded back into this sink"),
        event,
        "dropped an event",
      );
      return;
    }
    this.#inFallback = true;
    try {
      const returned: unknown = this.#fallbackSink!.onCall(event);
      this.#fallback++;
      // An async onCall: handed on all the same (counted so), and a later rejection is told, never left unhandled.
      handleRejection(returned, (error) => this.#reporter.tell(error, event, "the fallback sink's onCall rejected"));
      this.#sealFallback?.();
    } catch (error) {
      this.#dropped++;
      this.#sealRefused?.();
      this.#reporter.tell(error, event, "dropped an event: the fallback sink threw");
    } finally {
      this.#inFallback = false;
    }
  }

  #summarize(): void {
    this.#losses.reportAll();
    this.#reporter.summarize();
  }
}

/** How deep `onCall` may be re-entered from the getters of the events it is encoding. */
const MAX_NESTING = 32;
const TOO_NESTED = new InvalidCallEventError([{
  path: "",
  reason:
    `to be recorded from outside the getters of the events being recorded (onCall was nested ${MAX_NESTING} deep)`,
}]);

function makeSealing(options: AuditSinkSealOptions, reporter: Reporter): Sealing {
  const { sealer, options: checked } = readSealOptions(options);
  return new Sealing(sealer, checked, reporter);
}

/** What `onError` gets for an event the encoder rejected: always an `InvalidCallEventError`. */
function invalidEventError(error: unknown): InvalidCallEventError {
  let reason = "to be readable, but reading it threw";
  try {
    if (error instanceof InvalidCallEventError) return error;
    // The encoder turns whatever a getter throws into an InvalidCallEventError: a
    // RangeError here is its own, building a line longer than a string can be.
    if (error instanceof RangeError) {
      reason = `to fit in one line, but writing it failed (RangeError: ${error.message})`;
    }
  } catch {
    // A hostile value thrown from a getter or proxy trap.
  }
  return new InvalidCallEventError([{ path: "", reason }], { cause: error });
}
