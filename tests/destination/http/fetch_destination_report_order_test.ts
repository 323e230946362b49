// The destination contract says a destination reports its lines in the order
// they were written (a sealed trail declares each loss in its line's segment
// by it): fetchDestination's lines settle out of order (item verdicts,
// parallel requests, a slow fallback), and its reports must not.
import { describe, it } from "node:test";
import assert from "node:assert/strict";
import { type DeliveryReport, elasticsearchBulk } from "../../../mod.ts";
import { fetchDestination } from "../../../src/destination/fetch_destination.ts";
import { tick } from "../../_helpers/events.ts";
import type { ReceivedRequest, Reply } from "../../_helpers/http_receiver.ts";
import { body, fast, ids, linesOf, withReceiver } from "./_fetch_helpers.ts";

type Entry = [fate: "delivered" | "rerouted" | "failed", lines: number];

/** A report that keeps what it is told, merging consecutive reports of one fate. */
function recorder(): { report: DeliveryReport; log: Entry[] } {
  const log: Entry[] = [];
  const add = (fate: Entry[0], lines: number): void => {
    const last = log[log.length - 1];
    if (last !== undefined && last[0] === fate) last[1] += lines;
    else log.push([fate, lines]);
  };
  return {
    report: {
      delivered: (n) => add("delivered", n),
      rerouted: (n) => add("rerouted", n),
      failed: (n) => add("failed", n),
      warn: () => {},
    },
    log,
  };
}

/** An Elasticsearch _bulk answer that refuses the documents whose call_id `refuse` names. */
function bulkRefusing(refuse: (callId: string) => boolean): (request: ReceivedRequest) => Reply {
  return (request) => {
    const docs = request.lines.filter((_, i) => i % 2 === 1).map((line) => JSON.parse(line).call_id as string);
    const items = docs.map((id) =>
      refuse(id)
        ? { create: { _id: id, status: 400, error: { type: "mapper_parsing_exception", reason: "refused" } } }
        : { create: { _id: id, status: 201 } }
    );
    return {
      status: 200,
      headers: { "content-type": "application/json" },
      body: JSON.stringify({ errors: true, items }),
    };
  };
}

/** A fallback that takes each chunk after `ms`, keeping its lines. */
function slowFallback(ms: number): { stream: WritableStream<Uint8Array>; lines: string[] } {
  const lines: string[] = [];
  const decoder = new TextDecoder();
  return {
    stream: new WritableStream<Uint8Array>({
      write: async (chunk) => {
        await tick(ms);
        lines.push(...decoder.decode(chunk).split("\n").filter((l) => l !== ""));
      },
    }),
    lines,
  };
}

describe("fetchDestination reports in stream order", () => {
  it("reports a _bulk response's refused items where they are among the batch's lines", async () => {
    const callIds = ids(10, "item-");
    await withReceiver(
      bulkRefusing((id) => id === callIds[2] || id === callIds[6] || id === callIds[7]),
      async (receiver) => {
        const destination = fetchDestination(receiver.url, fast({ format: elasticsearchBulk(), onError: () => {} }));
        const { report, log } = recorder();
        destination.attach(report);
        const writer = destination.getWriter();
        await writer.write(body(linesOf(callIds)));
        await destination.flush();
        assert.deepEqual(log, [["delivered", 2], ["failed", 1], ["delivered", 3], ["failed", 2], ["delivered", 2]]);
        const stats = destination.stats();
        assert.deepEqual([stats.delivered, stats.failed], [7, 3]);
        await writer.close();
      },
    );
  });

  it("reports a refused item rerouted to a slow fallback before the later items delivered", async () => {
    const callIds = ids(6, "reroute-");
    await withReceiver(bulkRefusing((id) => id === callIds[1]), async (receiver) => {
      const fallback = slowFallback(40);
      const destination = fetchDestination(
        receiver.url,
        fast({ format: elasticsearchBulk(), fallback: fallback.stream, onError: () => {} }),
      );
      const { report, log } = recorder();
      destination.attach(report);
      const writer = destination.getWriter();
      await writer.write(body(linesOf(callIds)));
      await destination.flush();
      assert.deepEqual(log, [["delivered", 1], ["rerouted", 1], ["delivered", 4]]);
      assert.deepEqual(fallback.lines.map((l) => JSON.parse(l).call_id), [callIds[1]]);
      await writer.close();
    });
  });

  it("with maxInFlight 4, reports later batches only once a slow earlier one failed", async () => {
    const callIds = ids(6, "flight-");
    const first = callIds[0]!;
    await withReceiver(async (request) => {
      if (!request.text.includes(first)) return { status: 200 };
      await tick(80); // the later batches are answered first
      return { status: 400, body: "refused" };
    }, async (receiver) => {
      const destination = fetchDestination(
        receiver.url,
        fast({ maxInFlight: 4, batch: { maxEvents: 2 }, onError: () => {} }),
      );
      const { report, log } = recorder();
      destination.attach(report);
      const writer = destination.getWriter();
      await writer.write(body(linesOf(callIds)));
      await destination.flush();
      assert.deepEqual(log, [["failed", 2], ["delivered", 4]]);
      const stats = destination.stats();
      assert.deepEqual([stats.delivered, stats.failed, stats.inFlight, stats.pending], [4, 2, 0, 0]);
      assert.equal(receiver.requests.length, 3);
      await writer.close();
    });
  });
});
