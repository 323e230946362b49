import { describe, it } from "node:test";
import assert from "node:assert/strict";
import fc from "fast-check";
import { encodeCallEvent } from "../../../mod.ts";
import { fetchDestination } from "../../../src/destination/fetch_destination.ts";
import { mkEvent } from "../../_helpers/events.ts";
import { body, callIdsOf, fast, ids, linesOf, withReceiver } from "./_fetch_helpers.ts";

describe("fetchDestination batches (LineBatcher)", () => {
  it("fetchDestination sends a batch when it reaches maxBatchEvents", async () => {
    await withReceiver(undefined, async (receiver) => {
      const want = ids(12);
      const destination = fetchDestination(receiver.url, fast({ batch: { maxEvents: 5 } }));
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
      const destination = fetchDestination(receiver.url, fast({ batch: { maxBytes: maxBatchBytes } }));
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
      const destination = fetchDestination(receiver.url, fast({ batch: { maxEvents: 1000, maxDelayMs: 30 } }));
      const writer = destination.getWriter();
      await writer.write(body(linesOf(want)));
      await receiver.waitForRequests(1); // no flush, batch far from full: only the timer sends it
      assert.deepEqual(callIdsOf(receiver.requests[0]!.lines), want);
      await writer.close();
      assert.equal(receiver.requests.length, 1);
      assert.equal(destination.stats().delivered, 3);
    });
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
          const destination = fetchDestination(
            "http://127.0.0.1:9/x",
            fast({
              batch: { maxEvents: maxBatchEvents, maxBytes: maxBatchBytes },
              fetch: memoryFetch,
            }),
          );
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
});
