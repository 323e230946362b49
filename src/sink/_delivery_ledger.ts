// What became of the lines the sink accepted: written, rerouted or failed, as
// the destination reports them. It trusts no report: a destination that
// reports more lines than it was given, or after the sink gave up on them,
// cannot make the counters disagree.
import type { DeliveryReport } from "../destination/audit_destination.ts";
import type { AuditLossReason } from "./audit_loss_error.ts";
import type { LossLedger } from "./_losses.ts";
import type { Reporter } from "./_reporter.ts";

/** What became of lines: reached their target, went to the destination's fallback, or are lost. */
export type Fate = "delivered" | "rerouted" | "failed";

/**
 * Told, in stream order, of every line settled (sealing watches this: it
 * learns which of a segment's lines did not arrive). Lines settle oldest
 * first: a report of `count` lines settles the oldest unsettled ones, as the
 * destination contract (`DeliveryReport`) says destinations report them.
 */
export interface SettleObserver {
  /**
   * The `count` oldest unsettled lines were settled: by the destination's
   * report (or a rejected write), or, with `unreported`, counted failed here
   * though the destination may still be writing them (a deadline).
   *
   * @returns How many of them were events (the rest were lines the sink
   *   wrote itself, such as in-band checkpoints, which no counter counts).
   */
  settled(count: number, fate: Fate, reason: AuditLossReason, unreported?: boolean): number;
  /** The lines settled so far ended a stream: see `DeliveryReport.newStream`. */
  newStream(switchStreams: () => Promise<void>): Promise<void>;
}

/** The written, rerouted and failed counters, and the lines the destination holds unreported. */
export class DeliveryLedger {
  written = 0;
  rerouted = 0;
  failed = 0;
  /** Lines handed to the destination so far, and those since reported (or counted failed here). */
  #handedOut = 0;
  #settled = 0;
  /** Lines counted failed here that the destination may still report: their late reports are ignored. */
  #forgiven = 0;
  /** Bumped when every line in the destination is counted failed: older writes' rejections then count nothing. */
  #generation = 0;
  #misbehaved = false;
  /** A late report of lines counted failed at a deadline was told (once). */
  #lateTold = false;
  /** Why lines the destination reports failed were lost: `"deadline"` while the sink gives up after a deadline. */
  failReason: AuditLossReason = "destination";
  readonly #losses: LossLedger;
  readonly #reporter: Reporter;
  /** Sealing, when on. */
  observer: SettleObserver | undefined;

  constructor(losses: LossLedger, reporter: Reporter) {
    this.#losses = losses;
    this.#reporter = reporter;
  }

  /** Lines handed to the destination so far. */
  get handedOut(): number {
    return this.#handedOut;
  }

  /** What the destination is given at `attach`. */
  readonly report: DeliveryReport = {
    delivered: (lines) => {
      this.written += this.#events(this.#settle(lines), "delivered", "destination");
    },
    rerouted: (lines) => {
      this.rerouted += this.#events(this.#settle(lines), "rerouted", "destination");
    },
    failed: (lines, error) => {
      const events = this.#events(this.#settle(lines), "failed", this.failReason);
      if (events > 0) this.lose(this.failReason, events, error);
    },
    warn: (error) => this.#reporter.tell(error, undefined, "the destination warned"),
    newStream: (switchStreams) => {
      if (typeof switchStreams !== "function") {
        return Promise.reject(new TypeError("The destination's newStream() needs a function"));
      }
      return this.observer === undefined ? switchStreams() : this.observer.newStream(switchStreams);
    },
  };

  /** `lines` are about to be written to the destination; returns the ticket to pass to `rejected`. */
  handOut(lines: number): number {
    this.#handedOut += lines;
    return this.#generation;
  }

  /** A write of `lines` lines was rejected: none of them will be reported, they are lost. */
  rejected(ticket: number, lines: number, error: unknown): void {
    if (ticket !== this.#generation) return; // counted failed already
    const lost = Math.min(lines, this.#handedOut - this.#settled);
    this.#settled += lost;
    const events = this.#events(lost, "failed", "destination");
    if (events > 0) this.lose("destination", events, error);
  }

  /**
   * Counts every line handed out before `mark` (a `handedOut` value) and not
   * reported yet as failed: the destination said it was done with them.
   */
  settleUpTo(mark: number, reason: AuditLossReason, cause: unknown): void {
    const missing = mark - this.#settled;
    if (missing <= 0) return;
    this.#settled = mark;
    this.#forgiven += missing;
    this.#generation++;
    const events = this.#events(missing, "failed", reason, true);
    if (events > 0) this.lose(reason, events, cause);
  }

  /** Counts `events` accepted events, handed to the destination, lost, and tells the loss ledger. */
  lose(reason: AuditLossReason, events: number, cause?: unknown): void {
    this.failed += events;
    this.#losses.add(reason, events, cause);
  }

  /** Counts `events` accepted events lost before they were handed to the destination (a deadline emptied the queue). */
  discard(events: number, cause: unknown): void {
    this.failed += events;
    this.#losses.add("deadline", events, cause, undefined, true);
  }

  /** Of `count` lines just settled, the events (all of them, unless sealing wrote lines of its own). */
  #events(count: number, fate: Fate, reason: AuditLossReason, unreported = false): number {
    return count === 0 || this.observer === undefined ? count : this.observer.settled(count, fate, reason, unreported);
  }

  /**
   * Settles up to `lines` unreported lines; returns how many. A report of
   * more lines than were unreported, or of something that is not a count, is
   * told once and its excess ignored, so that `queued` never goes negative.
   */
  #settle(lines: unknown): number {
    const count = typeof lines === "number" && lines > 0 ? Math.floor(lines) : 0;
    const unreported = this.#handedOut - this.#settled;
    const settled = Math.min(count, unreported);
    this.#settled += settled;
    let extra = count - settled;
    const forgiven = Math.min(extra, this.#forgiven);
    this.#forgiven -= forgiven;
    extra -= forgiven;
    if (forgiven > 0 && !this.#lateTold) {
      this.#lateTold = true;
      this.#reporter.tell(
        new Error(
          `The destination reported ${forgiven} line${forgiven === 1 ? "" : "s"} after a deadline counted ` +
            `${forgiven === 1 ? "it" : "them"} failed: ${forgiven === 1 ? "it" : "they"} may be in the destination ` +
            "after all; the counters (and a sealed trail's gaps) stay as they were (told once)",
        ),
      );
    }
    if ((extra > 0 || (count === 0 && lines !== 0)) && !this.#misbehaved) {
      this.#misbehaved = true;
      this.#reporter.tell(
        new RangeError(
          `The destination reported ${
            typeof lines === "number" ? lines : `a ${typeof lines}`
          } lines when ${unreported} were unreported; ` +
            "reports of lines it was not given are ignored",
        ),
      );
    }
    return settled;
  }
}
