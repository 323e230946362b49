/**
 * Starts `demo/mcp_server.ts` as a child process and drives it with the
 * SDK's real MCP client over stdio: successes, invalid arguments, an unknown
 * tool, a missing capability, a rate limit, tool errors. Then prints the
 * audit log the server wrote, `audit stats` and `audit verify` of it.
 *
 * Run: `deno run -A demo/mcp_client.ts` (package.json: `"demo:mcp": "deno run -A demo/mcp_client.ts"`).
 *
 * @module
 */
// @ts-types="@modelcontextprotocol/sdk/client/index"
import { Client } from "@modelcontextprotocol/sdk/client/index.js";
// @ts-types="@modelcontextprotocol/sdk/client/stdio"
import { StdioClientTransport } from "@modelcontextprotocol/sdk/client/stdio.js";
import { main } from "../src/cli/main.ts";

const log = new URL("./out/mcp_audit.jsonl", import.meta.url);
const keys = new URL("./out/keys/", import.meta.url);
await Deno.mkdir(new URL("./out/", import.meta.url), { recursive: true });
// A fresh log each run (fileSeal would go on with an existing seal file's chain); the seal key once.
await Deno.remove(log).catch(() => {});
await Deno.remove(new URL("./out/mcp_audit.jsonl.seal", import.meta.url)).catch(() => {});
if (!await Deno.stat(new URL("audit-seal.private.jwk", keys)).then(() => true, () => false)) {
  await main(["keygen", "--out", keys.pathname]);
}

const transport = new StdioClientTransport({
  command: Deno.execPath(),
  args: ["run", "-A", new URL("./mcp_server.ts", import.meta.url).pathname],
  stderr: "inherit",
});
const client = new Client({ name: "demo-client", version: "1.0.0" });
await client.connect(transport);

const calls: [string, Record<string, unknown>][] = [
  ["read_file", { path: "notes.txt" }],
  ["read_file", { path: "missing.txt" }],
  ["read_file", {}],
  ["write_file", { path: "x.txt", text: "hello" }],
  ["search", { query: "milk" }],
  ["search", { query: "ship" }],
  ["search", { query: "again" }],
  ["search", { query: "x" }],
  ["fetch_url", { url: "https://example.com/?token=abc" }],
  ["delete_everything", {}],
];
for (const [name, args] of calls) {
  const result = await client.callTool({ name, arguments: args });
  const text = (result.content as { text?: string }[])[0]?.text ?? "";
  console.log(`${result.isError ? "✗" : "✓"} ${name} ${JSON.stringify(args)} → ${text.split("\n")[0]!.slice(0, 90)}`);
}
await client.close(); // the server closes its sink when stdin ends

// The server flushes and seals its log as it exits: wait until every line is sealed.
const verifyArgs = ["verify", log.pathname, "--key", new URL("audit-seal.public.jwk", keys).pathname];
const quiet = { stdout: () => Promise.resolve(), stderr: () => Promise.resolve() };
for (let i = 0; i < 100 && await main([...verifyArgs, "--strict"], quiet) !== 0; i++) {
  await new Promise((resolve) => setTimeout(resolve, 50));
}
console.log(`\ndemo/out/mcp_audit.jsonl:\n${await Deno.readTextFile(log)}`);
const stats = await main(["stats", log.pathname]);
console.log("");
Deno.exitCode = Math.max(stats, await main(verifyArgs));
