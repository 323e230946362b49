// The adapter against an adversary: hostile errors and results from tools,
// hostile names, ids and arguments from clients, a sink that throws.
import { describe, it } from "node:test";
import assert from "node:assert/strict";
import fc from "fast-check";
import type { CallEvent } from "../../mod.ts";
import { auditMcpServer, type McpServerAudit } from "../../src/mcp/audit_mcp_server.ts";
import { MemorySink, settle } from "../call/_sinks.ts";
import { buildMcpServer, connect, InMemoryTransport, McpServer, TABLE_CALLS, twins } from "./_mcp.ts";

/** Tools that throw or return what no well-behaved tool would; a fresh set of counters per server. */
function hostileServer(): McpServer {
  const server = new McpServer({ name: "hostile", version: "1.0.0" });
  const tool = (name: string, handler: () => unknown) => server.registerTool(name, {}, handler as never);
  tool("message_getter_throws", () => {
    throw Object.defineProperty(Object.assign(new Error("x"), { code: "EHOSTILE" }), "message", {
      get() {
        throw new Error("message getter");
      },
    });
  });
  tool("code_and_name_getters_throw", () => {
    throw Object.defineProperties(new Error("visible message"), {
      code: {
        get() {
          throw new Error("code getter");
        },
      },
      name: {
        get() {
          throw new Error("name getter");
        },
      },
    });
  });
  tool("proxy_throws_on_every_trap", () => {
    throw new Proxy({}, {
      get() {
        throw new Error("get trap");
      },
      getPrototypeOf() {
        throw new Error("getPrototypeOf trap");
      },
      has() {
        throw new Error("has trap");
      },
    });
  });
  tool("revoked_proxy", () => {
    const { proxy, revoke } = Proxy.revocable({}, {});
    revoke();
    throw proxy;
  });
  tool("throws_string", () => {
    throw "a plain string";
  });
  tool("throws_null", () => {
    throw null;
  });
  tool("to_string_throws", () => {
    throw {
      toString() {
        throw new Error("toString");
      },
    };
  });
  tool("content_getter_throws", () => ({
    get content() {
      throw new Error("content getter");
    },
  }));
  tool("malformed_result", () => ({ content: "not an array of blocks" }));
  let reads = 0;
  tool("content_getter_counts_reads", () => ({
    get content() {
      return [{ type: "text", text: `read ${++reads}` }];
    },
  }));
  tool("thenable_settles_thrice", () => ({
    then(resolve: (v: unknown) => void, reject: (e: unknown) => void) {
      resolve({ content: [{ type: "text", text: "first" }] });
      resolve({ content: [{ type: "text", text: "second" }] });
      reject(new Error("third"));
    },
  }));
  tool("thenable_then_throws", () => ({
    then() {
      throw Object.assign(new Error("then threw"), { code: "E_THEN" });
    },
  }));
  tool("huge_secret_code", () => ({
    content: [{ type: "text", text: "failed" }],
    structuredContent: { code: `ghp_${"a".repeat(36)} ${"C".repeat(100_000)}` },
    isError: true,
  }));
  return server;
}

const HOSTILE: readonly [string, string][] = [
  ["message_getter_throws", "EHOSTILE"],
  ["code_and_name_getters_throw", "UNKNOWN_ERROR"],
  ["proxy_throws_on_every_trap", "UNKNOWN_ERROR"],
  ["revoked_proxy", "UNKNOWN_ERROR"],
  ["throws_string", "UNKNOWN_ERROR"],
  ["throws_null", "UNKNOWN_ERROR"],
  ["to_string_throws", "UNKNOWN_ERROR"],
  ["content_getter_throws", "INVALID_TOOL_OUTPUT"],
  ["malformed_result", "INVALID_TOOL_OUTPUT"],
  ["content_getter_counts_reads", ""],
  ["thenable_settles_thrice", ""],
  ["thenable_then_throws", "E_THEN"],
  ["huge_secret_code", `[REDACTED:github_token] ${"C".repeat(232)}…[truncated: 100041 chars]`],
];

/** A client that sends raw JSON-RPC messages and keeps every response. */
async function rawClient(
  server: McpServer,
): Promise<{ send: (message: object, reply?: boolean) => Promise<unknown>; close: () => Promise<void> }> {
  const [clientSide, serverSide] = InMemoryTransport.createLinkedPair() as [InMemoryTransport, InMemoryTransport];
  const responses: unknown[] = [];
  clientSide.onmessage = (message) => responses.push(message);
  await server.connect(serverSide);
  await clientSide.start();
  return {
    send: async (message, reply = true) => {
      const before = responses.length;
      await clientSide.send(message as never);
      if (!reply) return undefined;
      for (let i = 0; i < 200 && responses.length === before; i++) await settle(1);
      return responses[before];
    },
    close: () => clientSide.close(),
  };
}

function kindAndCode(event: CallEvent): string {
  return event.outcome.kind === "execution_failed"
    ? event.outcome.code
    : event.outcome.kind === "success"
    ? ""
    : event.outcome.kind;
}

describe("auditMcpServer against hostile tools", () => {
  it("hands the client what an unaudited twin hands it, and records each hostile call once", async () => {
    const sink = new MemorySink();
    const pair = await twins((audited) => {
      const server = hostileServer();
      if (audited) auditMcpServer(server, sink);
      return server;
    });
    for (const [name] of HOSTILE) {
      const before = sink.events.length;
      await pair.same(name);
      await settle(1);
      assert.equal(sink.events.length, before + 1, `${name}: one event`);
    }
    await pair.close();
    assert.deepEqual(sink.events.map((e) => [e.tool_id, kindAndCode(e)]), HOSTILE);
    for (const line of sink.lines()) assert.ok(line.length < 2000 && !line.includes("\n"));
  });

  it("never lets a throwing sink reach the client, and counts what it lost", async () => {
    const problems: unknown[] = [];
    let audit: McpServerAudit | undefined;
    const pair = await twins((audited) => {
      const server = buildMcpServer();
      if (audited) {
        audit = auditMcpServer(server, {
          onCall() {
            throw new Error("sink exploded");
          },
        }, { onError: (e) => problems.push(e) });
      }
      return server;
    });
    for (const [name, args] of TABLE_CALLS) await pair.same(name, args);
    await pair.close();
    assert.equal(audit?.recorded, 0);
    assert.equal(audit?.lost, TABLE_CALLS.length);
    assert.equal(problems.length, TABLE_CALLS.length);
  });

  it("never lets an async sink or callback that rejects become an unhandled rejection (which ends the server)", async () => {
    const problems: Error[] = [];
    let audit: McpServerAudit | undefined;
    const reject = (what: string) => () => Promise.reject(new Error(what));
    const pair = await twins((audited) => {
      const server = buildMcpServer();
      if (audited) {
        audit = auditMcpServer(server, { onCall: reject("db down") as () => void }, {
          onError: (e) => problems.push(e as Error),
          callerId: reject("directory down") as never,
          capabilities: reject("grants down") as never,
          mapResult: reject("mapper down") as never,
          mapError: reject("mapper down") as never,
        });
      }
      return server;
    });
    for (const [name, args] of TABLE_CALLS) await pair.same(name, args);
    await pair.close();
    await settle();
    assert.equal(audit?.recorded, TABLE_CALLS.length);
    const told = (message: string) => problems.filter((e) => e.message === message).length;
    assert.equal(told("Cannot record call event: the sink's onCall rejected"), TABLE_CALLS.length);
    assert.equal(
      told("Cannot read the call's callerId: the callback returned a promise (it must answer at once)"),
      TABLE_CALLS.length,
    );
    assert.equal(
      told("Cannot read the call's capabilities: the callback returned a promise (it must answer at once)"),
      13,
    );
  });

  it("keeps two audited servers' concurrent calls apart", async () => {
    const one = buildMcpServer();
    const two = buildMcpServer();
    const sinkOne = new MemorySink();
    const sinkTwo = new MemorySink();
    auditMcpServer(one, sinkOne);
    auditMcpServer(two, sinkTwo);
    const a = await connect(one);
    const b = await connect(two);
    await Promise.all(
      Array.from(
        { length: 20 },
        (_, i) =>
          i % 2 === 0
            ? a.client.callTool({ name: "add", arguments: { a: "bad" } })
            : b.client.callTool({ name: i % 3 === 0 ? "slow" : "throws" }),
      ),
    );
    await a.close();
    await b.close();
    assert.equal(sinkOne.events.length, 10);
    assert.ok(sinkOne.events.every((e) => e.tool_id === "add" && e.outcome.kind === "invalid_args"));
    assert.equal(sinkTwo.events.length, 10);
    assert.ok(
      sinkTwo.events.every((e) => e.tool_id === "slow" ? e.outcome.kind === "success" : kindAndCode(e) === "ENOENT"),
    );
  });
});

describe("auditMcpServer against hostile clients", () => {
  it("records tool names with newlines, NULs, prototype keys and megabytes as one capped, scrubbed line each", async () => {
    const sink = new MemorySink();
    const pair = await twins((audited) => {
      const server = buildMcpServer();
      if (audited) auditMcpServer(server, sink);
      return server;
    });
    const secret = "AKIAIOSFODNN7EXAMPLE";
    const names = [
      'evil\ntool\r\n{"x":1}',
      "nul\u0000tool",
      "constructor",
      "__proto__",
      "toString",
      `${secret} ${"n".repeat(1 << 20)}`,
    ];
    for (const name of names) await pair.same(name);
    await pair.close();
    assert.deepEqual(sink.events.map((e) => e.outcome.kind), names.map(() => "tool_not_found"));
    assert.equal(sink.events[0]!.tool_id, names[0]);
    assert.equal(sink.events[2]!.tool_id, "constructor");
    const big = sink.events[5]!.tool_id;
    assert.ok(
      big.startsWith("[REDACTED:aws_access_key_id] nnn") && big.endsWith(`…[truncated: ${names[5]!.length} chars]`),
    );
    for (const line of sink.lines()) {
      assert.ok(!line.includes("\n") && !line.includes(secret) && line.length < 1000, line.slice(0, 80));
    }
  });

  it("scrubs a name no enabled tool has whatever the outcome: a malformed request, a cancelled call", async () => {
    const server = buildMcpServer();
    const sink = new MemorySink();
    auditMcpServer(server, sink);
    const raw = await rawClient(server);
    const secret = "AKIAIOSFODNN7EXAMPLE";
    const name = `key ${secret}`;
    await raw.send({ jsonrpc: "2.0", id: 1, method: "tools/call", params: { name, arguments: "not an object" } });
    // Cancelled before its handler runs (the SDK starts it a microtask after the request): no response comes.
    const call = { jsonrpc: "2.0", id: 2, method: "tools/call", params: { name, arguments: {} } };
    const cancel = { jsonrpc: "2.0", method: "notifications/cancelled", params: { requestId: 2 } };
    await raw.send(call, false);
    await raw.send(cancel, false);
    await raw.send({ jsonrpc: "2.0", id: 3, method: "tools/call", params: { name: "add", arguments: "no" } });
    await raw.close();
    assert.deepEqual(
      sink.events.map((e) => [e.tool_id, e.outcome.kind === "execution_failed" ? e.outcome.code : e.outcome.kind]),
      [
        ["key [REDACTED:aws_access_key_id]", "invalid_args"],
        ["key [REDACTED:aws_access_key_id]", "CANCELLED"],
        ["add", "invalid_args"],
      ],
    );
    for (const line of sink.lines()) assert.ok(!line.includes(secret), line);
  });

  it("caps and scrubs a validation message that echoes megabytes of the client's input", async () => {
    const server = buildMcpServer();
    const sink = new MemorySink();
    auditMcpServer(server, sink);
    const { client, close } = await connect(server);
    const color = `Bearer ${"t0k3n".repeat(8)} ${"x".repeat(1 << 20)}`;
    const result = await client.callTool({ name: "pick", arguments: { color } });
    await close();
    const atClient = (result.content as { text: string }[])[0]!.text;
    assert.ok(atClient.includes(color), "the client still gets the SDK's full message");
    const event = sink.only();
    assert.ok(event.outcome.kind === "invalid_args");
    const message = event.outcome.message;
    assert.ok(message.includes("Bearer [REDACTED:bearer]"), message.slice(0, 200));
    assert.ok(!message.includes("t0k3n"));
    assert.ok(message.endsWith(`…[truncated: ${atClient.length} chars]`));
    assert.ok(message.length < 1100);
  });

  it("gives unique, capped call_ids to repeated, huge and multi-line request ids", async () => {
    const server = buildMcpServer();
    const sink = new MemorySink();
    auditMcpServer(server, sink);
    const raw = await rawClient(server);
    const ids: (string | number)[] = [7, 7, "a\nb", "x".repeat(10_000), -1];
    for (const id of ids) {
      const response = await raw.send({
        jsonrpc: "2.0",
        id,
        method: "tools/call",
        params: { name: "add", arguments: { a: 1, b: 1 } },
      });
      assert.equal((response as { id: unknown }).id, id);
    }
    // Not a JSON-RPC request (a fractional id): the SDK drops it, and nothing reaches the adapter.
    await raw.send({
      jsonrpc: "2.0",
      id: 1.5,
      method: "tools/call",
      params: { name: "add", arguments: { a: 1, b: 1 } },
    });
    await raw.close();
    const callIds = sink.events.map((e) => e.call_id);
    assert.equal(callIds.length, ids.length);
    assert.equal(new Set(callIds).size, ids.length);
    assert.ok(callIds[2]!.endsWith(":a\nb"));
    assert.ok(callIds.every((id) => id.length <= 256 + 30));
    assert.ok(sink.events.every((e) => e.outcome.kind === "success"));
  });

  it("records a request the SDK rejects for its shape (no name) as invalid_args, once", async () => {
    const plain = buildMcpServer();
    const audited = buildMcpServer();
    const sink = new MemorySink();
    auditMcpServer(audited, sink);
    const rawPlain = await rawClient(plain);
    const rawAudited = await rawClient(audited);
    const bad = [{ arguments: {} }, { name: 42 }, { name: ["x"] }];
    for (const params of bad) {
      const message = { jsonrpc: "2.0", id: 1, method: "tools/call", params };
      assert.deepEqual(await rawAudited.send(message), await rawPlain.send(message));
    }
    await rawPlain.close();
    await rawAudited.close();
    assert.deepEqual(sink.events.map((e) => [e.tool_id, e.outcome.kind]), bad.map(() => ["", "invalid_args"]));
  });
});

/** The server's own `tools/call` handler (audited), as Protocol#_onrequest calls it. */
function toolsCallHandler(server: McpServer): (request: unknown, extra: unknown) => Promise<unknown> {
  const handlers = (server.server as unknown as { _requestHandlers: Map<string, never> })._requestHandlers;
  return handlers.get("tools/call")!;
}

describe("auditMcpServer against hostile request handling", () => {
  it("never throws into the server's close when a call's signal throws, and records every call once", async () => {
    let release!: () => void;
    const gate = new Promise<void>((resolve) => (release = resolve));
    const server = new McpServer({ name: "hostile-extra", version: "1.0.0" });
    server.registerTool("hang", {}, async () => {
      await gate;
      return { content: [{ type: "text", text: "done" }] };
    });
    const sink = new MemorySink();
    const problems: unknown[] = [];
    const audit = auditMcpServer(server, sink, { onError: (e) => problems.push(e) });
    const { client, close } = await connect(server);
    const viaClient = client.callTool({ name: "hang" }).catch((e: unknown) => e);
    await settle();
    // A caller of the handler itself, with a signal whose `aborted` answers once, then throws.
    const signal = new AbortController().signal;
    let reads = 0;
    Object.defineProperty(signal, "aborted", {
      get() {
        if (reads++ > 0) throw new Error("aborted getter");
        return false;
      },
    });
    const direct = toolsCallHandler(server)(
      { jsonrpc: "2.0", id: "direct", method: "tools/call", params: { name: "hang", arguments: {} } },
      { signal },
    );
    await close(); // aborts the client's call; must not throw
    await viaClient;
    assert.deepEqual(sink.only().outcome, { kind: "execution_failed", code: "CANCELLED", retryable: true });
    release();
    assert.deepEqual(await direct, { content: [{ type: "text", text: "done" }] });
    await settle();
    assert.deepEqual(sink.events.map((e) => [e.call_id.split(":")[1], e.outcome.kind]), [
      ["1", "execution_failed"],
      ["direct", "success"],
    ]);
    assert.equal(audit.recorded, 2);
    assert.equal(audit.lost, 0);
    assert.deepEqual(problems, []);
  });

  it("records a call whose signal cannot be listened to once, when the server's aborts cannot be hooked", async () => {
    const server = new McpServer({ name: "hostile-signal", version: "1.0.0" });
    server.registerTool("ok", {}, () => ({ content: [{ type: "text", text: "ok" }] }));
    const protocol = server.server as unknown as Record<string, unknown>;
    for (const name of ["_oncancel", "_onclose"]) {
      Object.defineProperty(protocol, name, { value: protocol[name], writable: false, configurable: false });
    }
    const sink = new MemorySink();
    const problems: unknown[] = [];
    const audit = auditMcpServer(server, sink, { onError: (e) => problems.push(e) });
    const signal = new AbortController().signal;
    Object.defineProperty(signal, "addEventListener", {
      value() {
        throw new Error("no listeners here");
      },
    });
    const result = await toolsCallHandler(server)(
      { jsonrpc: "2.0", id: 1, method: "tools/call", params: { name: "ok", arguments: {} } },
      { signal },
    );
    assert.deepEqual(result, { content: [{ type: "text", text: "ok" }] });
    await settle();
    assert.deepEqual(sink.only().outcome, { kind: "success" });
    assert.equal(audit.lost, 0);
    assert.deepEqual(problems, []);
  });

  it("records many direct calls that share extra objects once each, and those with their own extra exactly", async () => {
    // The SDK gives each request its own `extra`; a caller of the handler may not. Calls are found by it (in a
    // list, or a map past 16 in flight): sharing one makes the tool's error ambiguous, never the event count.
    const callArb = fc.record({
      extra: fc.nat(30),
      throws: fc.boolean(),
      releaseAt: fc.nat(100),
      abortAt: fc.option(fc.nat(100)),
    });
    await fc.assert(
      fc.asyncProperty(fc.array(callArb, { minLength: 1, maxLength: 45, size: "max" }), async (calls) => {
        const server = new McpServer({ name: "shared-extra", version: "1.0.0" });
        const gates = calls.map(() => {
          let release!: () => void;
          return { promise: new Promise<void>((resolve) => (release = resolve)), release };
        });
        calls.forEach((call, i) =>
          server.registerTool(`t${i}`, {}, async () => {
            await gates[i]!.promise;
            if (call.throws) throw Object.assign(new Error("failed"), { code: `E${i}` });
            return { content: [] };
          })
        );
        const sink = new MemorySink();
        const problems: unknown[] = [];
        const audit = auditMcpServer(server, sink, { onError: (e) => problems.push(e) });
        const controllers = new Map<number, AbortController>();
        const extras = new Map<number, { signal: AbortSignal }>();
        const extraOf = (key: number) => {
          if (!extras.has(key)) {
            controllers.set(key, new AbortController());
            extras.set(key, { signal: controllers.get(key)!.signal });
          }
          return extras.get(key)!;
        };
        const handler = toolsCallHandler(server);
        const results = calls.map((call, i) =>
          handler({ jsonrpc: "2.0", id: i, method: "tools/call", params: { name: `t${i}` } }, extraOf(call.extra))
        );
        const protocol = server.server as unknown as { _oncancel(notification: unknown): unknown };
        const steps = calls.flatMap((call, i) => [
          { at: call.releaseAt, act: () => gates[i]!.release() },
          ...(call.abortAt === null ? [] : [{
            at: call.abortAt,
            act: () => {
              controllers.get(call.extra)!.abort();
              protocol._oncancel({ params: {} }); // the server's own cancel path: the adapter sweeps after it
            },
          }]),
        ]).sort((a, b) => a.at - b.at);
        for (const step of steps) {
          step.act();
          await Promise.resolve();
        }
        await Promise.all(results);
        await settle();
        assert.equal(new Set(sink.events.map((e) => e.call_id.split(":")[1])).size, calls.length);
        assert.equal(audit.recorded, calls.length);
        assert.equal(audit.lost, 0);
        assert.deepEqual(problems, []);
        const sharing = (key: number) => calls.filter((call) => call.extra === key).length;
        for (const event of sink.events) {
          const i = Number(event.tool_id.slice(1));
          const call = calls[i]!;
          if (controllers.get(call.extra)!.signal.aborted && event.outcome.kind === "execution_failed") {
            if (event.outcome.code === "CANCELLED") continue;
          }
          if (sharing(call.extra) > 1) continue;
          const want = call.throws
            ? { kind: "execution_failed", code: `E${i}`, retryable: false }
            : { kind: "success" };
          assert.deepEqual(event.outcome, want, event.tool_id);
        }
      }),
      { numRuns: 40 },
    );
  });
  it("looks at no call in flight for a cancel of a request the server is not handling (a flood costs no sweep each)", async () => {
    let release!: () => void;
    const gate = new Promise<void>((resolve) => (release = resolve));
    const server = new McpServer({ name: "cancel-flood", version: "1.0.0" });
    server.registerTool("hang", {}, async () => {
      await gate;
      return { content: [] };
    });
    const sink = new MemorySink();
    auditMcpServer(server, sink);
    let reads = 0;
    const aborted = new Set<number>();
    const extraOf = (id: number) => ({
      signal: {
        get aborted() {
          reads++;
          return aborted.has(id);
        },
      },
    });
    const handler = toolsCallHandler(server);
    const results = Array.from(
      { length: 20 },
      (_, id) => handler({ jsonrpc: "2.0", id, method: "tools/call", params: { name: "hang" } }, extraOf(id)),
    );
    const protocol = server.server as unknown as {
      _oncancel(notification: unknown): unknown;
      _requestHandlerAbortControllers: Map<unknown, AbortController>;
    };
    const before = reads;
    for (let i = 0; i < 100; i++) protocol._oncancel({ params: { requestId: 1000 + i } });
    assert.equal(reads, before, "no call was looked at");
    // A cancel of a request the server is handling looks at that request's calls only.
    protocol._requestHandlerAbortControllers.set(3, new AbortController());
    aborted.add(3);
    protocol._oncancel({ params: { requestId: 3 } });
    assert.ok(reads - before <= 2, `${reads - before} reads`);
    assert.deepEqual(sink.events.map((e) => [e.call_id.split(":")[1], e.outcome.kind]), [["3", "execution_failed"]]);
    protocol._requestHandlerAbortControllers.delete(3);
    release();
    await Promise.all(results);
    await settle();
    assert.equal(sink.events.length, 20);
  });
});
