// The bytes fetchDestination hands to code the user controls (its `fetch`
// option, its `fallback` stream) are that code's to keep, zero or transfer:
// what the destination still sends, retries or reroutes afterwards must be
// the lines it was given, byte for byte.
import { describe, it } from "node:test";
import assert from "node:assert/strict";
import {
  elasticsearchBulk,
  fetchDestination,
  type FetchDestinationOptions,
} from "../../../src/destination/fetch_destination.ts";
import { body, callIdsOf, ids, linesOf } from "./_fetch_helpers.ts";

const decoder = new TextDecoder();

/** What a stream or a fetch may do with bytes it was given, once it read them. */
const SPOILERS: [string, (bytes: Uint8Array) => void][] = [
  ["reuses the buffer of", (bytes) => void new Uint8Array(bytes.buffer).fill(0)],
  ["transfers", (bytes) => void structuredClone(bytes, { transfer: [bytes.buffer as ArrayBuffer] })],
];

/** The call_ids in a body (none in an empty or zeroed one; a _bulk body's action lines have none). */
function idsOf(text: string): string[] {
  return callIdsOf(text.split("\n").filter((line) => line.startsWith("{"))).filter((id) => id !== undefined);
}

/** Writes `lines` in one chunk, flushes and closes. */
async function send(options: FetchDestinationOptions, callIds: readonly string[]) {
  const destination = fetchDestination("http://127.0.0.1:9/ingest", {
    retry: { delayMs: 1, deadlineMs: 20_000 },
    batch: { maxDelayMs: 60_000 },
    onError: () => {},
    ...options,
  });
  const writer = destination.getWriter();
  await writer.write(body(linesOf(callIds)));
  await destination.flush();
  await writer.close();
  return destination.stats();
}

/** A fallback that notes the ids it is given, then spoils the chunk as `spoil` does. */
function spoilingFallback(rerouted: string[], spoil: (chunk: Uint8Array) => void): WritableStream<Uint8Array> {
  return new WritableStream<Uint8Array>({
    write(chunk) {
      rerouted.push(...idsOf(decoder.decode(chunk)));
      spoil(chunk);
    },
  });
}

describe("fetchDestination and the bytes it hands to user code", () => {
  for (const [what, spoil] of SPOILERS) {
    it(`sends the second half of a 413 split as written when the fallback ${what} the first half`, async () => {
      const callIds = ids(4);
      const sent: string[][] = [];
      const rerouted: string[] = [];
      const stats = await send({
        // The whole batch is too large; its first half is refused for good, its second half taken.
        fetch: (_input, init) => {
          const got = idsOf(decoder.decode(init!.body as Uint8Array));
          sent.push(got);
          const status = got.length > 2 ? 413 : got.includes(callIds[0]!) ? 400 : 200;
          return Promise.resolve(new Response(null, { status }));
        },
        fallback: spoilingFallback(rerouted, spoil),
      }, callIds);
      assert.deepEqual(rerouted, callIds.slice(0, 2));
      assert.deepEqual(sent, [callIds, callIds.slice(0, 2), callIds.slice(2)]);
      assert.deepEqual([stats.delivered, stats.rerouted, stats.failed], [2, 2, 0]);
    });

    for (const gzip of [false, true]) {
      it(`retries with the lines as written when the fetch ${what} the body it was given${gzip ? " (gzip)" : ""}`, async () => {
        const callIds = ids(3);
        const bodies: string[] = [];
        let requests = 0;
        const stats = await send({
          gzip,
          fetch: async (_input, init) => {
            const bytes = init!.body as Uint8Array;
            const answer = new Response(bytes.slice());
            const plain = gzip ? answer.body!.pipeThrough(new DecompressionStream("gzip")) : answer.body!;
            bodies.push(await new Response(plain).text());
            spoil(bytes);
            return new Response(null, { status: requests++ === 0 ? 503 : 200 });
          },
        }, callIds);
        assert.equal(bodies.length, 2);
        assert.deepEqual(bodies.map(idsOf), [callIds, callIds]);
        assert.deepEqual([stats.delivered, stats.failed], [3, 0]);
      });
    }

    it(`reroutes an item refused on its retry as written when the fallback ${what} an item refused before`, async () => {
      const callIds = ids(4);
      const rerouted: string[] = [];
      let requests = 0;
      const stats = await send({
        format: elasticsearchBulk(),
        // First request: item 0 refused for good, item 1 to retry, the rest taken. The retry: item 1 refused.
        fetch: (_input, init) => {
          const docs = idsOf(decoder.decode(init!.body as Uint8Array));
          const first = requests++ === 0;
          const statusOf = (id: string): number =>
            id === callIds[0] ? 400 : id === callIds[1] && first ? 429 : id === callIds[1] ? 400 : 201;
          const items = docs.map((id) => ({ create: { _id: id, status: statusOf(id) } }));
          const answer = JSON.stringify({ errors: true, items });
          return Promise.resolve(new Response(answer, { headers: { "content-type": "application/json" } }));
        },
        fallback: spoilingFallback(rerouted, spoil),
      }, callIds);
      assert.deepEqual(rerouted, callIds.slice(0, 2));
      assert.deepEqual([stats.delivered, stats.rerouted, stats.failed], [2, 2, 0]);
    });
  }
});
