// One `tools/call` in flight: what the adapter knows of it, and what the
// McpServer hooks observed.
import type { EventDraft } from "../call/_recorder.ts";
import { isObjectLike, read } from "../call/_read.ts";
import { type CallObservations, NONE } from "./_sdk.ts";
import type { McpAuthInfo, McpToolCall } from "./audit_mcp_server.ts";

/** How a call ended. */
export type End = 0 | 1 | 2 | 3;
export const End = { Resolved: 0, Rejected: 1, Cancelled: 2, ThrewAtOnce: 3 } as const;

/** A `tools/call` the adapter is watching, from its handler's start to its event. */
// Fields are assigned in the constructor, in one order, rather than declared
// with initializers: one object per call, and JavaScriptCore defines class
// fields one by one, which costs more than the rest of starting a call.
export class Call implements CallObservations {
  done: boolean;
  inputError: unknown;
  thrown: unknown;
  returned: unknown;
  notFound: boolean;
  abortedEarly: boolean;
  signal: AbortSignal | undefined;
  onAbort: (() => void) | undefined;
  start: number;
  /** Neighbours in the adapter's list of calls in flight (a list: no hashing per call). */
  prev: Call | undefined;
  next: Call | undefined;
  readonly request: unknown;
  readonly extra: unknown;
  readonly params: unknown;
  readonly requestId: string | number | undefined;
  readonly draft: EventDraft;
  #info: McpToolCall | undefined;

  constructor(
    request: unknown,
    extra: unknown,
    params: unknown,
    requestId: string | number | undefined,
    draft: EventDraft,
  ) {
    this.done = false;
    this.inputError = NONE;
    this.thrown = NONE;
    this.returned = NONE;
    this.notFound = false;
    this.abortedEarly = false;
    this.signal = undefined;
    this.onAbort = undefined;
    this.start = 0;
    this.prev = undefined;
    this.next = undefined;
    this.request = request;
    this.extra = extra;
    this.params = params;
    this.requestId = requestId;
    this.draft = draft;
    this.#info = undefined;
  }

  /** The call as callbacks see it, built the first time one asks. */
  get info(): McpToolCall {
    if (this.#info !== undefined) return this.#info;
    const { request, extra, params } = this;
    const session = isObjectLike(extra) ? read(extra, "sessionId") : undefined;
    const auth = isObjectLike(extra) ? read(extra, "authInfo") : undefined;
    return this.#info = {
      name: this.draft.tool_id,
      arguments: isObjectLike(params) ? read(params, "arguments") : undefined,
      requestId: this.requestId,
      sessionId: typeof session === "string" ? session : undefined,
      authInfo: isObjectLike(auth) ? auth as McpAuthInfo : undefined,
      request,
      extra,
    };
  }
}
