// fetchDestination in a real browser: Debian's Chromium, driven by
// playwright-core, loads a page that imports the bundled module from a local
// server, which also takes the NDJSON POSTs. Needs `apt-get install -y chromium`.
import { after, before, describe, it } from "node:test";
import assert from "node:assert/strict";
import { join } from "node:path";
import { type BrowserContext, chromium, type Page } from "playwright-core";
import {
  bundleModule,
  findExecutable,
  makeTempDir,
  NdjsonReceiver,
  removeDir,
  REPO_ROOT,
  skipUnless,
  waitFor,
} from "../_helpers/e2e_harness.ts";
import { ApiReceiver, otlpApi } from "../_helpers/api_receivers.ts";
import type * as AuditModule from "./_fixtures/browser_entry.ts";

const CHROMIUM = findExecutable("chromium") ?? findExecutable("chromium-browser");
const SKIP = skipUnless(CHROMIUM, "chromium not installed: apt-get install -y chromium");

/** Arrival checks; a page never needs this long on 127.0.0.1. */
const ARRIVAL_TIMEOUT_MS = 15_000;

const PAGE = `<!doctype html>
<meta charset="utf-8">
<title>audit e2e</title>
<script type="module">
  import * as audit from "/audit.js";
  globalThis.lifecycle = [];
  addEventListener("pageshow", (event) => lifecycle.push("pageshow:" + event.persisted));
  addEventListener("pagehide", (event) => lifecycle.push("pagehide:" + event.persisted));
  globalThis.audit = audit;
</script>`;

/** What the page's globals hold, for the functions run with page.evaluate. */
interface PageGlobals {
  audit: typeof AuditModule;
  sink: AuditModule.JsonLinesAuditSink;
  destination: ReturnType<typeof AuditModule.fetchDestination>;
  lifecycle: string[];
  visibility: string;
}

function ids(prefix: string, count: number): string[] {
  return Array.from({ length: count }, (_, i) => `${prefix}-${i}`);
}

/** Creates the page's sink: lines wait in the destination until a flush or the page is hidden. */
function setUpSink(page: Page, options: { gzip?: boolean } = {}): Promise<void> {
  return page.evaluate(({ gzip }) => {
    const g = globalThis as unknown as PageGlobals;
    g.destination = g.audit.fetchDestination(`${location.origin}/ingest`, { batch: { maxDelayMs: 600_000 }, gzip });
    g.sink = new g.audit.JsonLinesAuditSink(g.destination, { backpressure: "block" });
  }, { gzip: options.gzip ?? false });
}

/** Waits until the page's destination has no request in flight (the browser has seen every answer). */
function settled(page: Page): Promise<unknown> {
  return page.waitForFunction(() => (globalThis as unknown as PageGlobals).destination.stats().inFlight === 0);
}

/**
 * Records `count` events with call_ids `${prefix}-${from}`… in the page, and
 * returns the destination's stats once the sink has handed them over.
 */
function record(page: Page, prefix: string, count: number): Promise<{ pending: number; requests: number }> {
  return page.evaluate(async ({ prefix, count }) => {
    const g = globalThis as unknown as PageGlobals;
    for (let i = 0; i < count; i++) {
      await g.sink.ready;
      g.sink.onCall(g.audit.createCallEvent({
        call_id: `${prefix}-${i}`,
        tool_id: "ref:echo.say",
        caller_id: "browser-tab",
        granted_capabilities: ["read", "write"],
        duration_ms: i,
        outcome: i % 3 === 0
          ? { kind: "execution_failed", code: "FS_NOT_FOUND", retryable: false }
          : { kind: "success" },
        tier: "warm",
      }));
    }
    await new Promise((resolve) => setTimeout(resolve, 0)); // the sink writes out in microtasks
    const stats = g.destination.stats();
    return { pending: stats.pending, requests: stats.requests };
  }, { prefix, count });
}

/** Asserts that `expected` arrived exactly once each, in whole NDJSON lines. */
function assertExactlyOnce(receiver: NdjsonReceiver, expected: readonly string[]): void {
  assert.deepEqual(receiver.tornBodies, [], "a request carried a partial line");
  const got = receiver.callIds();
  assert.deepEqual([...new Set(got)].sort(), [...expected].sort(), receiver.progress(expected));
  assert.equal(got.length, expected.length, "some events arrived twice");
  for (const request of receiver.requests) {
    // sendBeacon sends the Blob's type; keepalive and plain fetch send the header.
    assert.match(String(request.headers["content-type"]), /^application\/x-ndjson/);
  }
}

describe("fetchDestination in Chromium", () => {
  let context: BrowserContext | undefined;
  let profileDir: string | undefined;
  let bundle = "";
  const receivers: NdjsonReceiver[] = [];

  before(async () => {
    if (SKIP) return;
    bundle = await bundleModule(join(REPO_ROOT, "tests/e2e/_fixtures/browser_entry.ts"), { platform: "browser" });
    profileDir = makeTempDir("chromium");
    context = await chromium.launchPersistentContext(profileDir, {
      executablePath: CHROMIUM!,
      headless: true,
      timeout: 30_000,
      // Playwright turns the back/forward cache off by default; the hide/show test needs it.
      ignoreDefaultArgs: ["--disable-back-forward-cache"],
      args: [
        "--no-sandbox",
        "--disable-gpu",
        "--disable-quic",
        "--no-first-run",
        "--disable-background-networking",
        "--disable-component-update",
        "--disable-sync",
      ],
    });
    context.setDefaultTimeout(15_000);
  });

  after(async () => {
    await context?.close().catch(() => {});
    await Promise.all(receivers.map((receiver) => receiver.close()));
    removeDir(profileDir);
  });

  /** A fresh origin (receiver) and a page loaded from it with the module imported. */
  async function openPage(): Promise<{ page: Page; receiver: NdjsonReceiver }> {
    const receiver = await NdjsonReceiver.start({
      "/": { type: "text/html; charset=utf-8", body: PAGE },
      "/audit.js": { type: "text/javascript", body: bundle },
      "/other": { type: "text/html; charset=utf-8", body: "<!doctype html><title>other</title><p>elsewhere" },
    });
    receivers.push(receiver);
    const page = await context!.newPage();
    page.on("pageerror", (error) => console.error("page error:", error));
    page.on("console", (message) => {
      if (message.text().includes("@atd/audit")) console.error("page console:", message.text().slice(0, 300));
    });
    await page.goto(`${receiver.origin}/`);
    await page.waitForFunction(() => (globalThis as unknown as Partial<PageGlobals>).audit !== undefined);
    return { page, receiver };
  }

  it("delivers every pending event when the page navigates away", { skip: SKIP }, async () => {
    const { page, receiver } = await openPage();
    await setUpSink(page);
    // About 57 KB of lines, all still waiting when the page leaves (maxDelayMs is long and
    // the 60 KiB batch cap is not reached): they must go out on pagehide, in keepalive
    // requests. More than the browser's 64 KiB keepalive quota cannot be promised at
    // unload (see README), so the test stays under it.
    const stats = await record(page, "leave", 200);
    assert.equal(stats.pending, 200, "every line should still be waiting for the unload path");
    assert.equal(receiver.lines.length, 0, "nothing should have been sent before leaving");

    await page.goto(`${receiver.origin}/other`);

    const expected = ids("leave", 200);
    await waitFor("every event after navigating away", () => receiver.hasAll(expected), {
      timeoutMs: ARRIVAL_TIMEOUT_MS,
      detail: () => receiver.progress(expected),
    });
    assertExactlyOnce(receiver, expected);
    for (const request of receiver.requests) {
      assert.ok(Buffer.byteLength(request.body) <= 60 * 1024, "an unload request was over 60 KiB");
    }
    await page.close();
  });

  it("keeps logging after the page is hidden and restored from the back/forward cache", { skip: SKIP }, async () => {
    const { page, receiver } = await openPage();
    await setUpSink(page);
    await record(page, "before", 100);

    await page.goto(`${receiver.origin}/other`); // pagehide (persisted), visibilitychange → hidden
    const before = ids("before", 100);
    await waitFor("the events recorded before hiding", () => receiver.hasAll(before), {
      timeoutMs: ARRIVAL_TIMEOUT_MS,
      detail: () => receiver.progress(before),
    });

    await page.goBack({ waitUntil: "commit" });
    await page.waitForFunction(() => (globalThis as unknown as PageGlobals).lifecycle?.includes("pageshow:true"));

    // The same sink, after the restore: an explicit flush delivers…
    await record(page, "after", 100);
    await page.evaluate(() => (globalThis as unknown as PageGlobals).sink.flush());
    const after = ids("after", 100);
    assert.ok(receiver.hasAll(after), `flush() resolved before delivery: ${receiver.progress(after)}`);

    // …and so does hiding the page again.
    await record(page, "again", 100);
    await page.goto(`${receiver.origin}/other`);
    const again = ids("again", 100);
    await waitFor("the events recorded after the restore", () => receiver.hasAll(again), {
      timeoutMs: ARRIVAL_TIMEOUT_MS,
      detail: () => receiver.progress(again),
    });
    assertExactlyOnce(receiver, [...before, ...after, ...again]);
    await page.close();
  });

  it("sends pending events on visibilitychange to hidden alone, and again after visible", { skip: SKIP }, async () => {
    // Headless Chromium never hides a page that stays loaded (a tab switch on
    // a phone does), so the document's visibility is overridden here; the
    // keepalive requests themselves are real.
    const { page, receiver } = await openPage();
    await setUpSink(page);
    const setVisibility = (state: "hidden" | "visible") =>
      page.evaluate((state) => {
        const g = globalThis as unknown as PageGlobals;
        g.visibility = state;
        Object.defineProperty(document, "visibilityState", { configurable: true, get: () => g.visibility });
        document.dispatchEvent(new Event("visibilitychange"));
      }, state);

    await record(page, "tab1", 200);
    await setVisibility("hidden");
    const first = ids("tab1", 200);
    await waitFor("the events pending when the tab was hidden", () => receiver.hasAll(first), {
      timeoutMs: ARRIVAL_TIMEOUT_MS,
      detail: () => receiver.progress(first),
    });
    // Chromium counts a keepalive request against its 64 KiB quota until the
    // page has the response, not merely until the server has the body.
    await settled(page);

    await setVisibility("visible");
    await record(page, "tab2", 200);
    await setVisibility("hidden");
    const second = ids("tab2", 200);
    await waitFor("the events recorded after the tab was shown", () => receiver.hasAll(second), {
      timeoutMs: ARRIVAL_TIMEOUT_MS,
      detail: () => receiver.progress(second),
    });
    assertExactlyOnce(receiver, [...first, ...second]);
    await page.close();
  });

  it(
    "loads mod.ts, reads lines back with readCallEvents and writes stdout() to the console",
    { skip: SKIP },
    async () => {
      const { page } = await openPage();
      const result = await page.evaluate(async () => {
        const { audit } = globalThis as unknown as PageGlobals;
        const event = (i: number) =>
          audit.createCallEvent({
            call_id: `read-${i}`,
            tool_id: "t",
            duration_ms: i,
            outcome: { kind: "success" },
            tier: "warm",
          });
        const lines = Array.from({ length: 1000 }, (_, i) => audit.encodeCallEvent(event(i)));
        const invalid: string[] = [];
        const ids: string[] = [];
        const blob = new Blob([lines.join("\r\n"), "\r\n", "not json\n", '{"torn":']);
        for await (const e of audit.readCallEvents(blob, { onInvalid: (error) => invalid.push(error.kind) })) {
          ids.push(e.call_id);
        }
        const summary = await audit.summarizeCallEvents(audit.readCallEvents(new Blob([lines.join("\n") + "\n"])));
        const logged: string[] = [];
        const log = console.log;
        console.log = (...args: unknown[]) => void logged.push(args.join(" "));
        try {
          const sink = audit.JsonLinesAuditSink.stdout();
          sink.onCall(event(7));
          await sink.close();
        } finally {
          console.log = log;
        }
        return { count: ids.length, first: ids[0], last: ids.at(-1), invalid, total: summary.total, logged };
      });
      assert.equal(result.count, 1000);
      assert.equal(result.first, "read-0");
      assert.equal(result.last, "read-999");
      assert.deepEqual(result.invalid, ["invalid", "torn"]);
      assert.equal(result.total, 1000);
      assert.equal(result.logged.length, 1);
      assert.equal(JSON.parse(result.logged[0]!).call_id, "read-7");
      await page.close();
    },
  );

  it("readCallEvents has a stream start reading its next chunk before it parses this one (Chromium's streams)", {
    skip: SKIP,
  }, async () => {
    // As tests/read/read_call_events_test.ts checks on Deno, Bun and Node: each chunk holds a line that is not JSON,
    // seen by onInvalid while that chunk is parsed; each pull (through an async generator) notes how many it had seen.
    const { page } = await openPage();
    const pulls = await page.evaluate(async () => {
      const { audit } = globalThis as unknown as PageGlobals;
      const encoder = new TextEncoder();
      const chunk = (i: number) =>
        encoder.encode(
          `not json ${i}\n${
            audit.encodeCallEvent(
              audit.createCallEvent({
                call_id: `c${i}`,
                tool_id: "t",
                duration_ms: i,
                outcome: { kind: "success" },
                tier: "warm",
              }),
            )
          }\n`,
        );
      async function* file(): AsyncGenerator<Uint8Array> {
        for (let i = 1; i <= 4; i++) yield await Promise.resolve(chunk(i));
      }
      const chunks = file();
      let invalid = 0;
      const pulls: number[] = [];
      const source = new ReadableStream<Uint8Array>({
        async pull(controller) {
          pulls.push(invalid);
          const next = await chunks.next();
          if (next.done) controller.close();
          else controller.enqueue(next.value);
        },
      }, { highWaterMark: 0 });
      for await (const _ of audit.readCallEvents(source, { onInvalid: () => void invalid++ }));
      return pulls;
    });
    assert.deepEqual(pulls, [0, 0, 1, 2, 3]);
    await page.close();
  });

  for (const gzip of [false, true]) {
    it(`sink.flush() resolves after the endpoint has every event${gzip ? " (gzip)" : ""}`, { skip: SKIP }, async () => {
      const { page, receiver } = await openPage();
      await setUpSink(page, { gzip });
      await record(page, "flush", 300);
      const delivered = await page.evaluate(async () => {
        const g = globalThis as unknown as PageGlobals;
        await g.sink.flush();
        return g.destination.stats().delivered;
      });
      const expected = ids("flush", 300);
      // No waiting here: flush() itself promises the 2xx.
      assertExactlyOnce(receiver, expected);
      assert.equal(delivered, 300);
      for (const request of receiver.requests) {
        assert.equal(request.headers["content-encoding"], gzip ? "gzip" : undefined);
        assert.ok(request.headers["idempotency-key"], "a request had no Idempotency-Key");
      }
      await page.close();
    });
  }
  it(
    "delivers OTLP/HTTP JSON logs a collector would accept, on flush and when the page is left",
    { skip: SKIP },
    async () => {
      // The page and the OTLP endpoint share an origin, as behind a collector's reverse proxy.
      const receiver = await ApiReceiver.start(otlpApi(), {
        "/": { type: "text/html; charset=utf-8", body: PAGE },
        "/audit.js": { type: "text/javascript", body: bundle },
        "/other": { type: "text/html; charset=utf-8", body: "<!doctype html><title>other</title><p>elsewhere" },
      });
      try {
        const page = await context!.newPage();
        page.on("pageerror", (error) => console.error("page error:", error));
        await page.goto(`${receiver.origin}/`);
        await page.waitForFunction(() => (globalThis as unknown as Partial<PageGlobals>).audit !== undefined);
        await page.evaluate(() => {
          const g = globalThis as unknown as PageGlobals;
          g.destination = g.audit.fetchDestination(`${location.origin}/v1/logs`, {
            format: g.audit.otlpLogs({ serviceName: "browser-tab" }),
            batch: { maxDelayMs: 600_000 },
            gzip: true,
          });
          g.sink = new g.audit.JsonLinesAuditSink(g.destination, { backpressure: "block" });
        });
        await record(page, "otlp", 300);
        const delivered = await page.evaluate(async () => {
          const g = globalThis as unknown as PageGlobals;
          await g.sink.flush();
          return g.destination.stats().delivered;
        });
        const flushed = ids("otlp", 300);
        assert.equal(delivered, 300);
        assert.ok(receiver.hasAll(flushed), "flush() resolved before the collector had every record");

        // Recorded, then the page is left before any flush: keepalive requests of OTLP bodies. An OTLP
        // record is about 1.3 KB with its attributes, and the browser's 64 KiB allowance counts bodies.
        const waiting = await record(page, "leave", 40);
        assert.equal(waiting.pending, 40, "every line should still be waiting for the unload path");
        await page.goto(`${receiver.origin}/other`);
        const left = ids("leave", 40);
        await waitFor("every OTLP record after leaving the page", () => receiver.hasAll(left), {
          timeoutMs: ARRIVAL_TIMEOUT_MS,
          detail: () => `${receiver.stored.size} stored`,
        });
        assert.deepEqual(receiver.violations, [], "every request was a valid ExportLogsServiceRequest");
        assert.deepEqual(receiver.duplicates(), []);
        assert.equal(receiver.stored.size, 340);
        const posts = receiver.http.requests.filter((r) => r.method === "POST");
        assert.ok(posts.every((r) => /^application\/json/.test(String(r.headers["content-type"]))));
        assert.ok(posts.some((r) => r.headers["content-encoding"] === "gzip"), "the flushed batch went gzipped");
        await page.close();
      } finally {
        await receiver.close();
      }
    },
  );
});
