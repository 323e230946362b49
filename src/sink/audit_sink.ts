import type { CallEvent } from "../event/call_event.ts";

/**
 * Anything that records call events. `onCall` must be synchronous and must
 * not throw; the other members are optional, with the reference's defaults.
 */
export interface AuditSink {
  /** Records one event; returns at once, never throws. */
  onCall(event: CallEvent): void;
  /** Events this sink has lost so far. @default {0} */
  readonly drops?: number;
  /** What the sink does when it cannot keep up. @default {"drop"} */
  readonly backpressure?: BackpressureStrategy;
  /** Resolves once everything recorded so far has been delivered. */
  flush?(): Promise<void>;
}

/**
 * What a sink does with an event that finds its queue full:
 * - `"drop"`: drop it and count it in `drops` (the default);
 * - `"block"`: keep it: nothing is ever dropped, and callers that want
 *   backpressure `await sink.ready` before recording;
 * - `{ fallback }`: hand it to another sink; `drops` stays 0.
 */
export type BackpressureStrategy = "drop" | "block" | { readonly fallback: AuditSink };

/** The queue capacity, in events, of a sink built without `capacity`. */
export const DEFAULT_AUDIT_QUEUE_CAPACITY = 1024;
