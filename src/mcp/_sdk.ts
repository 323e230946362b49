// The few internals of @modelcontextprotocol/sdk 1.x the adapter relies on,
// found structurally (the SDK is never imported), and the hooks put on them.
//
// - Protocol#_requestHandlers (a Map of method → handler): its `get` is
//   wrapped on this one instance, so that the `tools/call` handler (or the
//   fallback handler) it returns is audited, whenever it was registered.
// - McpServer#_registeredTools, #validateToolInput, #executeToolHandler: read
//   and wrapped on this one instance, to tell "unknown tool", "arguments
//   failed the schema" and "the handler threw" apart, since McpServer turns
//   all three into the same kind of `isError` result.
// - Protocol#_oncancel and #_onclose: wrapped on this one instance, to look for
//   aborted calls right after the server aborts request handlers (a client's
//   notifications/cancelled, the connection closing), rather than add an
//   abort listener to every request's signal (a microsecond each in Node).
import { isObjectLike, read } from "../call/_read.ts";

/** A request handler as the SDK's Protocol stores and calls it. */
export type Handler = (this: unknown, request: unknown, extra: unknown) => unknown;

/** What the adapter hooks into. */
export interface SdkInternals {
  /** The low-level `Server` (itself, or an `McpServer`'s `.server`). */
  readonly protocol: object;
  /** Its `_requestHandlers` map. */
  readonly handlers: Map<string, Handler>;
  /** The `McpServer`, when one was given. */
  readonly mcp: object | undefined;
}

/**
 * Per-call observations the McpServer hooks report. The hooks only keep the
 * promises of validation and execution: what they settled with is read when
 * the call ends, and only when its outcome needs it (an error), so that a
 * call that succeeds pays no promise reaction for them.
 */
export interface CallObservations {
  /** The arguments failed the tool's input schema (the SDK's error). */
  inputError: unknown;
  /** The tool's handler threw or rejected (what it threw). */
  thrown: unknown;
  /** The tool's handler returned (what it returned). */
  returned: unknown;
  /** What the input validation returned (a promise, in SDK 1.x); `undefined` until it starts. */
  validation: unknown;
  /** What the tool's execution returned (a promise, in SDK 1.x); `undefined` until it starts. */
  execution: unknown;
}

/** Marks a value as not observed (`undefined` can be thrown or returned). */
export const NONE: unique symbol = Symbol("none");

const AUDITED = Symbol.for("@atd/audit/mcp");
const TOOLS_CALL = "tools/call";

/**
 * The internals of `server`, an `McpServer` or a low-level `Server`.
 *
 * @throws {TypeError} When `server` is neither, or is already audited.
 */
export function sdkInternals(server: unknown): SdkInternals {
  const inner = isObjectLike(server) ? read(server, "server") : undefined;
  const mcp = isObjectLike(inner) && isObjectLike(read(server as object, "_registeredTools"))
    ? server as object
    : undefined;
  const protocol = mcp !== undefined ? inner as object : server;
  const handlers = isObjectLike(protocol) ? read(protocol, "_requestHandlers") : undefined;
  if (!isObjectLike(protocol) || !(handlers instanceof Map)) {
    throw new TypeError(
      "Cannot audit MCP server: expected an McpServer or a Server of @modelcontextprotocol/sdk 1.x",
    );
  }
  if (Object.hasOwn(protocol, AUDITED)) throw new TypeError("Cannot audit MCP server: it is already audited");
  return { protocol, handlers: handlers as Map<string, Handler>, mcp };
}

/**
 * Makes the server hand `wrap(handler)` instead of its `tools/call` handler
 * (registered before or after this call, or the fallback handler).
 */
export function hookToolsCall(internals: SdkInternals, wrap: (handler: Handler) => Handler): void {
  const { protocol, handlers } = internals;
  const get = handlers.get;
  const wrapped = new WeakMap<Handler, Handler>();
  let last: unknown;
  let lastAudited: Handler | undefined;
  try {
    Object.defineProperty(handlers, "get", {
      configurable: true,
      writable: true,
      value: function (this: Map<string, Handler>, key: string): Handler | undefined {
        const own = get.call(this, key);
        if (key !== TOOLS_CALL) return own;
        const handler = own ?? read(protocol, "fallbackRequestHandler");
        if (typeof handler !== "function") return own;
        if (handler === last) return lastAudited; // the usual case: the same handler, call after call
        let audited = wrapped.get(handler as Handler);
        if (audited === undefined) wrapped.set(handler as Handler, audited = wrap(handler as Handler));
        last = handler;
        lastAudited = audited;
        return audited;
      },
    });
    Object.defineProperty(protocol, AUDITED, { value: true });
  } catch {
    delete (handlers as { get?: unknown }).get;
    throw new TypeError("Cannot audit MCP server: its request handlers cannot be hooked (a frozen server?)");
  }
}

/**
 * Wraps the McpServer's input validation and tool execution on this
 * instance. `current()` is the call whose handler is running synchronously
 * (validation starts within it); `byExtra` finds a call from the per-request
 * `extra` object the SDK passes to the tool. Returns the names it could not
 * wrap (missing, or not replaceable).
 */
export function hookMcpServer(
  mcp: object,
  current: () => CallObservations | undefined,
  byExtra: (extra: unknown) => CallObservations | undefined,
): string[] {
  const failed: string[] = [];
  // Both are called with three arguments (tool, arguments, and the tool's name or `extra`); more are passed on
  // all the same. `find` gets the third; what they return (a promise) or throw is kept on the call.
  const hook = (
    name: string,
    find: (third: unknown) => CallObservations | undefined,
    returned: "validation" | "execution",
    threw: "inputError" | "thrown",
  ): void => {
    const original = read(mcp, name) as (...args: unknown[]) => unknown;
    try {
      if (typeof original !== "function") throw new TypeError(`no ${name}`);
      define(mcp, name, function (this: unknown, first: unknown, second: unknown, third: unknown): unknown {
        const call = find(third);
        let result: unknown;
        try {
          result = arguments.length === 3
            ? original.call(this, first, second, third)
            : Reflect.apply(original, this, arguments);
        } catch (error) {
          if (call !== undefined) call[threw] = error;
          throw error;
        }
        if (call !== undefined) call[returned] = result;
        return result;
      });
    } catch {
      failed.push(name);
    }
  };
  hook("validateToolInput", () => current(), "validation", "inputError");
  hook("executeToolHandler", byExtra, "execution", "thrown");
  return failed;
}

/** Marks a sweep of every call in flight (the connection closed), rather than of one cancelled request id. */
export const EVERY_CALL: unique symbol = Symbol("every call");

/**
 * Calls `sweep` each time the server has aborted request handlers: with the
 * request id a `notifications/cancelled` named (the only handler it can
 * abort), or {@linkcode EVERY_CALL} when the connection closed or the id
 * cannot be read. Returns false when the server lacks either method or
 * either cannot be replaced.
 */
export function hookAborts(protocol: object, sweep: (requestId: unknown) => void): boolean {
  const cancel = read(protocol, "_oncancel");
  const close = read(protocol, "_onclose");
  if (typeof cancel !== "function" || typeof close !== "function") return false;
  let hooked = true;
  for (const [name, original] of [["_oncancel", cancel], ["_onclose", close]] as const) {
    try {
      define(protocol, name, function (this: unknown, ...args: unknown[]): unknown {
        try {
          return original.apply(this, args);
        } finally {
          if (name === "_onclose") sweep(EVERY_CALL);
          else {
            const id = cancelledId(args[0]);
            if (id === EVERY_CALL || handlesRequest(this, id)) sweep(id);
          }
        }
      });
    } catch {
      hooked = false; // a frozen or non-configurable property: each call listens to its signal instead
    }
  }
  return hooked;
}

/** The request id a `notifications/cancelled` names, or EVERY_CALL when it cannot be read (a hostile object). */
function cancelledId(notification: unknown): unknown {
  try {
    const params = isObjectLike(notification) ? read(notification, "params") : undefined;
    const id = isObjectLike(params) ? read(params, "requestId") : undefined;
    return typeof id === "string" || typeof id === "number" ? id : EVERY_CALL;
  } catch {
    return EVERY_CALL;
  }
}

/**
 * Whether the server has a handler running for request `id` (its map of
 * abort controllers, where it has one): a cancel for any other id aborts
 * nothing, and a flood of them must not cost a sweep each.
 */
function handlesRequest(protocol: unknown, id: unknown): boolean {
  try {
    const running = isObjectLike(protocol) ? read(protocol, "_requestHandlerAbortControllers") : undefined;
    return !(running instanceof Map) || running.has(id);
  } catch {
    return true;
  }
}

function define(target: object, name: string, value: unknown): void {
  Object.defineProperty(target, name, { configurable: true, writable: true, value });
}
