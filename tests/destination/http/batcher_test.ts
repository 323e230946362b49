import { describe, it } from "node:test";
import assert from "node:assert/strict";
import fc from "fast-check";
import { encodeCallEvent } from "../../../mod.ts";
import { fetchDestination } from "../../../src/destination/fetch_destination.ts";
import { chunkLines, halves, LineBatcher, type SealedBatch } from "../../../src/destination/http/_batcher.ts";
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

const enc = new TextEncoder();
const dec = new TextDecoder();

/** A batcher that records what it seals, as text, and how often its timer fired. */
function recorder(limits: { maxEvents?: number; maxBytes?: number; maxDelayMs?: number } = {}) {
  const sealed: { text: string; events: number; bytes: number; full: boolean }[] = [];
  let timers = 0;
  const batcher = new LineBatcher(
    { maxEvents: 1000, maxBytes: 1_000_000, maxDelayMs: 60_000, ...limits },
    (batch: SealedBatch) => {
      const text = batch.parts.map((p) => dec.decode(p)).join("");
      sealed.push({ text, events: batch.events, bytes: batch.bytes, full: batch.full });
    },
    () => void timers++,
  );
  return { batcher, sealed, timers: () => timers };
}

describe("LineBatcher", () => {
  it("LineBatcher seals a batch at maxEvents, marked full", () => {
    const { batcher, sealed } = recorder({ maxEvents: 2 });
    batcher.push(enc.encode("a\nb\nc\n"));
    assert.deepEqual(sealed, [{ text: "a\nb\n", events: 2, bytes: 4, full: true }]);
    assert.equal(batcher.events, 1);
    batcher.seal();
    batcher.stop();
    assert.deepEqual(sealed.at(-1), { text: "c\n", events: 1, bytes: 2, full: false });
  });

  it("LineBatcher seals before a line that would pass maxBytes, and sends an over-long line alone", () => {
    const { batcher, sealed } = recorder({ maxBytes: 6 });
    batcher.push(enc.encode("aa\nbb\ncc\nthis line is long\ndd\n"));
    batcher.seal();
    batcher.stop();
    assert.deepEqual(sealed.map((b) => b.text), ["aa\nbb\n", "cc\n", "this line is long\n", "dd\n"]);
    assert.deepEqual(sealed.map((b) => b.full), [true, true, true, false]);
  });

  it("LineBatcher joins a line split across chunks, at any byte", () => {
    const text = 'first line\nsécond\n{"x":1}\r\n';
    const bytes = enc.encode(text);
    for (let cut = 0; cut <= bytes.length; cut++) {
      for (let cut2 = cut; cut2 <= bytes.length; cut2 += 3) {
        const { batcher, sealed } = recorder();
        batcher.push(bytes.slice(0, cut));
        batcher.push(bytes.slice(cut, cut2));
        batcher.push(bytes.slice(cut2));
        batcher.seal();
        batcher.stop();
        assert.equal(sealed.map((b) => b.text).join(""), text, `cuts at ${cut} and ${cut2}`);
        assert.equal(sealed.reduce((n, b) => n + b.events, 0), 3);
      }
    }
  });

  it('LineBatcher keeps a last line without "\\n" until endTail ends it', () => {
    const { batcher, sealed } = recorder();
    batcher.push(enc.encode("whole\ntorn"));
    batcher.seal();
    assert.deepEqual(sealed.map((b) => b.text), ["whole\n"]);
    batcher.endTail();
    batcher.seal();
    batcher.stop();
    assert.deepEqual(sealed.map((b) => b.text), ["whole\n", "torn\n"]);
  });

  it("LineBatcher seals on its timer and says so; seal() clears the timer", async () => {
    const { batcher, sealed, timers } = recorder({ maxDelayMs: 1 });
    batcher.push(enc.encode("x\n"));
    for (let i = 0; i < 200 && sealed.length === 0; i++) await new Promise((resolve) => setTimeout(resolve, 5));
    assert.deepEqual(sealed.map((b) => [b.text, b.full]), [["x\n", false]]);
    assert.equal(timers(), 1);
    const second = recorder({ maxDelayMs: 1 });
    second.batcher.push(enc.encode("y\n"));
    second.batcher.seal();
    await new Promise((resolve) => setTimeout(resolve, 20));
    assert.equal(second.timers(), 0, "a sealed batch's timer does not fire");
    assert.equal(second.sealed.length, 1);
    second.batcher.seal();
    assert.equal(second.sealed.length, 1, "sealing nothing seals nothing");
  });
});

describe("chunkLines and halves", () => {
  it("chunkLines cuts whole lines into pieces of at most maxBytes (a longer line alone)", () => {
    const body = enc.encode("aa\nbb\ncccccc\nd\n");
    assert.deepEqual(chunkLines(body, 6).map((c) => [dec.decode(c.body), c.events]), [
      ["aa\nbb\n", 2],
      ["cccccc\n", 1],
      ["d\n", 1],
    ]);
  });

  it("halves splits by lines, the first half the smaller", () => {
    const [first, second] = halves(enc.encode("a\nb\nc\n"), 3);
    assert.deepEqual([dec.decode(first.body), first.events, dec.decode(second.body), second.events], [
      "a\n",
      1,
      "b\nc\n",
      2,
    ]);
  });
});
