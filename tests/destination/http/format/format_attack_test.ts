// Hostile review of the body formats and their per-item settlement: what the
// sealing over a fetchDestination makes of per-item results, events whose
// fields a format cannot carry as they are, and stats that must add up.
import { describe, it } from "node:test";
import assert from "node:assert/strict";
import { elasticsearchBulk, fetchDestination, JsonLinesAuditSink, lokiPush, otlpLogs } from "../../../../mod.ts";
import { ApiReceiver, bulkApi, otlpApi } from "../../../_helpers/api_receivers.ts";
import { mkEvent, tick } from "../../../_helpers/events.ts";
import { fast, ids, stringsOf, withReceiver } from "../_fetch_helpers.ts";
import type { ReceivedRequest, Reply } from "../../../_helpers/http_receiver.ts";
import { parseTime } from "../../../../src/destination/http/format/_line.ts";
import { itemOf } from "./_format_helpers.ts";
import { keys, problems, show, verify } from "../../../seal/_trail.ts";

/** A stream that keeps what it is given, as text. */
function memory(): { stream: WritableStream<Uint8Array>; text: () => string } {
  const decoder = new TextDecoder();
  let text = "";
  return {
    stream: new WritableStream<Uint8Array>({
      write: (chunk) => void (text += decoder.decode(chunk, { stream: true })),
    }),
    text: () => text,
  };
}

describe("body formats under attack", () => {
  it(
    "a sealed trail over elasticsearchBulk declares a refused item's loss in its own segment",
    async () => {
      const receiver = await ApiReceiver.start(bulkApi());
      // Every request: its first item is refused for good (HTTP 400), the rest stored.
      receiver.plan = () => ({ kind: "items", retry: 0, fail: 1 });
      try {
        const seal = memory();
        const destination = fetchDestination(
          receiver.url,
          fast({ format: elasticsearchBulk(), batch: { maxEvents: 10 } }),
        );
        const sink = new JsonLinesAuditSink(destination, {
          seal: { key: (await keys()).seal, to: seal.stream, maxSegmentLines: 4, origin: "bulk.example/audit" },
          onError: () => {},
        });
        const events = ids(30, "bulk-").map((id) => mkEvent({ kind: "success" }, id));
        for (const event of events) {
          sink.onCall(event);
          await tick(); // one chunk per event: segments of 4 lines, batches of 10
        }
        await sink.close();
        const stats = sink.stats();
        assert.equal(stats.written + stats.failed, 30);
        // The log as the receiver holds it, in the order the lines were written.
        const data = events.map((e) => e.call_id).filter((id) => receiver.stored.has(id)).map((id) =>
          receiver.stored.get(id)![0]! + "\n"
        );
        assert.equal(data.length, stats.written);
        const { findings, summary } = await verify(data, { keys: (await keys()).verify, seal: seal.text() });
        assert.deepEqual(problems(findings), [], show(findings));
        assert.equal(summary.lost, stats.failed);
      } finally {
        await receiver.close();
      }
    },
  );

  it("parseTime refuses a year before 100, which Date.UTC would read as 19xx", () => {
    for (
      const ts of ["0075-06-01T00:00:00Z", "0099-12-31T23:59:59.5Z", "0000-01-01T00:00:00Z", "0070-01-01T00:00:00Z"]
    ) {
      assert.equal(parseTime(ts), undefined, ts);
    }
    // Years from 1969 on still work, offsets included.
    assert.equal(parseTime("1969-12-31T23:59:59-01:00")?.unixSeconds, 3599);
  });

  it("otlpLogs leaves the time to the receiver for a ts in year 75, not 1975", () => {
    const line = JSON.stringify({ ts: "0075-06-01T00:00:00Z", call_id: "y75", tier: "warm" });
    const otlp = itemOf(otlpLogs(), line);
    assert.ok(typeof otlp === "object");
    assert.match(otlp.text, /^\{"timeUnixNano":"0","observedTimeUnixNano":"\d+"/);
  });

  it("lokiPush refuses a label value over Loki's 2048 bytes, as Loki counts it, not 2048 UTF-16 units", () => {
    // 1,000 characters, 3,000 bytes: Loki (len() in Go) refuses the push, and with it every other line of the batch.
    const wide = JSON.stringify({ ts: "2026-12-02T10:00:00Z", call_id: "x", tier: "€".repeat(1000) });
    assert.match(String(itemOf(lokiPush(), wide)), /tier is longer/);
    const ascii = JSON.stringify({ ts: "2026-12-02T10:00:00Z", call_id: "x", tier: "t".repeat(2048) });
    assert.equal(typeof itemOf(lokiPush(), ascii), "object");
    assert.throws(() => lokiPush({ labels: { service_name: "é".repeat(1025) } }), /1 to 2048/);
  });

  it("a sealed trail over fetchDestination declares a batch rerouted to a slow fallback in its own segment", async () => {
    const receiver = await ApiReceiver.start(bulkApi());
    receiver.plan = (i) => i === 0 ? { kind: "status", status: 400, body: "refused" } : undefined;
    try {
      const seal = memory();
      const rerouted: string[] = [];
      const fallback = new WritableStream<Uint8Array>({
        write: async (chunk) => {
          await tick(50); // a slow disk
          rerouted.push(...new TextDecoder().decode(chunk).split(/(?<=\n)/).filter((l) => l !== ""));
        },
      });
      const destination = fetchDestination(
        receiver.url,
        fast({ format: elasticsearchBulk(), batch: { maxEvents: 4 }, fallback }),
      );
      const sink = new JsonLinesAuditSink(destination, {
        seal: { key: (await keys()).seal, to: seal.stream, maxSegmentLines: 4, origin: "bulk.example/audit" },
        onError: () => {},
      });
      const events = ids(12, "slow-").map((id) => mkEvent({ kind: "success" }, id));
      for (const event of events) {
        sink.onCall(event);
        await tick();
      }
      await sink.close();
      const stats = sink.stats();
      assert.deepEqual([stats.written, stats.rerouted], [8, 4], JSON.stringify(stats));
      const data = events.map((e) => e.call_id).filter((id) => receiver.stored.has(id)).map((id) =>
        receiver.stored.get(id)![0]! + "\n"
      );
      const { findings, summary } = await verify(data, { keys: (await keys()).verify, seal: seal.text() });
      assert.deepEqual(problems(findings), [], show(findings));
      assert.equal(summary.lost, 4);
    } finally {
      await receiver.close();
    }
  });

  it("no part of a secret echoed across the format's own cut of an item reason, or in a count, reaches an error", async () => {
    const secret = "sk-live-0123456789abcdefghijklmnopqrstuv";
    const headers = { authorization: `ApiKey ${secret}` };
    // The reason is cut by the format at 300 characters: the secret straddles the cut.
    const pad = "x".repeat(300 - 20);
    const replies: Record<string, (request: ReceivedRequest) => Reply> = {
      bulk: (r) => ({
        status: 200,
        body: JSON.stringify({
          errors: true,
          items: r.lines.filter((_, i) => i % 2 === 1).map((line) => ({
            create: { _id: JSON.parse(line).call_id, status: 400, error: { type: "t", reason: `${pad}${secret}` } },
          })),
        }),
      }),
      otlp: () => ({
        status: 200,
        body: JSON.stringify({ partialSuccess: { rejectedLogRecords: `${pad}${secret}` } }),
      }),
    };
    for (const [name, reply] of Object.entries(replies)) {
      await withReceiver(reply, async (receiver) => {
        const errors: unknown[] = [];
        const destination = fetchDestination(
          receiver.url,
          fast({ format: name === "bulk" ? elasticsearchBulk() : otlpLogs(), headers }),
        );
        const sink = new JsonLinesAuditSink(destination, { onError: (e) => errors.push(e) });
        for (const id of ids(2, `${name}-`)) sink.onCall(mkEvent({ kind: "success" }, id));
        await sink.close();
        assert.ok(errors.length > 0, name);
        const text = errors.flatMap((e) => stringsOf(e)).join("\n");
        for (let k = 8; k <= secret.length; k++) {
          assert.ok(!text.includes(secret.slice(0, k)), `${name}: the first ${k} characters of the secret: ${text}`);
        }
      });
    }
  });

  for (const name of ["otlpLogs", "elasticsearchBulk"] as const) {
    it(`${name} with maxInFlight 4 stores each event once or counts it failed, through faults, and the stats add up`, async () => {
      const receiver = await ApiReceiver.start(name === "otlpLogs" ? otlpApi() : bulkApi());
      receiver.plan = (i) =>
        i % 7 === 1
          ? { kind: "status", status: 503 }
          : i % 11 === 4
          ? { kind: "reset" }
          : i % 5 === 3
          ? (name === "otlpLogs" ? { kind: "partial", reject: 2 } : { kind: "items", retry: 3, fail: 2 })
          : i % 13 === 6
          ? { kind: "status", status: 429, headers: { "retry-after": "0" } }
          : undefined;
      try {
        const n = 600;
        const format = name === "otlpLogs" ? otlpLogs() : elasticsearchBulk();
        const destination = fetchDestination(receiver.url, fast({ format, maxInFlight: 4, batch: { maxEvents: 25 } }));
        const sink = new JsonLinesAuditSink(destination, { backpressure: "block", capacity: 64, onError: () => {} });
        const all = ids(n, `${name}-`);
        for (const id of all) {
          await sink.ready;
          sink.onCall(mkEvent({ kind: "success" }, id));
        }
        await sink.close();
        const refused = new Set(receiver.refused);
        assert.deepEqual(receiver.violations, []);
        assert.deepEqual(receiver.duplicates(), []);
        assert.equal(refused.size, receiver.refused.length, "refused once");
        for (const id of all) assert.ok(receiver.stored.has(id) !== refused.has(id), `${id}: stored xor refused`);
        const s = sink.stats();
        const d = destination.stats();
        assert.deepEqual([s.accepted, s.written, s.failed, s.queued], [n, receiver.stored.size, refused.size, 0]);
        assert.deepEqual([d.delivered, d.failed, d.pending, d.inFlight], [receiver.stored.size, refused.size, 0, 0]);
      } finally {
        await receiver.close();
      }
    });
  }
});
