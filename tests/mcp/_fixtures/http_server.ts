// An audited MCP server over Streamable HTTP, for tests/mcp/streamable_http_e2e.ts:
// one McpServer and transport per session, every one audited into one file.
//   node http_server.mjs <port> <audit file>
// Prints "listening" when ready; on SIGTERM closes everything, flushes the
// audit file and prints the sink's counters as JSON.
import { createServer, type IncomingMessage } from "node:http";
import { randomUUID } from "node:crypto";
import process from "node:process";
// @ts-types="@modelcontextprotocol/sdk/server/streamableHttp"
import { StreamableHTTPServerTransport } from "@modelcontextprotocol/sdk/server/streamableHttp.js";
import { JsonLinesAuditSink } from "../../../mod.ts";
import { fileDestination } from "../../../src/destination/file_destination.ts";
import { auditMcpServer } from "../../../src/mcp/audit_mcp_server.ts";
import { aborted, McpServer, registerTools, wait } from "../_mcp.ts";

const [port, auditPath] = process.argv.slice(2);
if (port === undefined || auditPath === undefined) throw new Error("usage: http_server.mjs <port> <audit file>");

const sink = new JsonLinesAuditSink(fileDestination(auditPath), { backpressure: "block" });
const transports = new Map<string, StreamableHTTPServerTransport>();

function newServer(): McpServer {
  const server = new McpServer({ name: "e2e", version: "1.0.0" });
  auditMcpServer(server, sink, { tier: "e2e" });
  registerTools(server);
  server.registerTool("wait_for_cancel", {}, async (extra) => {
    await Promise.race([wait(10_000), aborted(extra.signal)]);
    return { content: [{ type: "text", text: "ended" }] };
  });
  return server;
}

function body(req: IncomingMessage): Promise<unknown> {
  return new Promise((resolve, reject) => {
    const chunks: Buffer[] = [];
    req.on("data", (chunk: Buffer) => chunks.push(chunk));
    req.on("end", () => {
      const text = Buffer.concat(chunks).toString("utf8");
      try {
        resolve(text === "" ? undefined : JSON.parse(text));
      } catch (error) {
        reject(error);
      }
    });
    req.on("error", reject);
  });
}

const http = createServer(async (req, res) => {
  try {
    // What an auth middleware would attach: the client id from a header.
    const clientId = req.headers["x-client-id"];
    (req as IncomingMessage & { auth?: unknown }).auth = {
      token: "opaque",
      clientId: typeof clientId === "string" ? clientId : "anonymous",
      scopes: ["tools"],
    };
    const parsed = req.method === "POST" ? await body(req) : undefined;
    const sessionId = req.headers["mcp-session-id"];
    let transport = typeof sessionId === "string" ? transports.get(sessionId) : undefined;
    if (transport === undefined) {
      transport = new StreamableHTTPServerTransport({
        sessionIdGenerator: () => randomUUID(),
        onsessioninitialized: (id) => {
          transports.set(id, transport!);
        },
      });
      transport.onclose = () => {
        if (transport!.sessionId !== undefined) transports.delete(transport!.sessionId);
      };
      await newServer().connect(transport);
    }
    await transport.handleRequest(req, res, parsed);
  } catch (error) {
    if (!res.headersSent) res.writeHead(500).end(String(error));
  }
});

http.listen(Number(port), "127.0.0.1", () => console.log("listening"));

process.on("SIGTERM", async () => {
  http.close();
  http.closeAllConnections();
  for (const transport of transports.values()) await transport.close();
  await sink.close();
  console.log(JSON.stringify(sink.stats()));
  process.exit(0);
});
