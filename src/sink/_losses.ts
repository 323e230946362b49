// Gathers the sink's losses into few reports: the first loss of a reason at
// once, then at most one report per interval (made lazily, on a later loss:
// no timer keeps a process alive), then the rest when flush() or close() ends.
import { AuditLossError, type AuditLossReason } from "./audit_loss_error.ts";
import { describeError } from "./_describe_error.ts";

/** Builds the message of a report. */
export type LossMessage = (reason: AuditLossReason, events: number, total: number, cause: unknown) => string;

interface Tally {
  total: number;
  /** Lost since the last report. */
  unreported: number;
  firstAt: number;
  lastAt: number;
  /** The first cause since the last report (`undefined` when none was given). */
  cause: unknown;
  reportedAt: number;
  scheduled: boolean;
}

const REASONS: readonly AuditLossReason[] = ["queue_full", "closed", "destination", "deadline"];

/** Counts losses by reason and reports them, gathered, as {@linkcode AuditLossError}s. */
export class LossLedger {
  readonly #tallies: Record<AuditLossReason, Tally>;
  readonly #interval: number;
  readonly #message: LossMessage;
  readonly #tell: (error: AuditLossError) => void;
  readonly #clock: () => number;
  readonly #quiet: () => boolean;
  /** The clock read once per event-loop turn: a burst of drops costs one clock read. */
  #now = 0;
  #stamped = false;
  readonly #counters: LossCounter[] = [];
  /**
   * Told of each loss of events that never reached the destination (sealing
   * writes them into the trail as gaps), with the times of the first and last.
   */
  onOutOfStream: ((reason: AuditLossReason, events: number, firstAt: number, lastAt: number) => void) | undefined;

  /**
   * @param interval Milliseconds between two reports of one reason.
   * @param message Builds each report's message.
   * @param tell Receives each report; called from a microtask or from {@linkcode LossLedger.reportAll}.
   * @param clock Milliseconds since the epoch.
   * @param quiet Whether a report is being told right now: a loss it causes
   *   (an `onError` that records into a full queue) is counted but waits for
   *   a later report, so that reports and losses cannot feed each other
   *   forever.
   */
  constructor(
    interval: number,
    message: LossMessage,
    tell: (error: AuditLossError) => void,
    clock: () => number = Date.now,
    quiet: () => boolean = () => false,
  ) {
    this.#interval = interval;
    this.#message = message;
    this.#tell = tell;
    this.#clock = clock;
    this.#quiet = quiet;
    const tally = (): Tally => ({
      total: 0,
      unreported: 0,
      firstAt: 0,
      lastAt: 0,
      cause: undefined,
      reportedAt: -Infinity,
      scheduled: false,
    });
    this.#tallies = { queue_full: tally(), closed: tally(), destination: tally(), deadline: tally() };
  }

  /**
   * Counts `events` lost for `reason`; schedules a report when one is due.
   *
   * @param since When the first of these losses happened, if earlier than now.
   * @param outOfStream The events never reached the destination (dropped, or cut from the queue).
   */
  add(
    reason: AuditLossReason,
    events: number,
    cause?: unknown,
    since?: number,
    outOfStream = false,
    quiet = this.#quiet(),
  ): void {
    const tally = this.#tallies[reason];
    // The stamp is read once per turn: a loss counted later in that turn must not end before it began.
    const now = since === undefined ? this.#stamp() : Math.max(this.#stamp(), since);
    if (outOfStream) this.onOutOfStream?.(reason, events, since ?? now, now);
    if (tally.unreported === 0) {
      tally.firstAt = since ?? now;
      tally.cause = cause;
    }
    tally.unreported += events;
    tally.total += events;
    tally.lastAt = now;
    if (!tally.scheduled && !quiet && now - tally.reportedAt >= this.#interval) {
      tally.scheduled = true;
      queueMicrotask(() => this.#report(reason));
    }
  }

  /** A counter of single losses for the hot path, folded into this ledger once per event-loop turn. */
  counter(reason: AuditLossReason): LossCounter {
    const counter = new LossCounter(reason, this, this.#clock, this.#quiet);
    this.#counters.push(counter);
    return counter;
  }

  /** Reports every loss not reported yet, now. */
  reportAll(): void {
    this.fold();
    for (const reason of REASONS) this.#report(reason);
  }

  /** Takes in the single losses counted in this event-loop turn (before a checkpoint counts them). */
  fold(): void {
    for (const counter of this.#counters) counter.fold();
  }

  #report(reason: AuditLossReason): void {
    const tally = this.#tallies[reason];
    tally.scheduled = false;
    const events = tally.unreported;
    if (events === 0) return;
    tally.unreported = 0;
    tally.reportedAt = this.#clock();
    const cause = tally.cause;
    tally.cause = undefined;
    const details = { reason, events, total: tally.total, firstAt: tally.firstAt, lastAt: tally.lastAt };
    this.#tell(
      new AuditLossError(
        this.#message(reason, events, tally.total, cause),
        cause === undefined ? details : { ...details, cause },
      ),
    );
  }

  #stamp(): number {
    if (!this.#stamped) {
      this.#stamped = true;
      this.#now = this.#clock();
      queueMicrotask(() => {
        this.#stamped = false;
      });
    }
    return this.#now;
  }
}

/**
 * Single losses counted where a drop costs nothing more than an increment (a
 * burst of 10,000 drops must not read the clock 10,000 times): the first one
 * of an event-loop turn notes the time and schedules the fold into the ledger.
 */
export class LossCounter {
  readonly #reason: AuditLossReason;
  readonly #ledger: LossLedger;
  readonly #clock: () => number;
  readonly #quiet: () => boolean;
  #pending = 0;
  #since = 0;
  /** The first loss of the pending ones happened while a report was being told. */
  #nested = false;

  constructor(reason: AuditLossReason, ledger: LossLedger, clock: () => number, quiet: () => boolean) {
    this.#reason = reason;
    this.#ledger = ledger;
    this.#clock = clock;
    this.#quiet = quiet;
  }

  /** Counts one loss. */
  count(): void {
    if (this.#pending++ === 0) {
      this.#since = this.#clock();
      this.#nested = this.#quiet();
      queueMicrotask(this.fold);
    }
  }

  /** Hands the losses counted so far to the ledger. */
  readonly fold = (): void => {
    const pending = this.#pending;
    if (pending === 0) return;
    this.#pending = 0;
    this.#ledger.add(this.#reason, pending, undefined, this.#since, true, this.#nested);
  };
}

/** The messages of a sink's loss reports: what was lost, why, and what to do about it. */
export function lossMessages(capacity: number, maxQueueBytes = Infinity): LossMessage {
  const bound = maxQueueBytes === Infinity ? `${capacity} events` : `${capacity} events (${showBytes(maxQueueBytes)})`;
  return (reason, events, total, cause) => {
    const counted = `${events} event${events === 1 ? "" : "s"} (${total} so far)`;
    switch (reason) {
      case "queue_full":
        return `Dropped ${counted}: the queue of ${bound} was full with backpressure "drop"; ` +
          `to keep them, use backpressure "block" with await sink.record(event), a larger capacity ` +
          `or maxQueueBytes, or a fallback sink`;
      case "closed":
        return `Dropped ${counted} recorded after close(); await every record() before closing the sink`;
      case "destination":
        return `Lost ${counted}: the destination failed: ${describeError(cause)}`;
      case "deadline":
        return `Lost ${counted}: still undelivered when the flush() or close() deadline passed (${
          describeError(cause)
        })`;
    }
  };
}

/** A byte count for a message: whole MiB or KiB when it is one, else bytes. */
function showBytes(bytes: number): string {
  if (bytes % (1 << 20) === 0) return `${bytes / (1 << 20)} MiB`;
  if (bytes % 1024 === 0) return `${bytes / 1024} KiB`;
  return `${bytes} bytes`;
}
