/**
 * Why a sink lost accepted or offered events:
 * - `"queue_full"`: the queue was full in `"drop"` mode (counted in `dropped`);
 * - `"closed"`: recorded after `close()`, or still waiting in `record()` when
 *   the sink closed (counted in `dropped`);
 * - `"destination"`: the destination's write failed or it reported lines
 *   failed (counted in `failed`);
 * - `"deadline"`: still undelivered when a `flush()` or `close()` deadline
 *   passed (counted in `failed`).
 */
export type AuditLossReason = "queue_full" | "closed" | "destination" | "deadline";

/** The fields of an {@linkcode AuditLossError}. */
export interface AuditLossErrorOptions {
  /** Why the events were lost. */
  readonly reason: AuditLossReason;
  /** Events this report covers. */
  readonly events: number;
  /** Events lost for this reason since the sink was created, this report included. */
  readonly total: number;
  /** When the first loss this report covers happened, in milliseconds since the epoch. */
  readonly firstAt: number;
  /** When the last loss this report covers happened, in milliseconds since the epoch. */
  readonly lastAt: number;
  /** The underlying error (a destination's write error), if any. */
  readonly cause?: unknown;
}

/**
 * Events a sink lost, reported to its `onError`: losses of one reason are
 * gathered, so that one report covers many events. The first loss of each
 * reason is reported at once, later ones at most once per interval, and the
 * rest when `flush()` or `close()` ends: the `events` of every report of a
 * reason add up to that reason's `total`.
 *
 * @example Telling drops from destination failures
 * ```ts
 * import { AuditLossError, JsonLinesAuditSink } from "@atd/audit";
 * const sink = new JsonLinesAuditSink(new WritableStream(), {
 *   onError(error) {
 *     if (error instanceof AuditLossError && error.reason === "queue_full") {
 *       console.warn(`${error.total} events dropped so far`);
 *     }
 *   },
 * });
 * await sink.close();
 * ```
 */
export class AuditLossError extends Error {
  /** Why the events were lost. */
  readonly reason: AuditLossReason;
  /** Events this report covers. */
  readonly events: number;
  /** Events lost for this reason so far, this report included. */
  readonly total: number;
  /** When the first loss this report covers happened, in milliseconds since the epoch. */
  readonly firstAt: number;
  /** When the last loss this report covers happened, in milliseconds since the epoch. */
  readonly lastAt: number;

  /**
   * Creates a loss report.
   *
   * @param message What was lost, why, and what to do about it.
   * @param options The reason, the counts, the time range and the cause.
   */
  constructor(message: string, options: AuditLossErrorOptions) {
    super(message, "cause" in options ? { cause: options.cause } : undefined);
    this.name = "AuditLossError";
    this.reason = options.reason;
    this.events = options.events;
    this.total = options.total;
    this.firstAt = options.firstAt;
    this.lastAt = options.lastAt;
  }
}
