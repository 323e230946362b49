import { describe, it } from "node:test";
import assert from "node:assert/strict";
import { EventEmitter } from "node:events";
import fc from "fast-check";
import {
  AuditLossError,
  type AuditSink,
  type CallEvent,
  encodeCallEvent,
  InvalidCallEventError,
  JsonLinesAuditSink,
  parseCallEvent,
} from "../../mod.ts";
import { MemoryDestination, mkEvent, numbered, tick, unhandledRejections } from "../_helpers/events.ts";
import { arbitraryEvent } from "../_helpers/arbitrary.ts";
import { Choices, disguise, type Fault } from "./_hostile.ts";

const stream = () => new MemoryDestination().stream;

/** Records one disguised event; returns what reached the destination and the counters. */
async function recordOne(event: unknown) {
  const dest = new MemoryDestination();
  const reported: [unknown, unknown][] = [];
  const sink = new JsonLinesAuditSink(dest.stream, { onError: (error, ev) => void reported.push([error, ev]) });
  assert.doesNotThrow(() => sink.onCall(event as CallEvent));
  await sink.close();
  return { lines: dest.lines(), text: dest.text(), stats: sink.stats(), reported };
}

function hostileProperty(faults: readonly Fault[]) {
  return fc.asyncProperty(
    arbitraryEvent(),
    fc.array(fc.nat(), { minLength: 1, maxLength: 80 }),
    async (event, seeds) => {
      const choices = new Choices(seeds, faults);
      const hostile = disguise(event, choices);
      const { lines, text, stats, reported } = await recordOne(hostile);
      const expected = encodeCallEvent(event);
      if (choices.used.has("throw") || choices.used.has("revoke")) {
        assert.deepEqual(lines, [], "a field that cannot be read: nothing written");
      }
      if (lines.length === 0) {
        assert.equal(text, "");
        assert.deepEqual([stats.invalid, stats.accepted], [1, 0]);
        assert.equal(reported.length, 1);
        assert.ok(reported[0]![0] instanceof InvalidCallEventError, String(reported[0]![0]));
        assert.equal(reported[0]![1], hostile, "reported with the event");
        assert.ok(
          choices.used.has("throw") || choices.used.has("revoke") || choices.inherited,
          "a readable event was written",
        );
      } else {
        assert.deepEqual(lines, [expected], "exactly one line: the values as first read");
        assert.deepEqual(parseCallEvent(lines[0]!), parseCallEvent(expected));
        assert.deepEqual([stats.accepted, stats.written, stats.invalid], [1, 1, 0]);
      }
    },
  );
}

describe("JsonLinesAuditSink against hostile events", () => {
  it("writes one line that reads back, or nothing and one invalid count, for getters, proxies and prototypes (property)", async () => {
    await fc.assert(hostileProperty(["throw", "revoke"]), { numRuns: 300 });
  });

  // Fails on an encoder that reads a field twice (outcome.kind, caller_id, cursor_page, …) and
  // writes its second answer: a forged line.
  it("writes what the first read returned, for fields that answer differently when read again (property)", async () => {
    await fc.assert(hostileProperty(["stateful"]), { numRuns: 300 });
  });

  it("counts a revoked proxy and a throwing proxy as invalid events, never throwing", async () => {
    const { proxy, revoke } = Proxy.revocable({}, {});
    revoke();
    for (const event of [proxy, new Proxy({}, { getPrototypeOf: () => null, get: () => 1 })]) {
      const { lines, stats } = await recordOne(event);
      assert.deepEqual([lines.length, stats.invalid], [0, 1]);
    }
  });
});

describe("JsonLinesAuditSink used detached", () => {
  it("records through onCall passed as a callback, and through destructured record, flush, close and stats", async () => {
    const dest = new MemoryDestination();
    const sink = new JsonLinesAuditSink(dest.stream, { backpressure: "block" });
    [numbered(0), numbered(1)].forEach(sink.onCall);
    const emitter = new EventEmitter();
    emitter.on("call", sink.onCall);
    emitter.emit("call", numbered(2));
    const { record, flush, close, stats } = sink;
    await record(numbered(3));
    await flush();
    assert.equal(stats().written, 4);
    emitter.on("end", close);
    emitter.emit("end", "an emitter's argument");
    await close();
    assert.deepEqual(dest.lines().map((line) => parseCallEvent(line).call_id), [
      "call-0",
      "call-1",
      "call-2",
      "call-3",
    ]);
    assert.equal(dest.closed, true);
  });
});

describe("JsonLinesAuditSink construction", () => {
  const cases: [string, () => unknown, ErrorConstructor, RegExp][] = [
    [
      "onError: 42",
      () => new JsonLinesAuditSink(stream(), { onError: 42 as never }),
      TypeError,
      /onError must be a function, got 42/,
    ],
    [
      "capacity: '10'",
      () => new JsonLinesAuditSink(stream(), { capacity: "10" as never }),
      TypeError,
      /capacity must be a number/,
    ],
    ["capacity: -1", () => new JsonLinesAuditSink(stream(), { capacity: -1 }), RangeError, /positive integer, got -1/],
    ["capacity: NaN", () => new JsonLinesAuditSink(stream(), { capacity: NaN }), RangeError, /positive integer/],
    [
      "capacity: Infinity",
      () => new JsonLinesAuditSink(stream(), { capacity: Infinity }),
      RangeError,
      /positive integer/,
    ],
    [
      "preventClose: 'yes'",
      () => new JsonLinesAuditSink(stream(), { preventClose: "yes" as never }),
      TypeError,
      /preventClose must be a boolean/,
    ],
    [
      "lossReportInterval: -1",
      () => new JsonLinesAuditSink(stream(), { lossReportInterval: -1 }),
      RangeError,
      /lossReportInterval/,
    ],
    [
      "lossReportInterval: '1s'",
      () => new JsonLinesAuditSink(stream(), { lossReportInterval: "1s" as never }),
      TypeError,
      /milliseconds/,
    ],
    ["options: null", () => new JsonLinesAuditSink(stream(), null as never), TypeError, /options must be an object/],
    [
      "fallback: 42",
      () => new JsonLinesAuditSink(stream(), { backpressure: { fallback: 42 as never } }),
      TypeError,
      /fallback that is 42/,
    ],
    [
      "fallback without onCall",
      () => new JsonLinesAuditSink(stream(), { backpressure: { fallback: { onCall: 1 } as never } }),
      TypeError,
      /without an onCall\(\) method/,
    ],
    [
      "fallback with a flush that is not a method",
      () => new JsonLinesAuditSink(stream(), { backpressure: { fallback: { onCall() {}, flush: true } as never } }),
      TypeError,
      /flush is true/,
    ],
    [
      "backpressure: 'wait'",
      () => new JsonLinesAuditSink(stream(), { backpressure: "wait" as never }),
      TypeError,
      /"drop", "block" or \{ fallback: AuditSink \}, got "wait"/,
    ],
    ["destination: null", () => new JsonLinesAuditSink(null as never), TypeError, /WritableStream/],
    ["destination: {}", () => new JsonLinesAuditSink({} as never), TypeError, /WritableStream/],
    [
      "getWriter() returns {}",
      () => new JsonLinesAuditSink({ getWriter: () => ({}) } as never),
      TypeError,
      /getWriter\(\) must return a writer/,
    ],
    [
      "getWriter() throws",
      () =>
        new JsonLinesAuditSink({
          getWriter() {
            throw new Error("no");
          },
        } as never),
      TypeError,
      /getWriter\(\) threw/,
    ],
    [
      "an audit destination whose getWriter() returns {}",
      () => new JsonLinesAuditSink({ getWriter: () => ({}), attach() {}, flush: () => Promise.resolve() } as never),
      TypeError,
      /getWriter\(\) must return a writer/,
    ],
    [
      "an audit destination whose attach() throws",
      () =>
        new JsonLinesAuditSink(Object.assign(stream(), {
          attach() {
            throw new Error("no");
          },
          flush: () => Promise.resolve(),
        })),
      TypeError,
      /attach\(\) threw/,
    ],
  ];
  for (const [name, make, type, message] of cases) {
    it(`rejects ${name} with a ${type.name} that says what was expected`, () => {
      assert.throws(make, (error: unknown) => {
        assert.ok(error instanceof type, `${name}: ${error}`);
        assert.match((error as Error).message, message);
        assert.match((error as Error).message, /^Cannot /);
        return true;
      });
    });
  }
});

describe("JsonLinesAuditSink against a hostile user", () => {
  it("keeps capacity in drop mode when a getter records other events while its event is encoded", () => {
    const sink: JsonLinesAuditSink = new JsonLinesAuditSink(
      new WritableStream({ write: () => new Promise(() => {}) }),
      {
        capacity: 1,
        onError: () => {},
      },
    );
    let depth = 0;
    const event = (): CallEvent =>
      ({
        ...mkEvent(),
        get tool_id(): string {
          if (depth++ < 20) sink.onCall(event());
          return "t";
        },
      }) as CallEvent;
    sink.onCall(event());
    const stats = sink.stats();
    assert.equal(stats.accepted, 1, "only one event fits a queue of 1 (found by a hostile test: all 21 got in)");
    assert.equal(stats.accepted + stats.dropped, 21);
  });

  it("counts and reports every call when a getter re-enters onCall without end, and never throws", () => {
    for (const backpressure of ["drop", "block"] as const) {
      let offered = 0;
      const told: unknown[] = [];
      const sink = new JsonLinesAuditSink(new WritableStream(), {
        backpressure,
        capacity: 1 << 20,
        onError: (error) => told.push(error),
      });
      const event = {
        ...mkEvent(),
        get tool_id(): string {
          offered++;
          sink.onCall(event as CallEvent);
          return "t";
        },
      };
      offered++;
      assert.doesNotThrow(() => sink.onCall(event as CallEvent));
      const stats = sink.stats();
      assert.equal(stats.accepted + stats.dropped + stats.fallback + stats.invalid, offered, backpressure);
      assert.equal(told.length, stats.invalid, "every invalid call is told");
      assert.ok(offered < 100, `${offered}: nesting is bounded well before the stack runs out`);
      assert.match(String(told[0]), /nested 32 deep/);
    }
  });

  it("does not let loss reports and an onError that records into a full queue feed each other (lossReportInterval: 0)", async () => {
    let reports = 0;
    const sink: JsonLinesAuditSink = new JsonLinesAuditSink(
      new WritableStream({ write: () => new Promise((resolve) => setTimeout(resolve, 5)) }),
      {
        capacity: 1,
        lossReportInterval: 0,
        onError: (error) => {
          if (error instanceof AuditLossError) reports++;
          sink.onCall(numbered(100 + reports)); // a meta-event about the loss, into a full queue
        },
      },
    );
    for (let i = 0; i < 3; i++) sink.onCall(numbered(i));
    // Found by a hostile test: each report caused a drop and each drop a report, in microtasks, forever.
    await new Promise((resolve) => setTimeout(resolve, 20));
    const before = reports;
    assert.ok(before >= 1 && before < 50, `${before} reports before a timer could run`);
    await sink.close();
    const stats = sink.stats();
    assert.equal(stats.accepted + stats.dropped, 3 + reports, "every call is counted once");
    assert.ok(stats.dropped >= 2);
  });

  it("bounds an onError that records an invalid event each time it is called", async () => {
    const errors: unknown[] = [];
    const sink: JsonLinesAuditSink = new JsonLinesAuditSink(stream(), {
      onError(error) {
        errors.push(error);
        sink.onCall(null as never);
      },
    });
    sink.onCall(null as never);
    assert.ok(errors.length <= 102, `${errors.length} onError calls`);
    assert.match(String(errors.at(-1)), /\d+ more problems were raised while onError ran, and were not reported/);
    assert.ok(sink.stats().invalid >= errors.length - 1, "every invalid event is counted");
    await sink.close();
  });

  it("closes cleanly when onError closes the sink from within onCall", async () => {
    const dest = new MemoryDestination();
    let closing: Promise<void> | undefined;
    const sink: JsonLinesAuditSink = new JsonLinesAuditSink(dest.stream, {
      onError: () => void (closing ??= sink.close()),
    });
    sink.onCall(numbered(0));
    sink.onCall({ ...mkEvent(), tier: 5 } as never);
    sink.onCall(numbered(1));
    await closing;
    const s = sink.stats();
    assert.deepEqual([s.accepted, s.invalid, s.dropped, s.written, s.queued], [1, 1, 1, 1, 0]);
    assert.deepEqual(dest.lines().map((line) => parseCallEvent(line).call_id), ["call-0"]);
  });

  it("records what onError records about a failure", async () => {
    const dest = new MemoryDestination();
    const sink: JsonLinesAuditSink = new JsonLinesAuditSink(dest.stream, {
      onError: () => sink.onCall(numbered(99)),
    });
    sink.onCall({ ...mkEvent(), tier: 5 } as never);
    await sink.close();
    assert.deepEqual(dest.lines().map((line) => parseCallEvent(line).call_id), ["call-99"]);
  });

  it("leaves no rejection of an async onError unhandled (it would end the process)", async () => {
    const told: string[] = [];
    const dest = new MemoryDestination();
    const unhandled = await unhandledRejections(async () => {
      const sink = new JsonLinesAuditSink(dest.stream, {
        onError: async (error) => {
          told.push((error as Error).message);
          await Promise.resolve();
          throw new Error("the log database is down");
        },
      });
      sink.onCall({ ...mkEvent(), tier: 5 } as never);
      sink.onCall(numbered(1));
      await sink.close();
    });
    assert.deepEqual(unhandled, []);
    assert.equal(told.length, 1);
    assert.match(told[0]!, /tier/);
    assert.deepEqual(dest.lines().map((line) => parseCallEvent(line).call_id), ["call-1"]);
  });

  it("drops, and reports, an event a fallback sink records back into the sink", () => {
    const errors: unknown[] = [];
    const loop: AuditSink = { onCall: (event) => sink.onCall(event) };
    const sink: JsonLinesAuditSink = new JsonLinesAuditSink(
      new WritableStream({ write: () => new Promise(() => {}) }),
      {
        capacity: 1,
        backpressure: { fallback: loop },
        onError: (error) => errors.push(error),
      },
    );
    sink.onCall(numbered(0));
    assert.doesNotThrow(() => sink.onCall(numbered(1)));
    const s = sink.stats();
    assert.deepEqual([s.accepted, s.fallback, s.dropped], [1, 1, 1]);
    assert.match(String(errors[0]), /recorded back into this sink/);
  });

  it("uses the fallback's onCall read at construction, whatever the object later says", () => {
    const caught: CallEvent[] = [];
    const fallback = { onCall: (event: CallEvent) => void caught.push(event) };
    const sink = new JsonLinesAuditSink(new WritableStream({ write: () => new Promise(() => {}) }), {
      capacity: 1,
      backpressure: { fallback },
    });
    fallback.onCall = () => {
      throw new Error("swapped");
    };
    sink.onCall(numbered(0));
    sink.onCall(numbered(1));
    assert.equal(caught.length, 1);
    assert.equal(sink.drops, 0);
  });

  it("tells a rejection of an async fallback's onCall, with the event, and leaves none unhandled", async () => {
    const told: [unknown, CallEvent | undefined][] = [];
    let sink: JsonLinesAuditSink | undefined;
    const unhandled = await unhandledRejections(() => {
      sink = new JsonLinesAuditSink(new WritableStream({ write: () => new Promise(() => {}) }), {
        capacity: 1,
        backpressure: {
          fallback: { onCall: (event) => Promise.reject(new Error(`spill of ${event.call_id} failed`)) },
        },
        onError: (error, event) => void told.push([error, event]),
      });
      for (let i = 0; i < 3; i++) sink.onCall(numbered(i));
    });
    assert.deepEqual(unhandled, []);
    assert.deepEqual(told.map(([e, event]) => [(e as Error).message, event?.call_id]), [
      ["spill of call-1 failed", "call-1"],
      ["spill of call-2 failed", "call-2"],
    ]);
    const s = sink!.stats();
    assert.deepEqual([s.accepted, s.fallback, s.dropped], [1, 2, 0], "handed on, as counted when it returned");
  });

  it("keeps counting when the destination reports before any write, or after close", async () => {
    const errors: unknown[] = [];
    let report: { delivered(n: number): void; failed(n: number, e: unknown): void } | undefined;
    const destination = Object.assign(new WritableStream<Uint8Array>(), {
      attach(next: typeof report) {
        report = next;
        next!.delivered(3); // lines it was never given
      },
      flush: () => Promise.resolve(),
    });
    const sink = new JsonLinesAuditSink(destination, { onError: (e) => errors.push(e) });
    sink.onCall(numbered(0));
    await tick();
    report!.delivered(1);
    await sink.close();
    report!.failed(10, new Error("late"));
    report!.delivered(Infinity);
    const s = sink.stats();
    assert.deepEqual([s.accepted, s.written, s.failed, s.queued], [1, 1, 0, 0]);
    assert.equal(errors.filter((e) => e instanceof RangeError).length, 1);
  });

  it("counts record() callers still waiting as drops when close() is called from a waiting caller's turn", async () => {
    const dest = new MemoryDestination({ delayMs: 1 });
    const sink = new JsonLinesAuditSink(dest.stream, { capacity: 2, backpressure: "block", onError: () => {} });
    const waits = Array.from({ length: 10 }, (_, i) =>
      sink.record(numbered(i)).then(() => {
        if (i === 3) void sink.close();
      }));
    await Promise.all(waits);
    await sink.close();
    const s = sink.stats();
    assert.equal(s.accepted + s.dropped, 10);
    assert.equal(s.written, s.accepted);
    assert.equal(dest.lines().length, s.accepted);
  });

  it("writes a record() caller's event as it was when recorded, not as changed while it waited for room", async () => {
    const dest = new MemoryDestination({ delayMs: 1 });
    const sink = new JsonLinesAuditSink(dest.stream, { capacity: 1, backpressure: "block" });
    sink.onCall(numbered(0)); // the queue is full: the next record() waits
    const event = {
      ...mkEvent({ kind: "success" }, "waited"),
      granted_capabilities: ["fs:read"],
    } as CallEvent;
    const recorded = sink.record(event);
    // The caller goes on with its own object (reused, or its arrays shared with the session) while the event waits.
    (event.granted_capabilities as string[]).push("admin");
    (event as { caller_id: string }).caller_id = "someone-else";
    (event as { call_id: string }).call_id = "changed";
    await recorded;
    await sink.close();
    const written = dest.lines().map((line) => parseCallEvent(line));
    assert.deepEqual(written.map((e) => e.call_id), ["call-0", "waited"]);
    assert.deepEqual(written[1]!.granted_capabilities, ["fs:read"]);
    assert.equal(written[1]!.caller_id, mkEvent({ kind: "success" }, "waited").caller_id);
    assert.equal(sink.stats().written, 2);
  });

  it("survives a destination that records into, and closes, its own sink from within a write", async () => {
    const seen: string[] = [];
    const sink: JsonLinesAuditSink = new JsonLinesAuditSink(
      new WritableStream<Uint8Array>({
        write(chunk) {
          seen.push(new TextDecoder().decode(chunk));
          sink.onCall(numbered(100 + seen.length)); // an audit of the audit write
          if (seen.length === 3) void sink.close();
        },
      }),
      { onError: () => {} },
    );
    sink.onCall(numbered(0));
    for (let turn = 0; turn < 50 && seen.length < 4; turn++) await tick();
    await sink.close();
    const s = sink.stats();
    // Writes 1-3 each record one more event; write 3 closes; write 4 (the close's flush) records one too late.
    assert.deepEqual([s.accepted, s.written, s.queued, s.dropped], [4, 4, 0, 1]);
    assert.equal(seen.join("").split("\n").length - 1, 4);
  });

  it("counts the lines of a chunk the destination zeroes or transfers as delivered, not lost", async () => {
    for (
      const [name, take] of [
        ["zeroes", (chunk: Uint8Array) => void chunk.fill(0)],
        ["transfers", (chunk: Uint8Array) => void structuredClone(chunk, { transfer: [chunk.buffer] })],
      ] as const
    ) {
      let bytes = 0;
      const errors: unknown[] = [];
      const sink = new JsonLinesAuditSink(
        new WritableStream<Uint8Array>({
          write(chunk) {
            bytes += chunk.length;
            take(chunk); // a stream that reuses its chunks, or hands them to a worker without a copy
          },
        }),
        { onError: (error) => void errors.push(error) },
      );
      for (let i = 0; i < 5; i++) sink.onCall(numbered(i));
      await sink.flush();
      sink.onCall(numbered(5));
      await sink.close();
      const s = sink.stats();
      assert.deepEqual([s.written, s.failed, s.queued], [6, 0, 0], name);
      assert.deepEqual(errors, [], name);
      assert.ok(bytes > 6 * 100, name);
    }
  });

  it("reports a fallback sink whose flush rejects or throws, and still resolves", async () => {
    const errors: unknown[] = [];
    for (
      const flush of [() => Promise.reject(new Error("fallback flush rejected")), () => {
        throw new Error("fallback flush threw");
      }]
    ) {
      const sink = new JsonLinesAuditSink(new MemoryDestination().stream, {
        backpressure: { fallback: { onCall() {}, flush: flush as () => Promise<void> } },
        onError: (error) => errors.push(error),
      });
      await sink.flush();
      await sink.close();
    }
    assert.deepEqual(errors.map(String), [
      "Error: fallback flush rejected",
      "Error: fallback flush rejected",
      "Error: fallback flush threw",
      "Error: fallback flush threw",
    ]);
  });
});
