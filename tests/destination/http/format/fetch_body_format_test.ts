// fetchDestination with a body format: lines no format can carry, requests
// within an API's limits, gzip with every format, Idempotency-Keys across
// per-item retries, and custom formats that misbehave.
import { describe, it } from "node:test";
import assert from "node:assert/strict";
import {
  datadogLogs,
  elasticsearchBulk,
  type FetchBodyFormat,
  fetchDestination,
  type FetchDestinationOptions,
  HttpDeliveryError,
  JsonLinesAuditSink,
  lokiPush,
  otlpLogs,
  splunkHec,
} from "../../../../mod.ts";
import { ApiReceiver, bulkApi, datadogApi, hecApi, lokiApi, otlpApi } from "../../../_helpers/api_receivers.ts";
import { MemoryDestination, mkEvent } from "../../../_helpers/events.ts";
import { HttpReceiver } from "../../../_helpers/http_receiver.ts";
import { body, fast, ids, linesOf } from "../_fetch_helpers.ts";

const HEC = { authorization: "Splunk 00000000-0000-0000-0000-000000000000" };
const DD = { "dd-api-key": "0123456789abcdef" };

/** Writes `bytes`, closes; returns the destination and what its onError heard. */
async function send(url: string, bytes: Uint8Array, options: FetchDestinationOptions) {
  const errors: HttpDeliveryError[] = [];
  const destination = fetchDestination(url, fast({ onError: (e) => errors.push(e), ...options }));
  const writer = destination.getWriter();
  await writer.write(bytes);
  await writer.close();
  return { destination, errors };
}

/** A format that wraps otlpLogs, with some of its functions replaced. */
function custom(overrides: Partial<FetchBodyFormat>): FetchBodyFormat {
  return { ...otlpLogs(), name: "custom", ...overrides };
}

describe("fetchDestination with a body format", () => {
  it("fetchDestination hands lines no format can carry to the fallback, byte for byte, and sends the rest", async () => {
    const receiver = await ApiReceiver.start(otlpApi());
    try {
      const good = linesOf(ids(2));
      const enc = new TextEncoder();
      const bad = [new Uint8Array([0x7b, 0x22, 0xff, 0x22, 0x7d, 0x0a]), enc.encode("not json\n"), enc.encode("[1]\n")];
      const bytes = new Uint8Array([
        ...enc.encode(`${good[0]}\n`),
        ...bad.flatMap((b) => [...b]),
        ...enc.encode(`${good[1]}\n`),
      ]);
      const spill = new MemoryDestination();
      const { destination } = await send(receiver.url, bytes, { format: otlpLogs(), fallback: spill.stream });
      assert.deepEqual([...receiver.stored.keys()], ids(2));
      assert.deepEqual(new Uint8Array(spill.chunks.flatMap((c) => [...c])), new Uint8Array(bad.flatMap((b) => [...b])));
      const stats = destination.stats();
      assert.deepEqual([stats.delivered, stats.rerouted, stats.failed], [2, 3, 0]);

      const { errors } = await send(receiver.url, bytes, { format: otlpLogs() });
      assert.deepEqual(errors.map((e) => [e.events, e.attempts]), [[1, 0], [1, 0], [1, 0]]);
      assert.match(
        errors[0]!.message,
        /^Cannot send 1 audit event to http:\/\/127\.0\.0\.1:\d+\/v1\/logs as otlp-logs: the line is not valid UTF-8$/,
      );
    } finally {
      await receiver.close();
    }
  });

  it("fetchDestination sends a batch whose body is over the format's limit as several requests, each within it", async () => {
    const receiver = await ApiReceiver.start(hecApi());
    try {
      const want = ids(40);
      const oneEvent = JSON.stringify({ event: linesOf(["x"])[0] }).length;
      const { destination } = await send(receiver.url, body(linesOf(want)), {
        format: splunkHec({ maxBodyBytes: oneEvent * 6 }),
        headers: HEC,
      });
      const requests = receiver.http.requests;
      assert.ok(requests.length >= 7, `${requests.length} requests`);
      for (const r of requests) assert.ok(r.raw.length <= oneEvent * 6, `${r.raw.length} bytes`);
      assert.equal(new Set(requests.map((r) => r.headers["idempotency-key"])).size, requests.length);
      assert.deepEqual([...receiver.stored.keys()].sort(), want);
      const stats = destination.stats();
      assert.equal(stats.delivered, 40);
      assert.ok(stats.requests > stats.batches, "some batches went as more than one request");

      const { errors } = await send(receiver.url, body(linesOf(ids(1))), {
        format: splunkHec({ maxBodyBytes: 100 }),
        headers: HEC,
      });
      assert.match(errors[0]!.message, /over the 100-byte request limit/);
    } finally {
      await receiver.close();
    }
  });

  it("fetchDestination refuses batch limits over the format's and defaults within them", () => {
    assert.throws(
      () => fetchDestination("http://127.0.0.1:9/", { format: datadogLogs(), batch: { maxEvents: 1001 } }),
      {
        name: "RangeError",
        message: /batch\.maxEvents \(1001\) is over the datadog-logs format's 1000 lines per request/,
      },
    );
    assert.throws(
      () => fetchDestination("http://127.0.0.1:9/", { format: datadogLogs(), batch: { maxBytes: 5_000_001 } }),
      RangeError,
    );
    fetchDestination("http://127.0.0.1:9/", { format: datadogLogs(), batch: { maxEvents: 1000 } });
  });

  it("fetchDestination gzips the body of every format", async () => {
    const cases: [FetchBodyFormat, () => Parameters<typeof ApiReceiver.start>[0], Record<string, string>][] = [
      [otlpLogs(), otlpApi, {}],
      [lokiPush(), lokiApi, {}],
      [elasticsearchBulk(), bulkApi, {}],
      [splunkHec(), hecApi, HEC],
      [datadogLogs(), datadogApi, DD],
    ];
    for (const [format, api, headers] of cases) {
      const receiver = await ApiReceiver.start(api());
      try {
        const want = ids(50);
        await send(receiver.url, body(linesOf(want)), { format, headers, gzip: true });
        assert.deepEqual(receiver.violations, [], format.name);
        assert.equal(receiver.http.requests[0]!.headers["content-encoding"], "gzip", format.name);
        assert.ok(receiver.http.requests[0]!.raw.length < receiver.http.requests[0]!.text.length / 3, format.name);
        assert.deepEqual([...receiver.stored.keys()].sort(), want, format.name);
      } finally {
        await receiver.close();
      }
    }
  });

  it("fetchDestination sends the items a _bulk response refused under a new Idempotency-Key, an unreadable response's request under the same", async () => {
    const receiver = await ApiReceiver.start(bulkApi());
    receiver.plan = (i) => (i === 0 ? { kind: "items", retry: 2, fail: 0 } : undefined);
    try {
      await send(receiver.url, body(linesOf(ids(5))), { format: elasticsearchBulk() });
      const [first, second] = receiver.http.requests;
      assert.notEqual(first!.headers["idempotency-key"], second!.headers["idempotency-key"]);
      assert.deepEqual(second!.lines.filter((_, i) => i % 2 === 1).map((l) => JSON.parse(l).call_id), ids(2));
      assert.deepEqual([...receiver.stored.keys()].sort(), ids(5));
    } finally {
      await receiver.close();
    }
    let n = 0;
    const html = await HttpReceiver.start(() =>
      n++ === 0
        ? { status: 200, headers: { "content-type": "text/html" }, body: "<html>Welcome to the proxy</html>" }
        : {
          status: 200,
          body: JSON.stringify({ errors: false, items: ids(3).map((id) => ({ create: { _id: id, status: 201 } })) }),
        }
    );
    try {
      const { destination } = await send(html.url, body(linesOf(ids(3))), { format: elasticsearchBulk() });
      const [first, second] = html.requests;
      assert.equal(first!.headers["idempotency-key"], second!.headers["idempotency-key"]);
      assert.equal(first!.text, second!.text);
      assert.equal(destination.stats().delivered, 3);
    } finally {
      await html.close();
    }
  });

  it("fetchDestination tells the sink's onError when an OTLP partial success cannot be read, and counts the status", async () => {
    const receiver = await HttpReceiver.start(() => ({
      status: 200,
      body: '{"partialSuccess":{"rejectedLogRecords":-4}}',
    }));
    try {
      const errors: unknown[] = [];
      const destination = fetchDestination(receiver.url, fast({ format: otlpLogs() }));
      const sink = new JsonLinesAuditSink(destination, { backpressure: "block", onError: (e) => errors.push(e) });
      for (const id of ids(3)) sink.onCall(mkEvent({ kind: "success" }, id));
      await sink.close();
      assert.deepEqual([sink.stats().written, sink.stats().failed], [3, 0]);
      assert.equal(errors.length, 1);
      assert.ok(errors[0] instanceof HttpDeliveryError);
      assert.match(
        (errors[0] as Error).message,
        /Cannot read the per-item results of 3 audit events .*rejectedLogRecords is not a count: -4; they count as delivered/,
      );
    } finally {
      await receiver.close();
    }
  });

  it("fetchDestination survives a custom format that throws, and holds its verdicts to the request", async () => {
    const receiver = await HttpReceiver.start(() => ({ status: 200, body: "{}" }));
    try {
      const lines = linesOf(ids(4));
      const picky = custom({
        item: (line) => {
          if (line.event.call_id === "c000001") throw new Error("no");
          return otlpLogs().item(line);
        },
      });
      let r = await send(receiver.url, body(lines), { format: picky });
      assert.deepEqual([r.destination.stats().delivered, r.destination.stats().failed], [3, 1]);
      assert.match(r.errors[0]!.message, /the custom format could not take the line \(no\)/);

      r = await send(receiver.url, body(lines), {
        format: custom({
          body: () => {
            throw new Error("boom");
          },
        }),
      });
      assert.deepEqual([r.destination.stats().delivered, r.destination.stats().failed], [0, 4]);

      for (
        const verdict of [
          () => {
            throw new Error("bad");
          },
          () => ({ kind: "items" as const, results: [{ outcome: "failed" as const }] }),
          () => ({ kind: "items" as const, results: lines.map(() => ({ outcome: "lost" })) }),
          () => ({ kind: "later" }),
          () => null,
        ]
      ) {
        r = await send(receiver.url, body(lines), {
          format: custom({ verdict: verdict as FetchBodyFormat["verdict"] }),
        });
        assert.deepEqual([r.destination.stats().delivered, r.destination.stats().failed], [4, 0]);
        assert.equal(r.errors.length, 1, "a warning");
        assert.match(r.errors[0]!.message, /count as delivered/);
      }

      r = await send(receiver.url, body(lines), {
        format: custom({ verdict: () => ({ kind: "rejected", count: 1e9, message: "all of them and more" }) }),
      });
      assert.deepEqual([r.destination.stats().delivered, r.destination.stats().failed], [0, 4]);
      assert.match(r.errors[0]!.message, /rejected 4 of 4 .*\(it claimed 1000000000\): all of them and more/);

      r = await send(receiver.url, body(lines), {
        format: custom({ verdict: () => ({ kind: "retry", reason: "never sure" }) }),
        retry: { delayMs: 5, deadlineMs: 300 },
      });
      assert.deepEqual([r.destination.stats().delivered, r.destination.stats().failed], [0, 4]);
      assert.match(r.errors[0]!.message, /whose results could not be read \(never sure\)/);
    } finally {
      await receiver.close();
    }
  });

  it("fetchDestination reports a line nested too deep for a format exactly once, and sends the rest", async () => {
    const receiver = await ApiReceiver.start(otlpApi());
    try {
      const deep = `{"call_id":"deep","capability_provenance":${"[".repeat(100_000)}${"]".repeat(100_000)}}`;
      const lines = [...linesOf(ids(2)), deep];
      const { destination } = await send(receiver.url, body(lines), { format: otlpLogs() });
      const stats = destination.stats();
      assert.equal(stats.delivered + stats.failed, 3, "every line reported once");
      assert.ok(receiver.hasAll(ids(2)));
      assert.deepEqual(receiver.violations, []);
    } finally {
      await receiver.close();
    }
  });

  it("fetchDestination checks a custom format once, at construction", () => {
    const url = "http://127.0.0.1:9/";
    assert.throws(() => fetchDestination(url, { format: {} as FetchBodyFormat }), /format must have a name/);
    assert.throws(
      () => fetchDestination(url, { format: custom({ body: 1 as never }) }),
      /format\.body must be a function/,
    );
    assert.throws(() => fetchDestination(url, { format: custom({ maxEvents: 0 }) }), RangeError);
    assert.throws(() => fetchDestination(url, { format: custom({ maxItemBytes: 1.5 }) }), RangeError);
    assert.throws(() => fetchDestination(url, { format: custom({ contentType: "a\nb" }) }), /contentType/);
    assert.throws(() => fetchDestination(url, { format: "otlp" as never }), /format must be a body format/);
    let reads = 0;
    const format = Object.defineProperty(custom({}), "maxEvents", { get: () => (reads++, 10), enumerable: true });
    fetchDestination(url, { format });
    assert.equal(reads, 1, "each member is read once");
  });
});
