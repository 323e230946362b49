// Browser delivery with the page's globals faked on globalThis: the requests
// are real (a local receiver), the lifecycle events and beacons are not.
import { describe, it } from "node:test";
import assert from "node:assert/strict";
import { fetchDestination, type HttpDeliveryError, otlpLogs } from "../../../src/destination/fetch_destination.ts";
import { ApiReceiver, otlpApi } from "../../_helpers/api_receivers.ts";
import { inPage, onPageEvent, type PageEvent, pageHref, sendBeacon } from "../../../src/runtime/page.ts";
import { gate, type Reply } from "../../_helpers/http_receiver.ts";
import { body, callIdsOf, fast, ids, linesOf, withReceiver } from "./_fetch_helpers.ts";

/** A page's globals, faked: a document, window events, `navigator.sendBeacon` and `location`. */
interface FakePage {
  readonly document: EventTarget & { visibilityState: string };
  readonly window: EventTarget;
  /** Bodies given to sendBeacon. */
  readonly beacons: { url: string; text: string; type: string }[];
  /** What sendBeacon answers. */
  beaconAnswer: boolean;
  hide(): void;
  leave(): void;
}

const FAKED = ["document", "addEventListener", "removeEventListener", "navigator", "location"] as const;

/** Runs `run` with {@linkcode FakePage} globals, restoring the real ones afterwards. */
async function withFakePage(run: (page: FakePage) => void | Promise<void>): Promise<void> {
  const saved = FAKED.map((name) => [name, Object.getOwnPropertyDescriptor(globalThis, name)] as const);
  const window = new EventTarget();
  const page: FakePage = {
    document: Object.assign(new EventTarget(), { visibilityState: "visible" }),
    window,
    beacons: [],
    beaconAnswer: true,
    hide() {
      page.document.visibilityState = "hidden";
      page.document.dispatchEvent(new Event("visibilitychange"));
    },
    leave() {
      page.hide();
      window.dispatchEvent(new Event("pagehide"));
    },
  };
  const values: Record<(typeof FAKED)[number], unknown> = {
    document: page.document,
    addEventListener: window.addEventListener.bind(window),
    removeEventListener: window.removeEventListener.bind(window),
    navigator: {
      sendBeacon: (url: string, data: Blob) => {
        void data.text().then((text) => page.beacons.push({ url, text, type: data.type }));
        return page.beaconAnswer;
      },
    },
    location: { href: "http://127.0.0.1:9/page.html" },
  };
  for (const name of FAKED) {
    Object.defineProperty(globalThis, name, { value: values[name], configurable: true, writable: true });
  }
  try {
    await run(page);
  } finally {
    for (const [name, descriptor] of saved) {
      if (descriptor === undefined) delete (globalThis as Record<string, unknown>)[name];
      else Object.defineProperty(globalThis, name, descriptor);
    }
  }
}

/** A `fetch` that records whether each request went with keepalive. */
function keepaliveRecorder(): { fetch: typeof fetch; keepalive: boolean[] } {
  const keepalive: boolean[] = [];
  return {
    fetch: (input, init) => {
      keepalive.push(init?.keepalive === true);
      return fetch(input, init);
    },
    keepalive,
  };
}

/** Resolves once `check` holds, looking every few ms (at most 500 times). */
async function until(check: () => boolean): Promise<void> {
  for (let i = 0; i < 500 && !check(); i++) await new Promise((resolve) => setTimeout(resolve, 5));
  assert.ok(check(), "condition not reached");
}

describe("fetchDestination in a page (PageDelivery)", () => {
  it("fetchDestination sends pending lines with keepalive when the page is hidden", async () => {
    const g = globalThis as { document?: unknown };
    const had = "document" in g;
    const fakeDocument = Object.assign(new EventTarget(), { visibilityState: "visible" });
    g.document = fakeDocument;
    try {
      await withReceiver(undefined, async (receiver) => {
        const { fetch: recording, keepalive } = keepaliveRecorder();
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

  it("fetchDestination sends everything when the page is left: keepalive within the allowance, beacons beyond", async () => {
    await withFakePage(async (page) => {
      await withReceiver(undefined, async (receiver) => {
        const { fetch: recording, keepalive } = keepaliveRecorder();
        const destination = fetchDestination(receiver.url, fast({ fetch: recording }));
        const writer = destination.getWriter();
        const want = ids(600); // ~150 KB: 60 KiB batches, still waiting (no flush, a long delay)
        await writer.write(body(linesOf(want.slice(0, 200))));
        await writer.write(body(linesOf(want.slice(200))));
        page.leave();
        await until(() => destination.stats().inFlight === 0 && destination.stats().pending === 0);
        await until(() => page.beacons.length >= 1);
        const beaconed = page.beacons.flatMap((b) => b.text.split("\n").filter((line) => line !== ""));
        assert.ok(page.beacons.every((b) => b.url === receiver.url && b.type === "application/x-ndjson"));
        assert.ok(keepalive.length >= 1 && keepalive.every((k) => k), "the unload path uses keepalive requests");
        for (const request of receiver.requests) assert.ok(request.raw.length <= 60 * 1024);
        assert.deepEqual([...receiver.callIds(), ...callIdsOf(beaconed)].sort(), want);
        assert.equal(destination.stats().delivered, 600);
        await writer.close();
      });
    });
  });

  it("fetchDestination with a format sends everything when the page is left, each body within 60 KiB, beacons typed", async () => {
    await withFakePage(async (page) => {
      const receiver = await ApiReceiver.start(otlpApi());
      try {
        const { fetch: recording, keepalive } = keepaliveRecorder();
        const destination = fetchDestination(receiver.url, fast({ fetch: recording, format: otlpLogs() }));
        const writer = destination.getWriter();
        const want = ids(400); // ~100 KB of lines, twice that as OTLP: batches of 60 KiB of lines, split again
        await writer.write(body(linesOf(want)));
        page.leave();
        await until(() => destination.stats().inFlight === 0 && destination.stats().pending === 0);
        assert.deepEqual(receiver.violations, []);
        for (const request of receiver.http.requests) assert.ok(request.raw.length <= 60 * 1024);
        assert.ok(keepalive.length >= 1 && keepalive.every((k) => k), "the unload path uses keepalive requests");
        await until(() => page.beacons.length === 0 || page.beacons.every((b) => b.text !== ""));
        const beaconed = page.beacons.flatMap((b) => {
          assert.match(b.type, /^application\/json/); // Bun adds ";charset=utf-8"
          const request = JSON.parse(b.text) as {
            resourceLogs: { scopeLogs: { logRecords: { body: { stringValue: string } }[] }[] }[];
          };
          return request.resourceLogs[0]!.scopeLogs[0]!.logRecords.map((r) => r.body.stringValue);
        });
        assert.deepEqual([...receiver.stored.keys(), ...callIdsOf(beaconed)].sort(), want);
        assert.equal(destination.stats().delivered, 400);
        await writer.close();
      } finally {
        await receiver.close();
      }
    });
  });

  it("fetchDestination reports what the browser refuses to beacon when the page is left", async () => {
    await withFakePage(async (page) => {
      page.beaconAnswer = false;
      const errors: HttpDeliveryError[] = [];
      // No keepalive request gets through: every line goes to a beacon, which is refused.
      const refusing: typeof fetch = () => Promise.reject(new TypeError("keepalive quota exceeded"));
      const destination = fetchDestination(
        "http://127.0.0.1:9/ingest",
        fast({ fetch: refusing, onError: (e) => errors.push(e) }),
      );
      const writer = destination.getWriter();
      await writer.write(body(linesOf(ids(5))));
      page.window.dispatchEvent(new Event("pagehide")); // left at once (a hidden page would have sent them already)
      await until(() => destination.stats().failed === 5);
      assert.deepEqual(errors.map((e) => [e.events, e.message.endsWith("sendBeacon refused the request")]), [[
        5,
        true,
      ]]);
      assert.equal(destination.stats().delivered, 0);
    });
  });

  it("fetchDestination sends a batch in flight again on page leave, under its own key, and counts it once", async () => {
    await withFakePage(async (page) => {
      const hold = gate();
      const respond = async (r: { index: number }): Promise<Reply> => {
        if (r.index === 0) await hold.promise; // the plain request, which leaving the page would cancel
        return { status: 200 };
      };
      await withReceiver(respond, async (receiver) => {
        const destination = fetchDestination(receiver.url, fast());
        const writer = destination.getWriter();
        const want = ids(10);
        await writer.write(body(linesOf(want)));
        const flushed = destination.flush();
        await receiver.waitForRequests(1);
        page.leave();
        await receiver.waitForRequests(2);
        const [original, copy] = receiver.requests;
        assert.equal(copy!.headers["idempotency-key"], original!.headers["idempotency-key"]);
        assert.deepEqual(callIdsOf(copy!.lines), want);
        hold.open();
        await flushed;
        assert.equal(destination.stats().delivered, 10, "the copy is not counted");
        assert.deepEqual(receiver.callIds(), want, "a receiver that drops by key stores each line once");
        await writer.close();
      });
    });
  });

  it("fetchDestination caps batches at 60 KiB in a page and goes back to plain requests after pageshow", async () => {
    await withFakePage(async (page) => {
      await withReceiver(undefined, async (receiver) => {
        const { fetch: recording, keepalive } = keepaliveRecorder();
        const destination = fetchDestination(receiver.url, fast({ fetch: recording, batch: { maxBytes: 10_000_000 } }));
        const writer = destination.getWriter();
        await writer.write(body(linesOf(ids(400, "a")))); // ~100 KB: one full 60 KiB batch goes out at once
        await receiver.waitForRequests(1);
        assert.ok(receiver.requests[0]!.raw.length <= 60 * 1024);
        assert.equal(keepalive[0], true, "a full batch goes with keepalive, to outlive the page");
        await destination.flush();
        page.leave();
        page.window.dispatchEvent(new Event("pageshow"));
        page.document.visibilityState = "visible";
        page.document.dispatchEvent(new Event("visibilitychange"));
        await writer.write(body(linesOf(ids(3, "b"))));
        await destination.flush();
        assert.equal(keepalive.at(-1), false);
        assert.equal(destination.stats().delivered, 403);
        await writer.close();
      });
    });
  });
});

describe("runtime/page", () => {
  it("inPage, pageHref and sendBeacon find nothing outside a page", () => {
    assert.equal(inPage(), false);
    assert.equal(pageHref(), undefined);
    const navigator = Object.getOwnPropertyDescriptor(globalThis, "navigator");
    try {
      Object.defineProperty(globalThis, "navigator", { value: undefined, configurable: true, writable: true });
      assert.equal(sendBeacon("http://127.0.0.1:9/", new Uint8Array(1), "text/plain"), false);
    } finally {
      if (navigator === undefined) delete (globalThis as { navigator?: unknown }).navigator;
      else Object.defineProperty(globalThis, "navigator", navigator);
    }
  });

  it("onPageEvent maps visibilitychange, pagehide and pageshow, and stops listening", async () => {
    await withFakePage((page) => {
      assert.equal(inPage(), true);
      assert.equal(pageHref(), "http://127.0.0.1:9/page.html");
      const seen: PageEvent[] = [];
      const stop = onPageEvent((event) => {
        seen.push(event);
        throw new Error("a listener that throws does not reach the browser");
      });
      page.leave();
      page.window.dispatchEvent(new Event("pageshow"));
      page.document.visibilityState = "visible";
      page.document.dispatchEvent(new Event("visibilitychange"));
      stop();
      page.leave();
      assert.deepEqual(seen, ["hidden", "left", "shown", "visible"]);
    });
  });
});
