import { describe, it } from "node:test";
import assert from "node:assert/strict";
import { type CallEvent, createCallEvent, type Outcome } from "../../mod.ts";
import { auditMcpServer } from "../../src/mcp/audit_mcp_server.ts";
import { MemorySink, settle } from "../call/_sinks.ts";
import {
  buildLowLevelServer,
  buildMcpServer,
  connect,
  LOW_LEVEL_CALLS,
  McpServer,
  outcomeAtClient,
  registerLowLevelHandler,
  registerTools,
  TABLE_CALLS,
  twins,
} from "./_mcp.ts";

/** The text of a tool result's first content block (what the SDK put in an error result). */
function text(atClient: unknown): string {
  return ((atClient as { result: { content: { text: string }[] } }).result.content[0]!).text;
}

describe("auditMcpServer with McpServer", () => {
  it("records one event per row of the outcome table, with tool id, caller and duration", async () => {
    const server = buildMcpServer();
    const sink = new MemorySink();
    const audit = auditMcpServer(server, sink);
    const { client, close } = await connect(server, { clientId: "client-7" });
    const got: [string, unknown, CallEvent][] = [];
    for (const [name, args] of TABLE_CALLS) {
      const before = sink.events.length;
      const t0 = performance.now();
      const atClient = await outcomeAtClient(client, name, args);
      const elapsed = performance.now() - t0;
      assert.equal(sink.events.length, before + 1, `${name}: one event`);
      const event = sink.events[before]!;
      assert.equal(event.tool_id, name);
      assert.equal(event.caller_id, "client-7");
      assert.ok(event.duration_ms <= Math.ceil(elapsed), `${name}: ${event.duration_ms} ms within ${elapsed} ms`);
      assert.deepEqual(event.granted_capabilities, []);
      assert.equal(event.tier, "warm");
      got.push([name, atClient, event]);
    }
    await close();
    const outcomes = got.map(([, , e]) => e.outcome);
    const expected: Outcome[] = [
      { kind: "success" },
      { kind: "invalid_args", message: text(got[1]![1]) },
      { kind: "invalid_args", message: text(got[2]![1]) },
      { kind: "tool_not_found" },
      { kind: "tool_not_found" },
      { kind: "execution_failed", code: "TOOL_ERROR", retryable: false },
      { kind: "execution_failed", code: "HTTP_502", retryable: false },
      { kind: "execution_failed", code: "ENOENT", retryable: false },
      { kind: "execution_failed", code: "TypeError", retryable: false },
      { kind: "capability_denied", missing: ["fs:write"] },
      { kind: "rate_limited", retry_after_ms: 1500 },
      { kind: "invalid_args", message: "MCP error -32602: path must be absolute" },
      { kind: "execution_failed", code: "INVALID_TOOL_OUTPUT", retryable: false },
    ];
    assert.deepEqual(outcomes, expected);
    assert.match(text(got[1]![1]), /^MCP error -32602: Input validation error: /);
    assert.equal(audit.recorded, TABLE_CALLS.length);
    assert.equal(audit.lost, 0);
  });

  it("hands the client exactly what an unaudited twin server hands it", async () => {
    const sink = new MemorySink();
    const pair = await twins((audited) => {
      const server = buildMcpServer();
      if (audited) auditMcpServer(server, sink);
      return server;
    });
    for (const [name, args] of [...TABLE_CALLS, ["hang", {}] as const]) await pair.same(name, args);
    assert.deepEqual(await pair.audited.listTools(), await pair.plain.listTools());
    await pair.close();
    assert.equal(sink.events.length, TABLE_CALLS.length + 1);
  });

  it("audits tools registered after it, even after connect, and servers audited after connect", async () => {
    const early = new McpServer({ name: "early", version: "1" }, { capabilities: { tools: {} } });
    const earlySink = new MemorySink();
    auditMcpServer(early, earlySink);
    const e = await connect(early);
    registerTools(early);
    await e.client.callTool({ name: "add", arguments: { a: 1, b: 1 } });
    await e.client.callTool({ name: "nope" });
    await e.close();
    assert.deepEqual(earlySink.events.map((x) => x.outcome.kind), ["success", "tool_not_found"]);

    const late = buildMcpServer();
    const l = await connect(late);
    await l.client.callTool({ name: "add", arguments: { a: 1, b: 1 } }); // before auditing: not recorded
    const lateSink = new MemorySink();
    auditMcpServer(late, lateSink);
    await l.client.callTool({ name: "add", arguments: { a: "x" } });
    await l.close();
    assert.deepEqual(lateSink.events.map((x) => x.outcome.kind), ["invalid_args"]);
  });

  it("gives 100 concurrent calls 100 events with distinct call_ids that carry their request ids", async () => {
    const server = buildMcpServer();
    const sink = new MemorySink();
    auditMcpServer(server, sink);
    const { client, close } = await connect(server);
    const results = await Promise.all(
      Array.from(
        { length: 100 },
        (_, i) => client.callTool({ name: i % 10 === 0 ? "slow" : "add", arguments: { a: i, b: 1 } }),
      ),
    );
    await close();
    assert.equal(results.length, 100);
    assert.equal(sink.events.length, 100);
    assert.equal(new Set(sink.events.map((e) => e.call_id)).size, 100);
    const requestIds = sink.events.map((e) => e.call_id.split(":")[1]);
    assert.equal(new Set(requestIds).size, 100);
    assert.equal(sink.events.filter((e) => e.tool_id === "slow").length, 10);
    assert.ok(sink.events.every((e) => e.outcome.kind === "success"));
  });

  it("keeps call_ids unique when request ids repeat across connections", async () => {
    const server = buildMcpServer();
    const sink = new MemorySink();
    auditMcpServer(server, sink);
    for (let session = 0; session < 3; session++) {
      const { client, close } = await connect(server);
      await client.callTool({ name: "add", arguments: { a: 1, b: 2 } });
      await client.callTool({ name: "add", arguments: { a: 3, b: 4 } });
      await close();
    }
    const ids = sink.events.map((e) => e.call_id);
    assert.equal(ids.length, 6);
    assert.equal(new Set(ids).size, 6);
    assert.equal(new Set(ids.map((id) => id.split(":")[1])).size, 2, "the request ids did repeat");
  });

  it("records a cancelled call once, when it is cancelled, and not again when its handler ends", async () => {
    let started!: () => void;
    const startedP = new Promise<void>((resolve) => (started = resolve));
    let release!: () => void;
    const releaseP = new Promise<void>((resolve) => (release = resolve));
    const server = buildMcpServer({ started, release: releaseP });
    const sink = new MemorySink();
    const audit = auditMcpServer(server, sink);
    const { client, close } = await connect(server, { clientId: "c" });
    const controller = new AbortController();
    const call = client.callTool({ name: "hang" }, undefined, { signal: controller.signal });
    await startedP;
    controller.abort("the user gave up");
    await assert.rejects(call);
    await settle();
    assert.equal(sink.events.length, 1);
    assert.deepEqual(sink.events[0]!.outcome, { kind: "execution_failed", code: "CANCELLED", retryable: true });
    release();
    await settle();
    assert.equal(sink.events.length, 1);
    assert.equal(audit.recorded, 1);
    await close();
  });

  it("records calls in flight when the connection closes as cancelled, once", async () => {
    let started = 0;
    let release!: () => void;
    const releaseP = new Promise<void>((resolve) => (release = resolve));
    const server = buildMcpServer({ started: () => started++, release: releaseP });
    const sink = new MemorySink();
    auditMcpServer(server, sink);
    const { client, close } = await connect(server);
    const calls = [1, 2, 3].map(() => client.callTool({ name: "hang" }).catch((e) => e));
    for (let i = 0; i < 100 && started < 3; i++) await settle(1);
    assert.equal(started, 3);
    await close();
    await Promise.all(calls);
    assert.deepEqual(sink.events.map((e) => e.outcome.kind === "execution_failed" && e.outcome.code), [
      "CANCELLED",
      "CANCELLED",
      "CANCELLED",
    ]);
    release();
    await settle();
    assert.equal(sink.events.length, 3);
  });

  it("still records cancellation once when the server's abort methods cannot be hooked", async () => {
    let started!: () => void;
    const startedP = new Promise<void>((resolve) => (started = resolve));
    let release!: () => void;
    const server = buildMcpServer({ started, release: new Promise<void>((resolve) => (release = resolve)) });
    const protocol = server.server as unknown as Record<string, unknown>;
    for (const name of ["_oncancel", "_onclose"]) {
      Object.defineProperty(protocol, name, { value: protocol[name], writable: false, configurable: false });
    }
    const sink = new MemorySink();
    auditMcpServer(server, sink);
    const { client, close } = await connect(server);
    const controller = new AbortController();
    const call = client.callTool({ name: "hang" }, undefined, { signal: controller.signal });
    await startedP;
    controller.abort();
    await assert.rejects(call);
    await settle();
    assert.deepEqual(sink.only().outcome, { kind: "execution_failed", code: "CANCELLED", retryable: true });
    release();
    await settle();
    assert.equal(sink.events.length, 1);
    await close();
  });

  it("reports, and records from the result alone, when the McpServer's own methods cannot be hooked", async () => {
    const server = buildMcpServer();
    Object.defineProperty(server, "validateToolInput", {
      value: (server as unknown as Record<string, unknown>).validateToolInput,
      writable: false,
      configurable: false,
    });
    const sink = new MemorySink();
    const problems: unknown[] = [];
    auditMcpServer(server, sink, { onError: (e) => problems.push(e) });
    assert.match(String((problems[0] as Error).message), /validateToolInput/);
    const { client, close } = await connect(server);
    await client.callTool({ name: "add", arguments: { a: "x" } });
    await client.callTool({ name: "throws" });
    await close();
    assert.deepEqual(sink.events.map((e) => e.outcome), [
      { kind: "execution_failed", code: "TOOL_ERROR", retryable: false },
      { kind: "execution_failed", code: "ENOENT", retryable: false },
    ]);
  });

  it("takes caller, capabilities, tier and dry_run from callbacks", async () => {
    const server = buildMcpServer();
    const sink = new MemorySink();
    auditMcpServer(server, sink, {
      callerId: (call) => call.authInfo?.clientId ? `oauth:${call.authInfo.clientId}` : null,
      capabilities: (call) =>
        call.name === "add"
          ? {
            granted_capabilities: ["math"],
            capability_provenance: [{ cap: "math", source: { kind: "string_allow_list" } }],
          }
          : ["basic"],
      tier: (call) => (call.name === "slow" ? "cold" : "warm"),
      dryRun: (call) => (call.arguments as { dry?: boolean } | undefined)?.dry === true,
      callId: (call) => `req-${call.requestId}`,
    });
    const { client, close } = await connect(server, { clientId: "abc" });
    await client.callTool({ name: "add", arguments: { a: 1, b: 2, dry: true } });
    await client.callTool({ name: "slow" });
    await close();
    const [add, slow] = sink.events;
    assert.equal(add!.caller_id, "oauth:abc");
    assert.deepEqual(add!.granted_capabilities, ["math"]);
    assert.deepEqual(add!.capability_provenance, [{ cap: "math", source: { kind: "string_allow_list" } }]);
    assert.equal(add!.dry_run, true);
    assert.match(add!.call_id, /^req-\d+$/);
    assert.deepEqual(slow!.granted_capabilities, ["basic"]);
    assert.equal(slow!.capability_provenance, undefined);
    assert.equal(slow!.tier, "cold");
    assert.equal(slow!.dry_run, false);
  });

  it("records the call with defaults, and reports, when a callback throws or answers the wrong type", async () => {
    const server = buildMcpServer();
    const sink = new MemorySink();
    const problems: unknown[] = [];
    auditMcpServer(server, sink, {
      onError: (e) => problems.push(e),
      callerId: () => {
        throw new Error("directory down");
      },
      capabilities: () => 42 as never,
      tier: () => 7 as never,
      mapResult: () => {
        throw new Error("mapper down");
      },
    });
    const { client, close } = await connect(server, { clientId: "abc" });
    const result = await client.callTool({ name: "add", arguments: { a: 1, b: 2 } });
    await close();
    assert.deepEqual(result.content, [{ type: "text", text: "3" }]);
    const event = sink.only();
    assert.equal(event.caller_id, undefined);
    assert.deepEqual(event.granted_capabilities, []);
    assert.equal(event.tier, "warm");
    assert.deepEqual(event.outcome, { kind: "success" });
    assert.equal(problems.length, 4);
  });

  it("records no capabilities, and reports where, when the capabilities callback answers what no event holds", async () => {
    const answers: [unknown, RegExp][] = [
      [["fs:read", 7], /expected "granted_capabilities\[1\]" to be a string, got number/],
      [{ granted_capabilities: "fs:read" }, /expected "granted_capabilities" to be an array of strings, got string/],
      [
        { granted_capabilities: ["fs:read"], capability_provenance: [{ cap: "fs:read", source: "config" }] },
        /expected "capability_provenance\[0\]\.source" to be an object, got "config"/,
      ],
      [
        new Proxy(["fs:read"], {
          get() {
            throw new Error("list trap");
          },
        }),
        /reading the callback's answer threw/,
      ],
    ];
    const server = buildMcpServer();
    const sink = new MemorySink();
    const problems: Error[] = [];
    let next = 0;
    const audit = auditMcpServer(server, sink, {
      onError: (e) => problems.push(e as Error),
      capabilities: () => answers[next++]![0] as never,
    });
    const { client, close } = await connect(server);
    for (const _ of answers) await client.callTool({ name: "add", arguments: { a: 1, b: 2 } });
    await close();
    assert.equal(audit.recorded, answers.length);
    assert.equal(audit.lost, 0);
    for (const [i, event] of sink.events.entries()) {
      assert.deepEqual(event.granted_capabilities, [], `answer ${i}`);
      assert.equal(event.capability_provenance, undefined);
      assert.doesNotThrow(() => createCallEvent(event), `answer ${i}: an event the sink takes`);
    }
    assert.equal(problems.length, answers.length);
    problems.forEach((problem, i) => assert.match(problem.message, answers[i]![1]));
  });

  it("refuses what is not an SDK server, a server audited twice, and bad options", () => {
    const sink = new MemorySink();
    for (const server of [null, {}, { server: {} }, { setRequestHandler() {} }]) {
      assert.throws(() => auditMcpServer(server as never, sink), TypeError);
    }
    const server = buildMcpServer();
    assert.throws(() => auditMcpServer(server, {} as never), TypeError);
    assert.throws(() => auditMcpServer(server, sink, { tier: 5 as never }), TypeError);
    assert.throws(() => auditMcpServer(server, sink, { callerId: "me" as never }), TypeError);
    assert.throws(() => auditMcpServer(server, sink, { maxIdLength: -1 }), RangeError);
    auditMcpServer(server, sink);
    assert.throws(() => auditMcpServer(server, sink), /already audited/);
    assert.throws(() => auditMcpServer(server.server, sink), /already audited/);
    const frozen = buildLowLevelServer();
    Object.freeze((frozen as unknown as { _requestHandlers: object })._requestHandlers);
    assert.throws(() => auditMcpServer(frozen, sink), /cannot be hooked/);
  });
});

describe("auditMcpServer with the low-level Server", () => {
  it("records one event per call with the outcome its handler gave", async () => {
    const server = buildLowLevelServer();
    const sink = new MemorySink();
    auditMcpServer(server, sink);
    const { client, close } = await connect(server, { clientId: "low" });
    for (const [name, args] of LOW_LEVEL_CALLS) await outcomeAtClient(client, name, args);
    await close();
    assert.deepEqual(sink.events.map((e) => [e.tool_id, e.caller_id, e.outcome]), [
      ["echo", "low", { kind: "success" }],
      ["fail_result", "low", { kind: "execution_failed", code: "TOOL_ERROR", retryable: false }],
      ["denied", "low", { kind: "capability_denied", missing: ["net:egress"] }],
      ["invalid", "low", { kind: "invalid_args", message: "MCP error -32602: Invalid arguments: x is required" }],
      ["throws", "low", { kind: "execution_failed", code: "E_KAPUT", retryable: false }],
      ["missing", "low", { kind: "tool_not_found" }],
      ["malformed", "low", { kind: "execution_failed", code: "INVALID_TOOL_OUTPUT", retryable: false }],
    ]);
  });

  it("hands the client exactly what an unaudited twin hands it, also for a handler set after auditing", async () => {
    const sink = new MemorySink();
    const pair = await twins((audited) => {
      const server = buildLowLevelServer(false);
      if (audited) auditMcpServer(server, sink);
      registerLowLevelHandler(server);
      return server;
    });
    for (const [name, args] of LOW_LEVEL_CALLS) await pair.same(name, args);
    await pair.close();
    assert.equal(sink.events.length, LOW_LEVEL_CALLS.length);
  });

  it("audits a tools/call answered by the fallback request handler", async () => {
    const server = buildLowLevelServer(false);
    server.fallbackRequestHandler = (request) => {
      if (request.method !== "tools/call") return Promise.reject(new Error("unexpected"));
      return Promise.resolve({ content: [{ type: "text", text: "fallback" }] });
    };
    const sink = new MemorySink();
    auditMcpServer(server, sink);
    const { client, close } = await connect(server);
    assert.deepEqual((await client.callTool({ name: "any" })).content, [{ type: "text", text: "fallback" }]);
    await client.listTools();
    await close();
    assert.deepEqual(sink.events.map((e) => [e.tool_id, e.outcome.kind]), [["any", "success"]]);
  });
});
