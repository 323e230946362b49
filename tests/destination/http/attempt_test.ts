import { describe, it } from "node:test";
import assert from "node:assert/strict";
import { fetchDestination, HttpDeliveryError } from "../../../src/destination/fetch_destination.ts";
import { attempt, type AttemptRequest, type AttemptResult } from "../../../src/destination/http/_attempt.ts";
import { Redactor } from "../../../src/destination/http/_redact.ts";
import { MemoryDestination } from "../../_helpers/events.ts";
import type { Reply } from "../../_helpers/http_receiver.ts";
import { body, callIdsOf, deliver, fast, ids, linesOf, withReceiver } from "./_fetch_helpers.ts";

describe("fetchDestination requests (attempt)", () => {
  it("fetchDestination reports a 400 with its status and a body excerpt, without secrets", async () => {
    const detail = "bad line: " + "x".repeat(2_000);
    await withReceiver(() => ({ status: 400, body: detail }), async (receiver) => {
      const errors: HttpDeliveryError[] = [];
      const destination = await deliver(receiver, ids(3), {
        headers: { authorization: "Bearer s3cr3t-token" },
        onError: (e) => errors.push(e),
      });
      assert.equal(receiver.requests.length, 1, "a 400 is not retried");
      assert.equal(errors.length, 1);
      const error = errors[0]!;
      assert.ok(error instanceof HttpDeliveryError);
      assert.equal(error.name, "HttpDeliveryError");
      assert.equal(error.status, 400);
      assert.equal(error.body, detail.slice(0, 500));
      assert.equal(error.events, 3);
      assert.equal(error.attempts, 1);
      assert.ok(!JSON.stringify({ message: error.message, stack: error.stack }).includes("s3cr3t"));
      assert.equal(destination.stats().failed, 3);
    });
  });

  it("fetchDestination gzips bodies when asked", async () => {
    await withReceiver(undefined, async (receiver) => {
      const sent = body(linesOf(ids(50)));
      const destination = fetchDestination(receiver.url, fast({ gzip: true }));
      const writer = destination.getWriter();
      await writer.write(sent);
      await writer.close();
      const request = receiver.requests[0]!;
      assert.equal(request.headers["content-encoding"], "gzip");
      assert.deepEqual([request.raw[0], request.raw[1]], [0x1f, 0x8b]);
      assert.ok(request.raw.length < sent.length);
      assert.equal(request.text, new TextDecoder().decode(sent));
    });
  });

  it("fetchDestination sends NDJSON with its headers and an Idempotency-Key", async () => {
    await withReceiver(undefined, async (receiver) => {
      await deliver(receiver, ids(2), { headers: { authorization: "Bearer t0k", "x-tenant": "acme" } });
      const request = receiver.requests[0]!;
      assert.equal(request.method, "POST");
      assert.equal(request.path, "/ingest");
      assert.equal(request.headers["content-type"], "application/x-ndjson");
      assert.equal(request.headers["authorization"], "Bearer t0k");
      assert.equal(request.headers["x-tenant"], "acme");
      assert.match(
        String(request.headers["idempotency-key"]),
        /^[0-9a-f]{8}-[0-9a-f]{4}-4[0-9a-f]{3}-[89ab][0-9a-f]{3}-[0-9a-f]{12}$/,
      );
      assert.equal(request.headers["content-encoding"], undefined);
    });
  });

  it("fetchDestination does not follow redirects", async () => {
    const respond = (r: { path: string }): Reply =>
      r.path.startsWith("/ingest")
        ? { status: Number(r.path.slice("/ingest/".length)), headers: { location: "/elsewhere" } }
        : { status: 200 };
    await withReceiver(respond, async (receiver) => {
      const statuses = [301, 302, 303, 307, 308];
      for (const status of statuses) {
        const errors: HttpDeliveryError[] = [];
        const destination = fetchDestination(`${receiver.url}/${status}`, fast({ onError: (e) => errors.push(e) }));
        const writer = destination.getWriter();
        await writer.write(body(linesOf(ids(3))));
        await writer.close();
        assert.deepEqual(errors.map((e) => [e.status, e.events, e.attempts]), [[status, 3, 1]], `HTTP ${status}`);
        assert.equal(destination.stats().delivered, 0);
        assert.equal(destination.stats().failed, 3);
      }
      // One POST each, none retried, nothing sent to where the redirects point.
      assert.deepEqual(receiver.requests.map((r) => [r.method, r.path]), statuses.map((s) => ["POST", `/ingest/${s}`]));
    });
    await withReceiver(() => ({ status: 302, headers: { location: "/elsewhere" } }), async (receiver) => {
      const spill = new MemoryDestination();
      const destination = await deliver(receiver, ids(2), { fallback: spill.stream });
      assert.deepEqual(callIdsOf(spill.lines()), ids(2));
      assert.equal(destination.stats().rerouted, 2);
      assert.equal(receiver.requests.length, 1);
    });
  });
});

/** A body that counts the chunks pulled from it and whether it was cancelled; `chunks` at most (then it ends or stalls). */
function countingBody(chunk: string, chunks: number, then: "end" | "stall" = "end") {
  const state = { pulled: 0, cancelled: false };
  const bytes = new TextEncoder().encode(chunk);
  const stream = new ReadableStream<Uint8Array>({
    pull(controller) {
      if (state.pulled >= chunks) {
        if (then === "end") controller.close();
        return new Promise<void>(() => {}); // stalls: never another chunk
      }
      state.pulled++;
      controller.enqueue(bytes.slice());
    },
    cancel() {
      state.cancelled = true;
    },
  }, { highWaterMark: 0 });
  return { stream, state };
}

/** One attempt against a scripted fetch; returns its result and what fetch was called with. */
async function run(
  respond: (init: RequestInit) => Promise<unknown>,
  more: Partial<AttemptRequest> = {},
): Promise<{ result: AttemptResult; init: RequestInit | undefined }> {
  let seen: RequestInit | undefined;
  const result = await attempt({
    fetch: ((_input: RequestInfo | URL, init?: RequestInit) => {
      seen = init;
      return respond(init!);
    }) as typeof fetch,
    url: "https://logs.example/ingest",
    headers: new Headers({
      "content-type": "application/x-ndjson",
      "content-encoding": "gzip",
      authorization: "Bearer T0KEN-SECRET",
    }),
    body: new TextEncoder().encode("{}\n"),
    gzipped: false,
    key: "key-1",
    timeoutMs: 5_000,
    signal: new AbortController().signal,
    keepalive: false,
    redactor: new Redactor(["T0KEN-SECRET"]),
    ...more,
  });
  return { result, init: seen };
}

/** The excerpt of an error response (and fails for anything else). */
function excerptOf(result: AttemptResult): string {
  assert.ok(!result.ok && result.status !== undefined, JSON.stringify(result));
  return result.excerpt;
}

describe("attempt", () => {
  it("attempt POSTs with the Idempotency-Key, manual redirects, and content-encoding only for a gzip body", async () => {
    const { result, init } = await run(() => Promise.resolve(new Response(null, { status: 204 })));
    assert.deepEqual(result, { ok: true, status: 204 });
    const headers = new Headers(init!.headers);
    assert.equal(init!.method, "POST");
    assert.equal(init!.redirect, "manual");
    assert.equal(init!.keepalive, undefined);
    assert.equal(headers.get("idempotency-key"), "key-1");
    assert.equal(headers.get("content-encoding"), null);
    assert.ok(init!.signal instanceof AbortSignal);
    const gz = await run(() => Promise.resolve(new Response(null, { status: 200 })), {
      gzipped: true,
      keepalive: true,
    });
    assert.equal(new Headers(gz.init!.headers).get("content-encoding"), "gzip");
    assert.equal(gz.init!.keepalive, true);
  });

  it("attempt cancels a success body without reading it", async () => {
    const { stream, state } = countingBody("x".repeat(1024), 1_000_000);
    const { result } = await run(() => Promise.resolve(new Response(stream, { status: 200 })));
    assert.equal(result.ok, true);
    assert.ok(state.cancelled);
    assert.ok(state.pulled <= 2, `pulled ${state.pulled} chunks`);
  });

  it("attempt reads an error body only as far as the excerpt, then cancels it", async () => {
    const { stream, state } = countingBody("e".repeat(100), 1_000_000);
    const { result } = await run(() =>
      Promise.resolve(new Response(stream, { status: 503, headers: { "retry-after": "7" } }))
    );
    assert.equal(result.ok, false);
    assert.ok(result.status === 503);
    assert.equal(result.excerpt, "e".repeat(500));
    assert.equal(result.retryAfter, "7");
    assert.equal(result.redirect, false);
    assert.ok(state.cancelled);
    assert.ok(state.pulled <= 7, `pulled ${state.pulled} chunks`);
  });

  it("attempt scrubs the excerpt and trims a secret cut at its end", async () => {
    const page = `${"x".repeat(480)}token T0KEN-SECRET then Bearer T0KEN-SECRET`;
    const whole = await run(() => Promise.resolve(new Response(page, { status: 401 })));
    assert.ok(!excerptOf(whole.result).includes("T0KEN"));
    // The excerpt's last chunk ends inside the secret and the body goes on: the piece is trimmed.
    const { stream } = countingBody(`${"y".repeat(495)}T0KEN-SEC`, 1, "stall");
    const cut = await run(() => Promise.resolve(new Response(stream, { status: 401 })));
    assert.equal(excerptOf(cut.result), "y".repeat(495));
  });

  it("attempt counts a throw, a rejection and a non-Response as a network error, with a scrubbed cause", async () => {
    const outcomes = await Promise.all([
      run(() => {
        throw new TypeError("sync throw with Bearer T0KEN-SECRET");
      }),
      run(() => Promise.reject(new Error("rejected https://logs.example/ingest?T0KEN-SECRET"))),
      run(() => Promise.resolve({ status: 200 })),
      run(() => Promise.resolve(null)),
    ]);
    for (const { result } of outcomes) {
      assert.equal(result.ok, false);
      assert.ok(result.status === undefined && result.error instanceof Error);
      assert.ok(!result.error.message.includes("T0KEN"), result.error.message);
    }
    const messages = outcomes.map(({ result }) => (result as { error: Error }).error.message);
    assert.deepEqual(messages.slice(2), [
      "fetch resolved to object, not a Response",
      "fetch resolved to null, not a Response",
    ]);
  });

  it("attempt times out a request, and an error body that stalls, keeping what was read", async () => {
    const hung = await run(
      (init) =>
        new Promise((_resolve, reject) => init.signal!.addEventListener("abort", () => reject(init.signal!.reason))),
      {
        timeoutMs: 20,
      },
    );
    assert.ok(hung.result.status === undefined);
    assert.match(hung.result.error.message, /Request timed out after 20 ms/);
    const { stream, state } = countingBody("partial", 1, "stall");
    const slow = await run(() => Promise.resolve(new Response(stream, { status: 500 })), { timeoutMs: 20 });
    assert.equal(slow.result.status, 500);
    assert.equal(excerptOf(slow.result), "partial");
    assert.ok(state.cancelled);
  });

  it("attempt stops at once when its signal aborts, even if fetch ignores the signal", async () => {
    const stopped = new AbortController();
    stopped.abort(new Error("given up"));
    const before = await run(() => new Promise(() => {}), { signal: stopped.signal, timeoutMs: 60_000 });
    assert.ok(before.result.status === undefined);
    assert.equal(before.result.error.message, "given up");
    // A fetch that never settles and ignores its signal: the time limit still ends the attempt.
    const ignored = await run(() => new Promise(() => {}), { timeoutMs: 20 });
    assert.ok(ignored.result.status === undefined);
    assert.match(ignored.result.error.message, /Request timed out after 20 ms/);
    // Aborted while an error body stalls: the attempt ends with what it has.
    const stop = new AbortController();
    const { stream, state } = countingBody("z", 1, "stall");
    const during = await run(() => {
      setTimeout(() => stop.abort(new Error("given up")), 1);
      return Promise.resolve(new Response(stream, { status: 502 }));
    }, { signal: stop.signal, timeoutMs: 60_000 });
    assert.equal(during.result.ok, false);
    if (during.result.status !== undefined) assert.ok(state.cancelled, "the body is cancelled");
  });
});
