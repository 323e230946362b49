// One audited `tools/call`: what is read when it starts, how it ends (once),
// and which outcome that is.
import type { CapProvenance, Outcome } from "../event/call_event.ts";
import { nowRfc3339 } from "../event/create_call_event.ts";
import type { AuditSink } from "../sink/audit_sink.ts";
import { outcomeOfError, UNKNOWN_ERROR_CODE } from "../call/outcome_of_error.ts";
import { ToolCallError } from "../call/tool_call_error.ts";
import { copyOutcome, type EventDraft, recordEvent, report, type ResolvedOptions } from "../call/_recorder.ts";
import { isObjectLike, read } from "../call/_read.ts";
import { whenSettled } from "../call/_settle.ts";
import { ulid } from "../call/_ulid.ts";
import { type CallObservations, type Handler, NONE } from "./_sdk.ts";
import type { AuditMcpServerOptions, McpAuthInfo, McpToolCall, McpToolResult } from "./audit_mcp_server.ts";

/** `execution_failed.code` of a call the client cancelled (or whose connection closed) before it ended. */
export const CANCELLED_CODE = "CANCELLED";
/** `execution_failed.code` of a result the SDK refused (its output schema) although the handler returned. */
export const INVALID_OUTPUT_CODE = "INVALID_TOOL_OUTPUT";
/** `execution_failed.code` of an `isError` result without a `structuredContent.code` string. */
export const TOOL_ERROR_CODE = "TOOL_ERROR";

/** How a call ended. */
type End = 0 | 1 | 2 | 3;
const End = { Resolved: 0, Rejected: 1, Cancelled: 2, ThrewAtOnce: 3 } as const;

class Call implements CallObservations {
  done = false;
  inputError: unknown = NONE;
  thrown: unknown = NONE;
  returned: unknown = NONE;
  notFound = false;
  abortedEarly = false;
  signal: EventTarget | undefined;
  onAbort: (() => void) | undefined;
  constructor(
    readonly info: McpToolCall,
    readonly draft: EventDraft,
    readonly start: number,
  ) {}
}

const SUCCESS: Outcome = Object.freeze({ kind: "success" });
const NOT_FOUND: Outcome = Object.freeze({ kind: "tool_not_found" });

/** Audits the `tools/call` requests of one server. */
export class McpAdapter {
  recorded = 0;
  lost = 0;
  /** The call whose handler is running synchronously right now. */
  current: Call | undefined;
  readonly #byExtra = new WeakMap<object, Call>();

  constructor(
    readonly sink: AuditSink,
    readonly options: AuditMcpServerOptions,
    readonly resolved: ResolvedOptions,
    readonly mcp: object | undefined,
  ) {}

  /** The call that was given `extra` (the SDK's per-request object). */
  byExtra(extra: unknown): Call | undefined {
    return isObjectLike(extra) ? this.#byExtra.get(extra) : undefined;
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

  #begin(request: unknown, extra: unknown): Call {
    const ts = nowRfc3339();
    const params = isObjectLike(request) ? read(request, "params") : undefined;
    const rawName = isObjectLike(params) ? read(params, "name") : undefined;
    const id = isObjectLike(request) ? read(request, "id") : undefined;
    const session = isObjectLike(extra) ? read(extra, "sessionId") : undefined;
    const auth = isObjectLike(extra) ? read(extra, "authInfo") : undefined;
    const info: McpToolCall = {
      name: typeof rawName === "string" ? rawName : "",
      arguments: isObjectLike(params) ? read(params, "arguments") : undefined,
      requestId: typeof id === "string" || typeof id === "number" ? id : undefined,
      sessionId: typeof session === "string" ? session : undefined,
      authInfo: isObjectLike(auth) ? auth as McpAuthInfo : undefined,
      request,
      extra,
    };
    const o = this.options;
    const { caps, provenance } = grantsOf(this.#ask("capabilities", o.capabilities, info, isGrant));
    const draft: EventDraft = {
      ts,
      call_id: this.#ask("callId", o.callId, info, isString) ?? `${ulid()}:${info.requestId ?? ""}`,
      tool_id: info.name,
      caller_id: o.callerId !== undefined
        ? this.#ask("callerId", o.callerId, info, isString)
        : stringOrUndefined(info.authInfo && read(info.authInfo, "clientId")),
      granted_capabilities: caps,
      duration_ms: 0,
      outcome: SUCCESS,
      tier: (typeof o.tier === "function" ? this.#ask("tier", o.tier, info, isString) : o.tier) ?? "warm",
      dry_run: (typeof o.dryRun === "function" ? this.#ask("dryRun", o.dryRun, info, isBoolean) : o.dryRun) ?? false,
      secrets_resolved: false,
      cursor_page: undefined,
      capability_provenance: provenance,
    };
    const call = new Call(info, draft, performance.now());
    if (isObjectLike(extra)) this.#byExtra.set(extra, call);
    if (this.mcp !== undefined && typeof rawName === "string") {
      // The SDK's own lookup, an instant before it makes it.
      const registry = read(this.mcp, "_registeredTools");
      const tool = isObjectLike(registry) ? read(registry, rawName) : undefined;
      call.notFound = !tool || !read(tool as object, "enabled");
    }
    this.#watchAbort(call, isObjectLike(extra) ? read(extra, "signal") : undefined);
    return call;
  }

  #watchAbort(call: Call, signal: unknown): void {
    if (!(signal instanceof EventTarget)) return;
    if ((signal as AbortSignal).aborted) {
      call.abortedEarly = true;
      return;
    }
    call.signal = signal;
    call.onAbort = () => this.#end(call, End.Cancelled, undefined);
    signal.addEventListener("abort", call.onAbort, { once: true });
  }

  #end(call: Call, how: End, value: unknown): void {
    if (call.done) return;
    call.done = true;
    const end = performance.now();
    if (call.onAbort !== undefined) call.signal?.removeEventListener("abort", call.onAbort);
    if (isObjectLike(call.info.extra)) this.#byExtra.delete(call.info.extra);
    let outcome: Outcome;
    try {
      outcome = this.#outcome(call, how, value);
    } catch (error) {
      report(
        this.sink,
        this.resolved,
        new Error("Cannot map the call's outcome; recorded it as failed", { cause: error }),
      );
      outcome = { kind: "execution_failed", code: UNKNOWN_ERROR_CODE, retryable: false };
    }
    call.draft.duration_ms = Math.max(0, Math.floor(end - call.start));
    call.draft.outcome = outcome;
    if (recordEvent(this.sink, call.draft, this.resolved)) this.recorded++;
    else this.lost++;
  }

  #outcome(call: Call, how: End, value: unknown): Outcome {
    if (how === End.Cancelled) return { kind: "execution_failed", code: CANCELLED_CODE, retryable: true };
    // The SDK parses the request's params against the method's schema before any handler runs, and
    // throws its ZodError at once: the arguments (or the name) were not what tools/call takes.
    if (how === End.ThrewAtOnce && isZodError(value)) {
      return { kind: "invalid_args", message: messageOf(value) };
    }
    // A tool error whose reading made the SDK throw (a hostile `message` getter) is recorded as the tool's error.
    if (how !== End.Resolved) return this.#ofError(call.thrown !== NONE ? call.thrown : value, call.info);
    const isError = isErrorResult(value);
    if (isError) {
      // McpServer answers each of these with an isError result; what was seen first tells them apart.
      if (call.notFound) return NOT_FOUND;
      if (call.inputError !== NONE) return { kind: "invalid_args", message: messageOf(call.inputError) };
      if (call.thrown !== NONE) return this.#ofError(call.thrown, call.info);
    }
    const mapResult = this.options.mapResult;
    if (mapResult !== undefined) {
      const mapped = this.#mapped("mapResult", () => mapResult(value as McpToolResult, call.info));
      if (mapped !== undefined) return mapped;
    }
    if (!isError) return SUCCESS;
    if (call.returned !== NONE && !isErrorResult(call.returned)) {
      return { kind: "execution_failed", code: INVALID_OUTPUT_CODE, retryable: false };
    }
    const structured = isObjectLike(value) ? read(value, "structuredContent") : undefined;
    const code = isObjectLike(structured) ? read(structured, "code") : undefined;
    return {
      kind: "execution_failed",
      code: typeof code === "string" && code !== "" ? code : TOOL_ERROR_CODE,
      retryable: false,
    };
  }

  #ofError(error: unknown, info: McpToolCall): Outcome {
    const typed = ToolCallError.outcomeOf(error);
    if (typed !== undefined) return typed;
    const mapError = this.options.mapError;
    if (mapError !== undefined) {
      const mapped = this.#mapped("mapError", () => mapError(error, info));
      if (mapped !== undefined) return mapped;
    }
    // JSON-RPC codes a tools/call handler (or the SDK) throws: -32602 invalid params, -32601 unknown method/tool.
    const code = isObjectLike(error) ? read(error, "code") : undefined;
    if (code === -32602) return { kind: "invalid_args", message: messageOf(error) };
    if (code === -32601) return NOT_FOUND;
    return outcomeOfError(error);
  }

  #mapped(name: string, map: () => unknown): Outcome | undefined {
    let out: unknown;
    try {
      out = map();
    } catch (error) {
      report(this.sink, this.resolved, new Error(`Cannot map the call's outcome: ${name} threw`, { cause: error }));
      return undefined;
    }
    if (out === undefined) return undefined;
    const outcome = copyOutcome(out);
    if (outcome === undefined) {
      report(this.sink, this.resolved, new TypeError(`Cannot map the call's outcome: ${name} returned an invalid one`));
    }
    return outcome;
  }

  /**
   * A user callback's answer; `undefined` when it gives `null` or `undefined`,
   * and (reported) when it throws or answers with the wrong type.
   */
  #ask<T>(
    name: string,
    callback: ((call: McpToolCall) => unknown) | undefined,
    info: McpToolCall,
    check: (value: unknown) => value is T,
  ): T | undefined {
    if (callback === undefined) return undefined;
    let value: unknown;
    try {
      value = callback(info);
    } catch (error) {
      report(
        this.sink,
        this.resolved,
        new Error(`Cannot read the call's ${name}: the callback threw`, { cause: error }),
      );
      return undefined;
    }
    if (value == null) return undefined;
    if (check(value)) return value;
    report(
      this.sink,
      this.resolved,
      new TypeError(`Cannot read the call's ${name}: the callback returned ${typeof value}`),
    );
    return undefined;
  }
}

function isErrorResult(value: unknown): boolean {
  return isObjectLike(value) && read(value, "isError") === true;
}

function isZodError(error: unknown): boolean {
  const name = isObjectLike(error) ? read(error, "name") : undefined;
  return typeof name === "string" && name.endsWith("ZodError");
}

function messageOf(error: unknown): string {
  const message = isObjectLike(error) ? read(error, "message") : undefined;
  return typeof message === "string" ? message : "Invalid arguments";
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

function stringOrUndefined(value: unknown): string | undefined {
  return typeof value === "string" ? value : undefined;
}

function grantsOf(granted: unknown): { caps: readonly string[]; provenance: readonly CapProvenance[] | undefined } {
  if (Array.isArray(granted)) return { caps: granted.slice(), provenance: undefined };
  if (!isObjectLike(granted)) return { caps: [], provenance: undefined };
  const caps = read(granted, "granted_capabilities");
  const provenance = read(granted, "capability_provenance");
  return {
    caps: Array.isArray(caps) ? caps.slice() : [],
    provenance: Array.isArray(provenance) ? provenance.slice() : undefined,
  };
}
