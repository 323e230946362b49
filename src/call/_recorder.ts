// Builds an event from a draft (caps, scrubbing, redact) and hands it to the
// sink, never throwing: shared by auditCall and the MCP adapter.
import type { CallEvent, CapProvenance, Outcome } from "../event/call_event.ts";
import { SCHEMA_VERSION } from "../event/call_event.ts";
import { CanonicalEvent } from "../event/_create_event.ts";
import type { AuditSink } from "../sink/audit_sink.ts";
import { type AuditEventOptions, DEFAULT_MAX_ID_LENGTH, DEFAULT_MAX_MESSAGE_LENGTH } from "./audit_event_options.ts";
import { limitId, limitText } from "./_text.ts";
import { handleRejection, ignoreRejection, isPromise } from "../_promise.ts";
import { isObjectLike, read } from "./_read.ts";
import { show } from "../event/_safe_read.ts";

/** The fields of an event before caps and scrubbing; optional fields `undefined` when absent. */
export interface EventDraft {
  ts: string;
  call_id: string;
  tool_id: string;
  caller_id: string | undefined;
  granted_capabilities: readonly string[];
  duration_ms: number;
  outcome: Outcome;
  tier: string;
  dry_run: boolean;
  secrets_resolved: boolean;
  cursor_page: number | undefined;
  capability_provenance: readonly CapProvenance[] | undefined;
}

/** {@linkcode AuditEventOptions}, checked, with defaults filled in. */
export interface ResolvedOptions {
  readonly maxMessage: number;
  readonly maxId: number;
  readonly scrub: boolean;
  readonly redact: ((event: CallEvent) => CallEvent) | undefined;
  readonly onError: ((error: unknown, event?: CallEvent) => void) | undefined;
}

/** Entries of `capability_denied.missing` kept before the `…[+N more]` entry. */
const MAX_MISSING = 64;

export const DEFAULT_OPTIONS: ResolvedOptions = {
  maxMessage: DEFAULT_MAX_MESSAGE_LENGTH,
  maxId: DEFAULT_MAX_ID_LENGTH,
  scrub: true,
  redact: undefined,
  onError: undefined,
};

/** Checks `options` once, up front (`where` starts each message, such as "Cannot audit call"). */
export function resolveOptions(options: AuditEventOptions | undefined, where: string): ResolvedOptions {
  if (options === undefined) return DEFAULT_OPTIONS;
  if (typeof options !== "object" || options === null) {
    throw new TypeError(`${where}: options must be an object, got ${show(options)}`);
  }
  const limit = (value: number | undefined, name: string, fallback: number): number => {
    if (value === undefined) return fallback;
    if (value !== Infinity && (!Number.isSafeInteger(value) || value < 1)) {
      throw new RangeError(`${where}: ${name} must be a positive integer or Infinity, got ${show(value)}`);
    }
    return value;
  };
  const fn = <T>(value: T | undefined, name: string): T | undefined => {
    if (value !== undefined && typeof value !== "function") {
      throw new TypeError(`${where}: ${name} must be a function, got ${typeof value}`);
    }
    return value;
  };
  const scrub = options.scrubSecrets ?? true;
  if (typeof scrub !== "boolean") throw new TypeError(`${where}: scrubSecrets must be a boolean, got ${typeof scrub}`);
  return {
    maxMessage: limit(options.maxMessageLength, "maxMessageLength", DEFAULT_MAX_MESSAGE_LENGTH),
    maxId: limit(options.maxIdLength, "maxIdLength", DEFAULT_MAX_ID_LENGTH),
    scrub,
    redact: fn(options.redact, "redact"),
    onError: fn(options.onError, "onError"),
  };
}

/**
 * Builds the event and records it. Returns whether the sink took it (its
 * `onCall` returned); every failure goes to {@linkcode report}. Never throws.
 * `unknownTool`: `tool_id` names no tool (the client's text), and is scrubbed.
 */
export function recordEvent(
  sink: AuditSink,
  draft: EventDraft,
  options: ResolvedOptions,
  unknownTool = false,
): boolean {
  let event: CallEvent;
  try {
    event = buildEvent(draft, options, unknownTool);
  } catch (error) {
    report(sink, options, new Error("Cannot record call event: building it threw", { cause: error }));
    return false;
  }
  if (options.redact !== undefined) {
    let redacted: unknown;
    try {
      redacted = options.redact(event);
    } catch (error) {
      report(sink, options, new Error("Cannot record call event: redact threw", { cause: error }));
      return false;
    }
    if (typeof redacted !== "object" || redacted === null || isPromise(redacted)) {
      const what = isPromise(redacted) ? "a promise (it must return the event itself)" : show(redacted);
      ignoreRejection(redacted);
      report(sink, options, new TypeError(`Cannot record call event: redact returned ${what}, not an event`));
      return false;
    }
    event = redacted as CallEvent;
  }
  try {
    const returned: unknown = sink.onCall(event);
    // An async onCall: its rejection is told (the event was handed over, and is counted so).
    if (returned !== undefined) {
      handleRejection(returned, (error) => {
        report(
          sink,
          options,
          new Error("Cannot record call event: the sink's onCall rejected", { cause: error }),
          event,
        );
      });
    }
    return true;
  } catch (error) {
    report(sink, options, new Error("Cannot record call event: the sink's onCall threw", { cause: error }), event);
    return false;
  }
}

const toldConsole = new WeakSet<object>();

/**
 * Tells `options.onError`, else the sink's own `onError` method, else
 * `console.error` (once per sink). Never throws.
 */
export function report(sink: AuditSink, options: ResolvedOptions, error: unknown, event?: CallEvent): void {
  try {
    if (options.onError !== undefined) {
      ignoreRejection(options.onError(error, event));
      return;
    }
    const own = read(sink, "onError");
    if (typeof own === "function") {
      ignoreRejection(own.call(sink, error, event));
      return;
    }
    if (toldConsole.has(sink)) return;
    toldConsole.add(sink);
    console.error(
      "@atd/audit: a call event could not be recorded; later problems with this sink are not shown " +
        "(pass onError to see each one):",
      error,
    );
  } catch {
    // The error hook itself failed: nothing is left to tell.
  }
}

/**
 * `tool_id` is scrubbed when it is not a tool's name but what a client asked
 * for: for a `tool_not_found`, or whatever the outcome when `unknownTool`.
 */
function buildEvent(draft: EventDraft, o: ResolvedOptions, unknownTool: boolean): CallEvent {
  const outcome = limitOutcome(draft.outcome, o);
  const scrubTool = o.scrub && (unknownTool || outcome.kind === "tool_not_found");
  const ts = draft.ts;
  const callId = id(draft.call_id, o.maxId);
  const toolId = typeof draft.tool_id === "string"
    ? (scrubTool ? limitText(draft.tool_id, o.maxId, true) : limitId(draft.tool_id, o.maxId))
    : draft.tool_id;
  return new CanonicalEvent(
    ts,
    callId,
    toolId,
    id(draft.caller_id, o.maxId),
    draft.granted_capabilities,
    draft.duration_ms,
    outcome,
    draft.tier,
    draft.dry_run,
    SCHEMA_VERSION,
    draft.secrets_resolved,
    draft.cursor_page,
    draft.capability_provenance ?? undefined,
  );
}

function id(value: unknown, max: number): unknown {
  return typeof value === "string" ? limitId(value, max) : value;
}

function text(value: unknown, max: number, scrub: boolean): unknown {
  return typeof value === "string" ? limitText(value, max, scrub) : value;
}

/** A fresh copy of `outcome` with its free text capped and scrubbed. */
function limitOutcome(outcome: Outcome, o: ResolvedOptions): Outcome {
  switch (outcome.kind) {
    case "execution_failed":
      return {
        kind: "execution_failed",
        code: text(outcome.code, o.maxId, o.scrub) as string,
        retryable: outcome.retryable,
      };
    case "invalid_args":
      return { kind: "invalid_args", message: text(outcome.message, o.maxMessage, o.scrub) as string };
    case "capability_denied": {
      const missing = outcome.missing;
      if (!Array.isArray(missing)) return outcome;
      const kept = missing.slice(0, MAX_MISSING).map((m) => text(m, o.maxId, o.scrub) as string);
      if (missing.length > MAX_MISSING) kept.push(`…[+${missing.length - MAX_MISSING} more]`);
      return { kind: "capability_denied", missing: kept };
    }
    case "rate_limited":
      return { kind: "rate_limited", retry_after_ms: outcome.retry_after_ms };
    default:
      return outcome;
  }
}

/**
 * A copy of a user-supplied outcome (from a mapper), each field read once,
 * or `undefined` when it is not a valid outcome.
 */
export function copyOutcome(value: unknown): Outcome | undefined {
  ignoreRejection(value); // an async mapper's promise: not an outcome, and its rejection is not unhandled
  try {
    return copy(value);
  } catch {
    return undefined; // a revoked proxy, an array with a throwing iterator
  }
}

function copy(value: unknown): Outcome | undefined {
  if (!isObjectLike(value)) return undefined;
  const kind = read(value, "kind");
  switch (kind) {
    case "success":
    case "tool_not_found":
      return { kind };
    case "execution_failed": {
      const code = read(value, "code");
      const retryable = read(value, "retryable");
      return typeof code === "string" && typeof retryable === "boolean" ? { kind, code, retryable } : undefined;
    }
    case "invalid_args": {
      const message = read(value, "message");
      return typeof message === "string" ? { kind, message } : undefined;
    }
    case "capability_denied": {
      const missing = read(value, "missing");
      if (!Array.isArray(missing)) return undefined;
      const copy = Array.from(missing);
      return copy.every((m) => typeof m === "string") ? { kind, missing: copy } : undefined;
    }
    case "rate_limited": {
      const after = read(value, "retry_after_ms");
      if (after == null) return { kind, retry_after_ms: null };
      return typeof after === "number" && Number.isSafeInteger(after) && after >= 0
        ? { kind, retry_after_ms: after }
        : undefined;
    }
    default:
      return undefined;
  }
}
