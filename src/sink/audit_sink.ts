import type { CallEvent } from "../event/call_event.ts";

/**
 * Anything that records call events. `onCall` must be synchronous and must
 * not throw; the other members are optional, with the reference's defaults.
 *
 * @example A sink that counts events, usable as a fallback
 * ```ts
 * import { type AuditSink, type CallEvent } from "@atd/audit";
 * class CountingSink implements AuditSink {
 *   count = 0;
 *   onCall(_event: CallEvent): void {
 *     this.count++;
 *   }
 * }
 * console.log(new CountingSink().count);
 * ```
 */
export interface AuditSink {
  /** Records one event; returns at once, never throws. */
  onCall(event: CallEvent): void;
  /** Events this sink has lost so far. @default {0} */
  readonly drops?: number;
  /** What the sink does when it cannot keep up. @default {"drop"} */
  readonly backpressure?: BackpressureStrategy;
  /**
   * Resolves once everything recorded so far has been delivered, or shortly
   * after `options.signal` aborts.
   */
  flush?(options?: AuditSinkFlushOptions): Promise<void>;
}

/**
 * What a sink does with an event that finds its queue full:
 * - `"drop"`: drop it and count it in `drops` (the default);
 * - `"block"`: keep it: nothing is ever dropped, and callers that want
 *   backpressure `await sink.record(event)` (or, for a single producer,
 *   `await sink.ready` before `onCall`);
 * - `{ fallback }`: hand it to another sink; `drops` stays 0 unless the
 *   fallback's `onCall` throws (then the event counts as a drop and goes to `onError`).
 *
 * @example The three forms
 * ```ts
 * import { type AuditSink, type BackpressureStrategy, JsonLinesAuditSink } from "@atd/audit";
 * const spill: AuditSink = JsonLinesAuditSink.stderr();
 * const strategies: BackpressureStrategy[] = ["drop", "block", { fallback: spill }];
 * console.log(strategies.length);
 * ```
 */
export type BackpressureStrategy = "drop" | "block" | { readonly fallback: AuditSink };

/** The queue capacity, in events, of a sink built without `capacity`. */
export const DEFAULT_AUDIT_QUEUE_CAPACITY = 1024;

/** The queue's bound in bytes (64 MiB) of a sink built without `maxQueueBytes`. */
export const DEFAULT_AUDIT_QUEUE_BYTES = 64 * 1024 * 1024;

/** Options for {@linkcode AuditSink.flush} (and `JsonLinesAuditSink.flush`). */
export interface AuditSinkFlushOptions {
  /** A deadline, such as `AbortSignal.timeout(5_000)`: when it aborts, what is undelivered counts as failed. @default {no deadline} */
  readonly signal?: AbortSignal;
}

/** Counters of a `JsonLinesAuditSink`; every `onCall` lands in exactly one of the first four. */
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
  /** Accepted events lost: the destination failed, or they were undelivered when a deadline passed. */
  readonly failed: number;
  /** Accepted events not yet written, rerouted nor failed. */
  readonly queued: number;
}
