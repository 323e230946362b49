/**
 * Audit every `tools/call` of an MCP server built with
 * `@modelcontextprotocol/sdk` 1.x (the high-level `McpServer` or the
 * low-level `Server`): one `CallEvent` per call, with no change to what the
 * client receives.
 *
 * The SDK is not a dependency: the adapter finds what it needs structurally.
 *
 * @example Three lines
 * ```ts ignore
 * import { McpServer } from "@modelcontextprotocol/sdk/server/mcp.js";
 * import { JsonLinesAuditSink } from "@atd/audit";
 * import { auditMcpServer } from "@atd/audit/mcp";
 *
 * const server = new McpServer({ name: "files", version: "1.0.0" });
 * const sink = JsonLinesAuditSink.stderr();
 * auditMcpServer(server, sink);
 * ```
 *
 * @module
 */
import type { CapProvenance, Outcome } from "../event/call_event.ts";
import type { AuditSink } from "../sink/audit_sink.ts";
import type { AuditEventOptions } from "../call/audit_event_options.ts";
import { report, resolveOptions } from "../call/_recorder.ts";
import { McpAdapter } from "./_adapter.ts";
import { hookAborts, hookMcpServer, hookToolsCall, sdkInternals } from "./_sdk.ts";

export { CANCELLED_CODE, INVALID_OUTPUT_CODE, TOOL_ERROR_CODE } from "./_outcome.ts";

/**
 * An MCP server of `@modelcontextprotocol/sdk` 1.x: an `McpServer` (which has
 * a `server`) or a low-level `Server` (which has `setRequestHandler`).
 */
export type McpServerLike = { readonly server: object } | { setRequestHandler(...args: never[]): unknown };

/** The authentication the transport attached to a request (the SDK's `AuthInfo`). */
export interface McpAuthInfo {
  /** The OAuth client the access token was issued to. */
  readonly clientId?: string;
  /** The token's scopes. */
  readonly scopes?: readonly string[];
  /** Anything else the SDK or your auth middleware put there. */
  readonly [key: string]: unknown;
}

/** One `tools/call` request, as the adapter's callbacks see it. */
export interface McpToolCall {
  /** The requested tool's name; `""` when the request has no string name. */
  readonly name: string;
  /** The request's `params.arguments`, unvalidated. */
  readonly arguments: unknown;
  /** The JSON-RPC request id (ids repeat across connections and sessions). */
  readonly requestId: string | number | undefined;
  /** The transport's session id (Streamable HTTP), if any. */
  readonly sessionId: string | undefined;
  /** The request's authentication, if the transport attached one. */
  readonly authInfo: McpAuthInfo | undefined;
  /** The JSON-RPC request as the server received it. */
  readonly request: unknown;
  /** The SDK's `RequestHandlerExtra` for the request (`signal`, `requestInfo`, …). */
  readonly extra: unknown;
}

/** A tool's result as the client receives it (the SDK's `CallToolResult`). */
export interface McpToolResult {
  /** The result's content blocks. */
  readonly content?: unknown;
  /** Whether the tool reported an error. */
  readonly isError?: boolean;
  /** The result's structured content. */
  readonly structuredContent?: unknown;
  /** Anything else in the result. */
  readonly [key: string]: unknown;
}

/** What the `capabilities` callback returns, named as in the event. */
export interface McpGrantedCapabilities {
  /** Capabilities granted to the call. */
  readonly granted_capabilities: readonly string[];
  /** Where each one came from. @default {undefined} */
  readonly capability_provenance?: readonly CapProvenance[];
}

/** Options for {@linkcode auditMcpServer}. */
export interface AuditMcpServerOptions extends AuditEventOptions {
  /** Who calls. @default {the request's `authInfo.clientId`, else absent} */
  readonly callerId?: (call: McpToolCall) => string | null | undefined;
  /** Capabilities granted to the call (a list, or a list with provenance). @default {[]} */
  readonly capabilities?: (call: McpToolCall) => readonly string[] | McpGrantedCapabilities | undefined;
  /** Execution tier, or how to get it from the call. @default {"warm"} */
  readonly tier?: string | ((call: McpToolCall) => string);
  /** Whether the call is a dry run, or how to tell from the call. @default {false} */
  readonly dryRun?: boolean | ((call: McpToolCall) => boolean);
  /** The event's `call_id`. @default {a new monotonic ULID, ":", the JSON-RPC request id} */
  readonly callId?: (call: McpToolCall) => string;
  /**
   * The outcome of an error the tool threw (or the SDK rejected the request
   * with) that is not a `ToolCallError`; `undefined` keeps the default.
   * @default {undefined}
   */
  readonly mapError?: (error: unknown, call: McpToolCall) => Outcome | undefined;
  /**
   * The outcome of a result the tool returned; `undefined` keeps the default
   * (`success`, or `execution_failed` for `isError: true`). @default {undefined}
   */
  readonly mapResult?: (result: McpToolResult, call: McpToolCall) => Outcome | undefined;
}

/** Counters of an audited server. */
export interface McpServerAudit {
  /** Events handed to the sink (its `onCall` returned; the sink's own counters say what became of them). */
  readonly recorded: number;
  /** Calls whose event could not be built or recorded (each went to `onError`). */
  readonly lost: number;
}

const WHERE = "Cannot audit MCP server";

/**
 * Makes `server` record one event in `sink` for every `tools/call` it
 * handles, whether its tools are registered before or after this call. The
 * client receives exactly what it would without the adapter.
 *
 * | what happened | outcome |
 * | --- | --- |
 * | the handler returned | `success` (or `mapResult`'s) |
 * | the handler returned `isError: true` | `execution_failed`, code `structuredContent.code` or `TOOL_ERROR` (or `mapResult`'s) |
 * | the handler threw a `ToolCallError` | its outcome |
 * | the handler threw anything else | `mapError`'s, else per JSON-RPC code (-32602 → `invalid_args`, -32601 → `tool_not_found`), else `execution_failed` with the error's `code` or `name` |
 * | the arguments failed the tool's input schema (McpServer) | `invalid_args` with the SDK's validation message |
 * | no enabled tool has that name (McpServer) | `tool_not_found` |
 * | the handler returned, but the SDK refused its result (not a tool result, or against the output schema) | `execution_failed`, code `INVALID_TOOL_OUTPUT` |
 * | the client cancelled, or the connection closed, before the end | `execution_failed`, code `CANCELLED`, `retryable: true`, at once |
 *
 * `ts` is taken when the server starts handling the request, `duration_ms`
 * on the monotonic clock until its handler settles; the event is recorded
 * before the response is sent. Each call gets one event, never two: a call
 * recorded as cancelled is not recorded again when its handler ends.
 *
 * A server with no `tools/call` handler (no tool registered, and no `tools`
 * capability) answers "Method not found" itself: nothing is recorded.
 *
 * @param server An `McpServer` or a low-level `Server`, connected or not.
 * @param sink Where the events go.
 * @param options Who calls, capabilities, tier, dry run, mappers, caps, scrubbing, `redact`, `onError`.
 * @returns Counters of recorded and lost events.
 * @throws {TypeError} When `server` is not an SDK 1.x server or is already
 *   audited, `sink` has no `onCall`, or an option has the wrong type.
 * @throws {RangeError} When a length cap is not a positive integer.
 *
 * @example With the SDK's in-memory transport
 * ```ts ignore
 * import { McpServer } from "@modelcontextprotocol/sdk/server/mcp.js";
 * import { Client } from "@modelcontextprotocol/sdk/client/index.js";
 * import { InMemoryTransport } from "@modelcontextprotocol/sdk/inMemory.js";
 * import { type CallEvent } from "@atd/audit";
 * import { auditMcpServer } from "@atd/audit/mcp";
 *
 * const events: CallEvent[] = [];
 * const server = new McpServer({ name: "demo", version: "1.0.0" });
 * auditMcpServer(server, { onCall: (event) => events.push(event) }, { tier: "sandbox" });
 * server.registerTool("ping", {}, () => ({ content: [{ type: "text", text: "pong" }] }));
 *
 * const [clientSide, serverSide] = InMemoryTransport.createLinkedPair();
 * await server.connect(serverSide);
 * const client = new Client({ name: "c", version: "1.0.0" });
 * await client.connect(clientSide);
 * await client.callTool({ name: "ping" });
 * console.log(events[0]?.outcome); // { kind: "success" }
 * ```
 */
export function auditMcpServer(
  server: McpServerLike,
  sink: AuditSink,
  options: AuditMcpServerOptions = {},
): McpServerAudit {
  if (typeof sink?.onCall !== "function") throw new TypeError(`${WHERE}: sink must have an onCall method`);
  const resolved = resolveOptions(options, WHERE);
  for (const name of ["callerId", "capabilities", "callId", "mapError", "mapResult"] as const) {
    if (options[name] !== undefined && typeof options[name] !== "function") {
      throw new TypeError(`${WHERE}: ${name} must be a function, got ${typeof options[name]}`);
    }
  }
  if (options.tier !== undefined && typeof options.tier !== "string" && typeof options.tier !== "function") {
    throw new TypeError(`${WHERE}: tier must be a string or a function, got ${typeof options.tier}`);
  }
  if (options.dryRun !== undefined && typeof options.dryRun !== "boolean" && typeof options.dryRun !== "function") {
    throw new TypeError(`${WHERE}: dryRun must be a boolean or a function, got ${typeof options.dryRun}`);
  }
  const internals = sdkInternals(server);
  const adapter = new McpAdapter(sink, { ...options }, resolved, internals.mcp);
  hookToolsCall(internals, (handler) => adapter.wrap(handler));
  if (internals.mcp !== undefined) {
    const failed = hookMcpServer(internals.mcp, () => adapter.current, (extra) => adapter.byExtra(extra));
    if (failed.length > 0) {
      report(
        sink,
        resolved,
        new Error(
          `Cannot hook the McpServer's ${failed.join(" and ")}: ` +
            "invalid arguments and tool errors are recorded from the result alone",
        ),
      );
    }
  }
  adapter.listen = !hookAborts(internals.protocol, (requestId) => adapter.sweep(requestId));
  return {
    get recorded(): number {
      return adapter.recorded;
    },
    get lost(): number {
      return adapter.lost;
    },
  };
}
