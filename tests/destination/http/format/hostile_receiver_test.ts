// The formats' endpoints as attackers: partial-success lies, results for
// items that were never sent or for one item twice, 2xx bodies that never end
// or never finish, bodies of the wrong type, gzip bombs, secrets echoed in
// item errors. Per-item results are believed only when they match the request;
// a 2xx body is read only so far; bytes the server managed to send are asserted.
import { describe, it } from "node:test";
import assert from "node:assert/strict";
import { gzipSync } from "node:zlib";
import {
  elasticsearchBulk,
  fetchDestination,
  type FetchDestinationOptions,
  HttpDeliveryError,
  JsonLinesAuditSink,
  otlpLogs,
} from "../../../../mod.ts";
import { mkEvent } from "../../../_helpers/events.ts";
import type { HttpReceiver, ReceivedRequest, Reply } from "../../../_helpers/http_receiver.ts";
import { fast, ids, withReceiver } from "../_fetch_helpers.ts";
import { stringsOf } from "../_fetch_helpers.ts";

const MiB = 1024 * 1024;
const FILLER = new Uint8Array(64 * 1024).fill(0x61);
/** What a client that cancels may still have been sent: socket buffers, a few MiB at most. */
const BOUNDED = 64 * MiB;
const SECRET = "sk-live-0123456789abcdef";

/** Records `n` events through a real sink to `receiver` with `options`; returns the sink, destination and errors. */
async function record(receiver: HttpReceiver, n: number, options: FetchDestinationOptions) {
  const errors: unknown[] = [];
  const destination = fetchDestination(receiver.url, fast(options));
  const sink = new JsonLinesAuditSink(destination, { backpressure: "block", onError: (e) => errors.push(e) });
  for (const id of ids(n)) sink.onCall(mkEvent({ kind: "success" }, id));
  await sink.close();
  return { sink, destination, errors };
}

function bulkItems(callIds: readonly string[], status = 201): string {
  return JSON.stringify({ errors: false, items: callIds.map((id) => ({ create: { _id: id, status } })) });
}

/** The call_ids a `_bulk` request carried. */
function sentIds(request: ReceivedRequest): string[] {
  return request.lines.filter((_, i) => i % 2 === 1).map((line) => JSON.parse(line).call_id);
}

async function settled(requests: readonly ReceivedRequest[]): Promise<readonly ReceivedRequest[]> {
  await Promise.all(requests.map((r) => r.done));
  return requests;
}

const SHORT = { retry: { delayMs: 5, deadlineMs: 400 } } as const;

describe("fetchDestination formats against a hostile receiver", () => {
  it("otlpLogs counts every record failed when a partial success claims more than were sent, and says so", async () => {
    const reply = { status: 200, body: '{"partialSuccess":{"rejectedLogRecords":"1000000","errorMessage":"nope"}}' };
    await withReceiver(() => reply, async (receiver) => {
      const { sink, errors } = await record(receiver, 10, { format: otlpLogs() });
      assert.deepEqual([sink.stats().written, sink.stats().failed, sink.stats().queued], [0, 10, 0]);
      assert.equal(receiver.requests.length, 1, "a partial success is not retried");
      assert.match(
        stringsOf(errors[0]).join("\n"),
        /rejected 10 of 10 \(partial success, HTTP 200\) \(it claimed 1000000\): nope/,
      );
    });
  });

  it("elasticsearchBulk does not believe results for items it never sent, nor two results for one item", async () => {
    const lies: ((r: ReceivedRequest) => Reply)[] = [
      (r) => ({ status: 200, body: bulkItems([...sentIds(r), "ghost"]) }),
      (r) => ({ status: 200, body: bulkItems([sentIds(r)[0]!, ...sentIds(r).slice(0, -1)]) }),
      (r) => ({ status: 200, body: bulkItems(sentIds(r).slice(1)) }),
      (r) => ({ status: 200, body: bulkItems(sentIds(r).map((id) => `${id}x`)) }),
    ];
    for (const lie of lies) {
      await withReceiver(lie, async (receiver) => {
        const { sink, errors } = await record(receiver, 4, { format: elasticsearchBulk(), ...SHORT });
        assert.deepEqual([sink.stats().written, sink.stats().failed], [0, 4]);
        assert.ok(receiver.requests.length > 1, "the same request went again");
        assert.equal(new Set(receiver.requests.map((r) => r.headers["idempotency-key"])).size, 1);
        assert.match(stringsOf(errors[0]).join("\n"), /whose results could not be read/);
      });
    }
  });

  it("elasticsearchBulk believes a result that matches, whatever the errors flag claims", async () => {
    let n = 0;
    const respond = (r: ReceivedRequest): Reply => {
      const sent = sentIds(r);
      if (n++ > 0) return { status: 200, body: bulkItems(sent) };
      // errors: false, yet the second item was refused (429) and the third failed (400).
      const items = sent.map((id, i) => ({ create: { _id: id, status: [201, 429, 400, 201][i] } }));
      return { status: 200, body: JSON.stringify({ errors: false, items }) };
    };
    await withReceiver(respond, async (receiver) => {
      const { sink } = await record(receiver, 4, { format: elasticsearchBulk() });
      assert.deepEqual([sink.stats().written, sink.stats().failed], [3, 1]);
      assert.deepEqual(sentIds(receiver.requests[1]!), ["c000001"]);
    });
  });

  it("otlpLogs reads at most 64 KiB of an endless 2xx body, counts the status and warns", async () => {
    const reply: Reply = {
      status: 200,
      headers: { "content-type": "application/json" },
      stream: { head: '{"partialSuccess":{"errorMessage":"', chunk: FILLER, repeat: 8192, then: "stall" },
    };
    let requests: ReceivedRequest[] = [];
    await withReceiver(() => reply, async (receiver) => {
      const { sink, errors } = await record(receiver, 5, { format: otlpLogs() });
      assert.deepEqual([sink.stats().written, sink.stats().failed], [5, 0]);
      assert.match(stringsOf(errors[0]).join("\n"), /cut short/);
      requests = receiver.requests;
    });
    assert.equal(requests.length, 1);
    for (const r of await settled(requests)) assert.ok(r.sentBytes < BOUNDED, `the server sent ${r.sentBytes} bytes`);
  });

  it("elasticsearchBulk sends a request again rather than read an endless 2xx body, and gives up at the deadline", async () => {
    const reply: Reply = { status: 200, stream: { head: '{"errors":true,"items":[', chunk: FILLER, repeat: 8192 } };
    let requests: ReceivedRequest[] = [];
    await withReceiver(() => reply, async (receiver) => {
      const { sink } = await record(receiver, 3, { format: elasticsearchBulk(), ...SHORT });
      assert.deepEqual([sink.stats().written, sink.stats().failed], [0, 3]);
      requests = receiver.requests;
    });
    assert.ok(requests.length > 1);
    for (const r of await settled(requests)) assert.ok(r.sentBytes < BOUNDED, `the server sent ${r.sentBytes} bytes`);
  });

  it("a 2xx body that never finishes is cut at the request's time limit", async () => {
    const stall: Reply = { status: 200, stream: { head: '{"partialSuccess":', then: "stall" } };
    await withReceiver(() => stall, async (receiver) => {
      const { sink, errors } = await record(receiver, 2, { format: otlpLogs(), timeoutMs: 200 });
      assert.deepEqual([sink.stats().written, receiver.requests.length], [2, 1]);
      assert.match(stringsOf(errors[0]).join("\n"), /cut short/);
    });
    await withReceiver(() => stall, async (receiver) => {
      const { sink } = await record(receiver, 2, { format: elasticsearchBulk(), timeoutMs: 100, ...SHORT });
      assert.deepEqual([sink.stats().written, sink.stats().failed], [0, 2]);
    });
  });

  it("a body of the wrong type: OTLP reads the body whatever its content-type says; _bulk does not take a login page", async () => {
    const html = { "content-type": "text/html" };
    await withReceiver(
      () => ({ status: 200, headers: html, body: '{"partialSuccess":{"rejectedLogRecords":2}}' }),
      async (receiver) => {
        const { sink } = await record(receiver, 5, { format: otlpLogs() });
        assert.deepEqual([sink.stats().written, sink.stats().failed], [3, 2]);
      },
    );
    await withReceiver(
      () => ({ status: 200, headers: html, body: "<html><form>Sign in</form></html>" }),
      async (receiver) => {
        const { sink, errors } = await record(receiver, 2, { format: elasticsearchBulk(), ...SHORT });
        assert.deepEqual([sink.stats().written, sink.stats().failed], [0, 2]);
        assert.match(stringsOf(errors[0]).join("\n"), /not JSON/);
      },
    );
  });

  it("says the failure before an attempt whose 2xx body the deadline cut short, not the cut", async () => {
    // A login page first; the retry's 2xx body never ends, so the deadline cuts its reading short.
    const login: Reply = { status: 200, headers: { "content-type": "text/html" }, body: "<html>Sign in</html>" };
    const stall: Reply = { status: 200, stream: { head: '{"took":1,', then: "stall" } };
    let n = 0;
    await withReceiver(() => (n++ === 0 ? login : stall), async (receiver) => {
      const { sink, errors } = await record(receiver, 2, { format: elasticsearchBulk(), timeoutMs: 60_000, ...SHORT });
      assert.deepEqual([sink.stats().written, sink.stats().failed], [0, 2]);
      assert.ok(receiver.requests.length >= 2, "the retry was made");
      const text = stringsOf(errors[0]).join("\n");
      assert.match(text, /not JSON/);
      assert.doesNotMatch(text, /cut short/);
    });
  });

  it("elasticsearchBulk decompresses no more of a gzip bomb than its response budget", async () => {
    const bomb = gzipSync(new Uint8Array(256 * MiB).fill(0x20)); // 256 MiB of spaces in about 256 KiB
    await withReceiver(
      () => ({ status: 200, headers: { "content-encoding": "gzip" }, body: bomb }),
      async (receiver) => {
        const { sink } = await record(receiver, 2, { format: elasticsearchBulk(), ...SHORT });
        assert.deepEqual([sink.stats().written, sink.stats().failed], [0, 2]);
      },
    );
  });

  it("no secret echoed in a response's item errors or partial success reaches an error", async () => {
    const headers = { authorization: `ApiKey ${SECRET}` };
    const echo = (r: ReceivedRequest): Reply => ({
      status: 200,
      body: JSON.stringify({
        errors: true,
        items: sentIds(r).map((id) => ({
          create: { _id: id, status: 400, error: { type: "security_exception", reason: `bad key ${SECRET}` } },
        })),
      }),
    });
    await withReceiver(echo, async (receiver) => {
      const { sink, errors } = await record(receiver, 2, { format: elasticsearchBulk(), headers });
      assert.equal(sink.stats().failed, 2);
      const text = stringsOf(errors[0]).join("\n");
      assert.match(text, /security_exception: bad key \[redacted\]/);
      assert.ok(!text.includes(SECRET));
      const cause = (errors[0] as { cause?: unknown }).cause;
      assert.ok(
        cause instanceof HttpDeliveryError && cause.status === 400,
        "the sink's loss report carries the item status",
      );
    });
    const partial = {
      status: 200,
      body: JSON.stringify({ partialSuccess: { errorMessage: `token ${SECRET} expired` } }),
    };
    await withReceiver(() => partial, async (receiver) => {
      const { errors } = await record(receiver, 2, { format: otlpLogs(), headers });
      const text = stringsOf(errors[0]).join("\n");
      assert.match(text, /token \[redacted\] expired/);
      assert.ok(!text.includes(SECRET));
    });
  });
});
