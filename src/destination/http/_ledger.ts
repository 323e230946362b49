// The fate of every line: delivered, rerouted to the fallback, or failed,
// each reported exactly once to the attached sink, and counted. Lines settle
// in any order (items of one response, batches in parallel requests, a slow
// fallback); the sink hears of them in stream order, by runs of positions.
import { untilAborted } from "../../_abort.ts";
import { ignoreRejection } from "../../_promise.ts";
import { concatBytes } from "../../_bytes.ts";
import { type AuditDestination, type DeliveryReport, toAuditDestination } from "../audit_destination.ts";
import { type Bytes, describe } from "./_attempt.ts";
import type { Piece } from "./_pieces.ts";
import { sliceSpans, type Span } from "./_spans.ts";
import { HttpDeliveryError } from "./http_delivery_error.ts";
import type { Redactor } from "./_redact.ts";

export type { Piece };

/** How a response settled a piece item by item. */
export interface Settlement {
  /** Positions of the lines delivered. */
  delivered: readonly Span[];
  /** Lines given up on, with their bytes (they go to the fallback, if any) and positions. */
  failed?: {
    readonly body: Bytes;
    readonly spans: readonly Span[];
    readonly events: number;
    readonly error: HttpDeliveryError;
  };
  /** Lines refused without saying which (no bytes to reroute): they count failed. */
  rejected?: { readonly spans: readonly Span[]; readonly events: number; readonly error: HttpDeliveryError };
  /** Lines to send again: this piece takes the settled piece's place in the parcel. */
  rest?: Piece;
}

/**
 * Lines that go out together and that a flush waits for: a batch, or the
 * requests sent when the page was left. Its pieces are the lines not yet
 * reported; a 413 replaces a piece by its halves.
 */
export class Parcel {
  readonly pieces: Set<Piece> = new Set();
  /** Aborts the parcel's requests and waits once it is given up on. */
  readonly controller: AbortController = new AbortController();
  /** Requests made for it so far. */
  attempts = 0;
  /** Its current request goes with keepalive (it outlives the page). */
  keepalive = false;
  /** The parcel its lines were moved to (when the page was left), which settles for it. */
  successor: Parcel | undefined;

  constructor(pieces: Iterable<Piece> = []) {
    for (const piece of pieces) this.pieces.add(piece);
  }

  /** Every line of it was reported. */
  get settled(): boolean {
    return this.pieces.size === 0 && (this.successor?.settled ?? true);
  }

  /** Events not yet reported. */
  get events(): number {
    let events = 0;
    for (const piece of this.pieces) events += piece.events;
    return events;
  }
}

/** What the ledger needs to know about its destination. */
export interface LedgerOptions {
  readonly where: string;
  readonly fallback: WritableStream<Uint8Array> | undefined;
  readonly onError: ((error: HttpDeliveryError) => void) | undefined;
  readonly redactor: Redactor;
  /** Called after every report (a flush may be waiting). */
  readonly onSettle: () => void;
}

/** A run of lines whose fate is known, held until every line before it was reported. */
interface Held {
  readonly count: number;
  readonly fate: "delivered" | "rerouted" | "failed";
  readonly error?: HttpDeliveryError;
}

/** Reports, counts and reroutes; the one place a line's fate is decided. */
export class Ledger {
  delivered = 0;
  failed = 0;
  rerouted = 0;
  readonly #options: LedgerOptions;
  readonly #fallback: AuditDestination | undefined;
  readonly #writer: WritableStreamDefaultWriter<Uint8Array> | undefined;
  /** Lines written to the fallback that it has not reported yet, and their positions in the order written. */
  #rerouting = 0;
  #reroutingSpans: Span[] = [];
  /** The next position to report, and the runs settled after it, by first position. */
  #cursor = 0;
  readonly #held = new Map<number, Held>();
  /** Of those, lines already reported failed (a flush's deadline passed): the fallback's next reports are dropped. */
  #writtenOff = 0;
  #sink: DeliveryReport | undefined;
  /** Settles once the fallback's underlying sink took every chunk written to it so far. */
  #lastWrite: Promise<void> = Promise.resolve();
  /** Writes to the fallback not settled yet. */
  #fallbackWrites = 0;
  #closing: Promise<void> | undefined;

  constructor(options: LedgerOptions) {
    this.#options = options;
    if (options.fallback === undefined) return;
    this.#fallback = toAuditDestination(options.fallback);
    this.#fallback.attach({
      delivered: (lines) => this.#fromFallback(lines, (n) => this.#reroute(n)),
      rerouted: (lines) => this.#fromFallback(lines, (n) => this.#reroute(n)),
      failed: (lines, error) =>
        this.#fromFallback(
          lines,
          (n) => this.#fail(this.#fromFront(n), n, this.#fallbackError(n, error, "its fallback failed")),
        ),
      warn: (error) => this.#sink?.warn(error),
    });
    this.#writer = this.#fallback.getWriter();
    this.#writer.closed.catch(() => {}); // each failed write is reported through its own promise
  }

  attach(report: DeliveryReport): void {
    this.#sink = report;
  }

  /**
   * A write to the fallback has not settled: the destination's `write()`
   * waits, as behind a full batch, so that a fallback slower than the lines
   * coming in (or stalled) does not gather them in memory without bound.
   */
  get fallbackBusy(): boolean {
    return this.#fallbackWrites > 0;
  }

  /** Lines handed to the fallback and not yet reported by it. */
  get rerouting(): number {
    return this.#rerouting - this.#writtenOff;
  }

  /** `piece` of `parcel` reached the endpoint; false (and nothing reported) when it was already given up on. */
  deliver(parcel: Parcel, piece: Piece): boolean {
    if (!parcel.pieces.delete(piece)) return false;
    this.delivered += piece.events;
    this.#hold(piece.spans, "delivered");
    this.#options.onSettle();
    return true;
  }

  /** `piece` of `parcel` cannot be delivered: to the fallback, or failed. */
  giveUp(parcel: Parcel, piece: Piece, error: HttpDeliveryError): boolean {
    if (!parcel.pieces.delete(piece)) return false;
    this.#giveUp(piece.body, piece.spans, piece.events, error);
    this.#options.onSettle();
    return true;
  }

  /**
   * Settles `piece` of `parcel` as a response said, item by item: `rest`
   * (if any) takes its place before anything is reported, so that the parcel
   * never looks settled in between. False (and nothing reported) when the
   * piece was already given up on.
   */
  settle(parcel: Parcel, piece: Piece, settlement: Settlement): boolean {
    if (!parcel.pieces.delete(piece)) return false;
    if (settlement.rest !== undefined) parcel.pieces.add(settlement.rest);
    const delivered = settlement.delivered.reduce((n, [, count]) => n + count, 0);
    this.delivered += delivered;
    // Held first, reported once all are held: the sink hears of the piece's lines in their order.
    this.#hold(settlement.delivered, "delivered", undefined, false);
    const { failed, rejected } = settlement;
    if (rejected !== undefined && rejected.events > 0) {
      this.#fail(rejected.spans, rejected.events, rejected.error, false);
    }
    if (failed !== undefined && failed.events > 0) this.#giveUp(failed.body, failed.spans, failed.events, failed.error);
    this.#release();
    this.#options.onSettle();
    return true;
  }

  /** Something the sink's `onError` (or the destination's) should hear that settled no line by itself. */
  warn(error: HttpDeliveryError): void {
    const sink = this.#sink;
    if (sink !== undefined) sink.warn(error);
    this.#tell(error);
  }

  /** Gives up every piece of `parcel` at once (an abort, a deadline); `error` names what happened. */
  abandon(parcel: Parcel, what: string, cause: unknown): void {
    if (parcel.successor !== undefined) this.abandon(parcel.successor, what, cause);
    if (parcel.pieces.size === 0) return;
    const pieces = [...parcel.pieces];
    parcel.pieces.clear();
    parcel.controller.abort(cause);
    const events = pieces.reduce((n, p) => n + p.events, 0);
    const error = this.error(what, events, parcel.attempts, cause === undefined ? {} : { cause });
    this.#giveUp(concatBytes(pieces.map((p) => p.body)), pieces.flatMap((p) => p.spans), events, error);
    this.#options.onSettle();
  }

  /** The error for `events` undelivered events. */
  error(
    what: string,
    events: number,
    attempts: number,
    more: { status?: number | undefined; body?: string | undefined; cause?: unknown },
  ): HttpDeliveryError {
    const tries = attempts === 1 ? "1 attempt" : `${attempts} attempts`;
    const cause = more.cause === undefined ? undefined : this.#options.redactor.error(more.cause);
    return new HttpDeliveryError(
      `Cannot deliver ${auditEvents(events)} to ${this.#options.where} after ${tries}: ${what}`,
      {
        status: more.status,
        body: more.body,
        events,
        attempts,
        cause,
      },
    );
  }

  /**
   * Resolves once the fallback reported every line given to it. When
   * `signal` aborts first, the lines it has not reported yet are reported
   * failed (they may still reach it; its later reports of them are dropped).
   */
  async flushFallback(signal?: AbortSignal): Promise<void> {
    const fallback = this.#fallback;
    if (fallback === undefined || this.rerouting === 0) return;
    // Destinations flush what their underlying sink took: first let it take every chunk written so far.
    await untilAborted(this.#lastWrite, signal);
    if (!signal?.aborted) await fallback.flush(signal);
    const late = this.rerouting;
    if (late === 0 || !signal?.aborted) return;
    this.#writtenOff += late;
    const spans = this.#fromFront(late);
    this.#fail(spans, late, this.#fallbackError(late, signal.reason, "the flush's deadline passed first"));
  }

  /** Closes the fallback once it took what it was given (the destination took its writer). Once only. */
  closeFallback(): Promise<void> {
    const writer = this.#writer;
    if (writer === undefined) return Promise.resolve();
    this.#closing ??= writer.close().catch((error: unknown) => {
      // A bare "Writable stream is closed or errored" would not say which stream.
      const cause = this.#options.redactor.error(error);
      this.#sink?.warn(new Error(`Cannot close the fallback of ${this.#options.where}: ${describe(cause)}`, { cause }));
    });
    return this.#closing;
  }

  #giveUp(body: Bytes, spans: readonly Span[], events: number, error: HttpDeliveryError): void {
    const writer = this.#writer;
    if (writer === undefined) return this.#fail(spans, events, error);
    this.#rerouting += events;
    for (const span of spans) this.#reroutingSpans.push(span);
    this.#fallbackWrites++;
    // A copy the fallback may keep, reuse or transfer: `body` may be a view of a batch whose other lines are still
    // to be sent (the other half of a 413, items to retry), whose bytes must stay as they were written.
    const written = writer.write(body.slice());
    this.#lastWrite = written.then(() => {}, () => {});
    void this.#lastWrite.then(() => {
      this.#fallbackWrites--;
      this.#options.onSettle(); // a write() waiting for the fallback may go on
    });
    written.catch((cause: unknown) => {
      // A rejected write reports none of its lines: they are lost.
      const fallbackError = (n: number): HttpDeliveryError =>
        new HttpDeliveryError(`${error.message}; the fallback could not take them either`, {
          status: error.status,
          body: error.body,
          events: n,
          attempts: error.attempts,
          cause: this.#options.redactor.error(cause),
        });
      this.#fromFallback(events, (n) => this.#fail(this.#fromFront(n), n, fallbackError(n)));
    });
  }

  /**
   * A report about `lines` lines from the fallback, which settles them in
   * the order it got them; what was written off already is not reported
   * twice. A fallback reporting more than it was given reports nothing more.
   */
  #fromFallback(lines: number, report: (lines: number) => void): void {
    const count = Math.min(typeof lines === "number" && lines > 0 ? Math.floor(lines) : 0, this.#rerouting);
    const dropped = Math.min(count, this.#writtenOff);
    this.#writtenOff -= dropped;
    this.#rerouting -= count;
    if (count > dropped) report(count - dropped);
    this.#options.onSettle();
  }

  #reroute(lines: number): void {
    this.rerouted += lines;
    this.#hold(this.#fromFront(lines), "rerouted");
  }

  /** The positions of the `lines` oldest lines the fallback has not reported, taken off its list. */
  #fromFront(lines: number): Span[] {
    const spans = sliceSpans(this.#reroutingSpans, 0, lines);
    let skip = lines;
    while (skip > 0 && this.#reroutingSpans.length > 0) {
      const [first, count] = this.#reroutingSpans[0]!;
      if (count > skip) {
        this.#reroutingSpans[0] = [first + skip, count - skip];
        break;
      }
      this.#reroutingSpans.shift();
      skip -= count;
    }
    return spans;
  }

  /** Holds the fate of the lines at `spans`, then (unless told not to) reports what is next in stream order. */
  #hold(spans: readonly Span[], fate: Held["fate"], error?: HttpDeliveryError, release = true): void {
    for (const [first, count] of spans) {
      if (count > 0) this.#held.set(first, error === undefined ? { count, fate } : { count, fate, error });
    }
    if (release) this.#release();
  }

  /** Reports every run held from the cursor on, in stream order, until a line not yet settled. */
  #release(): void {
    const sink = this.#sink;
    for (let next = this.#held.get(this.#cursor); next !== undefined; next = this.#held.get(this.#cursor)) {
      this.#held.delete(this.#cursor);
      this.#cursor += next.count;
      if (sink === undefined) continue;
      if (next.fate === "delivered") sink.delivered(next.count);
      else if (next.fate === "rerouted") sink.rerouted(next.count);
      else sink.failed(next.count, next.error);
    }
  }

  #fallbackError(events: number, cause: unknown, what: string): HttpDeliveryError {
    return new HttpDeliveryError(
      `Cannot reroute ${auditEvents(events)} undelivered to ${this.#options.where}: ${what}`,
      {
        events,
        attempts: 0,
        cause: cause === undefined ? undefined : this.#options.redactor.error(cause),
      },
    );
  }

  #fail(spans: readonly Span[], events: number, error: HttpDeliveryError, release = true): void {
    this.failed += events;
    this.#hold(spans, "failed", error, release);
    this.#tell(error);
  }

  /** The destination's own `onError`, or the console when no sink listens either. */
  #tell(error: HttpDeliveryError): void {
    const onError = this.#options.onError;
    try {
      if (onError !== undefined) ignoreRejection(onError(error));
      else if (this.#sink === undefined) console.error(`@atd/audit: ${error.name}: ${error.message}`);
    } catch {
      // onError must not throw; nothing is left to tell.
    }
  }
}

/** `1 audit event`, `2 audit events`: for messages. */
export function auditEvents(count: number): string {
  return count === 1 ? "1 audit event" : `${count} audit events`;
}
