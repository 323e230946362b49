import { describe, it } from "node:test";
import assert from "node:assert/strict";
import { JsonLinesAuditSink } from "../../../mod.ts";
import { fetchDestination, type HttpDeliveryError } from "../../../src/destination/fetch_destination.ts";
import { mkEvent } from "../../_helpers/events.ts";
import { gate, type Reply } from "../../_helpers/http_receiver.ts";
import { body, fast, ids, linesOf, settleLoop, withReceiver, withStalledReceiver } from "./_fetch_helpers.ts";

describe("fetchDestination slots, flush and abort (Scheduler)", () => {
  it("fetchDestination flush resolves only after the server answered 2xx", async () => {
    const hold = gate();
    let answered = false;
    const respond = async (): Promise<Reply> => {
      await hold.promise;
      answered = true;
      return { status: 204 };
    };
    await withReceiver(respond, async (receiver) => {
      const destination = fetchDestination(receiver.url, fast());
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
    await withStalledReceiver(async (receiver, release) => {
      const destination = fetchDestination(receiver.url, fast({ batch: { maxEvents: 2 } }));
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
      release();
      await second;
      await writer.write(body(linesOf(all.slice(4))));
      await writer.close();
      assert.deepEqual(receiver.callIds(), all);
    });
  });

  it("fetchDestination pushes back through JsonLinesAuditSink in block mode against a stalled server", async () => {
    await withStalledReceiver(async (receiver, release) => {
      const destination = fetchDestination(receiver.url, fast({ batch: { maxEvents: 10 } }));
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
      release();
      await producer;
      await sink.close();
      assert.deepEqual(receiver.callIds(), want);
    });
  });

  it("fetchDestination reports buffered events when the stream is aborted", async () => {
    await withStalledReceiver(async (receiver, release) => {
      const errors: HttpDeliveryError[] = [];
      const destination = fetchDestination(receiver.url, fast({ onError: (e) => errors.push(e) }));
      const writer = destination.getWriter();
      await writer.write(body(linesOf(ids(4))));
      void destination.flush();
      await receiver.waitForRequests(1);
      await writer.abort(new Error("shutting down"));
      release();
      assert.equal(errors.reduce((n, e) => n + e.events, 0), 4);
      assert.equal(destination.stats().failed, 4);
    });
  });

  // Were abort() to wait for the held write, it would wait for the stalled server: the timeout fails it.
  it(
    "fetchDestination abort does not wait for a write held back by a stalled request",
    { timeout: 10_000 },
    async () => {
      await withStalledReceiver(async (receiver, release) => {
        const errors: HttpDeliveryError[] = [];
        const destination = fetchDestination(
          receiver.url,
          fast({
            batch: { maxEvents: 2 },
            onError: (e) => errors.push(e),
          }),
        );
        const writer = destination.getWriter();
        await writer.write(body(linesOf(ids(2))));
        await receiver.waitForRequests(1);
        const held = writer.write(body(linesOf(ids(2, "h")))).catch(() => {});
        await settleLoop();
        await writer.abort(new Error("shutting down"));
        await held;
        release();
        assert.equal(errors.reduce((n, e) => n + e.events, 0), 4);
        assert.equal(destination.stats().failed, 4);
        assert.equal(destination.stats().pending + destination.stats().inFlight, 0);
      });
    },
  );
});
