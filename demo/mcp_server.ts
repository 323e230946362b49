/**
 * A small MCP server (stdio) whose every `tools/call` is audited into
 * `demo/out/mcp_audit.jsonl`, sealed (`demo/out/mcp_audit.jsonl.seal`, signed
 * with the key `demo/mcp_client.ts` made with `audit keygen`): a few lines of
 * integration, marked below.
 * `demo/mcp_client.ts` starts it and drives it with the SDK's real client.
 *
 * Over stdio, stdout carries the protocol: the audit log goes to a file.
 *
 * @module
 */
// @ts-types="@modelcontextprotocol/sdk/server/mcp"
import { McpServer } from "@modelcontextprotocol/sdk/server/mcp.js";
// @ts-types="@modelcontextprotocol/sdk/server/stdio"
import { StdioServerTransport } from "@modelcontextprotocol/sdk/server/stdio.js";
import { z } from "zod";
import { JsonLinesAuditSink, ToolCallError } from "../mod.ts";
import { fileDestination, fileSeal } from "../src/destination/file_destination.ts";
import { auditMcpServer } from "../src/mcp/audit_mcp_server.ts";

const FILES: Record<string, string> = { "notes.txt": "buy milk", "todo.md": "- ship the audit log" };
/** What each client may do; over stdio, the client is whoever started us (it names itself at initialize). */
const GRANTS: Record<string, string[]> = { "demo-client": ["fs:read", "search"] };

const server = new McpServer({ name: "files-demo", version: "1.0.0" });

// The integration: a sealed log, and one call that audits every tools/call.
const log = new URL("./out/mcp_audit.jsonl", import.meta.url);
const key = await Deno.readTextFile(new URL("./out/keys/audit-seal.private.jwk", import.meta.url));
const seal = await fileSeal(log, { key, origin: "demo.example/mcp-server", intervalMs: 1_000 });
const sink = new JsonLinesAuditSink(fileDestination(log), { backpressure: "block", seal });
const callerOf = () => server.server.getClientVersion()?.name;
auditMcpServer(server, sink, {
  callerId: callerOf,
  capabilities: () => GRANTS[callerOf() ?? ""] ?? [],
  tier: "warm",
});

function demand(capability: string): void {
  const granted = GRANTS[callerOf() ?? ""] ?? [];
  if (!granted.includes(capability)) throw new ToolCallError({ kind: "capability_denied", missing: [capability] });
}

server.registerTool("read_file", { description: "Reads a file", inputSchema: { path: z.string() } }, ({ path }) => {
  demand("fs:read");
  const text = FILES[path];
  if (text === undefined) {
    throw Object.assign(new Error(`no such file: ${path}`), { code: "FS_NOT_FOUND" });
  }
  return { content: [{ type: "text", text }] };
});

server.registerTool("write_file", {
  description: "Writes a file",
  inputSchema: { path: z.string(), text: z.string() },
}, ({ path, text }) => {
  demand("fs:write");
  FILES[path] = text;
  return { content: [{ type: "text", text: "written" }] };
});

let searches = 0;
server.registerTool("search", { description: "Searches the files", inputSchema: { query: z.string().min(2) } }, async ({
  query,
}) => {
  demand("search");
  if (++searches > 2) throw new ToolCallError({ kind: "rate_limited", retry_after_ms: 1_000 });
  await new Promise((resolve) => setTimeout(resolve, 15));
  const hits = Object.keys(FILES).filter((name) => FILES[name]!.includes(query));
  return { content: [{ type: "text", text: hits.join("\n") || "no match" }] };
});

server.registerTool(
  "fetch_url",
  { description: "Fetches a URL", inputSchema: { url: z.string().url() } },
  ({ url }) => ({
    // A tool error the way tools report them: an isError result with a code.
    content: [{ type: "text", text: `network is off in the demo: ${url}` }],
    structuredContent: { code: "NET_DISABLED" },
    isError: true,
  }),
);

const transport = new StdioServerTransport();
transport.onclose = () => void sink.close();
// A client stops its server with SIGTERM when it is done: deliver and seal what is left first.
Deno.addSignalListener("SIGTERM", () => {
  void sink.close({ signal: AbortSignal.timeout(2_000) }).then(() => Deno.exit(0));
});
await server.connect(transport);
