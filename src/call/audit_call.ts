import type { CapProvenance, Outcome } from "../event/call_event.ts";
import type { AuditSink } from "../sink/audit_sink.ts";
import type { AuditEventOptions } from "./audit_event_options.ts";
import { outcomeOfError } from "./outcome_of_error.ts";
import { ToolCallError } from "./tool_call_error.ts";
import {
  copyOutcome,
  DEFAULT_OPTIONS,
  type EventDraft,
  recordEvent,
  report,
  type ResolvedOptions,
  resolveOptions,
} from "./_recorder.ts";
import { show } from "../event/_safe_read.ts";
import { readField } from "../event/_read_event.ts";
import { whenSettled } from "./_settle.ts";
import { ulid } from "./_ulid.ts";
import { startClock, startMillis, timestampAt } from "../event/_clock.ts";

/** What is known of a call before it runs: the event's fields but `ts`, `duration_ms` and `outcome`. */
export interface AuditCallFields {
  /** The tool that is called. */
  readonly tool_id: string;
  /** Unique id of the call. @default {a new monotonic ULID} */
  readonly call_id?: string | undefined;
  /** Who calls; absent when `null` or `undefined`. @default {undefined} */
  readonly caller_id?: string | null | undefined;
  /** Capabilities granted to the call (copied when the call starts). @default {[]} */
  readonly granted_capabilities?: readonly string[] | undefined;
  /** Execution tier. @default {"warm"} */
  readonly tier?: string | undefined;
  /** Whether the call is a dry run. @default {false} */
  readonly dry_run?: boolean | undefined;
  /** Whether secrets were resolved for the call. @default {false} */
  readonly secrets_resolved?: boolean | undefined;
  /** Page number of a paginated result. @default {undefined} */
  readonly cursor_page?: number | null | undefined;
  /** Provenance of each granted capability. @default {undefined} */
  readonly capability_provenance?: readonly CapProvenance[] | null | undefined;
}

/** Options for {@linkcode auditCall}: how events are built, and how results and errors map to outcomes. */
export interface AuditCallOptions extends AuditEventOptions {
  /**
   * The outcome of an error that is not a `ToolCallError`; `undefined` leaves
   * the default (`execution_failed`, see `outcomeOfError`). When it throws or
   * returns an invalid outcome, the default is recorded and the problem goes
   * to `onError`. @default {undefined}
   */
  readonly mapError?: (error: unknown) => Outcome | undefined;
  /**
   * The outcome of a value the function returned (or its promise resolved
   * to); `undefined` leaves `success`. Same fallback as `mapError`. @default {undefined}
   */
  readonly mapResult?: (value: unknown) => Outcome | undefined;
}

/**
 * What {@linkcode auditCall} returns for a function returning `T`: `T`
 * itself, or a native promise for a thenable that is not one.
 */
export type AuditCallResult<T> = T extends Promise<unknown> ? T
  : T extends PromiseLike<infer R> ? Promise<R>
  : T;

const WHERE = "Cannot audit call";

/**
 * Runs `fn` as one tool call and records exactly one event for it in `sink`:
 * `ts` when the call starts, `duration_ms` from the monotonic clock
 * (`performance.now()`, whole milliseconds, truncated), and the outcome:
 * `success` (or `mapResult`'s) for a value, and for an error its
 * `ToolCallError` outcome, else `mapError`'s, else `execution_failed` with
 * the error's `code` or `name` (see `outcomeOfError`).
 *
 * The audit stays out of the call's way. It returns exactly what `fn`
 * returned (the same promise object for a native promise, whose settlement
 * is watched; a native promise adopting any other thenable, whose `then` is
 * called once) and rethrows exactly what `fn` threw (the same object, stack
 * untouched). Recording is the sink's synchronous `onCall`, done when the
 * call settles; a failure to build or record the event never reaches the
 * tool: it goes to `options.onError`, else the sink's `onError`, else
 * `console.error` once per sink. A call that settles twice (a thenable that
 * resolves and then rejects) is recorded once, as it first settled. Watching a
 * promise handles its rejection: a caller that drops the promise still gets
 * the event, but no longer an unhandled-rejection report.
 *
 * @param sink Where the event goes.
 * @param call The event's fields known before the call.
 * @param fn The tool call: sync or async, called once with no arguments.
 * @param options Caps, scrubbing, `redact`, mappers and `onError`.
 * @returns What `fn` returned (see above).
 * @throws What `fn` threw, unchanged; a `TypeError` before calling `fn`
 *   when `fn` is not a function, `call` not an object or `sink` has no `onCall`, a `TypeError` or
 *   `RangeError` when an option is of the wrong type or range.
 *
 * @example An async tool
 * ```ts
 * import { auditCall, type CallEvent } from "@atd/audit";
 * import assert from "node:assert/strict";
 * const events: CallEvent[] = [];
 * const sink = { onCall: (event: CallEvent) => events.push(event) };
 * const sum = await auditCall(sink, { tool_id: "math.add", caller_id: "agent-A" }, async () => 1 + 2);
 * assert.equal(sum, 3);
 * assert.deepEqual(events[0]?.outcome, { kind: "success" });
 * ```
 */
export function auditCall<T>(
  sink: AuditSink,
  call: AuditCallFields,
  fn: () => T,
  options?: AuditCallOptions,
): AuditCallResult<T> {
  if (typeof fn !== "function") throw new TypeError(`${WHERE}: fn must be a function, got ${typeof fn}`);
  if (typeof sink?.onCall !== "function") throw new TypeError(`${WHERE}: sink must have an onCall method`);
  if (typeof call !== "object" || call === null) {
    throw new TypeError(`${WHERE}: call must be an object, got ${show(call)}`);
  }
  const resolved = options === undefined ? DEFAULT_OPTIONS : resolveOptions(options, WHERE);
  const mapError = options?.mapError;
  const mapResult = options?.mapResult;
  if (mapError !== undefined && typeof mapError !== "function") {
    throw new TypeError(`${WHERE}: mapError must be a function, got ${typeof mapError}`);
  }
  if (mapResult !== undefined && typeof mapResult !== "function") {
    throw new TypeError(`${WHERE}: mapResult must be a function, got ${typeof mapResult}`);
  }

  const start = startClock();
  let draft: EventDraft | undefined;
  try {
    draft = draftOf(call, startMillis());
  } catch (error) {
    report(sink, resolved, new Error(`${WHERE}: reading its fields threw; the call is not recorded`, { cause: error }));
  }
  const audited = new AuditedCall(sink, resolved, draft, mapError, mapResult, start);
  let value: T;
  try {
    value = fn();
  } catch (error) {
    audited.failed(error);
    throw error;
  }
  // A plain value needs no closures: the common synchronous case stays allocation-light.
  if ((typeof value !== "object" || value === null) && typeof value !== "function") {
    audited.returned(value);
    return value as AuditCallResult<T>;
  }
  return whenSettled(value, (v) => audited.returned(v), (e) => audited.failed(e)) as AuditCallResult<T>;
}

/** One call between its start and its event; each method records once, and never throws. */
class AuditedCall {
  #done = false;
  readonly #start: number;

  constructor(
    readonly sink: AuditSink,
    readonly options: ResolvedOptions,
    readonly draft: EventDraft | undefined,
    readonly mapError: ((error: unknown) => Outcome | undefined) | undefined,
    readonly mapResult: ((value: unknown) => Outcome | undefined) | undefined,
    start: number,
  ) {
    this.#start = start;
  }

  returned(value: unknown): void {
    if (this.#done) return;
    this.#finish(performance.now(), value, false);
  }

  failed(error: unknown): void {
    if (this.#done) return;
    this.#finish(performance.now(), error, true);
  }

  #finish(end: number, settled: unknown, threw: boolean): void {
    this.#done = true;
    const draft = this.draft;
    if (draft === undefined) return;
    try {
      draft.duration_ms = Math.max(0, Math.floor(end - this.#start));
      draft.outcome = threw
        ? ToolCallError.outcomeOf(settled) ?? this.#mapped(this.mapError, settled, "mapError") ??
          outcomeOfError(settled)
        : this.#mapped(this.mapResult, settled, "mapResult") ?? SUCCESS;
      recordEvent(this.sink, draft, this.options);
    } catch (error) {
      report(this.sink, this.options, new Error(`${WHERE}: recording it threw`, { cause: error }));
    }
  }

  #mapped(
    mapper: ((x: unknown) => Outcome | undefined) | undefined,
    x: unknown,
    name: string,
  ): Outcome | undefined {
    if (mapper === undefined) return undefined;
    let out: unknown;
    try {
      out = mapper(x);
    } catch (error) {
      report(
        this.sink,
        this.options,
        new Error(`${WHERE}: ${name} threw; recorded the default outcome`, { cause: error }),
      );
      return undefined;
    }
    if (out === undefined) return undefined;
    const outcome = copyOutcome(out);
    if (outcome === undefined) {
      report(
        this.sink,
        this.options,
        new TypeError(`${WHERE}: ${name} returned an invalid outcome; recorded the default one`),
      );
    }
    return outcome;
  }
}

const SUCCESS: Outcome = Object.freeze({ kind: "success" });

/**
 * Reads each field once, when the call starts (arrays and provenance
 * entries copied: the tool may change them); `ts` and the ULID are of `ms`,
 * the call's start.
 */
function draftOf(call: AuditCallFields, ms: number): EventDraft {
  const granted = call.granted_capabilities;
  const provenance = call.capability_provenance;
  return {
    ts: timestampAt(ms),
    call_id: call.call_id ?? ulid(ms),
    tool_id: call.tool_id,
    caller_id: call.caller_id ?? undefined,
    granted_capabilities: granted == null ? [] : Array.isArray(granted) ? granted.slice() : granted,
    duration_ms: 0,
    outcome: SUCCESS,
    tier: call.tier ?? "warm",
    dry_run: call.dry_run ?? false,
    secrets_resolved: call.secrets_resolved ?? false,
    cursor_page: call.cursor_page ?? undefined,
    capability_provenance: provenance == null ? undefined : provenanceOf(provenance),
  };
}

/**
 * The provenance entries copied as the event reader copies them (each
 * property read once), so that the tool changing its objects does not
 * change the grant the call ran under; a list that is not valid as it is
 * (shallow-copied), for the sink to refuse and report.
 */
function provenanceOf(provenance: readonly CapProvenance[]): readonly CapProvenance[] {
  const read = readField("capability_provenance", provenance);
  if ("value" in read) return read.value as readonly CapProvenance[];
  return Array.isArray(provenance) ? provenance.slice() : provenance;
}
