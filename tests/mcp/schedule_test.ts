// The adapter under random schedules with the real SDK: many calls in flight
// (crossing the 16 where it starts keeping a map, both ways), mixed outcomes,
// tools released in random order, cancellations and a closing connection at
// odd moments. What the server received, sent and recorded must agree.
import { describe, it } from "node:test";
import assert from "node:assert/strict";
import fc from "fast-check";
import { z } from "zod";
import { type CallEvent, type Outcome, ToolCallError } from "../../mod.ts";
import { auditMcpServer } from "../../src/mcp/audit_mcp_server.ts";
import { MemorySink, settle } from "../call/_sinks.ts";
import { Client, InMemoryTransport, McpServer, outcomeAtClient } from "./_mcp.ts";

const BEHAVIOURS = [
  "ok",
  "is_error",
  "throws",
  "throws_string",
  "typed",
  "rejects",
  "thenable",
  "bad_args",
  "unknown",
  "bad_output",
] as const;
type Behaviour = typeof BEHAVIOURS[number];

const CANCELLED: Outcome = { kind: "execution_failed", code: "CANCELLED", retryable: true };

/** The outcome each behaviour is recorded with when it runs to its end. */
function expected(behaviour: Behaviour, plain: unknown): Outcome {
  switch (behaviour) {
    case "ok":
    case "thenable":
      return { kind: "success" };
    case "is_error":
      return { kind: "execution_failed", code: "E_RESULT", retryable: false };
    case "throws":
      return { kind: "execution_failed", code: "E_THROW", retryable: false };
    case "throws_string":
      return { kind: "execution_failed", code: "UNKNOWN_ERROR", retryable: false };
    case "typed":
      return { kind: "rate_limited", retry_after_ms: 1500 };
    case "rejects":
      return { kind: "execution_failed", code: "TypeError", retryable: false };
    case "bad_args":
      // The SDK's validation message, which the client gets as the error result's text.
      return {
        kind: "invalid_args",
        message: (plain as { result: { content: { text: string }[] } }).result.content[0]!.text,
      };
    case "unknown":
      return { kind: "tool_not_found" };
    case "bad_output":
      return { kind: "execution_failed", code: "INVALID_TOOL_OUTPUT", retryable: false };
  }
}

interface CallSpec {
  readonly behaviour: Behaviour;
  /** Whether the tool waits for the schedule to release it (else it ends at once, synchronously where it can). */
  readonly gated: boolean;
  /** Whether the client aborts its request: no, at once (before the server starts the call), or at some step. */
  readonly abort: "no" | "at_once" | "later";
  /** Whether the tool is registered after auditMcpServer (else before). */
  readonly registerAfter: boolean;
  readonly startAt: number;
  readonly releaseAfter: number;
  readonly abortAfter: number;
}

/** A server with one tool that is never called: without any tool, McpServer answers "Method not found" itself. */
function newServer(): McpServer {
  const server = new McpServer({ name: "schedule", version: "1.0.0" });
  server.registerTool("spare", {}, () => ({ content: [] }));
  return server;
}

/** Registers tool `name` acting as `behaviour`, after `gate` resolves when `gated`. */
function register(server: McpServer, name: string, spec: CallSpec, gate: Promise<void>): void {
  const { behaviour, gated } = spec;
  if (behaviour === "unknown") return;
  const act = (): unknown => {
    switch (behaviour) {
      case "ok":
      case "bad_args":
        return { content: [{ type: "text", text: `${name} ok` }] };
      case "is_error":
        return { content: [{ type: "text", text: "nope" }], structuredContent: { code: "E_RESULT" }, isError: true };
      case "throws":
        throw Object.assign(new Error(`${name} threw`), { code: "E_THROW" });
      case "throws_string":
        throw `${name} threw a string`;
      case "typed":
        throw new ToolCallError({ kind: "rate_limited", retry_after_ms: 1500 });
      case "rejects":
        return Promise.reject(new TypeError(`${name} rejected`));
      case "bad_output":
        return { content: [{ type: "text", text: "no structured content" }] };
      case "thenable":
        // Not a native promise: the SDK awaits it.
        return { then: (resolve: (v: unknown) => void) => resolve({ content: [{ type: "text", text: `${name}` }] }) };
    }
  };
  const handler = gated ? () => gate.then(act) : act;
  const config = behaviour === "bad_args"
    ? { inputSchema: { n: z.number() } }
    : behaviour === "bad_output"
    ? { outputSchema: { n: z.number() } }
    : {};
  server.registerTool(name, config, handler as never);
}

function argsOf(spec: CallSpec): Record<string, unknown> {
  return spec.behaviour === "bad_args" ? { n: "x" } : {};
}

/** Yields to the event loop as step `kind` says: not at all, a few microtasks, or a macrotask. */
async function pause(kind: number): Promise<void> {
  if (kind === 0) return;
  if (kind >= 5) return settle(1);
  for (let i = 0; i < kind * 2; i++) await Promise.resolve();
}

interface Run {
  readonly calls: readonly CallSpec[];
  readonly closeAt: number | null;
  readonly pauses: readonly number[];
}

const callArb: fc.Arbitrary<CallSpec> = fc.record({
  behaviour: fc.constantFrom(...BEHAVIOURS),
  gated: fc.oneof({ arbitrary: fc.constant(true), weight: 3 }, { arbitrary: fc.constant(false), weight: 1 }),
  abort: fc.constantFrom("no", "no", "at_once", "later"),
  registerAfter: fc.boolean(),
  startAt: fc.nat(300),
  releaseAfter: fc.nat(1000),
  abortAfter: fc.nat(1000),
});

const runArb: fc.Arbitrary<Run> = fc.record({
  calls: fc.array(callArb, { minLength: 1, maxLength: 48, size: "max" }),
  closeAt: fc.option(fc.nat(1300), { freq: 2 }),
  pauses: fc.array(fc.nat(6), { minLength: 1, maxLength: 50 }),
});

type Step = { at: number; kind: "start" | "release" | "abort" | "close"; index: number };

/** What a client gets from each tool when nothing is cancelled: from an unaudited server, one call at a time. */
async function plainResults(calls: readonly CallSpec[]): Promise<unknown[]> {
  const server = newServer();
  calls.forEach((spec, i) => register(server, `t${i}`, spec, Promise.resolve()));
  const [clientSide, serverSide] = InMemoryTransport.createLinkedPair();
  await server.connect(serverSide);
  const client = new Client({ name: "plain", version: "1.0.0" });
  await client.connect(clientSide);
  const results = [];
  for (const [i, spec] of calls.entries()) results.push(await outcomeAtClient(client, `t${i}`, argsOf(spec)));
  await client.close();
  return results;
}

async function check(run: Run): Promise<void> {
  const { calls } = run;
  const wallBefore = Date.now();
  const server = newServer();
  const gates = calls.map(() => {
    let resolve!: () => void;
    const promise = new Promise<void>((r) => (resolve = r));
    return { promise, resolve }; // Promise.withResolvers is not in Node 20
  });
  calls.forEach((spec, i) => !spec.registerAfter && register(server, `t${i}`, spec, gates[i]!.promise));
  const sink = new MemorySink();
  const audit = auditMcpServer(server, sink);
  calls.forEach((spec, i) => spec.registerAfter && register(server, `t${i}`, spec, gates[i]!.promise));

  // What the server received (tools/call ids, in order) and answered (by id), and which answers it sent before
  // their call's event was recorded (the adapter records before the server responds).
  const [clientSide, serverSide] = InMemoryTransport.createLinkedPair();
  const arrived: (string | number)[] = [];
  const answered = new Set<string | number>();
  const answeredFirst: (string | number)[] = [];
  serverSide.onmessage = (message) => {
    if ("method" in message && message.method === "tools/call" && "id" in message) arrived.push(message.id);
  };
  const send = serverSide.send.bind(serverSide);
  serverSide.send = (message, options) => {
    if ("id" in message && ("result" in message || "error" in message)) {
      answered.add(message.id!);
      const recorded = sink.events.some((e) => e.call_id.endsWith(`:${message.id}`));
      if (arrived.includes(message.id!) && !recorded) answeredFirst.push(message.id!);
    }
    return send(message, options);
  };
  await server.connect(serverSide);
  const client = new Client({ name: "schedule", version: "1.0.0" });
  await client.connect(clientSide);

  const steps: Step[] = [];
  calls.forEach((spec, i) => {
    steps.push({ at: spec.startAt, kind: "start", index: i });
    if (spec.gated) steps.push({ at: spec.startAt + spec.releaseAfter, kind: "release", index: i });
    if (spec.abort === "later") steps.push({ at: spec.startAt + spec.abortAfter, kind: "abort", index: i });
  });
  if (run.closeAt !== null) steps.push({ at: run.closeAt, kind: "close", index: -1 });
  steps.sort((a, b) => a.at - b.at);

  const controllers = calls.map(() => new AbortController());
  const atClient = new Map<number, Promise<unknown>>();
  let closed = false;
  for (const [n, step] of steps.entries()) {
    if (step.kind === "start" && !closed) {
      const spec = calls[step.index]!;
      atClient.set(
        step.index,
        client.callTool({ name: `t${step.index}`, arguments: argsOf(spec) }, undefined, {
          signal: controllers[step.index]!.signal,
        }).then((result) => ({ result }), (error) => ({ error })),
      );
      // The request is sent by now; the cancellation reaches the server before the handler starts.
      if (spec.abort === "at_once") controllers[step.index]!.abort("at once");
    } else if (step.kind === "release") gates[step.index]!.resolve();
    else if (step.kind === "abort") controllers[step.index]!.abort("the schedule says so");
    else if (step.kind === "close" && !closed) {
      closed = true;
      await client.close();
    }
    await pause(run.pauses[n % run.pauses.length]!);
  }
  for (const gate of gates) gate.resolve();
  await Promise.all(atClient.values());
  await settle();
  if (!closed) await client.close();
  await settle();
  const wallAfter = Date.now();

  // One event per tools/call the server received, never two.
  const byRequest = new Map<string, CallEvent>();
  for (const event of sink.events) {
    const requestId = event.call_id.slice(event.call_id.indexOf(":") + 1);
    assert.ok(!byRequest.has(requestId), `two events for request ${requestId}`);
    byRequest.set(requestId, event);
  }
  assert.equal(sink.events.length, arrived.length, "one event per call received");
  assert.equal(audit.recorded, arrived.length);
  assert.equal(audit.lost, 0);
  assert.deepEqual(answeredFirst, [], "answered before recorded");

  const plain = await plainResults(calls);
  let previous: CallEvent | undefined;
  for (const id of arrived) {
    const event = byRequest.get(String(id));
    assert.ok(event !== undefined, `no event for request ${id}`);
    const index = Number(event.tool_id.slice(1));
    const want = expected(calls[index]!.behaviour, plain[index]);
    if (answered.has(id)) {
      // Answered: the handler ended before any abort, and the client got what an unaudited server gives.
      assert.deepEqual(event.outcome, want, `${event.tool_id} (${calls[index]!.behaviour}), answered`);
      const got = await atClient.get(index);
      if (!controllers[index]!.signal.aborted && !("error" in (got as object))) {
        assert.deepEqual(got, plain[index], `${event.tool_id}: what the client got`);
      }
    } else if (!isDeepEqual(event.outcome, want)) {
      // Unanswered: cancelled, or the abort came after the handler ended.
      assert.deepEqual(event.outcome, CANCELLED, `${event.tool_id} (${calls[index]!.behaviour}), not answered`);
    }
    if (isDeepEqual(event.outcome, CANCELLED)) {
      assert.ok(!answered.has(id), `${event.tool_id} recorded as cancelled, but answered`);
    }
    assert.ok(Number.isSafeInteger(event.duration_ms) && event.duration_ms >= 0);
    const ms = Date.parse(event.ts);
    assert.ok(wallBefore <= ms && ms <= wallAfter, `${event.ts} within the run`);
    if (previous !== undefined) {
      // Calls start in the order they arrive: call_ids (ULIDs) and ts in that order too.
      assert.ok(previous.call_id < event.call_id, `${previous.call_id} < ${event.call_id}`);
      assert.ok(Date.parse(previous.ts) <= ms);
    }
    previous = event;
  }
}

function isDeepEqual(a: unknown, b: unknown): boolean {
  try {
    assert.deepEqual(a, b);
    return true;
  } catch {
    return false;
  }
}

describe("auditMcpServer under random schedules", () => {
  it("records each call the server received once: its outcome when answered, else that or cancelled", async () => {
    await fc.assert(fc.asyncProperty(runArb, check), { numRuns: 60 });
  });
});
