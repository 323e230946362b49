// The destination contract, end to end: every line reported exactly once
// (delivered, rerouted, failed) to a real JsonLinesAuditSink, flush deadlines,
// abort, the byte fallback, and who reports failures.
import { describe, it } from "node:test";
import assert from "node:assert/strict";
import { readFileSync, rmSync } from "node:fs";
import { join } from "node:path";
import fc from "fast-check";
import {
  AuditLossError,
  type CallEvent,
  type DeliveryReport,
  encodeCallEvent,
  JsonLinesAuditSink,
  parseCallEvent,
} from "../../mod.ts";
import { fetchDestination, HttpDeliveryError } from "../../src/destination/fetch_destination.ts";
import { fileDestination } from "../../src/destination/file_destination.ts";
import { MemoryDestination, mkEvent, unhandledRejections } from "../_helpers/events.ts";
import { gate, HttpReceiver, type Reply } from "../_helpers/http_receiver.ts";
import {
  assertDuplicatesShareKey,
  body,
  fast,
  ids,
  linesOf,
  settleLoop,
  withReceiver,
  withStalledReceiver,
} from "./http/_fetch_helpers.ts";
import { tempDir } from "../_helpers/temp_dir.ts";

/** A report that counts what it is told. */
function countingReport(): DeliveryReport & {
  delivered_: number;
  rerouted_: number;
  failed_: number;
  errors: unknown[];
} {
  const report = {
    delivered_: 0,
    rerouted_: 0,
    failed_: 0,
    errors: [] as unknown[],
    delivered: (n: number) => void (report.delivered_ += n),
    rerouted: (n: number) => void (report.rerouted_ += n),
    failed: (n: number, error: unknown) => {
      report.failed_ += n;
      report.errors.push(error);
    },
    warn: (error: unknown) => void report.errors.push(error),
  };
  return report;
}

/** Captures console.error while `run` runs. */
async function captureConsole(run: () => Promise<void>): Promise<unknown[][]> {
  const printed: unknown[][] = [];
  const original = console.error;
  console.error = (...args: unknown[]) => void printed.push(args);
  try {
    await run();
  } finally {
    console.error = original;
  }
  return printed;
}

function events(n: number, prefix = "e"): CallEvent[] {
  return ids(n, prefix).map((id) => mkEvent({ kind: "success" }, id));
}

describe("fetchDestination", () => {
  it("fetchDestination hands undeliverable events to the fallback", async () => {
    await withReceiver(() => ({ status: 400 }), async (receiver) => {
      const spill = new MemoryDestination();
      const errors: HttpDeliveryError[] = [];
      const want = ids(6);
      const lines = linesOf(want);
      const destination = fetchDestination(
        receiver.url,
        fast({ fallback: spill.stream, onError: (e) => errors.push(e) }),
      );
      const writer = destination.getWriter();
      await writer.write(body(lines));
      await destination.flush();
      await writer.close();
      const caught = spill.lines().map((line) => parseCallEvent(line));
      assert.deepEqual(caught.map((e) => e.call_id), want);
      assert.deepEqual(caught[0], mkEventLike(caught[0]!, want[0]!));
      assert.deepEqual(spill.lines(), lines, "the fallback gets the lines byte for byte");
      assert.ok(spill.closed, "closing the destination closes its fallback");
      assert.deepEqual(errors, []);
      assert.equal(destination.stats().rerouted, 6);
      assert.equal(destination.stats().failed, 0);
    });
  });

  it("fetchDestination under JsonLinesAuditSink in block mode delivers every event in order", async () => {
    let n = 0;
    // Every 4th request fails (503, 500, reset in turn): retries must keep order.
    const failures: Reply[] = [{ status: 503 }, { status: 500 }, "reset"];
    const respond = (): Reply => (++n % 4 === 0 ? failures[(n / 4) % 3]! : { status: 200 });
    await withReceiver(respond, async (receiver) => {
      const want = ids(3_000);
      const destination = fetchDestination(receiver.url, fast({ batch: { maxEvents: 100 } }));
      const sink = new JsonLinesAuditSink(destination, { backpressure: "block", capacity: 64 });
      for (const id of want) {
        await sink.ready;
        sink.onCall(mkEvent({ kind: "success" }, id));
      }
      await sink.close();
      assert.deepEqual(receiver.callIds(), want);
      assertDuplicatesShareKey(receiver);
      assert.equal(sink.stats().written, 3_000);
      assert.equal(sink.stats().dropped, 0);
      assert.equal(destination.stats().delivered, 3_000);
      assert.ok(destination.stats().retried > 0);
    });
  });

  it("fetchDestination counts every event failed in the sink when the endpoint is unreachable", async () => {
    const closed = await HttpReceiver.start();
    await closed.close(); // nothing listens on this port now
    const sinkErrors: unknown[] = [];
    const destination = fetchDestination(closed.url, fast({ retry: { delayMs: 5, deadlineMs: 300 } }));
    const sink = new JsonLinesAuditSink(destination, { backpressure: "block", onError: (e) => sinkErrors.push(e) });
    const printed = await captureConsole(async () => {
      for (const event of events(25)) await sink.record(event);
      await sink.flush();
      await sink.close();
    });
    assert.equal(sink.stats().failed, 25);
    assert.equal(sink.stats().written, 0);
    assert.equal(sink.stats().queued, 0);
    assert.ok(sinkErrors.length >= 1, "the sink's onError hears the loss");
    // The sink gathers destination failures into AuditLossErrors whose cause is the destination's error.
    const losses = sinkErrors.filter((e): e is AuditLossError => e instanceof AuditLossError);
    assert.equal(losses.length, sinkErrors.length);
    assert.equal(losses.reduce((total, e) => total + e.events, 0), 25);
    assert.ok(losses.every((e) => e.reason === "destination" && e.cause instanceof HttpDeliveryError));
    const failures = losses.map((e) => e.cause as HttpDeliveryError);
    assert.ok(failures.every((e) => e.status === undefined && e.cause !== undefined));
    assert.deepEqual(printed, [], "under a sink the destination does not print its own report");
    assert.equal(destination.stats().failed, 25);
  });

  for (const share of ["every batch", "every other batch"] as const) {
    it(`fetchDestination under JsonLinesAuditSink reroutes into a fallback file what gets 500 forever (${share})`, async () => {
      const dir = tempDir("fetch-fallback");
      const path = join(dir, "spill.jsonl");
      // 500 forever for every batch, or for every other one (by Idempotency-Key) and 200 for the rest.
      const fate = new Map<string, number>();
      const respond = (r: { headers: Record<string, unknown> }): Reply => {
        const key = String(r.headers["idempotency-key"]);
        if (!fate.has(key)) fate.set(key, share === "every batch" || fate.size % 2 === 0 ? 500 : 200);
        return { status: fate.get(key)! };
      };
      try {
        await withReceiver(respond, async (receiver) => {
          const recorded = events(600);
          const lines = recorded.map((e) => encodeCallEvent(e));
          const sinkErrors: unknown[] = [];
          const destination = fetchDestination(
            receiver.url,
            fast({ batch: { maxEvents: 50 }, retry: { delayMs: 5, deadlineMs: 200 }, fallback: fileDestination(path) }),
          );
          const sink = new JsonLinesAuditSink(destination, {
            backpressure: "block",
            onError: (e) => sinkErrors.push(e),
          });
          for (const event of recorded) await sink.record(event);
          await sink.close();
          const delivered = receiver.accepted().flatMap((r) => r.lines);
          const spilled = readFileSync(path, "utf8").split("\n").filter((line) => line !== "");
          assert.equal(delivered.length === 0, share === "every batch", `${delivered.length} delivered`);
          assert.ok(spilled.length > 0);
          assert.deepEqual([...delivered, ...spilled].sort(), [...lines].sort(), "each line delivered or in the file");
          assert.equal(delivered.length + spilled.length, lines.length, "no line in both");
          for (const line of spilled) assert.ok(lines.includes(line), "the file holds the lines byte for byte");
          const stats = sink.stats();
          assert.equal(stats.written, delivered.length);
          assert.equal(stats.rerouted, spilled.length);
          assert.equal(stats.failed, 0);
          assert.deepEqual(sinkErrors, [], "a rerouted batch is not a loss");
          assert.equal(destination.stats().rerouted, spilled.length);
        });
      } finally {
        rmSync(dir, { recursive: true, force: true });
      }
    });
  }

  it("fetchDestination calls an explicit onError besides the sink, and prints only when standalone", async () => {
    await withReceiver(() => ({ status: 400 }), async (receiver) => {
      const own: HttpDeliveryError[] = [];
      const sinkErrors: unknown[] = [];
      const printed = await captureConsole(async () => {
        const destination = fetchDestination(receiver.url, fast({ onError: (e) => own.push(e) }));
        const sink = new JsonLinesAuditSink(destination, { onError: (e) => sinkErrors.push(e) });
        sink.onCall(mkEvent());
        await sink.close();
      });
      assert.equal(own.length, 1);
      assert.deepEqual(
        sinkErrors.map((e) => (e as AuditLossError).cause),
        own,
        "the sink hears the same error, as the cause of its loss report",
      );
      assert.deepEqual(printed, []);
      // Standalone, without onError: one line on the console per failed batch.
      const standalone = await captureConsole(async () => {
        const destination = fetchDestination(receiver.url, fast());
        const writer = destination.getWriter();
        await writer.write(body(linesOf(ids(2))));
        await writer.close();
      });
      assert.equal(standalone.length, 1);
      assert.match(String(standalone[0]![0]), /^@atd\/audit: HttpDeliveryError: Cannot deliver 2 audit events/);
    });
  });

  it("fetchDestination never repeats a token carried in the endpoint's path", async () => {
    const token = "Zk3PqR8sTuV1wXy2Ab4Cd5Ef6Gh7Ij9K";
    await withReceiver((req) => ({ status: 404, body: `no collector at ${req.path}` }), async (receiver) => {
      const sinkErrors: unknown[] = [];
      const printed = await captureConsole(async () => {
        const destination = fetchDestination(`${receiver.url}/${token}`, fast());
        const sink = new JsonLinesAuditSink(destination, { onError: (e) => sinkErrors.push(e) });
        sink.onCall(mkEvent());
        await sink.close();
      });
      assert.equal(sinkErrors.length, 1);
      const told = JSON.stringify([printed, sinkErrors.map((e) => [String(e), String((e as Error).cause)])]);
      assert.ok(!told.includes(token), told);
      assert.match(told, /\/ingest\/\[redacted\]/);
    });
  });

  it("fetchDestination leaves no rejection of an async onError unhandled (it would end the process)", async () => {
    await withReceiver(() => ({ status: 400 }), async (receiver) => {
      const own: HttpDeliveryError[] = [];
      const unhandled = await unhandledRejections(async () => {
        const destination = fetchDestination(
          receiver.url,
          fast({
            onError: async (e) => {
              own.push(e);
              await Promise.resolve();
              throw new Error("the alerting hook is down");
            },
          }),
        );
        const sink = new JsonLinesAuditSink(destination, { onError: () => {} });
        sink.onCall(mkEvent());
        await sink.close();
      });
      assert.deepEqual(unhandled, []);
      assert.equal(own.length, 1);
    });
  });

  it("fetchDestination flush gives up at its signal's abort and reports each line once", async () => {
    await withStalledReceiver(async (receiver, release) => {
      const report = countingReport();
      const destination = fetchDestination(receiver.url, fast({ batch: { maxEvents: 4 } }));
      destination.attach(report);
      const writer = destination.getWriter();
      await writer.write(body(linesOf(ids(4, "a")))); // one batch in flight, stalled
      const held = writer.write(body(linesOf(ids(6, "b")))); // two more waiting behind it
      await receiver.waitForRequests(1);
      const deadline = new AbortController();
      const flushed = destination.flush(deadline.signal);
      deadline.abort(new Error("out of time"));
      await flushed;
      await held;
      assert.equal(report.failed_, 10);
      assert.equal(report.delivered_, 0);
      const messages = report.errors.map((e) => (e as Error).message);
      assert.ok(messages.every((m) => m.includes("the flush's deadline passed")), messages.join("\n"));
      assert.deepEqual(destination.stats().pending + destination.stats().inFlight, 0);
      // The stalled request now succeeds: nothing is reported twice.
      release();
      await writer.write(body(linesOf(ids(1, "c"))));
      await writer.close();
      assert.equal(report.delivered_, 1);
      assert.equal(report.failed_, 10);
      assert.equal(destination.stats().delivered, 1);
    });
  });

  for (const closing of [false, true]) {
    it(`a sink ${closing ? "close" : "flush"} deadline tells what fetchDestination gave up on as "deadline" losses`, async () => {
      await withStalledReceiver(async (receiver) => {
        const losses: AuditLossError[] = [];
        const sink = new JsonLinesAuditSink(fetchDestination(receiver.url, fast({ batch: { maxEvents: 3 } })), {
          onError: (e) => void (e instanceof AuditLossError && losses.push(e)),
        });
        for (const event of events(3)) sink.onCall(event);
        await receiver.waitForRequests(1); // one batch in flight, stalled; the sink's queue is empty
        const deadline = new AbortController();
        const done = closing ? sink.close({ signal: deadline.signal }) : sink.flush({ signal: deadline.signal });
        await settleLoop(); // the sink waits in the destination's flush(signal) now
        deadline.abort(new Error("out of time"));
        await done;
        assert.equal(sink.stats().failed, 3);
        // Given up because the deadline passed, not because the endpoint failed: the README's reason "deadline".
        assert.deepEqual(losses.map((e) => [e.reason, e.events]), [["deadline", 3]]);
      });
    });
  }

  it("fetchDestination says which stream it could not close when its fallback broke", async () => {
    await withReceiver(() => ({ status: 500 }), async (receiver) => {
      const told: unknown[] = [];
      const broken = new WritableStream<Uint8Array>({
        write() {
          throw new Error("disk gone");
        },
      });
      const sink = new JsonLinesAuditSink(
        fetchDestination(receiver.url, fast({ retry: { delayMs: 5, deadlineMs: 50 }, fallback: broken })),
        { onError: (e) => void told.push(e) },
      );
      for (const event of events(2)) sink.onCall(event);
      await sink.close();
      assert.equal(sink.stats().failed, 2);
      const others = told.filter((e) => !(e instanceof AuditLossError)).map((e) => String(e));
      // Closing the errored fallback fails too: the warning says which stream, not only the runtime's bare words.
      assert.equal(others.length, 1, others.join("\n"));
      assert.match(others[0]!, /^Error: Cannot close the fallback of http:\/\/127\.0\.0\.1:\d+\/ingest: TypeError: /);
    });
  });

  it("fetchDestination under a drop-mode sink stays bounded while its fallback cannot keep up", async () => {
    // Every batch is refused at once (a revoked token: 401), and the fallback (a hung disk) takes nothing.
    await withReceiver(() => ({ status: 401 }), async (receiver) => {
      const release = gate();
      let taken = 0;
      const stalled = new WritableStream<Uint8Array>({
        async write(chunk) {
          await release.promise;
          taken += new TextDecoder().decode(chunk).split("\n").length - 1;
        },
      });
      const destination = fetchDestination(receiver.url, fast({ batch: { maxEvents: 10 }, fallback: stalled }));
      const sink = new JsonLinesAuditSink(destination, { capacity: 50, onError: () => {} });
      const offered = 2_000;
      for (let i = 0; i < offered; i += 20) {
        for (const event of events(20, `r${i}-`)) sink.onCall(event);
        await settleLoop(5);
      }
      // Without a bound, every event refused so far would wait in the fallback's queue.
      const held = destination.stats().inFlight + destination.stats().pending;
      assert.ok(held <= 100, `the destination holds ${held} events`);
      assert.ok(sink.stats().accepted <= 200, JSON.stringify(sink.stats()));
      release.open();
      await sink.close();
      const stats = sink.stats();
      assert.equal(stats.accepted + stats.dropped, offered);
      assert.equal(stats.rerouted, stats.accepted);
      assert.equal(taken, stats.accepted);
    });
  });

  it("a sink close({ signal }) that bounds an earlier close() over fetchDestination tells only the loss", async () => {
    await withStalledReceiver(async (receiver) => {
      const told: unknown[] = [];
      const sink = new JsonLinesAuditSink(fetchDestination(receiver.url, fast({ batch: { maxEvents: 5 } })), {
        onError: (e) => void told.push(e),
      });
      for (const event of events(5)) sink.onCall(event);
      await receiver.waitForRequests(1);
      const first = sink.close(); // waits for the stalled request
      const deadline = new AbortController();
      const second = sink.close({ signal: deadline.signal });
      deadline.abort(new Error("out of time"));
      await Promise.all([first, second]);
      assert.equal(sink.stats().failed, 5);
      // The deadline aborted the destination: the first close() must not then try to close it, and tell that it could not.
      assert.deepEqual(told.filter((e) => !(e instanceof AuditLossError)).map(String), []);
      assert.deepEqual(told.map((e) => (e as AuditLossError).reason), ["deadline"]);
    });
  });

  it("fetchDestination flush refuses a signal that is not an AbortSignal, and gives nothing up for it", async () => {
    await withStalledReceiver(async (receiver, release) => {
      const report = countingReport();
      const destination = fetchDestination(receiver.url, fast());
      destination.attach(report);
      const writer = destination.getWriter();
      await writer.write(body(linesOf(ids(2))));
      for (const signal of [{ aborted: false }, { aborted: true }, "soon", 42]) {
        await assert.rejects(
          destination.flush(signal as unknown as AbortSignal),
          (e: Error) =>
            e instanceof TypeError && /flush fetch destination: signal must be an AbortSignal/.test(e.message),
          JSON.stringify(signal),
        );
      }
      // A look-alike that says it aborted did not give the batch up.
      assert.equal(report.failed_, 0);
      release();
      await destination.flush();
      await writer.close();
      assert.equal(report.delivered_, 2);
    });
  });

  it("fetchDestination flush at its deadline hands what it holds to the fallback", async () => {
    await withStalledReceiver(async (receiver, release) => {
      const report = countingReport();
      const spill = new MemoryDestination();
      const lines = linesOf(ids(5));
      const destination = fetchDestination(receiver.url, fast({ fallback: spill.stream }));
      destination.attach(report);
      const writer = destination.getWriter();
      await writer.write(body(lines));
      const deadline = new AbortController();
      const flushed = destination.flush(deadline.signal);
      await receiver.waitForRequests(1);
      deadline.abort();
      await flushed;
      release();
      await writer.close();
      // Handed over at the deadline; the fallback took them before it resolved or, if not, they count failed.
      assert.equal(report.rerouted_ + report.failed_, 5);
      assert.equal(report.delivered_, 0);
      assert.deepEqual(spill.lines(), lines);
    });
  });

  it("fetchDestination abort hands buffered and in-flight lines to the fallback", async () => {
    await withStalledReceiver(async (receiver, release) => {
      const report = countingReport();
      const spill = new MemoryDestination();
      const lines = linesOf(ids(7));
      const destination = fetchDestination(receiver.url, fast({ batch: { maxEvents: 3 }, fallback: spill.stream }));
      destination.attach(report);
      const writer = destination.getWriter();
      void writer.write(body(lines)).catch(() => {});
      await receiver.waitForRequests(1);
      await writer.abort(new Error("shutting down"));
      release();
      await destination.flush(); // abort does not wait for the fallback; flush does
      assert.deepEqual(spill.lines(), lines, "in order, byte for byte");
      assert.equal(report.rerouted_, 7);
      assert.equal(report.failed_ + report.delivered_, 0);
      await settleLoop();
      assert.ok(spill.closed, "aborting closes the fallback once it took the lines");
    });
  });

  it("fetchDestination reports each line exactly once, whatever the endpoint answers and whenever flush gives up", async () => {
    await fc.assert(
      fc.asyncProperty(
        fc.array(fc.constantFrom<string>("200", "500", "503", "413", "400", "throw", "hang"), {
          minLength: 1,
          maxLength: 30,
        }),
        fc.integer({ min: 1, max: 40 }),
        fc.integer({ min: 1, max: 6 }),
        fc.integer({ min: 1, max: 3 }),
        fc.boolean(),
        async (answers, count, maxEvents, maxInFlight, withFallback) => {
          let call = 0;
          const scripted: typeof fetch = (_input, init) => {
            const answer = answers[call++ % answers.length]!;
            if (answer === "throw") return Promise.reject(new TypeError("connection refused"));
            if (answer === "hang") {
              return new Promise((_resolve, reject) => {
                init?.signal?.addEventListener("abort", () => reject(init.signal!.reason));
              });
            }
            return Promise.resolve(new Response("no", { status: Number(answer) }));
          };
          const report = countingReport();
          const spill = new MemoryDestination();
          const destination = fetchDestination("http://127.0.0.1:9/ingest", {
            batch: { maxEvents, maxDelayMs: 60_000 },
            retry: { delayMs: 1, deadlineMs: 40 },
            timeoutMs: 20,
            maxInFlight,
            fetch: scripted,
            ...(withFallback ? { fallback: spill.stream } : { onError: () => {} }),
          });
          destination.attach(report);
          const writer = destination.getWriter();
          const lines = linesOf(ids(count));
          await writer.write(body(lines));
          await destination.flush(AbortSignal.timeout(30));
          await writer.close();
          const stats = destination.stats();
          assert.equal(report.delivered_ + report.rerouted_ + report.failed_, count, JSON.stringify(stats));
          assert.deepEqual(
            [stats.delivered, stats.rerouted, stats.failed],
            [report.delivered_, report.rerouted_, report.failed_],
          );
          assert.equal(stats.pending + stats.inFlight, 0);
          // Lines handed over when the flush gave up count failed unless the fallback took them in time.
          if (withFallback) {
            assert.ok(spill.lines().length >= report.rerouted_);
            assert.ok(spill.lines().length <= report.rerouted_ + report.failed_);
          } else assert.equal(report.rerouted_, 0);
        },
      ),
      { numRuns: 40 },
    );
  });
});

/** The event a fallback should get back: the same as the original, read from its line. */
function mkEventLike(got: CallEvent, callId: string): CallEvent {
  return { ...mkEvent({ kind: "success" }, callId), ts: got.ts };
}
