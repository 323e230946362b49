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
export class Call implements CallObservations {
  done = false;
  inputError: unknown = NONE;
  thrown: unknown = NONE;
  returned: unknown = NONE;
  notFound = false;
  abortedEarly = false;
  signal: AbortSignal | undefined = undefined;
  onAbort: (() => void) | undefined = undefined;
  start = 0;
  /** Neighbours in the adapter's list of calls in flight (a list: no hashing per call). */
  prev: Call | undefined = undefined;
  next: Call | undefined = undefined;
  #info: McpToolCall | undefined;
  constructor(
    readonly request: unknown,
    readonly extra: unknown,
    readonly params: unknown,
    readonly requestId: string | number | undefined,
    readonly draft: EventDraft,
  ) {}

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
