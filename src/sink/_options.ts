// Reads and checks a sink's options once, at construction: nothing that passes
// here fails later for a reason that could be seen now.
import type { CallEvent } from "../event/call_event.ts";
import type { AuditSink, AuditSinkFlushOptions, BackpressureStrategy } from "./audit_sink.ts";
import { show } from "../event/_safe_read.ts";

/** A sink's options, checked, with defaults applied. */
export interface SinkSettings {
  readonly capacity: number;
  readonly maxQueueBytes: number;
  readonly strategy: BackpressureStrategy;
  /** The fallback sink and its methods, read once. */
  readonly fallback: FallbackSink | undefined;
  readonly onError: ((error: unknown, event?: CallEvent) => void) | undefined;
  readonly preventClose: boolean;
  readonly lossReportInterval: number;
}

/** A fallback sink's methods, read once at construction. */
export interface FallbackSink {
  readonly sink: AuditSink;
  readonly onCall: (event: CallEvent) => void;
  readonly flush: ((options: AuditSinkFlushOptions) => Promise<void>) | undefined;
}

/** What the caller passed, before checking. */
interface RawOptions {
  readonly capacity?: unknown;
  readonly maxQueueBytes?: unknown;
  readonly backpressure?: unknown;
  readonly onError?: unknown;
  readonly preventClose?: unknown;
  readonly lossReportInterval?: unknown;
}

/**
 * Checks a sink's options.
 *
 * @throws {TypeError} For a value of the wrong type.
 * @throws {RangeError} For a number out of range.
 */
export function readSinkOptions(
  options: unknown,
  defaults: { capacity: number; maxQueueBytes: number; interval: number },
): SinkSettings {
  if (options === undefined) options = {};
  if (typeof options !== "object" || options === null) {
    throw new TypeError(`Cannot create sink: options must be an object, got ${show(options)}`);
  }
  const raw = options as RawOptions;
  const capacity = raw.capacity ?? defaults.capacity;
  if (typeof capacity !== "number") {
    throw new TypeError(`Cannot create sink: capacity must be a number of events, got ${show(capacity)}`);
  }
  if (!Number.isSafeInteger(capacity) || capacity < 1) {
    throw new RangeError(`Cannot create sink: capacity must be a positive integer, got ${capacity}`);
  }
  const maxQueueBytes = raw.maxQueueBytes ?? defaults.maxQueueBytes;
  if (typeof maxQueueBytes !== "number") {
    throw new TypeError(`Cannot create sink: maxQueueBytes must be a number of bytes, got ${show(maxQueueBytes)}`);
  }
  if (maxQueueBytes !== Infinity && (!Number.isSafeInteger(maxQueueBytes) || maxQueueBytes < 1)) {
    throw new RangeError(
      `Cannot create sink: maxQueueBytes must be a positive integer or Infinity, got ${maxQueueBytes}`,
    );
  }
  const strategy = raw.backpressure ?? "drop";
  const fallback = strategy === "drop" || strategy === "block" ? undefined : fallbackOf(strategy);
  const onError = raw.onError;
  if (onError !== undefined && typeof onError !== "function") {
    throw new TypeError(`Cannot create sink: onError must be a function, got ${show(onError)}`);
  }
  const preventClose = raw.preventClose ?? false;
  if (typeof preventClose !== "boolean") {
    throw new TypeError(`Cannot create sink: preventClose must be a boolean, got ${show(preventClose)}`);
  }
  const interval = raw.lossReportInterval ?? defaults.interval;
  if (typeof interval !== "number") {
    throw new TypeError(
      `Cannot create sink: lossReportInterval must be a number of milliseconds, got ${show(interval)}`,
    );
  }
  if (Number.isNaN(interval) || interval < 0) {
    throw new RangeError(`Cannot create sink: lossReportInterval must be 0 or more milliseconds, got ${interval}`);
  }
  return {
    capacity,
    maxQueueBytes,
    strategy: strategy as BackpressureStrategy,
    fallback,
    onError: onError as SinkSettings["onError"],
    preventClose,
    lossReportInterval: interval,
  };
}

function fallbackOf(strategy: unknown): FallbackSink {
  const expected = 'Cannot create sink: backpressure must be "drop", "block" or { fallback: AuditSink }';
  if (typeof strategy !== "object" || strategy === null) throw new TypeError(`${expected}, got ${show(strategy)}`);
  const sink = (strategy as { fallback?: unknown }).fallback;
  if ((typeof sink !== "object" && typeof sink !== "function") || sink === null) {
    throw new TypeError(`${expected}, got a fallback that is ${show(sink)}`);
  }
  const onCall = (sink as Partial<AuditSink>).onCall;
  if (typeof onCall !== "function") throw new TypeError(`${expected}, got a fallback without an onCall() method`);
  const flush = (sink as Partial<AuditSink>).flush;
  if (flush !== undefined && typeof flush !== "function") {
    throw new TypeError(`${expected}, got a fallback whose flush is ${show(flush)}, not a method`);
  }
  return {
    sink: sink as AuditSink,
    onCall: (event) => onCall.call(sink, event),
    flush: flush === undefined ? undefined : (options) => flush.call(sink, options),
  };
}

/**
 * The `signal` of a `flush()` or `close()` call's options. Anything that is
 * not an object (a detached method called with an emitter's arguments) means
 * no options.
 *
 * @throws {TypeError} When `signal` is given but is not an `AbortSignal`.
 */
export function signalOf(options: unknown, method: string): AbortSignal | undefined {
  if (typeof options !== "object" || options === null) return undefined;
  const signal = (options as { signal?: unknown }).signal;
  if (signal === undefined) return undefined;
  try {
    if (signal instanceof AbortSignal && typeof signal.aborted === "boolean") return signal;
  } catch {
    // Not a real AbortSignal (its getters throw).
  }
  throw new TypeError(`Cannot ${method}: signal must be an AbortSignal, got ${show(signal)}`);
}
