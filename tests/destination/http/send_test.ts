import { describe, it } from "node:test";
import assert from "node:assert/strict";
import { encodeCallEvent } from "../../../mod.ts";
import { fetchDestination, HttpDeliveryError } from "../../../src/destination/fetch_destination.ts";
import { mkEvent } from "../../_helpers/events.ts";
import { gate, HttpReceiver, type Reply } from "../../_helpers/http_receiver.ts";
import {
  assertDuplicatesShareKey,
  body,
  callIdsOf,
  deliver,
  fast,
  ids,
  linesOf,
  script,
  withReceiver,
} from "./_fetch_helpers.ts";

describe("fetchDestination retries (sendPiece)", () => {
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
      await deliver(receiver, ids(3), { retry: { delayMs: 5, deadlineMs: 1_500 }, onError: (e) => errors.push(e) });
      assert.equal(receiver.requests.length, 1);
      assert.deepEqual(errors.map((e) => [e.status, e.attempts]), [[429, 1]]);
    });
    await withReceiver(script({ status: 429, headers: { "retry-after": "1" } }), async (receiver) => {
      const errors: HttpDeliveryError[] = [];
      await deliver(receiver, ids(3), { retry: { delayMs: 5, deadlineMs: 10_000 }, onError: (e) => errors.push(e) });
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
      await deliver(receiver, ids(3), { retry: { delayMs: 5, deadlineMs: 2_000 }, onError: (e) => errors.push(e) });
      assert.equal(receiver.requests.length, 1);
      assert.deepEqual(errors.map((e) => [e.status, e.attempts]), [[503, 1]]);
    });
    // Only the IMF-fixdate form counts: the same instant in ISO form is ignored, so the backoff applies.
    await withReceiver(script({ status: 503, headers: { "retry-after": later.toISOString() } }), async (receiver) => {
      const errors: HttpDeliveryError[] = [];
      await deliver(receiver, ids(3), { retry: { delayMs: 5, deadlineMs: 2_000 }, onError: (e) => errors.push(e) });
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
        await deliver(receiver, ids(3), { retry: { delayMs: 100, deadlineMs: 500 }, onError: (e) => errors.push(e) });
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
        const destination = await deliver(receiver, ids(4), {
          retry: { deadlineMs: 5_000 },
          onError: (e) => errors.push(e),
        });
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
        retry: { delayMs: 5, deadlineMs: 2_500 },
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

  it("fetchDestination does not send a body as large as one a 413 refused: one request per halving, not two per line", async () => {
    const limit = 100; // every line is over it
    await withReceiver((r) => (r.raw.length > limit ? { status: 413 } : { status: 200 }), async (receiver) => {
      const errors: HttpDeliveryError[] = [];
      const destination = await deliver(receiver, ids(512), {
        batch: { maxEvents: 512 },
        onError: (e) => errors.push(e),
      });
      // 512, 256, …, 1 line(s): each refused; every other piece is at least as large as one refused.
      assert.equal(receiver.requests.length, 10);
      assert.equal(destination.stats().failed, 512);
      assert.ok(errors.every((e) => e.status === 413));
      assert.equal(errors.reduce((n, e) => n + e.events, 0), 512);
    });
    // Lines of many sizes: each one that fits is delivered once, each one over the limit fails, nothing else.
    const sized = ids(200).map((id, i) =>
      encodeCallEvent({ ...mkEvent({ kind: "success" }, id), tier: "t".repeat((i * 37) % 400) })
    );
    const fits = sized.filter((line) => line.length + 1 <= 600);
    await withReceiver((r) => (r.raw.length > 600 ? { status: 413 } : { status: 200 }), async (receiver) => {
      const destination = fetchDestination(receiver.url, fast({ batch: { maxEvents: 200 }, onError: () => {} }));
      const writer = destination.getWriter();
      await writer.write(body(sized));
      await writer.close();
      assert.deepEqual(receiver.callIds(), callIdsOf(fits));
      const stats = destination.stats();
      assert.deepEqual([stats.delivered, stats.failed], [fits.length, sized.length - fits.length]);
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
      const destination = fetchDestination(receiver.url, fast({ retry: { delayMs: 20 }, fetch: counting }));
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

  it("fetchDestination says what a network error was, also when the runtime says it only in the error's cause", async () => {
    // Deno and Node throw "TypeError: fetch failed" and put the reason (refused, unknown host, bad response) in its cause.
    const wrapped = (() =>
      Promise.reject(
        new TypeError("fetch failed", { cause: new Error("connect ECONNREFUSED 127.0.0.1:9") }),
      )) as typeof fetch;
    const errors: HttpDeliveryError[] = [];
    let destination = fetchDestination("http://127.0.0.1:9/ingest", {
      fetch: wrapped,
      retry: { delayMs: 5, deadlineMs: 30 },
      onError: (e) => errors.push(e),
    });
    let writer = destination.getWriter();
    await writer.write(body(linesOf(ids(2))));
    await writer.close();
    assert.equal(errors.length, 1);
    assert.match(errors[0]!.message, /network error \(TypeError: fetch failed: connect ECONNREFUSED 127\.0\.0\.1:9\)/);
    // The runtime's own fetch, against a port nothing listens on: the message names the refusal.
    const closed = await HttpReceiver.start();
    await closed.close();
    destination = fetchDestination(closed.url, {
      retry: { delayMs: 5, deadlineMs: 30 },
      onError: (e) => errors.push(e),
    });
    writer = destination.getWriter();
    await writer.write(body(linesOf(ids(2))));
    await writer.close();
    assert.equal(errors.length, 2);
    assert.match(errors[1]!.message, /network error \(.*(refused|ECONNREFUSED)/i);
  });

  it("fetchDestination measures a batch's deadline on a clock the wall clock's jumps do not move", async () => {
    // The wall clock steps an hour ahead (NTP, a VM resumed) while a batch waits to be retried: its deadline is not over.
    const realNow = Date.now;
    const jump = (): void => {
      const skew = 3_600_000;
      Date.now = () => realNow.call(Date) + skew;
    };
    try {
      await withReceiver((r) => {
        if (r.index > 0) return { status: 200 };
        jump();
        return { status: 503 };
      }, async (receiver) => {
        const errors: HttpDeliveryError[] = [];
        const destination = await deliver(receiver, ids(3), { onError: (e) => errors.push(e) });
        assert.deepEqual(errors.map((e) => e.message), []);
        assert.equal(destination.stats().delivered, 3);
        assert.deepEqual(receiver.requests.map((r) => r.status), [503, 200]);
      });
    } finally {
      Date.now = realNow;
    }
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
});
