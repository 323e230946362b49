// Real SDK servers and clients over the in-memory transport, for the adapter tests.
// @ts-types="@modelcontextprotocol/sdk/server/mcp"
import { McpServer } from "@modelcontextprotocol/sdk/server/mcp.js";
// @ts-types="@modelcontextprotocol/sdk/server/index"
import { Server } from "@modelcontextprotocol/sdk/server/index.js";
// @ts-types="@modelcontextprotocol/sdk/client/index"
import { Client } from "@modelcontextprotocol/sdk/client/index.js";
// @ts-types="@modelcontextprotocol/sdk/inMemory"
import { InMemoryTransport } from "@modelcontextprotocol/sdk/inMemory.js";
// @ts-types="@modelcontextprotocol/sdk/types"
import { CallToolRequestSchema, ErrorCode, ListToolsRequestSchema, McpError } from "@modelcontextprotocol/sdk/types.js";
import assert from "node:assert/strict";
import { z } from "zod";
import { ToolCallError } from "../../mod.ts";

export { Client, InMemoryTransport, McpServer, Server };

/** Resolves after `ms` milliseconds, or at once when `signal` aborts. */
export function wait(ms: number, signal?: AbortSignal): Promise<void> {
  return new Promise((resolve) => {
    const timer = setTimeout(resolve, ms);
    signal?.addEventListener("abort", () => {
      clearTimeout(timer);
      resolve();
    }, { once: true });
  });
}

/** Resolves when `signal` aborts. */
export function aborted(signal: AbortSignal): Promise<void> {
  return new Promise((resolve) => {
    if (signal.aborted) resolve();
    else signal.addEventListener("abort", () => resolve(), { once: true });
  });
}

/** Events a test can wait for from inside a tool. */
export interface Hooks {
  /** Called when the `hang` tool starts; it returns when `release` resolves. */
  started?: () => void;
  release?: Promise<void>;
}

/**
 * A high-level server with one tool per row of the outcome table (and a few
 * more), registered the same way each time so that two servers can be compared.
 */
export function buildMcpServer(hooks: Hooks = {}, options: { capabilities?: boolean } = {}): McpServer {
  const server = new McpServer(
    { name: "test-server", version: "1.0.0" },
    options.capabilities ? { capabilities: { tools: {} } } : undefined,
  );
  registerTools(server, hooks);
  return server;
}

export function registerTools(server: McpServer, hooks: Hooks = {}): void {
  server.registerTool("add", { inputSchema: { a: z.number(), b: z.number() } }, ({ a, b }) => ({
    content: [{ type: "text", text: String(a + b) }],
  }));
  server.registerTool("pick", { inputSchema: { color: z.enum(["red", "blue"]) } }, ({ color }) => ({
    content: [{ type: "text", text: color }],
  }));
  server.registerTool("fail_result", {}, () => ({ content: [{ type: "text", text: "disk full" }], isError: true }));
  server.registerTool("fail_coded", {}, () => ({
    content: [{ type: "text", text: "upstream 502" }],
    structuredContent: { code: "HTTP_502" },
    isError: true,
  }));
  server.registerTool("throws", {}, () => {
    throw Object.assign(new Error("no such file: /etc/x"), { code: "ENOENT" });
  });
  server.registerTool("rejects", {}, async () => {
    await wait(1);
    throw new TypeError("bad state");
  });
  server.registerTool("denied", {}, () => {
    throw new ToolCallError({ kind: "capability_denied", missing: ["fs:write"] });
  });
  server.registerTool("limited", {}, () => {
    throw new ToolCallError({ kind: "rate_limited", retry_after_ms: 1500 });
  });
  server.registerTool("mcp_invalid", {}, () => {
    throw new McpError(ErrorCode.InvalidParams, "path must be absolute");
  });
  server.registerTool("bad_output", { outputSchema: { n: z.number() } }, () =>
    ({
      content: [{ type: "text", text: "no structured content" }],
    }) as never);
  server.registerTool("hang", {}, async (extra) => {
    hooks.started?.();
    // With `release`, the tool ignores cancellation (as many do), to show it is recorded once anyway.
    await (hooks.release ?? Promise.race([wait(50), aborted(extra.signal)]));
    return { content: [{ type: "text", text: "finished" }] };
  });
  server.registerTool("slow", {}, async () => {
    await wait(20);
    return { content: [{ type: "text", text: "slow" }] };
  });
  const disabled = server.registerTool("disabled", {}, () => ({ content: [] }));
  disabled.disable();
}

/** The calls that exercise each row: [tool, arguments]. */
export const TABLE_CALLS: readonly [string, Record<string, unknown>][] = [
  ["add", { a: 1, b: 2 }],
  ["add", { a: "one", b: 2 }],
  ["pick", { color: "green" }],
  ["nope", {}],
  ["disabled", {}],
  ["fail_result", {}],
  ["fail_coded", {}],
  ["throws", {}],
  ["rejects", {}],
  ["denied", {}],
  ["limited", {}],
  ["mcp_invalid", {}],
  ["bad_output", {}],
];

/** A low-level server whose one `tools/call` handler answers per tool name. */
export function buildLowLevelServer(register = true): Server {
  const server = new Server({ name: "low-level", version: "1.0.0" }, { capabilities: { tools: {} } });
  server.setRequestHandler(ListToolsRequestSchema, () => ({ tools: [] }));
  if (register) registerLowLevelHandler(server);
  return server;
}

export function registerLowLevelHandler(server: Server): void {
  server.setRequestHandler(CallToolRequestSchema, async (request) => {
    switch (request.params.name) {
      case "echo":
        return { content: [{ type: "text", text: JSON.stringify(request.params.arguments ?? {}) }] };
      case "fail_result":
        return { content: [{ type: "text", text: "nope" }], isError: true };
      case "malformed":
        return { content: "not an array of blocks" } as never;
      case "denied":
        throw new ToolCallError({ kind: "capability_denied", missing: ["net:egress"] });
      case "invalid":
        throw new McpError(ErrorCode.InvalidParams, "Invalid arguments: x is required");
      case "throws":
        await wait(1);
        throw Object.assign(new Error("kaput"), { code: "E_KAPUT" });
      default:
        throw new McpError(ErrorCode.MethodNotFound, `Unknown tool: ${request.params.name}`);
    }
  });
}

/** The calls that exercise the low-level server: [tool, arguments]. */
export const LOW_LEVEL_CALLS: readonly [string, Record<string, unknown>][] = [
  ["echo", { x: 1 }],
  ["fail_result", {}],
  ["denied", {}],
  ["invalid", {}],
  ["throws", {}],
  ["missing", {}],
  ["malformed", {}],
];

/** Connects a client to `server` in memory; `clientId` is attached as the transport's auth info. */
export async function connect(
  server: McpServer | Server,
  options: { clientId?: string } = {},
): Promise<{ client: Client; close: () => Promise<void> }> {
  const [clientSide, serverSide] = InMemoryTransport.createLinkedPair() as [InMemoryTransport, InMemoryTransport];
  if (options.clientId !== undefined) {
    const send = clientSide.send.bind(clientSide);
    const authInfo = { token: "tok-secret", clientId: options.clientId, scopes: ["tools"] };
    clientSide.send = (message, sendOptions) => send(message, { ...sendOptions, authInfo });
  }
  await server.connect(serverSide);
  const client = new Client({ name: "test-client", version: "1.0.0" });
  await client.connect(clientSide);
  return {
    client,
    close: async () => {
      await client.close();
      await server.close();
    },
  };
}

/** What a client got for one call: the result, or the error's code and message. */
export async function outcomeAtClient(client: Client, name: string, args: Record<string, unknown>): Promise<unknown> {
  try {
    return { result: await client.callTool({ name, arguments: args }) };
  } catch (error) {
    return {
      error: { name: (error as Error).name, code: (error as McpError).code, message: (error as Error).message },
    };
  }
}

/**
 * Two servers built alike by `build(audited)`, the second one audited:
 * `same(name, args)` calls both and asserts that their clients got the same thing.
 */
export async function twins(build: (audited: boolean) => McpServer | Server): Promise<{
  same: (name: string, args?: Record<string, unknown>) => Promise<void>;
  plain: Client;
  audited: Client;
  close: () => Promise<void>;
}> {
  const plain = await connect(build(false));
  const audited = await connect(build(true));
  return {
    same: async (name, args = {}) => {
      const expected = await outcomeAtClient(plain.client, name, args);
      assert.deepEqual(await outcomeAtClient(audited.client, name, args), expected, name);
    },
    plain: plain.client,
    audited: audited.client,
    close: async () => {
      await plain.close();
      await audited.close();
    },
  };
}
