// Request slots: which batch goes out when, who waits for what (flush,
// backpressure), and giving up on everything at an abort or a deadline.
import { concatBytes } from "../../_bytes.ts";
import { gzip, newKey } from "./_attempt.ts";
import type { SealedBatch } from "./_batcher.ts";
import { auditEvents, type Ledger, Parcel } from "./_ledger.ts";
import { rawPiece } from "./_pieces.ts";
import { spansOf } from "./_spans.ts";
import { monotonicNow, type SendContext, sendPiece } from "./_send.ts";
import { HttpDeliveryError } from "./http_delivery_error.ts";

const ABORTED = "the stream was aborted";

/** A sealed batch, waiting for or in a request. */
export class Batch extends Parcel {
  /** The Idempotency-Key of its first request, the same across retries. */
  readonly key: string = newKey();

  constructor(
    /** Order of sealing; a flush starts only batches sealed before it was called. */
    readonly seq: number,
    /** Sealed because it was full: in browsers it goes with keepalive, to outlive the page. */
    readonly full: boolean,
  ) {
    super();
  }
}

/**
 * A `flush()` or `write()` waiting for parcels to settle. Each waiter owns its
 * promise (created in the caller's context) and, once woken, starts the next
 * batches itself: on Cloudflare Workers, I/O started from another request's
 * continuation would die with that request.
 */
interface Waiter {
  readonly wake: () => void;
  /** The last batch (by `seq`) this waiter will start itself. */
  readonly limit: number;
}

/** Sends sealed batches, at most `maxInFlight` at a time, in order. */
export class Scheduler {
  readonly #ctx: SendContext;
  readonly #maxInFlight: number;
  readonly #deadlineMs: number;
  /** Longest a waiter sleeps before it looks again (keeps a Workers request alive). */
  readonly #pollMs: number;
  /** Sealed batches waiting for a free request slot. */
  #ready: Batch[] = [];
  /** Batches in a request or between retries. */
  readonly #sending = new Set<Batch>();
  /** Requests sent when the page was left, not yet settled. */
  readonly #unloading = new Set<Parcel>();
  #waiters: Waiter[] = [];
  #seq = 0;
  /** Lines sealed so far: the position of the next batch's first line. */
  #lines = 0;
  /** Batches sealed so far. */
  batches = 0;
  stopped = false;
  #reason: unknown;

  constructor(ctx: SendContext, maxInFlight: number, pollMs: number) {
    this.#ctx = ctx;
    this.#maxInFlight = maxInFlight;
    this.#deadlineMs = ctx.retry.deadlineMs;
    this.#pollMs = pollMs;
  }

  get #ledger(): Ledger {
    return this.#ctx.ledger;
  }

  /** Events in sealed batches not yet in a request. */
  get pending(): number {
    return this.#ready.reduce((n, batch) => n + batch.events, 0);
  }

  /** Events in requests, in waits between retries, or handed to the fallback and not yet reported by it. */
  get inFlight(): number {
    let events = this.#ledger.rerouting;
    for (const parcel of this.#sending) events += parcel.events;
    for (const parcel of this.#unloading) events += parcel.events;
    return events;
  }

  /**
   * Queues a sealed batch (a {@linkcode dispatch} starts it): its lines in
   * the destination's format, as one request or more (a format's size
   * limit), the gzip of each started now so that compression overlaps the
   * request in flight. Lines the format cannot carry are given up on at once.
   */
  enqueue(sealed: SealedBatch): void {
    const body = concatBytes(sealed.parts);
    const batch = new Batch(++this.#seq, sealed.full);
    this.batches++;
    const first = this.#lines;
    this.#lines += sealed.events;
    if (this.stopped) {
      batch.pieces.add(rawPiece({ body, events: sealed.events }, [[first, sealed.events]]));
      return this.#ledger.abandon(batch, ABORTED, this.#reason);
    }
    const { encoder, gzip: compress, where, redactor } = this.#ctx;
    const { pieces, refused } = encoder.prepare({ body, events: sealed.events }, first);
    for (const piece of pieces) {
      if (compress) piece.compressed = gzip(piece.payload);
      batch.pieces.add(piece);
    }
    for (const { reason, lines, positions } of refused) {
      const piece = rawPiece({ body: concatBytes(lines), events: lines.length }, spansOf(positions));
      batch.pieces.add(piece);
      const events = auditEvents(lines.length);
      const message = `Cannot send ${events} to ${where} as ${encoder.format.name}: ${redactor.text(reason, 300)}`;
      this.#ledger.giveUp(batch, piece, new HttpDeliveryError(message, { events: lines.length, attempts: 0 }));
    }
    if (!batch.settled) this.#ready.push(batch);
  }

  /** Starts waiting batches (sealed up to `limit`) while request slots are free. */
  dispatch(limit = Number.POSITIVE_INFINITY): void {
    let started = false;
    while (this.#ready.length > 0 && this.#ready[0]!.seq <= limit && this.#sending.size < this.#maxInFlight) {
      const batch = this.#ready.shift()!;
      started = true;
      this.#sending.add(batch);
      void this.#deliver(batch).finally(() => {
        // Waking twice for one batch would start the next batch from this (maybe ended) request's context.
        if (this.#sending.delete(batch)) this.#wake();
      });
    }
    // Writers blocked on a full ready queue may go on.
    if (started && this.#ready.length === 0) this.wakeWriters();
  }

  /**
   * Backpressure: resolves once no sealed batch is left waiting for a request
   * slot, and the fallback took what it was given.
   */
  waitForRoom(): Promise<void> | undefined {
    if (!this.#full()) return undefined;
    return (async () => {
      while (this.#full() && !this.stopped) {
        await this.#wait(Number.POSITIVE_INFINITY);
        this.dispatch();
      }
    })();
  }

  /**
   * Resolves once every parcel queued or sent so far has settled. When
   * `signal` aborts first, those still unsettled are given up on (failed or
   * rerouted) at once.
   */
  async flush(signal: AbortSignal | undefined): Promise<void> {
    this.dispatch();
    const targets = this.#parcels();
    if (targets.every((t) => t.settled)) return;
    const giveUp = (): void => this.#abandon(targets, "the flush's deadline passed", signal?.reason);
    if (signal?.aborted) return giveUp();
    signal?.addEventListener("abort", giveUp);
    try {
      // Wait without awaiting a promise another flush or request created (Workers cannot settle those across requests).
      const limit = this.#seq;
      while (targets.some((t) => !t.settled)) {
        await this.#wait(limit);
        this.dispatch(limit);
      }
    } finally {
      signal?.removeEventListener("abort", giveUp);
    }
  }

  #full(): boolean {
    return this.#ready.length > 0 || this.#ledger.fallbackBusy;
  }

  /** Gives up on every parcel (the stream was aborted); nothing starts any more. */
  abort(reason: unknown): void {
    this.stopped = true;
    this.#reason = reason;
    this.#abandon(this.#parcels(), ABORTED, reason);
    this.#wakeAll();
  }

  /** Takes every waiting batch out of the queue (the page is being left: they go out at once). */
  takeReady(): Batch[] {
    const batches = this.#ready;
    this.#ready = [];
    this.wakeWriters(); // the queue is empty
    return batches;
  }

  /** Batches in a request or between retries. */
  sending(): IterableIterator<Batch> {
    return this.#sending.values();
  }

  /** Tracks requests sent when the page was left until `done` settles. */
  track(parcel: Parcel, done: Promise<void>): void {
    this.#unloading.add(parcel);
    void done.finally(() => {
      this.#unloading.delete(parcel);
      this.#wake();
    });
  }

  /** Wakes writers held back by a full queue. */
  wakeWriters(): void {
    const waiters = this.#waiters;
    this.#waiters = waiters.filter((waiter) => waiter.limit !== Number.POSITIVE_INFINITY);
    for (const waiter of waiters) if (waiter.limit === Number.POSITIVE_INFINITY) waiter.wake();
  }

  /**
   * A ledger report happened: a flush may be done. A settled batch frees its
   * slot now, not when its send loop returns: on Workers the request that
   * started it may end as soon as its flush resolves, and with it every
   * continuation it started.
   */
  settled(): void {
    for (const batch of this.#sending) if (batch.settled) this.#sending.delete(batch);
    this.#wake();
  }

  async #deliver(batch: Batch): Promise<void> {
    try {
      // More than one piece when the format's size limit split the batch: one request each, in turn.
      const deadline = monotonicNow() + this.#deadlineMs;
      let key = batch.key;
      for (const piece of [...batch.pieces]) {
        if (batch.controller.signal.aborted) return;
        await sendPiece(this.#ctx, batch, piece, { key, deadline, full: batch.full });
        key = newKey();
      }
    } catch (error) {
      // sendPiece does not throw; this is a last guard so that no batch vanishes.
      this.#ledger.abandon(batch, "an internal error", error);
    }
  }

  /** Every unsettled parcel, oldest lines first (so that a fallback gets them in order). */
  #parcels(): Parcel[] {
    return [...this.#sending, ...this.#unloading, ...this.#ready];
  }

  #abandon(parcels: readonly Parcel[], what: string, reason: unknown): void {
    const given = new Set(parcels);
    this.#ready = this.#ready.filter((batch) => !given.has(batch));
    for (const parcel of parcels) this.#ledger.abandon(parcel, what, reason);
    this.#wakeAll();
  }

  /**
   * A promise of the caller's own, resolved when a parcel settles or the
   * queue changes, or after `pollMs` at the latest (then the caller checks
   * again). The timer also keeps the caller's request alive on Workers, which
   * cancels a request as hung when it waits only on another request's I/O.
   */
  #wait(limit: number): Promise<void> {
    return new Promise((resolve) => {
      const waiter: Waiter = {
        wake: () => {
          clearTimeout(timer);
          resolve();
        },
        limit,
      };
      const timer = setTimeout(() => {
        this.#waiters = this.#waiters.filter((w) => w !== waiter);
        resolve();
      }, this.#pollMs);
      this.#waiters.push(waiter);
    });
  }

  /** Wakes every waiter; starts the batches none of them will start. */
  #wake(): void {
    const waiters = this.#waiters;
    if (waiters.length === 0) return this.dispatch();
    this.#waiters = [];
    let covered = -1;
    for (const waiter of waiters) {
      covered = Math.max(covered, waiter.limit);
      waiter.wake();
    }
    const head = this.#ready[0];
    if (head !== undefined && head.seq > covered) this.dispatch();
  }

  #wakeAll(): void {
    const waiters = this.#waiters;
    this.#waiters = [];
    for (const waiter of waiters) waiter.wake();
  }
}
