// The sink's side of the destination contract: the writer, what the
// destination reports, and flushing, closing and giving up against deadlines.
import { type AuditDestination, isAuditDestination, toAuditDestination } from "../destination/audit_destination.ts";
import { noteLines } from "../destination/_chunk_lines.ts";
import { writesInPlace } from "../destination/_coalesce.ts";
import { type GracePeriod, gracePeriod, reasonOf } from "../_abort.ts";
import { writerOf } from "../_writer.ts";
import { DeliveryLedger } from "./_delivery_ledger.ts";
import type { LossLedger } from "./_losses.ts";
import type { Reporter } from "./_reporter.ts";
import type { Sealing } from "./_sealing.ts";

/** How long a destination gets, once a deadline passed, to give up what it holds and release. */
const DEADLINE_GRACE_MS = 100;
const UNREPORTED = new Error("The destination's flush() resolved before reporting these lines");

/** Writes the sink's chunks to its destination and counts what becomes of their lines. */
export class DestinationLink {
  /** The written, rerouted and failed counts, as the destination reports them. */
  readonly deliveries: DeliveryLedger;
  readonly #destination: AuditDestination;
  readonly #out: WritableStreamDefaultWriter<Uint8Array>;
  /** Close releases the writer instead (a plain stream's wrapper applies `preventClose` itself). */
  readonly #preventClose: boolean;
  readonly #reporter: Reporter;
  /** A write was rejected: the destination is errored for good. */
  #broken = false;
  #lockReleased = false;
  readonly #sealing: Sealing | undefined;
  /** In band: the chunk waiting for the last cut's checkpoint line, if one is. */
  #gated: { readonly lines: number; dropped: boolean } | undefined;
  /** In band, once a deadline passed: why no further chunk goes out. */
  #stopped: { readonly cause: unknown } | undefined;

  /**
   * Takes the destination's writer and attaches to it.
   *
   * @throws {TypeError} When `destination` is not a writable stream, is
   *   locked, has no proper writer, or its `attach()` throws.
   */
  constructor(
    destination: WritableStream<Uint8Array>,
    preventClose: boolean,
    losses: LossLedger,
    reporter: Reporter,
    sealing?: Sealing,
  ) {
    const own = !isAuditDestination(destination); // a plain stream, wrapped here
    const target = toAuditDestination(destination, { preventClose });
    this.#out = writerOf(target, "the destination");
    this.#reporter = reporter;
    this.deliveries = new DeliveryLedger(losses, reporter);
    try {
      target.attach(this.deliveries.report);
    } catch (cause) {
      throw new TypeError("Cannot use the destination: its attach() threw", { cause });
    }
    this.#destination = target;
    this.#preventClose = !own && preventClose;
    this.#sealing = sealing;
    this.space = sealing !== undefined && writesInPlace(destination)
      ? (bytes, lines) => sealing.space(bytes, lines)
      : undefined;
    if (sealing !== undefined) {
      this.deliveries.observer = sealing;
      if (sealing.isInBand) {
        sealing.inBand = {
          write: (line) => this.#writeCheckpoint(line),
          prompt: () => void this.#reporter.attempt(() => target.flush(), "the destination's flush() failed"),
        };
      }
    }
  }

  /**
   * Where the queue encodes the next chunk, when it hands that chunk to
   * {@linkcode DestinationLink.deliver} at once (see `Sealing.space`, which
   * says when): with sealing, for this library's file destinations. Else
   * `undefined`.
   */
  readonly space: ((bytes: number, lines: number) => Uint8Array | undefined) | undefined;

  /** Hands a chunk of `lines` lines to the destination. Never rejects. */
  readonly deliver = async (bytes: Uint8Array, lines: number, ends: Uint32Array | undefined): Promise<void> => {
    const sealing = this.#sealing;
    if (sealing !== undefined) {
      sealing.fit(bytes.length, lines);
      // In band, every checkpoint line due before this chunk goes first: also one of a cut made while it waited.
      for (let gate = sealing.gate(); gate !== undefined; gate = sealing.gate()) {
        const gated = this.#gated = { lines, dropped: false };
        await gate;
        this.#gated = undefined;
        if (gated.dropped) return;
      }
      if (this.#stopped !== undefined) {
        this.deliveries.discard(lines, this.#stopped.cause);
        return;
      }
      bytes = sealing.append(bytes, lines, ends);
    }
    const ticket = this.deliveries.handOut(lines);
    noteLines(bytes, lines);
    try {
      await this.#out.write(bytes); // the destination reports each line's fate
    } catch (error) {
      this.#broken = true;
      this.deliveries.rejected(ticket, lines, error);
    }
  };

  /**
   * In band, a deadline passed: the chunk waiting for a checkpoint line, and
   * any chunk after it, are not written but counted failed now, before the
   * last checkpoint is made (which then declares them lost), rather than
   * written after it, where no checkpoint would cover them.
   */
  stop(cause: unknown): void {
    this.#stopped ??= { cause };
    const gated = this.#gated;
    if (gated !== undefined && !gated.dropped) {
      gated.dropped = true;
      this.deliveries.discard(gated.lines, cause);
    }
  }

  /** After a flush's deadline ({@linkcode DestinationLink.stop}): the sink stays open, and its next chunks go out. */
  resume(): void {
    this.#stopped = undefined;
  }

  /** Writes an in-band checkpoint line after the chunks handed out so far; its fate is counted as no event's. */
  #writeCheckpoint(line: Uint8Array): void {
    const ticket = this.deliveries.handOut(1);
    this.#sealing!.handedOutCheckpoint();
    this.#out.write(line).catch((error) => {
      this.#broken = true;
      this.deliveries.rejected(ticket, 1, error);
    });
  }

  /** Flushes the destination; every line written before must then have been reported. Never rejects. */
  async flush(signal: AbortSignal | undefined): Promise<void> {
    const handedOut = this.deliveries.handedOut;
    // The destination gives up at the same abort, from its own listener, and may report failures at once: they
    // are the deadline's (the sink's cut, which follows any abort, puts the reason back once it is done).
    const deadline = (): void => void (this.deliveries.failReason = "deadline");
    signal?.addEventListener("abort", deadline);
    try {
      await this.#reporter.attempt(() => this.#destination.flush(signal), "the destination's flush() failed");
    } finally {
      signal?.removeEventListener("abort", deadline);
    }
    if (!signal?.aborted) this.deliveries.settleUpTo(handedOut, "destination", UNREPORTED);
  }

  /** Closes the destination (releases it with `preventClose`, or once a write errored it). Never rejects. */
  async close(): Promise<void> {
    // A rejected write errored the destination for good, and was reported.
    if (this.#preventClose || this.#broken) this.#releaseLock();
    else await this.#reporter.attempt(() => this.#out.close(), "the destination's close() failed");
  }

  /**
   * A deadline passed: the destination gets a short grace to give up (and
   * report) what it holds and, when `closing`, to be aborted; what it still
   * has not reported then counts as failed. With `inFlight`, lines already
   * on their way (a plain stream's write under way) may still be reported
   * within the grace, after `first` settles (within the grace too). Never rejects.
   */
  async giveUp(signal: AbortSignal, closing: boolean, inFlight = false, first?: Promise<unknown>): Promise<void> {
    const grace = gracePeriod(DEADLINE_GRACE_MS);
    this.deliveries.failReason = "deadline"; // what the destination gives up now, it gives up for the deadline
    try {
      if (first !== undefined) await grace.wait(first);
      await grace.wait(this.#flushed(signal));
      if (inFlight) await grace.wait(this.#flushed(undefined));
      if (closing) await this.#release(grace, signal);
    } finally {
      grace.end();
      this.deliveries.failReason = "destination";
    }
    this.deliveries.settleUpTo(this.deliveries.handedOut, "deadline", reasonOf(signal));
  }

  /**
   * Aborts the destination (releases it with `preventClose`) after a
   * deadline and a {@linkcode giveUp} that did not: in band, once the last
   * checkpoint line was handed to it. What it still has not reported after a
   * short grace counts as failed. Never rejects.
   */
  async abandon(signal: AbortSignal): Promise<void> {
    const grace = gracePeriod(DEADLINE_GRACE_MS);
    this.deliveries.failReason = "deadline";
    try {
      await this.#release(grace, signal);
    } finally {
      grace.end();
      this.deliveries.failReason = "destination";
    }
    this.deliveries.settleUpTo(this.deliveries.handedOut, "deadline", reasonOf(signal));
  }

  #flushed(signal: AbortSignal | undefined): Promise<void> {
    return this.#reporter.attempt(() => this.#destination.flush(signal), "the destination's flush() failed");
  }

  async #release(grace: GracePeriod, signal: AbortSignal): Promise<void> {
    if (this.#preventClose) this.#releaseLock();
    else if (!this.#lockReleased) {
      await grace.wait(
        this.#reporter.attempt(() => this.#out.abort(reasonOf(signal)), "the destination's abort() failed"),
      );
    }
  }

  #releaseLock(): void {
    if (this.#lockReleased) return;
    this.#lockReleased = true;
    this.#out.releaseLock();
  }
}
