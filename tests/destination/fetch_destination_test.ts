import { describe, it } from "node:test";
import assert from "node:assert/strict";
import fc from "fast-check";
import { type CallEvent, encodeCallEvent, JsonLinesAuditSink } from "../../mod.ts";
import {
  type FetchDestination,
  fetchDestination,
  type FetchDestinationOptions,
  HttpDeliveryError,
} from "../../src/destination/fetch_destination.ts";
import { mkEvent } from "../_helpers/events.ts";
import { gate, HttpReceiver, type Reply, type Responder } from "../_helpers/http_receiver.ts";

const encoder = new TextEncoder();
/** Fast retries for tests; deadlines stay generous so that a slow machine does not fail them. */
const FAST: FetchDestinationOptions = { retryDelayMs: 5, deadlineMs: 20_000, maxDelayMs: 60_000 };

function ids(n: number, prefix = "c"): string[] {
  return Array.from({ length: n }, (_, i) => `${prefix}${String(i).padStart(6, "0")}`);
}

function linesOf(callIds: readonly string[]): string[] {
  return callIds.map((id) => encodeCallEvent(mkEvent({ kind: "success" }, id)));
}

function body(lines: readonly string[]): Uint8Array {
  return encoder.encode(lines.map((l) => l + "\n").join(""));
}

function callIdsOf(lines: readonly string[]): string[] {
  return lines.map((l) => (JSON.parse(l) as { call_id: string }).call_id);
}

/** Writes the lines in one chunk, flushes, closes; returns the destination. */
async function deliver(
  receiver: HttpReceiver,
  callIds: readonly string[],
  options: FetchDestinationOptions = {},
): Promise<FetchDestination> {
  const destination = fetchDestination(receiver.url, { ...FAST, ...options });
  const writer = destination.getWriter();
  await writer.write(body(linesOf(callIds)));
  await destination.flush();
  await writer.close();
  return destination;
}

/** Replies from a script, then 200 for every later request. */
function script(...replies: Reply[]): () => Reply {
  let i = 0;
  return () => replies[i++] ?? { status: 200 };
}

/** Resolves after the event loop has turned a few times (lets I/O callbacks run). */
async function settleLoop(turns = 20): Promise<void> {
  for (let i = 0; i < turns; i++) await new Promise((resolve) => setTimeout(resolve, 1));
}

/** Every call_id the server saw more than once came under one Idempotency-Key each time. */
function assertDuplicatesShareKey(receiver: HttpReceiver): void {
  const keyOf = new Map<string, unknown>();
  for (const request of receiver.requests) {
    const key = request.headers["idempotency-key"];
    for (const id of callIdsOf(request.lines)) {
      if (keyOf.has(id)) assert.equal(keyOf.get(id), key, `${id} was sent under two keys`);
      else keyOf.set(id, key);
    }
  }
}

async function withReceiver(
  respond: Responder | undefined,
  run: (receiver: HttpReceiver) => Promise<void>,
): Promise<void> {
  const receiver = await HttpReceiver.start(respond);
  try {
    await run(receiver);
  } finally {
    await receiver.close();
  }
}

describe("fetchDestination", () => {
  it("fetchDestination retries 503 then delivers", async () => {
    await withReceiver(script({ status: 503 }, { status: 503 }), async (receiver) => {
      const want = ids(10);
      const destination = await deliver(receiver, want);
      assert.equal(receiver.requests.length, 3);
      assert.deepEqual(receiver.requests.map((r) => r.status), [503, 503, 200]);
      const keys = new Set(receiver.requests.map((r) => r.headers["idempotency-key"]));
      assert.equal(keys.size, 1, "retries keep the batch's Idempotency-Key");
      for (const request of receiver.requests) assert.deepEqual(callIdsOf(request.lines), want);
      assert.deepEqual(receiver.callIds(), want);
      const stats = destination.stats();
      assert.equal(stats.delivered, 10);
      assert.equal(stats.retried, 2);
      assert.equal(stats.requests, 3);
      assert.equal(stats.failed, 0);
      assert.equal(stats.pending + stats.inFlight, 0);
    });
  });

  it("fetchDestination honours Retry-After in seconds", async () => {
    await withReceiver(() => ({ status: 429, headers: { "retry-after": "2" } }), async (receiver) => {
      const errors: HttpDeliveryError[] = [];
      // A 5 ms backoff would retry; a 2 s Retry-After does not fit the 1.5 s deadline.
      await deliver(receiver, ids(3), { retryDelayMs: 5, deadlineMs: 1_500, onError: (e) => errors.push(e) });
      assert.equal(receiver.requests.length, 1);
      assert.deepEqual(errors.map((e) => [e.status, e.attempts]), [[429, 1]]);
    });
    await withReceiver(script({ status: 429, headers: { "retry-after": "1" } }), async (receiver) => {
      const errors: HttpDeliveryError[] = [];
      await deliver(receiver, ids(3), { retryDelayMs: 5, deadlineMs: 10_000, onError: (e) => errors.push(e) });
      assert.deepEqual(errors, []);
      assert.deepEqual(receiver.requests.map((r) => r.status), [429, 200]);
      assert.deepEqual(receiver.callIds(), ids(3));
    });
  });

  it("fetchDestination honours Retry-After as an HTTP date", async () => {
    const later = new Date(Date.now() + 5_000);
    await withReceiver(() => ({ status: 503, headers: { "retry-after": later.toUTCString() } }), async (receiver) => {
      const errors: HttpDeliveryError[] = [];
      // A 5 ms backoff would retry; a date about 5 s ahead does not fit the 2 s deadline.
      await deliver(receiver, ids(3), { retryDelayMs: 5, deadlineMs: 2_000, onError: (e) => errors.push(e) });
      assert.equal(receiver.requests.length, 1);
      assert.deepEqual(errors.map((e) => [e.status, e.attempts]), [[503, 1]]);
    });
    // Only the IMF-fixdate form counts: the same instant in ISO form is ignored, so the backoff applies.
    await withReceiver(script({ status: 503, headers: { "retry-after": later.toISOString() } }), async (receiver) => {
      const errors: HttpDeliveryError[] = [];
      await deliver(receiver, ids(3), { retryDelayMs: 5, deadlineMs: 2_000, onError: (e) => errors.push(e) });
      assert.deepEqual(errors, []);
      assert.deepEqual(receiver.requests.map((r) => r.status), [503, 200]);
    });
  });

  it("fetchDestination does not spin on a zero, past or unparsable Retry-After", async () => {
    const values = ["0", "-5", "1.5", "x 1", new Date(Date.now() - 60_000).toUTCString()];
    for (const value of values) {
      const reply: Reply = { status: 503, headers: { "retry-after": value } };
      await withReceiver(script(reply, reply), async (receiver) => {
        const destination = await deliver(receiver, ids(3));
        assert.deepEqual(receiver.requests.map((r) => r.status), [503, 503, 200], `retry-after: ${value}`);
        assert.equal(destination.stats().delivered, 3);
      });
      // Always 503: the backoff (at least 80, 120, 180, 270 ms) is still waited, so a 500 ms
      // deadline allows at most 4 requests, where waiting 0 ms made hundreds.
      await withReceiver(() => reply, async (receiver) => {
        const errors: HttpDeliveryError[] = [];
        await deliver(receiver, ids(3), { retryDelayMs: 100, deadlineMs: 500, onError: (e) => errors.push(e) });
        assert.ok(receiver.requests.length <= 4, `retry-after: ${value} made ${receiver.requests.length} requests`);
        // One failure for the one batch; its last attempt may have been cut by the deadline (no status).
        assert.equal(errors.length, 1);
        assert.ok([503, undefined].includes(errors[0]!.status), String(errors[0]));
      });
    }
  });

  it("fetchDestination gives up at once when Retry-After is past the deadline", async () => {
    await withReceiver(
      () => ({ status: 429, headers: { "retry-after": "3600" }, body: "slow down" }),
      async (receiver) => {
        const errors: HttpDeliveryError[] = [];
        const destination = await deliver(receiver, ids(4), { deadlineMs: 5_000, onError: (e) => errors.push(e) });
        assert.equal(receiver.requests.length, 1);
        assert.equal(errors.length, 1);
        assert.ok(errors[0] instanceof HttpDeliveryError);
        assert.equal(errors[0].status, 429);
        assert.equal(errors[0].body, "slow down");
        assert.equal(errors[0].events, 4);
        assert.equal(errors[0].attempts, 1);
        assert.equal(destination.stats().failed, 4);
      },
    );
  });

  it("fetchDestination splits a batch on 413 and resends the halves", async () => {
    const limit = 1_000;
    await withReceiver((r) => (r.raw.length > limit ? { status: 413 } : { status: 200 }), async (receiver) => {
      const want = ids(16);
      const destination = await deliver(receiver, want);
      const accepted = receiver.accepted();
      assert.ok(receiver.requests.some((r) => r.status === 413), "the first request was too large");
      assert.ok(accepted.length >= 6, "16 lines of ~250 bytes need at least 6 requests of ≤ 1000 bytes");
      for (const request of accepted) assert.ok(request.raw.length <= limit);
      // In order, each line once, each half under its own key.
      assert.deepEqual(accepted.flatMap((r) => callIdsOf(r.lines)), want);
      assert.equal(new Set(accepted.map((r) => r.headers["idempotency-key"])).size, accepted.length);
      assert.equal(destination.stats().delivered, 16);
      assert.ok(destination.stats().split >= 1);
    });
  });

  it("fetchDestination gives 413 halves only what is left of the batch's deadline", async () => {
    const replies: Reply[] = [
      { status: 503, headers: { "retry-after": "1" } },
      { status: 413 },
      { status: 503, headers: { "retry-after": "2" } },
    ];
    await withReceiver((r) => replies[r.index] ?? { status: 200 }, async (receiver) => {
      const errors: HttpDeliveryError[] = [];
      // After the 1 s wait, at most 1.5 s of the 2.5 s deadline are left: not enough for
      // the first half's 2 s Retry-After (a fresh deadline would have allowed it).
      const destination = await deliver(receiver, ids(2), {
        retryDelayMs: 5,
        deadlineMs: 2_500,
        onError: (e) => errors.push(e),
      });
      assert.deepEqual(receiver.requests.map((r) => r.status), [503, 413, 503, 200]);
      assert.deepEqual(errors.map((e) => [e.status, e.events, e.attempts]), [[503, 1, 1]]);
      assert.deepEqual(receiver.callIds(), ids(2).slice(1));
      assert.equal(destination.stats().delivered, 1);
      assert.equal(destination.stats().failed, 1);
    });
  });

  it("fetchDestination fails a single line that gets 413", async () => {
    await withReceiver(() => ({ status: 413, body: "too large" }), async (receiver) => {
      const errors: HttpDeliveryError[] = [];
      const destination = await deliver(receiver, ids(2), { onError: (e) => errors.push(e) });
      assert.deepEqual(errors.map((e) => [e.status, e.events]), [[413, 1], [413, 1]]);
      assert.equal(destination.stats().failed, 2);
      assert.equal(destination.stats().delivered, 0);
    });
  });

  it("fetchDestination retries a response slower than the timeout with the same Idempotency-Key", async () => {
    const slow = gate();
    let first = true;
    const respond = async (): Promise<Reply> => {
      if (!first) return { status: 200 };
      first = false;
      await slow.promise; // answers only after the client has given up on it
      return { status: 200 };
    };
    await withReceiver(respond, async (receiver) => {
      const want = ids(5);
      const destination = await deliver(receiver, want, { timeoutMs: 100 });
      slow.open();
      assert.equal(receiver.requests.length, 2);
      assert.equal(receiver.requests[0]!.headers["idempotency-key"], receiver.requests[1]!.headers["idempotency-key"]);
      // The server got the lines twice, under one key: a receiver that drops by key stores each once.
      assert.deepEqual(receiver.callIds({ includeUnanswered: true }), want);
      assertDuplicatesShareKey(receiver);
      assert.equal(destination.stats().delivered, 5);
      assert.equal(destination.stats().retried, 1);
    });
  });

  it("fetchDestination retries a reset connection", async () => {
    await withReceiver(script("reset", "reset"), async (receiver) => {
      const want = ids(7);
      const destination = await deliver(receiver, want);
      assert.equal(receiver.requests.length, 3);
      assert.deepEqual(receiver.callIds(), want);
      assert.equal(destination.stats().delivered, 7);
      assert.equal(destination.stats().retried, 2);
    });
  });

  it("fetchDestination delivers once a server that was down comes back", async () => {
    const receiver = await HttpReceiver.start();
    await receiver.close();
    try {
      let calls = 0;
      const downSeen = gate();
      const counting: typeof fetch = (input, init) => {
        if (++calls === 3) downSeen.open();
        return fetch(input, init);
      };
      const want = ids(20);
      const destination = fetchDestination(receiver.url, { ...FAST, retryDelayMs: 20, fetch: counting });
      const writer = destination.getWriter();
      await writer.write(body(linesOf(want)));
      const flushed = destination.flush();
      await downSeen.promise; // two attempts failed against the closed port
      assert.equal(receiver.requests.length, 0);
      await receiver.listen(); // same port
      await flushed;
      await writer.close();
      assert.deepEqual(receiver.callIds(), want);
      assert.equal(destination.stats().delivered, 20);
      assert.ok(destination.stats().retried >= 2);
    } finally {
      await receiver.close();
    }
  });

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

  it("fetchDestination leaves query strings out of error messages", async () => {
    await withReceiver(() => ({ status: 401 }), async (receiver) => {
      const errors: HttpDeliveryError[] = [];
      const destination = fetchDestination(`${receiver.url}?password=hunter2`, {
        ...FAST,
        onError: (e) => errors.push(e),
      });
      const writer = destination.getWriter();
      await writer.write(body(linesOf(ids(1))));
      await writer.close();
      assert.equal(errors.length, 1);
      assert.ok(!errors[0]!.message.includes("hunter2"));
      assert.ok(errors[0]!.message.includes("/ingest"));
    });
  });

  it("fetchDestination hands undeliverable events to the fallback", async () => {
    await withReceiver(() => ({ status: 400 }), async (receiver) => {
      const caught: CallEvent[] = [];
      const errors: HttpDeliveryError[] = [];
      const want = ids(6);
      const destination = await deliver(receiver, want, {
        fallback: { onCall: (event) => caught.push(event) },
        onError: (e) => errors.push(e),
      });
      assert.deepEqual(caught.map((e) => e.call_id), want);
      assert.deepEqual(caught[0], mkEventLike(caught[0]!, want[0]!));
      assert.deepEqual(errors, []);
      assert.equal(destination.stats().fallback, 6);
      assert.equal(destination.stats().failed, 0);
    });
  });

  it("fetchDestination sends a batch when it reaches maxBatchEvents", async () => {
    await withReceiver(undefined, async (receiver) => {
      const want = ids(12);
      const destination = fetchDestination(receiver.url, { ...FAST, maxBatchEvents: 5 });
      const writer = destination.getWriter();
      await writer.write(body(linesOf(want)));
      // No flush and a 60 s delay: only the size trigger can send these.
      await receiver.waitForRequests(2);
      assert.deepEqual(receiver.requests.slice(0, 2).map((r) => r.lines.length), [5, 5]);
      await writer.close();
      assert.deepEqual(receiver.requests.map((r) => r.lines.length), [5, 5, 2]);
      assert.deepEqual(receiver.callIds(), want);
      assert.equal(destination.stats().batches, 3);
    });
  });

  it("fetchDestination sends a batch when it reaches maxBatchBytes, and an over-long line alone", async () => {
    await withReceiver(undefined, async (receiver) => {
      const lines = linesOf(ids(7));
      const lineBytes = lines[0]!.length + 1;
      const huge = encodeCallEvent(mkEvent({ kind: "invalid_args", message: "y".repeat(4 * lineBytes) }, "huge"));
      const maxBatchBytes = 3 * lineBytes + 10;
      const destination = fetchDestination(receiver.url, { ...FAST, maxBatchBytes });
      const writer = destination.getWriter();
      await writer.write(body([...lines.slice(0, 7), huge, ...lines.slice(0, 1)]));
      await receiver.waitForRequests(2); // no flush: only the byte trigger sends these
      assert.deepEqual(receiver.requests.slice(0, 2).map((r) => r.lines.length), [3, 3]);
      await writer.close();
      assert.deepEqual(receiver.requests.map((r) => r.lines.length), [3, 3, 1, 1, 1]);
      assert.deepEqual(receiver.requests[3]!.lines, [huge]);
      for (const request of receiver.requests) {
        assert.ok(request.raw.length <= maxBatchBytes || request.lines.length === 1);
      }
    });
  });

  it("fetchDestination sends a batch maxDelayMs after its first line", async () => {
    await withReceiver(undefined, async (receiver) => {
      const want = ids(3);
      const destination = fetchDestination(receiver.url, { ...FAST, maxBatchEvents: 1000, maxDelayMs: 30 });
      const writer = destination.getWriter();
      await writer.write(body(linesOf(want)));
      await receiver.waitForRequests(1); // no flush, batch far from full: only the timer sends it
      assert.deepEqual(callIdsOf(receiver.requests[0]!.lines), want);
      await writer.close();
      assert.equal(receiver.requests.length, 1);
      assert.equal(destination.stats().delivered, 3);
    });
  });

  it("fetchDestination gzips bodies when asked", async () => {
    await withReceiver(undefined, async (receiver) => {
      const sent = body(linesOf(ids(50)));
      const destination = fetchDestination(receiver.url, { ...FAST, gzip: true });
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

  it("fetchDestination under JsonLinesAuditSink in block mode delivers every event in order", async () => {
    let n = 0;
    // Every 4th request fails (503, 500, reset in turn): retries must keep order.
    const failures: Reply[] = [{ status: 503 }, { status: 500 }, "reset"];
    const respond = (): Reply => (++n % 4 === 0 ? failures[(n / 4) % 3]! : { status: 200 });
    await withReceiver(respond, async (receiver) => {
      const want = ids(3_000);
      const destination = fetchDestination(receiver.url, { ...FAST, maxBatchEvents: 100 });
      const sink = new JsonLinesAuditSink(destination, { backpressure: "block", capacity: 64 });
      for (const id of want) {
        await sink.ready;
        sink.onCall(mkEvent({ kind: "success" }, id));
      }
      await sink.close();
      assert.deepEqual(receiver.callIds(), want);
      assertDuplicatesShareKey(receiver);
      assert.equal(sink.stats().written, 3_000);
      assert.equal(sink.stats().dropped, 0);
      assert.equal(destination.stats().delivered, 3_000);
      assert.ok(destination.stats().retried > 0);
    });
  });

  it("fetchDestination flush resolves only after the server answered 2xx", async () => {
    const hold = gate();
    let answered = false;
    const respond = async (): Promise<Reply> => {
      await hold.promise;
      answered = true;
      return { status: 204 };
    };
    await withReceiver(respond, async (receiver) => {
      const destination = fetchDestination(receiver.url, FAST);
      const sink = new JsonLinesAuditSink(destination, { backpressure: "block" });
      sink.onCall(mkEvent({ kind: "success" }, "only"));
      let flushed = false;
      const flushing = sink.flush().then(() => {
        flushed = true;
        assert.ok(answered, "flush resolved before the server answered");
      });
      await receiver.waitForRequests(1);
      await settleLoop();
      assert.equal(flushed, false);
      hold.open();
      await flushing;
      assert.equal(flushed, true);
      assert.deepEqual(receiver.callIds(), ["only"]);
      await sink.close();
    });
  });

  it("fetchDestination write waits while a full batch waits behind a stalled request", async () => {
    const hold = gate();
    const respond = async (): Promise<Reply> => {
      await hold.promise;
      return { status: 200 };
    };
    await withReceiver(respond, async (receiver) => {
      const destination = fetchDestination(receiver.url, { ...FAST, maxBatchEvents: 2 });
      const writer = destination.getWriter();
      const all = ids(6);
      await writer.write(body(linesOf(all.slice(0, 2)))); // batch 1 goes in flight
      await receiver.waitForRequests(1);
      let resolved = false;
      const second = writer.write(body(linesOf(all.slice(2, 4)))).then(() => (resolved = true)); // batch 2 waits
      await settleLoop();
      assert.equal(resolved, false, "write() must wait while a full batch is queued behind the stalled request");
      assert.ok((writer.desiredSize ?? 0) <= 0);
      assert.equal(destination.stats().pending, 2);
      assert.equal(destination.stats().inFlight, 2);
      hold.open();
      await second;
      await writer.write(body(linesOf(all.slice(4))));
      await writer.close();
      assert.deepEqual(receiver.callIds(), all);
    });
  });

  it("fetchDestination pushes back through JsonLinesAuditSink in block mode against a stalled server", async () => {
    const hold = gate();
    const respond = async (): Promise<Reply> => {
      await hold.promise;
      return { status: 200 };
    };
    await withReceiver(respond, async (receiver) => {
      const destination = fetchDestination(receiver.url, { ...FAST, maxBatchEvents: 10 });
      const sink = new JsonLinesAuditSink(destination, { backpressure: "block", capacity: 16 });
      const want = ids(200);
      let recorded = 0;
      const producer = (async () => {
        for (const id of want) {
          await sink.ready;
          sink.onCall(mkEvent({ kind: "success" }, id));
          recorded++;
        }
      })();
      await receiver.waitForRequests(1);
      await settleLoop();
      // One batch in flight, one buffered in the destination, the sink's queue full: the producer waits.
      // Bounds: in flight (10) + buffered (≤ 2 batches + 9 open + one sink write ≤ 17) + sink queue (≤ 17).
      assert.ok(recorded < 100, `producer should be held back, recorded ${recorded}`);
      const stats = destination.stats();
      assert.ok(stats.pending + stats.inFlight <= 50, `destination holds ${stats.pending + stats.inFlight} events`);
      assert.ok(stats.inFlight === 10);
      hold.open();
      await producer;
      await sink.close();
      assert.deepEqual(receiver.callIds(), want);
    });
  });

  it("fetchDestination sends pending lines with keepalive when the page is hidden", async () => {
    const g = globalThis as { document?: unknown };
    const had = "document" in g;
    const fakeDocument = Object.assign(new EventTarget(), { visibilityState: "visible" });
    g.document = fakeDocument;
    try {
      await withReceiver(undefined, async (receiver) => {
        const keepalive: boolean[] = [];
        const recording: typeof fetch = (input, init) => {
          keepalive.push(init?.keepalive === true);
          return fetch(input, init);
        };
        const destination = fetchDestination(receiver.url, { ...FAST, fetch: recording, unloadDelivery: true });
        const writer = destination.getWriter();
        const first = ids(300, "a"); // ~75 KB: two keepalive requests of ≤ 60 KiB
        await writer.write(body(linesOf(first)));
        fakeDocument.visibilityState = "hidden";
        fakeDocument.dispatchEvent(new Event("visibilitychange"));
        await receiver.waitForRequests(2);
        assert.deepEqual(keepalive, [true, true]);
        for (const request of receiver.requests) assert.ok(request.raw.length <= 60 * 1024);
        await destination.flush();
        assert.deepEqual(receiver.callIds(), first);
        // Shown again: logging goes on as before.
        fakeDocument.visibilityState = "visible";
        fakeDocument.dispatchEvent(new Event("visibilitychange"));
        const second = ids(3, "b");
        await writer.write(body(linesOf(second)));
        await writer.close();
        assert.equal(keepalive.at(-1), false);
        assert.deepEqual(receiver.callIds(), [...first, ...second]);
        assert.equal(destination.stats().delivered, 303);
      });
    } finally {
      if (had) g.document = undefined;
      else delete g.document;
    }
  });

  it("fetchDestination never splits a line across requests, whatever the chunking", async () => {
    await fc.assert(
      fc.asyncProperty(
        fc.array(fc.string({ maxLength: 40 }), { minLength: 1, maxLength: 60 }),
        fc.array(fc.nat({ max: 400 }), { maxLength: 10 }),
        fc.integer({ min: 1, max: 8 }),
        fc.integer({ min: 1, max: 200 }),
        async (texts, cuts, maxBatchEvents, maxBatchBytes) => {
          const lines = texts.map((t, i) => JSON.stringify({ i, t }));
          const bytes = body(lines);
          const bodies: Uint8Array[] = [];
          const memoryFetch: typeof fetch = (_input, init) => {
            bodies.push(init?.body as Uint8Array);
            return Promise.resolve(new Response(null, { status: 204 }));
          };
          const destination = fetchDestination("http://127.0.0.1:9/x", {
            ...FAST,
            maxBatchEvents,
            maxBatchBytes,
            fetch: memoryFetch,
          });
          const writer = destination.getWriter();
          let at = 0;
          for (const cut of [...cuts].sort((a, b) => a - b)) {
            const end = Math.min(cut, bytes.length);
            if (end <= at) continue;
            await writer.write(bytes.slice(at, end));
            at = end;
          }
          if (at < bytes.length) await writer.write(bytes.slice(at));
          await writer.close();
          const decoder = new TextDecoder();
          const received = bodies.map((b) => decoder.decode(b));
          assert.equal(received.join(""), decoder.decode(bytes));
          for (const [i, text] of received.entries()) {
            assert.ok(text.endsWith("\n"));
            const count = text.split("\n").length - 1;
            assert.ok(count <= maxBatchEvents);
            assert.ok(bodies[i]!.length <= maxBatchBytes || count === 1);
          }
        },
      ),
      { numRuns: 100 },
    );
  });

  it("fetchDestination reports buffered events when the stream is aborted", async () => {
    const hold = gate();
    const respond = async (): Promise<Reply> => {
      await hold.promise;
      return { status: 200 };
    };
    await withReceiver(respond, async (receiver) => {
      const errors: HttpDeliveryError[] = [];
      const destination = fetchDestination(receiver.url, { ...FAST, onError: (e) => errors.push(e) });
      const writer = destination.getWriter();
      await writer.write(body(linesOf(ids(4))));
      void destination.flush();
      await receiver.waitForRequests(1);
      await writer.abort(new Error("shutting down"));
      hold.open();
      assert.equal(errors.reduce((n, e) => n + e.events, 0), 4);
      assert.equal(destination.stats().failed, 4);
    });
  });

  // Were abort() to wait for the held write, it would wait for the stalled server: the timeout fails it.
  it(
    "fetchDestination abort does not wait for a write held back by a stalled request",
    { timeout: 10_000 },
    async () => {
      const hold = gate();
      const respond = async (): Promise<Reply> => {
        await hold.promise;
        return { status: 200 };
      };
      await withReceiver(respond, async (receiver) => {
        const errors: HttpDeliveryError[] = [];
        const destination = fetchDestination(receiver.url, {
          ...FAST,
          maxBatchEvents: 2,
          onError: (e) => errors.push(e),
        });
        const writer = destination.getWriter();
        await writer.write(body(linesOf(ids(2))));
        await receiver.waitForRequests(1);
        const held = writer.write(body(linesOf(ids(2, "h")))).catch(() => {});
        await settleLoop();
        await writer.abort(new Error("shutting down"));
        await held;
        hold.open();
        assert.equal(errors.reduce((n, e) => n + e.events, 0), 4);
        assert.equal(destination.stats().failed, 4);
        assert.equal(destination.stats().pending + destination.stats().inFlight, 0);
      });
    },
  );

  it("fetchDestination does not follow redirects", async () => {
    const respond = (r: { path: string }): Reply =>
      r.path.startsWith("/ingest")
        ? { status: Number(r.path.slice("/ingest/".length)), headers: { location: "/elsewhere" } }
        : { status: 200 };
    await withReceiver(respond, async (receiver) => {
      const statuses = [301, 302, 303, 307, 308];
      for (const status of statuses) {
        const errors: HttpDeliveryError[] = [];
        const destination = fetchDestination(`${receiver.url}/${status}`, { ...FAST, onError: (e) => errors.push(e) });
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
      const caught: CallEvent[] = [];
      const destination = await deliver(receiver, ids(2), { fallback: { onCall: (event) => caught.push(event) } });
      assert.deepEqual(caught.map((e) => e.call_id), ids(2));
      assert.equal(destination.stats().fallback, 2);
      assert.equal(receiver.requests.length, 1);
    });
  });

  it("fetchDestination keeps the URL's query string out of errors", async () => {
    const closed = await HttpReceiver.start();
    const url = `${closed.url}?token=SECRET_Q`;
    await closed.close();
    const messages = (error: unknown): string[] => {
      const out: string[] = [];
      for (let e = error, depth = 0; e !== undefined && depth < 10; e = (e as { cause?: unknown }).cause, depth++) {
        out.push(String(e), (e as { message?: string }).message ?? "");
      }
      return out;
    };
    const errors: HttpDeliveryError[] = [];
    const destination = fetchDestination(url, { retryDelayMs: 5, deadlineMs: 300, onError: (e) => errors.push(e) });
    const writer = destination.getWriter();
    await writer.write(body(linesOf(ids(1))));
    await writer.close();
    assert.equal(errors.length, 1);
    const error = errors[0]!;
    assert.ok(error instanceof HttpDeliveryError);
    assert.equal(error.status, undefined);
    assert.ok(error.cause !== undefined, "the network error is kept");
    assert.ok(error.message.includes(`127.0.0.1:${closed.port}/ingest`), error.message);
    for (const text of messages(error)) assert.ok(!text.includes("SECRET_Q"), text);
    // The default onError prints the message only.
    const printed: unknown[][] = [];
    const original = console.error;
    console.error = (...args: unknown[]) => void printed.push(args);
    try {
      const quiet = fetchDestination(url, { retryDelayMs: 5, deadlineMs: 300 });
      const w = quiet.getWriter();
      await w.write(body(linesOf(ids(1))));
      await w.close();
    } finally {
      console.error = original;
    }
    assert.equal(printed.length, 1);
    assert.ok(String(printed[0]).includes("Cannot deliver 1 audit events"), String(printed[0]));
    assert.ok(!String(printed[0]).includes("SECRET_Q"));
  });

  it("fetchDestination retries when fetch resolves to something that is not a Response", async () => {
    await withReceiver(undefined, async (receiver) => {
      const got: unknown[] = [undefined, 42, { status: 200 }];
      let calls = 0;
      const fakeFetch = ((input: RequestInfo | URL, init?: RequestInit) =>
        calls < got.length ? Promise.resolve(got[calls++]) : globalThis.fetch(input, init)) as typeof fetch;
      const errors: HttpDeliveryError[] = [];
      const destination = await deliver(receiver, ids(4), {
        fetch: fakeFetch,
        onError: (e) =>
          errors.push(e),
      });
      assert.deepEqual(errors, []);
      assert.deepEqual(receiver.callIds(), ids(4));
      assert.equal(destination.stats().requests, 4);
      assert.equal(destination.stats().retried, 3);
      assert.equal(destination.stats().delivered, 4);
    });
  });

  it("fetchDestination rejects bad options at construction", () => {
    assert.throws(() => fetchDestination("not a url"), TypeError);
    assert.throws(() => fetchDestination("http://x/", { maxBatchEvents: 0 }), RangeError);
    assert.throws(() => fetchDestination("http://x/", { maxInFlight: 17 }), RangeError);
    assert.throws(() => fetchDestination("http://x/", { timeoutMs: 1.5 }), RangeError);
    assert.throws(() => fetchDestination("http://x/", { fallback: {} as never }), TypeError);
  });
});

/** The event a fallback should get back: the same as the original, read from its line. */
function mkEventLike(got: CallEvent, callId: string): CallEvent {
  return { ...mkEvent({ kind: "success" }, callId), ts: got.ts };
}
