// Audits one server's `tools/call`s: what is read when each starts, and
// recording it once when it ends.
import type { CapProvenance, Outcome } from "../event/call_event.ts";
import type { AuditSink } from "../sink/audit_sink.ts";
import { UNKNOWN_ERROR_CODE } from "../call/outcome_of_error.ts";
import { recordEvent, report, type ResolvedOptions } from "../call/_recorder.ts";
import { isObjectLike } from "../call/_read.ts";
import { whenSettled } from "../call/_settle.ts";
import { ignoreRejection, isPromise } from "../_promise.ts";
import { ulid } from "../call/_ulid.ts";
import { startClock, startMillis, timestampAt } from "../event/_clock.ts";
import { decimal } from "../event/_decimal.ts";
import { readField } from "../event/_read_event.ts";
import { Call, End } from "./_call.ts";
import { callOutcome, isErrorResult } from "./_outcome.ts";
import { EVERY_CALL, type Handler } from "./_sdk.ts";
import type { AuditMcpServerOptions, McpToolCall } from "./audit_mcp_server.ts";

const then = Promise.prototype.then;
/** More calls in flight than this are also kept in a map by `extra`, until fewer than UNINDEX_BELOW are. */
const INDEX_ABOVE = 16;
const UNINDEX_BELOW = 8;
/** Settled: a reaction on it runs after the reactions already queued, such as those on other settled promises. */
const SETTLED = Promise.resolve();

/** Audits the `tools/call` requests of one server. */
export class McpAdapter {
  recorded = 0;
  lost = 0;
  /** The call whose handler is running synchronously right now. */
  current: Call | undefined;
  /** Whether each call listens to its signal (when the server's aborts cannot be hooked). */
  listen = true;
  /** Calls in flight, newest first: the server may abort them, and McpServer's tool runs find theirs here. */
  #inFlight: Call | undefined = undefined;
  #inFlightCount = 0;
  /**
   * Calls in flight by the SDK's per-request `extra`, kept only while many
   * are (a short list is searched faster than a map is kept up to date).
   */
  #byExtra: Map<unknown, Call> | undefined = undefined;

  /** The tier and dry run of every call, unless a callback says otherwise. */
  readonly #tier: string;
  readonly #dryRun: boolean;
  /** Where outcome mappers report their problems. */
  readonly #report: (error: unknown) => void;

  constructor(
    readonly sink: AuditSink,
    readonly options: AuditMcpServerOptions,
    readonly resolved: ResolvedOptions,
    readonly mcp: object | undefined,
  ) {
    this.#tier = typeof options.tier === "string" ? options.tier : "warm";
    this.#dryRun = options.dryRun === true;
    this.#report = (error) => report(sink, resolved, error);
  }

  /**
   * Ends, as cancelled, every call in flight whose request the server
   * aborted: those with request id `requestId` (a client's cancel), or any
   * (`EVERY_CALL`). Looking only at the named id keeps a flood of cancels
   * for ids not in flight from costing a look at every call. Never throws
   * (close runs it).
   */
  sweep(requestId: unknown = EVERY_CALL): void {
    const every = requestId === EVERY_CALL;
    for (let call = this.#inFlight; call !== undefined;) {
      const next = call.next;
      if ((every || call.requestId === requestId) && isAborted(call.signal)) this.#end(call, End.Cancelled, undefined);
      call = next;
    }
  }

  /** The call that was given `extra` (the SDK's per-request object). */
  byExtra(extra: unknown): Call | undefined {
    if (this.#byExtra !== undefined) return this.#byExtra.get(extra);
    for (let call = this.#inFlight; call !== undefined; call = call.next) if (call.extra === extra) return call;
    return undefined;
  }

  /** Puts `call` in the list of calls in flight (and the map, while there is one). Never throws. */
  #link(call: Call): void {
    call.next = this.#inFlight;
    if (call.next !== undefined) call.next.prev = call;
    this.#inFlight = call;
    if (++this.#inFlightCount > INDEX_ABOVE && this.#byExtra === undefined) {
      this.#byExtra = new Map();
      for (let c: Call | undefined = call; c !== undefined; c = c.next) {
        if (!this.#byExtra.has(c.extra)) this.#byExtra.set(c.extra, c);
      }
    } else this.#byExtra?.set(call.extra, call);
  }

  /** Takes `call` out of the list of calls in flight (and the map). Never throws. */
  #unlink(call: Call): void {
    if (call.prev !== undefined) call.prev.next = call.next;
    else if (this.#inFlight === call) this.#inFlight = call.next;
    else return; // not in the list
    if (call.next !== undefined) call.next.prev = call.prev;
    call.prev = call.next = undefined;
    if (--this.#inFlightCount < UNINDEX_BELOW) this.#byExtra = undefined;
    else if (this.#byExtra?.get(call.extra) === call) this.#byExtra.delete(call.extra);
  }

  /** `handler`, audited: same arguments, same `this`, same result or error. */
  wrap(handler: Handler): Handler {
    // deno-lint-ignore no-this-alias
    const adapter = this;
    return function (this: unknown, request: unknown, extra: unknown): unknown {
      let call: Call;
      try {
        call = adapter.#begin(request, extra);
      } catch (error) {
        // Nothing of the call can be known (a hostile request or callback result): run it unaudited.
        adapter.lost++;
        report(
          adapter.sink,
          adapter.resolved,
          new Error("Cannot audit a tools/call: reading it threw", { cause: error }),
        );
        return handler.call(this, request, extra);
      }
      const previous = adapter.current;
      adapter.current = call;
      let out: unknown;
      try {
        out = handler.call(this, request, extra);
      } catch (error) {
        adapter.#end(call, End.ThrewAtOnce, error);
        throw error;
      } finally {
        adapter.current = previous;
      }
      if (call.abortedEarly) adapter.#end(call, End.Cancelled, undefined);
      return whenSettled(
        out,
        (value) => adapter.#end(call, End.Resolved, value),
        (error) => adapter.#end(call, End.Rejected, error),
      );
    };
  }

  // The request and `extra` come from the SDK (the request as the transport parsed it): read directly,
  // each at its own site (monomorphic, unlike one shared guarded reader). A getter that throws (an
  // in-process client sending hostile objects) fails the whole begin: the call then runs unaudited.
  #begin(request: unknown, extra: unknown): Call {
    const start = startClock();
    const ms = startMillis();
    const r = request as { params?: { name?: unknown }; id?: unknown } | null | undefined;
    const params = r?.params;
    const rawName = params?.name;
    const id = r?.id;
    const x = extra as { authInfo?: { clientId?: unknown }; signal?: unknown } | null | undefined;
    const o = this.options;
    const call = new Call(
      start,
      timestampAt(ms),
      request,
      extra,
      params,
      typeof id === "string" || typeof id === "number" ? id : undefined,
      typeof rawName === "string" ? rawName : "",
      this.#tier,
      this.#dryRun,
    );
    call.call_id = (o.callId && this.#ask("callId", o.callId, call, isString)) ||
      ulid(ms) + ":" + idText(call.requestId);
    if (o.callerId !== undefined) call.caller_id = this.#ask("callerId", o.callerId, call, isString);
    else {
      const clientId = x?.authInfo?.clientId;
      if (typeof clientId === "string") call.caller_id = clientId;
    }
    if (o.capabilities !== undefined) this.#grant(call, this.#ask("capabilities", o.capabilities, call, isGrant));
    if (typeof o.tier === "function") call.tier = this.#ask("tier", o.tier, call, isString) ?? "warm";
    if (typeof o.dryRun === "function") call.dry_run = this.#ask("dryRun", o.dryRun, call, isBoolean) ?? false;
    if (this.mcp !== undefined && typeof rawName === "string") {
      // The SDK's own lookup, an instant before it makes it.
      const tool = this.#registry()?.[rawName] as { enabled?: unknown } | undefined;
      call.notFound = !tool || !tool.enabled;
    }
    const signal = x?.signal as AbortSignal | undefined;
    const aborted = signal?.aborted; // a getter: read once here (slow in Node), once when the call ends
    // Nothing below can throw: a begin that failed above leaves nothing behind.
    this.#link(call);
    if (typeof aborted === "boolean") this.#watchAbort(call, signal!, aborted);
    return call;
  }

  /**
   * Gives `call` the capabilities callback's answer, each list copied (read
   * once) and checked as the event takes it: else the defaults, reported,
   * rather than an event the sink would refuse. Never throws.
   */
  #grant(call: Call, granted: object | undefined): void {
    if (granted === undefined) return;
    let caps: string[] | string;
    let provenance: readonly CapProvenance[] | undefined;
    try {
      if (Array.isArray(granted)) caps = stringsOf(granted);
      else {
        const g = granted as { granted_capabilities?: unknown; capability_provenance?: unknown };
        caps = stringsOf(g.granted_capabilities);
        const given = g.capability_provenance;
        if (typeof caps !== "string" && given != null) {
          // The event reader's own check (and copy), for its paths and wording: a rare field.
          const read = readField("capability_provenance", given);
          if ("reason" in read) caps = `"${read.path}" ${read.reason}`;
          else provenance = read.value as readonly CapProvenance[];
        }
      }
    } catch (error) {
      this.#reportGrant("reading the callback's answer threw", error);
      return;
    }
    if (typeof caps === "string") return this.#reportGrant(`expected ${caps}`, undefined);
    call.granted_capabilities = caps;
    call.capability_provenance = provenance;
  }

  #reportGrant(why: string, cause: unknown): void {
    report(
      this.sink,
      this.resolved,
      new TypeError(`Cannot read the call's capabilities: ${why}; recorded none`, { cause }),
    );
  }

  #registry(): Record<string, unknown> | undefined {
    const registry = (this.mcp as { _registeredTools?: unknown })._registeredTools;
    return isObjectLike(registry) ? registry as Record<string, unknown> : undefined;
  }

  #watchAbort(call: Call, signal: AbortSignal, aborted: boolean): void {
    call.signal = signal;
    if (aborted) {
      call.abortedEarly = true;
      return;
    }
    if (this.listen) {
      const onAbort = () => this.#end(call, End.Cancelled, undefined);
      try {
        signal.addEventListener("abort", onAbort, { once: true });
        call.onAbort = onAbort;
      } catch {
        // Not a signal one can listen to (a caller's own `extra`): the call is recorded when its handler ends.
      }
    }
  }

  /** Records how `call` ended, the first time only. Never throws (it runs in promise reactions). */
  #end(call: Call, how: End, value: unknown): void {
    if (call.done) return;
    call.done = true;
    const end = performance.now();
    try {
      this.#unlink(call);
      if (call.onAbort !== undefined) call.signal?.removeEventListener("abort", call.onAbort);
      call.duration_ms = Math.max(0, Math.floor(end - call.start));
      // The server sends no response to an aborted request, whatever its handler did.
      if (isAborted(call.signal)) how = End.Cancelled;
      else if (
        (call.validation !== undefined || call.execution !== undefined) &&
        (how !== End.Resolved || isErrorResult(value))
      ) {
        this.#observe(call, how, value);
        return;
      }
    } catch (error) {
      this.#lose(error);
      return;
    }
    this.#record(call, how, value);
  }

  /**
   * Records `call` once what its validation and execution settled with is
   * known: reactions on promises that have settled run in the order they are
   * added, so the last one, on a settled promise, runs after them (and
   * records in any case, a microtask later). Only an error needs this.
   */
  #observe(call: Call, how: End, value: unknown): void {
    try {
      then.call(call.validation, undefined, (error: unknown) => {
        call.inputError = error;
      });
    } catch {
      // not a native promise (or none): nothing to observe
    }
    try {
      then.call(call.execution, (result: unknown) => {
        call.returned = result;
      }, (error: unknown) => {
        call.thrown = error;
      });
    } catch {
      // as above
    }
    then.call(SETTLED, () => this.#record(call, how, value));
  }

  /** Maps the outcome and hands the event to the sink. Never throws. */
  #record(call: Call, how: End, value: unknown): void {
    try {
      let outcome: Outcome;
      try {
        outcome = callOutcome(call, how, value, this.options, this.#report);
      } catch (error) {
        report(
          this.sink,
          this.resolved,
          new Error("Cannot map the call's outcome; recorded it as failed", { cause: error }),
        );
        outcome = { kind: "execution_failed", code: UNKNOWN_ERROR_CODE, retryable: false };
      }
      call.outcome = outcome;
      // A name no enabled tool has is the client's text, whatever the outcome (a cancelled call, a malformed request).
      if (recordEvent(this.sink, call, this.resolved, call.notFound)) this.recorded++;
      else this.lost++;
    } catch (error) {
      this.#lose(error);
    }
  }

  #lose(error: unknown): void {
    this.lost++;
    report(this.sink, this.resolved, new Error("Cannot record a tools/call", { cause: error }));
  }

  /**
   * A user callback's answer; `undefined` when it gives `null` or `undefined`,
   * and (reported) when it throws or answers with the wrong type.
   */
  #ask<T>(
    name: string,
    callback: ((call: McpToolCall) => unknown) | undefined,
    call: Call,
    check: (value: unknown) => value is T,
  ): T | undefined {
    if (callback === undefined) return undefined;
    let value: unknown;
    try {
      value = callback(call.info);
    } catch (error) {
      report(
        this.sink,
        this.resolved,
        new Error(`Cannot read the call's ${name}: the callback threw`, { cause: error }),
      );
      return undefined;
    }
    if (value == null) return undefined;
    const promise = isPromise(value);
    if (check(value) && !promise) return value;
    ignoreRejection(value); // an async callback's promise: the wrong type, and its rejection not unhandled
    report(
      this.sink,
      this.resolved,
      new TypeError(
        `Cannot read the call's ${name}: the callback returned ${
          promise ? "a promise (it must answer at once)" : typeof value
        }`,
      ),
    );
    return undefined;
  }
}

/**
 * Whether `signal` has aborted. The SDK's signals always answer; a caller of
 * the handler may pass its own `extra`, whose `aborted` getter may throw: not
 * aborted, then (the call is recorded when its handler ends).
 */
function isAborted(signal: AbortSignal | undefined): boolean {
  try {
    return signal?.aborted === true;
  } catch {
    return false;
  }
}

/** A request id as `call_id` ends with it. */
function idText(id: string | number | undefined): string {
  return typeof id === "number" ? decimal(id) : id ?? "";
}

function isString(value: unknown): value is string {
  return typeof value === "string";
}

function isBoolean(value: unknown): value is boolean {
  return typeof value === "boolean";
}

function isGrant(value: unknown): value is object {
  return isObjectLike(value);
}

/**
 * A copy of `list` (its length and each item read once), or what it should
 * have been when it is not an array of strings (a getter or trap may throw).
 */
function stringsOf(list: unknown): string[] | string {
  if (!Array.isArray(list)) {
    return `"granted_capabilities" to be an array of strings, got ${list === null ? "null" : typeof list}`;
  }
  const length = list.length;
  const copy = new Array<string>();
  for (let i = 0; i < length; i++) {
    const item: unknown = list[i];
    if (typeof item !== "string") {
      return `"granted_capabilities[${i}]" to be a string, got ${item === null ? "null" : typeof item}`;
    }
    copy.push(item);
  }
  return copy;
}
