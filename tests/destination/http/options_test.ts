// Construction checks every argument once, says what was expected, and
// quotes no secret; nothing that passes construction fails later for a reason
// it could have seen.
import { describe, it } from "node:test";
import assert from "node:assert/strict";
import { fetchDestination, type FetchDestinationOptions } from "../../../src/destination/fetch_destination.ts";
import { MemoryDestination } from "../../_helpers/events.ts";

/** The error `run` throws (and fails when it throws nothing). */
function thrown(run: () => unknown): Error {
  try {
    run();
  } catch (error) {
    return error as Error;
  }
  assert.fail("expected a throw");
}

function rejects(options: unknown, kind: typeof TypeError | typeof RangeError, pattern: RegExp): void {
  const error = thrown(() => fetchDestination("http://127.0.0.1:9/ingest", options as FetchDestinationOptions));
  assert.ok(error instanceof kind, `${String(error)} for ${JSON.stringify(options)}`);
  assert.match(error.message, pattern);
  assert.match(error.message, /^Cannot create fetch destination: /);
}

describe("fetchDestination options", () => {
  it("fetchDestination rejects bad options at construction", () => {
    assert.throws(() => fetchDestination("not a url"), TypeError);
    assert.throws(() => fetchDestination("http://x/", { batch: { maxEvents: 0 } }), RangeError);
    assert.throws(() => fetchDestination("http://x/", { maxInFlight: 17 }), RangeError);
    assert.throws(() => fetchDestination("http://x/", { timeoutMs: 1.5 }), RangeError);
    assert.throws(() => fetchDestination("http://x/", { fallback: {} as never }), TypeError);
  });

  it("fetchDestination accepts only http: and https: URLs", () => {
    for (
      const url of ["ftp://logs.example/in", "file:///tmp/x", "ws://logs.example/", "data:text/plain,x", "javascript:1"]
    ) {
      const error = thrown(() => fetchDestination(url));
      assert.ok(error instanceof TypeError, url);
      assert.match(error.message, /url must be an http: or https: URL, got [a-z]+:$/, url);
    }
    assert.ok(fetchDestination(new URL("https://logs.example/ingest")));
    assert.ok(fetchDestination("HTTP://LOGS.EXAMPLE/ingest"));
    assert.throws(() => fetchDestination("/ingest"), TypeError, "a relative URL outside a page has no base");
    assert.throws(() => fetchDestination(42 as unknown as string), /url must be a string or a URL, got number/);
  });

  it("fetchDestination rejects credentials in the URL on every runtime, without quoting them", () => {
    for (const url of ["https://user:pa55word@logs.example/in", "https://token-only@logs.example/in"]) {
      const error = thrown(() => fetchDestination(url, { headers: { authorization: "Bearer x" } }));
      assert.ok(error instanceof TypeError);
      assert.match(error.message, /must not hold credentials .*authorization header/);
      assert.ok(!error.message.includes("pa55word") && !error.message.includes("token-only"), error.message);
      assert.equal(error.cause, undefined);
    }
  });

  it("fetchDestination quotes an invalid URL without its user info, query or fragment", () => {
    const error = thrown(() => fetchDestination("https://user:pa55word@[bad host/in?token=T0KEN#frag"));
    assert.ok(error instanceof TypeError);
    assert.match(error.message, /url must be an absolute http: or https: URL, got "https:\/\/\[redacted\]"$/);
    for (const secret of ["pa55word", "user", "T0KEN", "frag"]) assert.ok(!error.message.includes(secret), secret);
    assert.equal(error.cause, undefined, "the runtime's own error quotes the whole URL");
  });

  it("fetchDestination rejects invalid headers without quoting their values", () => {
    for (const headers of [{ authorization: "Bearer SECRET\r\nx-injected: 1" }, { "bad name": "SECRET" }, 42]) {
      const error = thrown(() => fetchDestination("https://logs.example/in", { headers: headers as HeadersInit }));
      assert.ok(error instanceof TypeError);
      assert.match(error.message, /headers must be valid HTTP header names and values$/);
      assert.ok(!error.message.includes("SECRET"));
      assert.equal(error.cause, undefined);
    }
  });

  it("fetchDestination refuses headers that frame the request, which Node's fetch refuses on every request", () => {
    // They passed construction, then every request failed on Node (undici: "invalid transfer-encoding header",
    // "expect header not supported"; a wrong content-length hung it): every batch retried to its deadline, then lost.
    for (const name of ["content-length", "Transfer-Encoding", "expect", "upgrade", "keep-alive"]) {
      const error = thrown(() => fetchDestination("https://logs.example/in", { headers: { [name]: "SECRET-1" } }));
      assert.ok(error instanceof TypeError, name);
      assert.match(
        error.message,
        new RegExp(`headers must not set ${name.toLowerCase()}: the destination frames its requests itself$`),
      );
      assert.ok(!error.message.includes("SECRET"));
    }
    assert.ok(fetchDestination("https://logs.example/in", { headers: { connection: "close", te: "trailers" } }));
  });

  it("fetchDestination range-checks every numeric option", () => {
    const numeric: [string, (value: unknown) => unknown, number, number][] = [
      ["batch.maxEvents", (v) => ({ batch: { maxEvents: v } }), 1, 2_147_483_647],
      ["batch.maxBytes", (v) => ({ batch: { maxBytes: v } }), 1, 2_147_483_647],
      ["batch.maxDelayMs", (v) => ({ batch: { maxDelayMs: v } }), 0, 2_147_483_647],
      ["retry.deadlineMs", (v) => ({ retry: { deadlineMs: v, delayMs: 1 } }), 2, 2_147_483_647],
      [
        "retry.delayMs",
        (v) => ({ retry: { delayMs: v, deadlineMs: 2_147_483_647, backoffLimitMs: 2_147_483_647 } }),
        1,
        2_147_483_646,
      ],
      ["retry.backoffLimitMs", (v) => ({ retry: { backoffLimitMs: v, delayMs: 1 } }), 1, 2_147_483_647],
      ["timeoutMs", (v) => ({ timeoutMs: v }), 1, 2_147_483_647],
      ["maxInFlight", (v) => ({ maxInFlight: v }), 1, 16],
    ];
    for (const [name, make, min, max] of numeric) {
      assert.ok(fetchDestination("http://127.0.0.1:9/", make(min) as FetchDestinationOptions), `${name} = ${min}`);
      assert.ok(fetchDestination("http://127.0.0.1:9/", make(max) as FetchDestinationOptions), `${name} = ${max}`);
      const field = name.replace(".", "\\.");
      // retry.deadlineMs = 1 is an integer in range that no retry fits: the next test covers it.
      const below = name === "retry.deadlineMs" ? 0 : min - 1;
      const above = max === 16 ? 17 : 2 ** 31; // setTimeout fires at once for longer delays
      for (const bad of [below, above, 1.5, Number.NaN, Number.POSITIVE_INFINITY, -1, 2 ** 53]) {
        rejects(make(bad), RangeError, new RegExp(`${field} must be an integer from`));
      }
      for (const bad of ["5", null, true, {}]) rejects(make(bad), TypeError, new RegExp(`${field} must be a number`));
    }
  });

  it("fetchDestination rejects retry bounds that cannot fit the deadline, saying so", () => {
    rejects(
      { retry: { delayMs: 30_000 } },
      RangeError,
      /retry\.delayMs \(30000\) must be shorter than retry\.deadlineMs \(30000\), or no retry fits the deadline/,
    );
    rejects({ retry: { delayMs: 5_000, deadlineMs: 1_000 } }, RangeError, /no retry fits the deadline/);
    rejects(
      { retry: { delayMs: 2_000, backoffLimitMs: 1_000 } },
      RangeError,
      /retry\.backoffLimitMs \(1000\) must be at least retry\.delayMs \(2000\)/,
    );
    rejects({ retry: { delayMs: 0 } }, RangeError, /retry\.delayMs must be an integer from 1/);
  });

  it("fetchDestination rejects options of the wrong kind", () => {
    rejects(null, TypeError, /options must be an object, got null/);
    rejects({ batch: 5 }, TypeError, /batch must be an object, got number/);
    rejects({ retry: [] }, TypeError, /retry must be an object/);
    rejects({ onError: 42 }, TypeError, /onError must be a function, got number/);
    rejects({ fetch: "fetch" }, TypeError, /fetch must be a function, got string/);
    rejects({ gzip: "yes" }, TypeError, /gzip must be a boolean, got string/);
    rejects({ unloadDelivery: 1 }, TypeError, /unloadDelivery must be a boolean, got number/);
    rejects({ fallback: { onCall() {} } }, TypeError, /fallback must be an unlocked WritableStream<Uint8Array>/);
    const locked = new MemoryDestination().stream;
    locked.getWriter();
    rejects({ fallback: locked }, TypeError, /fallback must be an unlocked WritableStream/);
  });

  it("fetchDestination points options of earlier versions to their new place", () => {
    rejects({ maxBatchEvents: 5 }, TypeError, /maxBatchEvents is now batch\.maxEvents$/);
    rejects({ maxBatchBytes: 5 }, TypeError, /maxBatchBytes is now batch\.maxBytes$/);
    rejects({ maxDelayMs: 5 }, TypeError, /maxDelayMs is now batch\.maxDelayMs$/);
    rejects({ deadlineMs: 5 }, TypeError, /deadlineMs is now retry\.deadlineMs$/);
    rejects({ retryDelayMs: 5 }, TypeError, /retryDelayMs is now retry\.delayMs$/);
  });

  it("fetchDestination construction neither fetches nor sets timers", () => {
    let calls = 0;
    const counting: typeof fetch = () => {
      calls++;
      return Promise.resolve(new Response(null, { status: 204 }));
    };
    const destination = fetchDestination("http://127.0.0.1:9/ingest", { fetch: counting, gzip: true });
    assert.equal(calls, 0);
    assert.deepEqual(destination.stats(), {
      delivered: 0,
      failed: 0,
      rerouted: 0,
      pending: 0,
      inFlight: 0,
      batches: 0,
      requests: 0,
      retried: 0,
      split: 0,
    });
  });
});
