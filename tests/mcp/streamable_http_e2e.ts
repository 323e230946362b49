// auditMcpServer end to end: an audited server over the SDK's Streamable HTTP
// transport in its own Node process (tests/mcp/_fixtures/http_server.ts), two
// real SDK clients here, each in its own session, then the audit file read back.
import { after, before, describe, it } from "node:test";
import assert from "node:assert/strict";
import { readFileSync } from "node:fs";
import { join } from "node:path";
import process from "node:process";
import { build } from "esbuild";
// @ts-types="@modelcontextprotocol/sdk/client/index"
import { Client } from "@modelcontextprotocol/sdk/client/index.js";
// @ts-types="@modelcontextprotocol/sdk/client/streamableHttp"
import { StreamableHTTPClientTransport } from "@modelcontextprotocol/sdk/client/streamableHttp.js";
import { type CallEvent, parseCallEvent } from "../../mod.ts";
import { ChildServer, freePort, makeTempDir, removeDir, REPO_ROOT, waitFor } from "../_helpers/e2e_harness.ts";

/** Each client's calls, in order: [tool, arguments, expected outcome kind and code]. */
const CALLS: readonly [string, Record<string, unknown>, string][] = [
  ["add", { a: 1, b: 2 }, "success"],
  ["add", { a: "one" }, "invalid_args"],
  ["nope", {}, "tool_not_found"],
  ["throws", {}, "execution_failed:ENOENT"],
  ["fail_coded", {}, "execution_failed:HTTP_502"],
  ["denied", {}, "capability_denied"],
];
const CONCURRENT = 20;

function describeOutcome(event: CallEvent): string {
  return event.outcome.kind === "execution_failed" ? `execution_failed:${event.outcome.code}` : event.outcome.kind;
}

async function runClient(url: URL, clientId: string): Promise<void> {
  const transport = new StreamableHTTPClientTransport(url, { requestInit: { headers: { "x-client-id": clientId } } });
  const client = new Client({ name: clientId, version: "1.0.0" });
  await client.connect(transport);
  for (const [name, args] of CALLS) await client.callTool({ name, arguments: args });
  const sums = await Promise.all(
    Array.from({ length: CONCURRENT }, (_, i) => client.callTool({ name: "add", arguments: { a: i, b: 1 } })),
  );
  assert.deepEqual(sums.map((r) => (r.content as { text: string }[])[0]!.text), sums.map((_, i) => String(i + 1)));
  // A call the client gives up on: the server records it as cancelled when the notification arrives.
  const controller = new AbortController();
  const cancelled = client.callTool({ name: "wait_for_cancel" }, undefined, { signal: controller.signal });
  setTimeout(() => controller.abort("gave up"), 200);
  await assert.rejects(cancelled);
  await transport.terminateSession();
  await client.close();
}

describe("auditMcpServer over Streamable HTTP, client and server in separate processes", () => {
  let dir: string | undefined;
  let server: ChildServer | undefined;
  let url: URL;
  let auditPath = "";

  before(async () => {
    dir = makeTempDir("mcp-e2e");
    auditPath = join(dir, "audit.jsonl");
    const script = join(REPO_ROOT, ".build", "mcp-e2e", "http_server.mjs");
    await build({
      entryPoints: [join(REPO_ROOT, "tests/mcp/_fixtures/http_server.ts")],
      outfile: script,
      bundle: true,
      platform: "node",
      format: "esm",
      target: "node20",
      packages: "external",
      logLevel: "warning",
    });
    const port = await freePort();
    url = new URL(`http://127.0.0.1:${port}/mcp`);
    server = ChildServer.start(process.execPath, [script, String(port), auditPath], { cwd: REPO_ROOT });
    await waitFor("the MCP server to listen", () => server!.output.includes("listening") || server!.exited, {
      timeoutMs: 15_000,
      detail: () => server!.output,
    });
    assert.ok(!server.exited, server.output);
  });

  after(async () => {
    await server?.stop();
    removeDir(dir);
  });

  it("records one event per call from both sessions, with callers, outcomes and unique call_ids", async () => {
    await Promise.all([runClient(url, "agent-1"), runClient(url, "agent-2")]);
    const perClient = CALLS.length + CONCURRENT + 1;
    await server!.stop();
    const lines = readFileSync(auditPath, "utf8").split("\n").filter((line) => line !== "");
    const events = lines.map((line, i) => parseCallEvent(line, { line: i + 1 }));
    assert.equal(events.length, 2 * perClient, server!.output);
    assert.equal(new Set(events.map((e) => e.call_id)).size, events.length);
    for (const clientId of ["agent-1", "agent-2"]) {
      const mine = events.filter((e) => e.caller_id === clientId);
      assert.equal(mine.length, perClient);
      assert.ok(mine.every((e) => e.tier === "e2e"));
      const sequential = mine.filter((e) => e.tool_id !== "add" || e.outcome.kind !== "success").map(describeOutcome);
      assert.deepEqual(
        sequential.sort(),
        [
          ...CALLS.filter(([, , o]) => o !== "success").map(([, , o]) => o),
          "execution_failed:CANCELLED",
        ].sort(),
      );
      assert.equal(mine.filter((e) => e.tool_id === "add" && e.outcome.kind === "success").length, CONCURRENT + 1);
    }
    // Both sessions numbered their requests from the same start: the ids repeat, the call_ids do not.
    const requestIds = (clientId: string) =>
      new Set(events.filter((e) => e.caller_id === clientId).map((e) => e.call_id.split(":")[1]));
    const shared = [...requestIds("agent-1")].filter((id) => requestIds("agent-2").has(id));
    assert.ok(shared.length > 0, "the two sessions reused request ids");
  });
});
