import { describe, it } from "node:test";
import assert from "node:assert/strict";
import { auditCall, type CallEvent, JsonLinesAuditSink, nowRfc3339, parseCallEvent, ToolCallError } from "../../mod.ts";
import { MemoryDestination } from "../_helpers/events.ts";
import { MemorySink, settle } from "./_sinks.ts";

const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));

describe("auditCall", () => {
  it("records a sync success once and returns the value itself", () => {
    const sink = new MemorySink();
    const value = { answer: 42 };
    const t0 = performance.now();
    const result = auditCall(
      sink,
      { tool_id: "math.answer", caller_id: "agent-A", granted_capabilities: ["read"] },
      () => value,
    );
    assert.equal(result, value);
    const event = sink.only();
    assert.equal(event.tool_id, "math.answer");
    assert.equal(event.caller_id, "agent-A");
    assert.deepEqual(event.granted_capabilities, ["read"]);
    assert.deepEqual(event.outcome, { kind: "success" });
    assert.equal(event.tier, "warm");
    assert.equal(event.dry_run, false);
    assert.equal(event.schema_version, 3);
    assert.match(event.call_id, /^[0-9A-HJKMNP-TV-Z]{26}$/);
    assert.ok(event.duration_ms <= Math.ceil(performance.now() - t0), `${event.duration_ms}`);
  });

  it("runs the tool when a field has the wrong type, and the sink tells the invalid event with the field's path", async () => {
    const told: unknown[] = [];
    const dest = new MemoryDestination();
    const sink = new JsonLinesAuditSink(dest.stream, { onError: (e) => told.push(e) });
    assert.equal(auditCall(sink, { tool_id: 5 as never }, () => 7), 7);
    assert.equal(auditCall(sink, { tool_id: "t", granted_capabilities: [1] as never }, () => 8), 8);
    await sink.close();
    assert.equal(sink.stats().invalid, 2);
    assert.deepEqual(told.map((e) => (e as { path?: string }).path), ["tool_id", "granted_capabilities[0]"]);
    assert.deepEqual(dest.lines(), []);
  });

  it("takes ts when the call starts and duration_ms from the monotonic clock", async () => {
    const sink = new MemorySink();
    const before = Date.now();
    const outerStart = performance.now();
    let insideAt = 0;
    let inner = 0;
    await auditCall(sink, { tool_id: "slow" }, async () => {
      insideAt = Date.now();
      const t0 = performance.now();
      await sleep(30);
      inner = performance.now() - t0;
    });
    const outer = performance.now() - outerStart;
    const event = sink.only();
    const ts = Date.parse(event.ts);
    assert.ok(
      before <= ts && ts <= insideAt,
      `ts ${event.ts} is not between ${before} and the call's start ${insideAt}`,
    );
    assert.ok(event.duration_ms >= Math.floor(inner) && event.duration_ms <= Math.ceil(outer), `${event.duration_ms}`);
  });

  it("returns the same native promise and records when it resolves", async () => {
    const sink = new MemorySink();
    let resolve!: (v: string) => void;
    const promise = new Promise<string>((r) => (resolve = r));
    const result = auditCall(sink, { tool_id: "t" }, () => promise);
    assert.equal(result, promise);
    await settle();
    assert.equal(sink.events.length, 0, "nothing recorded before the call settles");
    resolve("done");
    assert.equal(await result, "done");
    assert.deepEqual(sink.only().outcome, { kind: "success" });
  });

  it("rethrows a sync error as the same object with its stack, recorded once", () => {
    const sink = new MemorySink();
    const error = Object.assign(new Error("no such file"), { code: "ENOENT" });
    const stack = error.stack;
    assert.throws(() =>
      auditCall(sink, { tool_id: "fs.read" }, () => {
        throw error;
      }), (thrown) => thrown === error && (thrown as Error).stack === stack);
    assert.deepEqual(sink.only().outcome, { kind: "execution_failed", code: "ENOENT", retryable: false });
  });

  it("hands back a rejecting promise unchanged and records the rejection once", async () => {
    const sink = new MemorySink();
    const error = new RangeError("too big");
    const result = auditCall(sink, { tool_id: "t" }, async () => {
      await sleep(1);
      throw error;
    });
    await assert.rejects(result, (thrown) => thrown === error);
    assert.deepEqual(sink.only().outcome, { kind: "execution_failed", code: "RangeError", retryable: false });
  });

  it("records the outcome of a thrown ToolCallError, sync and async", async () => {
    const sink = new MemorySink();
    assert.throws(() =>
      auditCall(sink, { tool_id: "a" }, () => {
        throw new ToolCallError({ kind: "rate_limited", retry_after_ms: 250 });
      })
    );
    await assert.rejects(auditCall(sink, { tool_id: "b" }, () => {
      return Promise.reject(new ToolCallError({ kind: "invalid_args", message: "path is required" }));
    }));
    assert.deepEqual(sink.events.map((e) => e.outcome), [
      { kind: "rate_limited", retry_after_ms: 250 },
      { kind: "invalid_args", message: "path is required" },
    ]);
  });

  it("records non-Error throws as UNKNOWN_ERROR, or by their code or name", async () => {
    const sink = new MemorySink();
    const thrown: unknown[] = ["boom", 42, null, undefined, Symbol("s"), { code: "E_OBJ" }, { name: "Named" }, {}];
    for (const value of thrown) {
      assert.throws(() =>
        auditCall(sink, { tool_id: "t" }, () => {
          throw value;
        }), (e) => e === value);
    }
    await assert.rejects(
      auditCall(sink, { tool_id: "t" }, () => Promise.reject("async string")),
      (e) => e === "async string",
    );
    assert.deepEqual(sink.events.map((e) => e.outcome.kind === "execution_failed" && e.outcome.code), [
      "UNKNOWN_ERROR",
      "UNKNOWN_ERROR",
      "UNKNOWN_ERROR",
      "UNKNOWN_ERROR",
      "UNKNOWN_ERROR",
      "E_OBJ",
      "Named",
      "UNKNOWN_ERROR",
      "UNKNOWN_ERROR",
    ]);
  });

  it("adopts a foreign thenable once and records it once, even when it settles twice", async () => {
    const sink = new MemorySink();
    let thenCalls = 0;
    const thenable = {
      then(resolve: (v: string) => void, reject: (e: unknown) => void) {
        thenCalls++;
        resolve("first");
        resolve("second");
        reject(new Error("late"));
        throw new Error("after settling");
      },
    };
    const result = auditCall(sink, { tool_id: "t" }, () => thenable);
    assert.ok(result instanceof Promise);
    assert.equal(await result, "first");
    await settle();
    assert.equal(thenCalls, 1);
    assert.deepEqual(sink.only().outcome, { kind: "success" });
  });

  it("records a thenable whose then throws before settling as that error", async () => {
    const sink = new MemorySink();
    const error = new TypeError("broken then");
    const result = auditCall(sink, { tool_id: "t" }, () => ({
      then() {
        throw error;
      },
    }));
    await assert.rejects(result as Promise<unknown>, (e) => e === error);
    assert.deepEqual(sink.only().outcome, { kind: "execution_failed", code: "TypeError", retryable: false });
  });

  it("hands back an object whose then getter throws as is, recorded as success", () => {
    const sink = new MemorySink();
    const hostile = Object.defineProperty({}, "then", {
      get() {
        throw new Error("getter");
      },
    });
    assert.equal(auditCall(sink, { tool_id: "t" }, () => hostile), hostile);
    assert.deepEqual(sink.only().outcome, { kind: "success" });
  });

  it("records one event per call for many concurrent async calls", async () => {
    const sink = new MemorySink();
    const results = await Promise.allSettled(
      Array.from({ length: 100 }, (_, i) =>
        auditCall(sink, { tool_id: `t${i}` }, async () => {
          await sleep(i % 7);
          if (i % 3 === 0) throw new Error(`e${i}`);
          return i;
        })),
    );
    assert.equal(results.filter((r) => r.status === "fulfilled").length, 66);
    assert.equal(sink.events.length, 100);
    assert.equal(new Set(sink.events.map((e) => e.call_id)).size, 100);
    assert.deepEqual(sink.events.map((e) => e.tool_id).sort(), Array.from({ length: 100 }, (_, i) => `t${i}`).sort());
  });

  it("copies the fields when the call starts", () => {
    const sink = new MemorySink();
    const granted = ["read"];
    auditCall(sink, { tool_id: "t", call_id: "c1", granted_capabilities: granted, tier: "cold", dry_run: true }, () => {
      granted.push("write");
    });
    const event = sink.only();
    assert.deepEqual(event.granted_capabilities, ["read"]);
    assert.equal(event.call_id, "c1");
    assert.equal(event.tier, "cold");
    assert.equal(event.dry_run, true);
  });

  it("copies the capability provenance entries when the call starts, not only their list", async () => {
    const sink = new MemorySink();
    const provenance = [
      { cap: "fs:read", source: { kind: "ucan_chain" as const, issuer_did: "did:key:z6Mk", chain_depth: 1 } },
    ];
    const call = auditCall(
      sink,
      { tool_id: "t", granted_capabilities: ["fs:read"], capability_provenance: provenance },
      () => sleep(1),
    );
    // The session's own objects change while the call runs (re-delegated, revoked): the call ran under the old grant.
    (provenance[0] as { cap: string }).cap = "fs:write";
    (provenance[0]!.source as { chain_depth: number }).chain_depth = 7;
    await call;
    assert.deepEqual(sink.only().capability_provenance, [
      { cap: "fs:read", source: { kind: "ucan_chain", issuer_did: "did:key:z6Mk", chain_depth: 1 } },
    ]);
  });

  it("uses mapError and mapResult, and falls back (reporting) when they fail", async () => {
    const sink = new MemorySink();
    const problems: unknown[] = [];
    const options = {
      onError: (e: unknown) => problems.push(e),
      mapError: (e: unknown) =>
        e instanceof Error && e.message === "busy"
          ? { kind: "rate_limited" as const, retry_after_ms: null }
          : e instanceof Error && e.message === "throw"
          ? (() => {
            throw new Error("mapper broke");
          })()
          : undefined,
      mapResult: (v: unknown) =>
        v === "bad"
          ? { kind: "nonsense" } as never
          : v === "denied"
          ? { kind: "capability_denied" as const, missing: ["x"] }
          : undefined,
    };
    assert.throws(() =>
      auditCall(sink, { tool_id: "a" }, () => {
        throw new Error("busy");
      }, options)
    );
    await assert.rejects(auditCall(sink, { tool_id: "b" }, () => Promise.reject(new Error("throw")), options));
    auditCall(sink, { tool_id: "c" }, () => "denied", options);
    auditCall(sink, { tool_id: "d" }, () => "bad", options);
    assert.throws(() =>
      auditCall(sink, { tool_id: "e" }, () => {
        throw new ToolCallError({ kind: "tool_not_found" });
      }, { ...options, mapError: () => ({ kind: "success" }) })
    );
    assert.deepEqual(sink.events.map((e) => e.outcome), [
      { kind: "rate_limited", retry_after_ms: null },
      { kind: "execution_failed", code: "Error", retryable: false },
      { kind: "capability_denied", missing: ["x"] },
      { kind: "success" },
      { kind: "tool_not_found" },
    ]);
    assert.equal(problems.length, 2);
  });

  it("never lets a throwing sink break the call, and reports it to onError with the event", async () => {
    const problems: [unknown, CallEvent | undefined][] = [];
    const sink = {
      onCall(): void {
        throw new Error("sink down");
      },
    };
    const options = { onError: (e: unknown, event?: CallEvent) => problems.push([e, event]) };
    assert.equal(auditCall(sink, { tool_id: "t" }, () => 7, options), 7);
    const error = new Error("tool");
    assert.throws(() =>
      auditCall(sink, { tool_id: "t" }, () => {
        throw error;
      }, options), (e) => e === error);
    assert.equal(await auditCall(sink, { tool_id: "t" }, () => Promise.resolve(8), options), 8);
    assert.equal(problems.length, 3);
    for (const [e, event] of problems) {
      assert.match((e as Error).message, /onCall threw/);
      assert.equal(((e as Error).cause as Error).message, "sink down");
      assert.equal(event?.tool_id, "t");
    }
  });

  it("tells of an async sink's rejection, and leaves no async callback's rejection unhandled", async () => {
    // An unhandled rejection ends a Deno or Node process: an async onCall, onError, redact or mapper must not cause one.
    const problems: [Error, CallEvent | undefined][] = [];
    const reject = (what: string) => () => Promise.reject(new Error(what));
    const asyncSink = { onCall: reject("db down") as () => void };
    const told = { onError: (e: unknown, event?: CallEvent) => problems.push([e as Error, event]) };
    assert.equal(auditCall(asyncSink, { tool_id: "async-sink" }, () => 1, told), 1);
    const throwing = {
      onCall(): void {
        throw new Error("sink down");
      },
      onError: reject("the sink's onError failed too"),
    };
    assert.equal(auditCall(throwing, { tool_id: "t" }, () => 2, { onError: reject("onError failed too") }), 2);
    assert.equal(auditCall(throwing, { tool_id: "t" }, () => 3), 3);
    const sink = new MemorySink();
    assert.equal(auditCall(sink, { tool_id: "t" }, () => 4, { ...told, redact: reject("redact failed") as never }), 4);
    assert.equal(
      auditCall(sink, { tool_id: "t" }, () => 5, { ...told, mapResult: reject("mapper failed") as never }),
      5,
    );
    await settle();
    assert.deepEqual(sink.events.map((e) => e.outcome), [{ kind: "success" }], "the mapper's promise is no outcome");
    assert.deepEqual(
      problems.map(([e, event]) => [e.message, (e.cause as Error | undefined)?.message, event?.tool_id]),
      [
        [
          "Cannot record call event: redact returned a promise (it must return the event itself), not an event",
          undefined,
          undefined,
        ],
        ["Cannot audit call: mapResult returned an invalid outcome; recorded the default one", undefined, undefined],
        ["Cannot record call event: the sink's onCall rejected", "db down", "async-sink"],
      ],
    );
  });

  it("reports to the sink's own onError method when no onError option is given", () => {
    const seen: unknown[] = [];
    const sink = {
      onCall(): void {
        throw new Error("full");
      },
      onError(error: unknown): void {
        seen.push(error);
      },
    };
    auditCall(sink, { tool_id: "t" }, () => 1);
    auditCall(sink, { tool_id: "t" }, () => 2);
    assert.equal(seen.length, 2);
  });

  it("tells console.error once per sink when nothing else listens", () => {
    const original = console.error;
    const lines: unknown[][] = [];
    console.error = (...args: unknown[]) => lines.push(args);
    try {
      const sink = {
        onCall(): void {
          throw new Error("nope");
        },
      };
      for (let i = 0; i < 5; i++) assert.equal(auditCall(sink, { tool_id: "t" }, () => i), i);
      assert.equal(lines.length, 1);
      auditCall({ onCall: sink.onCall }, { tool_id: "t" }, () => 0);
      assert.equal(lines.length, 2, "another sink gets its own first report");
    } finally {
      console.error = original;
    }
  });

  it("runs the call unrecorded, and reports, when its fields cannot be read", () => {
    const sink = new MemorySink();
    const problems: unknown[] = [];
    const fields = Object.defineProperty({}, "tool_id", {
      get() {
        throw new Error("hostile getter");
      },
    });
    let ran = 0;
    assert.equal(auditCall(sink, fields as never, () => ++ran, { onError: (e) => problems.push(e) }), 1);
    assert.equal(sink.events.length, 0);
    assert.equal(problems.length, 1);
  });

  it("applies redact last, and records nothing when redact fails", () => {
    const sink = new MemorySink();
    const problems: unknown[] = [];
    const onError = (e: unknown) => problems.push(e);
    auditCall(sink, { tool_id: "t", caller_id: "alice@example.com" }, () => 1, {
      onError,
      redact: (event) => ({ ...event, caller_id: "user-1" }),
    });
    auditCall(sink, { tool_id: "t" }, () => 1, {
      onError,
      redact: () => {
        throw new Error("redactor down");
      },
    });
    auditCall(sink, { tool_id: "t" }, () => 1, { onError, redact: () => null as never });
    assert.equal(sink.only().caller_id, "user-1");
    assert.equal(problems.length, 2);
  });

  it("checks its arguments before calling the function", () => {
    const sink = new MemorySink();
    let ran = false;
    const fn = () => (ran = true);
    assert.throws(() => auditCall(sink, { tool_id: "t" }, 5 as never), TypeError);
    assert.throws(() => auditCall({} as never, { tool_id: "t" }, fn), TypeError);
    assert.throws(() => auditCall(sink, null as never, fn), TypeError);
    assert.throws(() => auditCall(sink, { tool_id: "t" }, fn, { maxMessageLength: 0 }), RangeError);
    assert.throws(() => auditCall(sink, { tool_id: "t" }, fn, { maxIdLength: 1.5 }), RangeError);
    assert.throws(() => auditCall(sink, { tool_id: "t" }, fn, { redact: "x" as never }), TypeError);
    assert.throws(() => auditCall(sink, { tool_id: "t" }, fn, { mapError: 1 as never }), TypeError);
    assert.throws(() => auditCall(sink, { tool_id: "t" }, fn, { scrubSecrets: "yes" as never }), TypeError);
    assert.equal(ran, false);
    assert.equal(sink.events.length, 0);
  });

  it("says what it got without converting it: a Symbol, an object whose toString throws", () => {
    const sink = new MemorySink();
    const fn = () => 1;
    const hostile = {
      toString() {
        throw new Error("toString");
      },
    };
    assert.throws(() => auditCall(sink, Symbol("call") as never, fn), /call must be an object, got a symbol$/);
    assert.throws(
      () => auditCall(sink, { tool_id: "t" }, fn, Symbol("o") as never),
      /options must be .*, got a symbol$/,
    );
    assert.throws(
      () => auditCall(sink, { tool_id: "t" }, fn, { maxIdLength: hostile as never }),
      (e: Error) => e instanceof RangeError && /maxIdLength must be .*, got an object$/.test(e.message),
    );
    assert.throws(
      () => auditCall(sink, { tool_id: "t" }, fn, { maxMessageLength: Symbol("n") as never }),
      (e: Error) => e instanceof RangeError && /got a symbol$/.test(e.message),
    );
    const problems: Error[] = [];
    auditCall(sink, { tool_id: "t" }, fn, {
      onError: (e) => problems.push(e as Error),
      redact: () => Symbol() as never,
    });
    auditCall(sink, { tool_id: "t" }, fn, {
      onError: (e) => problems.push(e as Error),
      redact: () => hostile as never,
    });
    assert.equal(problems.length, 1);
    assert.equal(problems[0]!.message, "Cannot record call event: redact returned a symbol, not an event");
    assert.equal(sink.events.length, 1, "an object is an event to the sink, which checks it");
  });

  it("writes lines that JsonLinesAuditSink accepts and parseCallEvent reads back", async () => {
    const destination = new MemoryDestination();
    const sink = new JsonLinesAuditSink(destination.stream);
    await auditCall(sink, { tool_id: "a\nb", caller_id: "c" }, () => {
      return Promise.reject(new ToolCallError({ kind: "invalid_args", message: "x".repeat(5000) }));
    }).catch(() => {});
    auditCall(sink, { tool_id: "b" }, () => 1);
    await sink.close();
    const lines = destination.lines();
    assert.equal(lines.length, 2);
    const first = parseCallEvent(lines[0]!);
    assert.equal(first.tool_id, "a\nb");
    assert.equal(first.outcome.kind, "invalid_args");
    assert.ok(first.outcome.kind === "invalid_args" && first.outcome.message.endsWith("…[truncated: 5000 chars]"));
  });
});

/** Runs `body` with `Date.now` replaced by `now` (the wall clock being set, or a test's own clock). */
function withDateNow<T>(now: (real: () => number) => number, body: () => T): T {
  const real = Date.now;
  Date.now = () => now(real);
  try {
    return body();
  } finally {
    Date.now = real;
  }
}

const RFC3339_MS = /^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d(\.\d{3})?\+00:00$/;
const ULID = /^[0-7][0-9A-HJKMNP-TV-Z]{25}$/;

describe("auditCall's ts and call_id against the wall clock", () => {
  it("follows a replaced Date.now() (fake timers) at every call, set forward or back, and keeps call_ids increasing", () => {
    const sink = new MemorySink();
    // In the past: ULIDs never go back, and later tests in this process expect ones of the present.
    let fake = Math.floor(Date.now() / 1000) * 1000 - 3 * 86_400_000 + 5;
    const expected: number[] = [];
    withDateNow(() => fake, () => {
      // A step of one millisecond looks like the clock's own tick; what comes next must still be read.
      for (const step of [0, 1, 86_400_000, 1, 1, 1, -5_000, 1, -1, 3_600_000, 1, -400 * 86_400_000, 1, 1]) {
        fake += step;
        expected.push(fake);
        auditCall(sink, { tool_id: "tick" }, () => 1);
      }
    });
    assert.deepEqual(sink.events.map((e) => Date.parse(e.ts)), expected);
    const ids = sink.events.map((e) => e.call_id);
    for (const id of ids) assert.match(id, ULID);
    for (let i = 1; i < ids.length; i++) assert.ok(ids[i - 1]! < ids[i]!, `${ids[i - 1]} < ${ids[i]}`);
  });

  // Bun only (bun:test's setSystemTime): defined there alone, so that nothing is skipped elsewhere.
  if ("Bun" in globalThis) {
    it("follows Bun's setSystemTime, which moves the native clock", bunSetSystemTime);
  }

  it("writes whole milliseconds when a replaced Date.now() gives fractions of one", () => {
    const sink = new MemorySink();
    const stamps = withDateNow((real) => real() + 0.25, () => {
      for (let i = 0; i < 3; i++) auditCall(sink, { tool_id: "hi-res" }, () => 1);
      return [nowRfc3339(), nowRfc3339()];
    });
    for (const ts of stamps) assert.match(ts, RFC3339_MS);
    for (const event of sink.events) {
      assert.match(event.ts, RFC3339_MS);
      assert.match(event.call_id, ULID);
    }
  });
});

/** Under Bun: ts follows `setSystemTime`, a one-millisecond step followed by a jump included. */
async function bunSetSystemTime(): Promise<void> {
  const bunTest = "bun:test"; // a variable: Deno and Node never resolve it
  const { setSystemTime } = await import(bunTest) as { setSystemTime(at?: Date | number): void };
  const sink = new MemorySink();
  const start = Math.floor(Date.now() / 1000) * 1000 - 3 * 86_400_000;
  const expected: number[] = [];
  try {
    // A one-millisecond step looks like the clock's own tick; the jump right after must still be seen.
    for (const at of [start, start + 1, start + 86_400_000, start + 86_400_001, start + 5]) {
      setSystemTime(at);
      expected.push(at);
      auditCall(sink, { tool_id: "tick" }, () => 1);
    }
  } finally {
    setSystemTime();
  }
  assert.deepEqual(sink.events.map((e) => Date.parse(e.ts)), expected);
}
