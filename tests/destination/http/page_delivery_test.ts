import { describe, it } from "node:test";
import assert from "node:assert/strict";
import { fetchDestination } from "../../../src/destination/fetch_destination.ts";
import { body, fast, ids, linesOf, withReceiver } from "./_fetch_helpers.ts";

describe("fetchDestination in a page (PageDelivery)", () => {
  it("fetchDestination sends pending lines with keepalive when the page is hidden", async () => {
    const g = globalThis as { document?: unknown };
    const had = "document" in g;
    const fakeDocument = Object.assign(new EventTarget(), { visibilityState: "visible" });
    g.document = fakeDocument;
    try {
      await withReceiver(undefined, async (receiver) => {
        const keepalive: boolean[] = [];
        const recording: typeof fetch = (input, init) => {
          keepalive.push(init?.keepalive === true);
          return fetch(input, init);
        };
        const destination = fetchDestination(receiver.url, fast({ fetch: recording, unloadDelivery: true }));
        const writer = destination.getWriter();
        const first = ids(300, "a"); // ~75 KB: two keepalive requests of ≤ 60 KiB
        await writer.write(body(linesOf(first)));
        fakeDocument.visibilityState = "hidden";
        fakeDocument.dispatchEvent(new Event("visibilitychange"));
        await receiver.waitForRequests(2);
        assert.deepEqual(keepalive, [true, true]);
        for (const request of receiver.requests) assert.ok(request.raw.length <= 60 * 1024);
        await destination.flush();
        assert.deepEqual(receiver.callIds(), first);
        // Shown again: logging goes on as before.
        fakeDocument.visibilityState = "visible";
        fakeDocument.dispatchEvent(new Event("visibilitychange"));
        const second = ids(3, "b");
        await writer.write(body(linesOf(second)));
        await writer.close();
        assert.equal(keepalive.at(-1), false);
        assert.deepEqual(receiver.callIds(), [...first, ...second]);
        assert.equal(destination.stats().delivered, 303);
      });
    } finally {
      if (had) g.document = undefined;
      else delete g.document;
    }
  });
});
