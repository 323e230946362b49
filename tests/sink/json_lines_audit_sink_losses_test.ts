import { describe, it } from "node:test";
import assert from "node:assert/strict";
import { spawn } from "node:child_process";
import { AuditLossError, type AuditSinkStats, type CallEvent, JsonLinesAuditSink } from "../../mod.ts";
import { MemoryDestination, mkEvent, numbered, ScriptedDestination, stalledStream, tick } from "../_helpers/events.ts";
import { runScript, scriptCommand } from "../_helpers/run_script.ts";

/** Every report `onError` got. */
function collector() {
  const errors: unknown[] = [];
  const onError = (error: unknown) => void errors.push(error);
  const losses = (...reasons: string[]) =>
    errors.filter((e): e is AuditLossError => e instanceof AuditLossError && reasons.includes(e.reason));
  const sum = (...reasons: string[]) => losses(...reasons).reduce((n, e) => n + e.events, 0);
  return { errors, onError, losses, sum };
}

/** Runs `body` with console.error captured; returns the lines printed. */
async function capturingConsole(body: () => Promise<void>): Promise<string[]> {
  const lines: string[] = [];
  const original = console.error;
  console.error = (...args: unknown[]) => void lines.push(args.map(String).join(" "));
  try {
    await body();
  } finally {
    console.error = original;
  }
  return lines;
}

function assertBalanced(s: AuditSinkStats, offered: number): void {
  assert.equal(s.accepted + s.dropped + s.fallback + s.invalid, offered, JSON.stringify(s));
  assert.equal(s.accepted, s.written + s.rerouted + s.failed + s.queued, JSON.stringify(s));
  assert.ok(s.queued >= 0, JSON.stringify(s));
}

describe("JsonLinesAuditSink loss reports", () => {
  it("tells onError about a burst of drops at once, with the count, the capacity, the strategy and the remedies", async () => {
    const { onError, losses } = collector();
    const sink = new JsonLinesAuditSink(stalledStream(), { capacity: 1024, onError });
    for (let i = 0; i < 10_000; i++) sink.onCall(numbered(i));
    await tick(); // reported within the turn, after the burst
    const [report, ...rest] = losses("queue_full");
    assert.equal(rest.length, 0);
    assert.equal(report!.events, 8_976);
    assert.equal(report!.total, sink.drops);
    assert.match(report!.message, /8976 events .*queue of 1024 events \(64 MiB\) was full with backpressure "drop"/);
    assert.match(
      report!.message,
      /"block" with await sink\.record\(event\), a larger capacity or maxQueueBytes, or a fallback sink/,
    );
  });

  it("holds later drops within the interval and reports them all when flush() ends", async () => {
    const { onError, losses, sum } = collector();
    const sink = new JsonLinesAuditSink(new MemoryDestination({ delayMs: 1 }).stream, { capacity: 4, onError });
    for (let round = 0; round < 5; round++) {
      for (let i = 0; i < 20; i++) sink.onCall(numbered(i));
      await tick();
    }
    assert.equal(losses("queue_full").length, 1, "one report within the interval");
    await sink.flush();
    assert.equal(losses("queue_full").length, 2);
    assert.equal(sum("queue_full"), sink.drops);
    await sink.close();
    assertBalanced(sink.stats(), 100);
  });

  it("reports events recorded after close(), and again at a later close()", async () => {
    const { onError, sum } = collector();
    const sink = new JsonLinesAuditSink(new MemoryDestination().stream, { onError });
    await sink.close();
    sink.onCall(numbered(0));
    await tick();
    sink.onCall(numbered(1));
    sink.onCall(numbered(2));
    assert.equal(sum("closed"), 1);
    await sink.close();
    assert.equal(sum("closed"), 3);
    assert.equal(sink.drops, 3);
  });

  it("tells onError about every failure, whether a write rejected or the destination reported it", async () => {
    const { onError, sum } = collector();
    let writes = 0;
    const scripted = new ScriptedDestination((_, lines) => {
      writes++;
      if (writes === 1) return { delivered: 1, failed: lines - 1 };
      if (writes === 2) return { held: lines }; // reported at flush, as an HTTP batch
      return { settle: "reject" }; // a rejected write errors the stream for good
    });
    const sink = new JsonLinesAuditSink(scripted.destination, { onError });
    for (let round = 0; round < 3; round++) {
      for (let i = 0; i < 5; i++) sink.onCall(numbered(i));
      await sink.flush();
    }
    await sink.close();
    const s = sink.stats();
    assert.deepEqual([s.written, s.failed, s.queued], [1 + 5, 5 + 4, 0]);
    assert.equal(sum("destination"), s.failed);
  });

  it("keeps its counters balanced against a destination that reports more than it was given", async () => {
    const { errors, onError } = collector();
    const scripted = new ScriptedDestination((write, lines) =>
      write % 3 === 0 ? { delivered: lines + 5 } : write % 3 === 1
        ? { delivered: lines, settle: "reject" } // reports, then rejects: the lines count once
        : { delivered: Number.NaN, rerouted: -3, failed: lines }
    );
    const sink = new JsonLinesAuditSink(scripted.destination, { onError });
    for (let i = 0; i < 30; i++) {
      sink.onCall(numbered(i));
      await tick();
    }
    await sink.close();
    const s = sink.stats();
    assertBalanced(s, 30);
    assert.equal(s.queued, 0);
    assert.ok(s.written <= 30 && s.failed <= 30);
    const warnings = errors.filter((e) => e instanceof RangeError);
    assert.equal(warnings.length, 1, "the misbehaviour is told once");
    assert.match(String(warnings[0]), /reported \d+ lines when \d+ were unreported/);
  });

  it("passes the destination's warnings to onError", async () => {
    const { errors, onError } = collector();
    let report: { warn(error: unknown): void } | undefined;
    const stream = new WritableStream<Uint8Array>();
    const destination = Object.assign(stream, {
      attach: (next: typeof report) => void (report = next),
      flush: () => Promise.resolve(),
    });
    const sink = new JsonLinesAuditSink(destination, { onError });
    report!.warn(new Error("repaired a torn tail"));
    assert.match(String(errors[0]), /repaired a torn tail/);
    await sink.close();
  });
});

describe("JsonLinesAuditSink default onError", () => {
  it("prints one line per problem, no stack, and counts repeated problems", async () => {
    const lines = await capturingConsole(async () => {
      const sink = new JsonLinesAuditSink(new MemoryDestination().stream);
      for (let i = 0; i < 785; i++) sink.onCall({ ...mkEvent(), tool_id: i } as unknown as CallEvent);
      sink.onCall({ ...mkEvent(), duration_ms: -1 });
      await sink.close();
    });
    assert.equal(lines.length, 3, lines.join("\n"));
    assert.match(lines[0]!, /^@atd\/audit: skipped an invalid event: expected "tool_id" to be a string, got 0$/);
    assert.match(lines[1]!, /^@atd\/audit: skipped an invalid event: expected "duration_ms" .*-1$/);
    assert.match(lines[2]!, /^@atd\/audit: skipped an invalid event: expected "tool_id" .* \(and 784 more like it\)$/);
  });

  it("never reads the event again, and describes a hostile thrown value safely", async () => {
    let reads = 0;
    const hostile = new Proxy({}, {
      get() {
        reads++;
        throw new Proxy({}, {
          get() {
            throw new Error("hostile error");
          },
          getPrototypeOf() {
            throw new Error("hostile prototype");
          },
        });
      },
    });
    let readsAfterOnCall = -1;
    const lines = await capturingConsole(async () => {
      const sink = new JsonLinesAuditSink(new MemoryDestination().stream, {
        backpressure: {
          fallback: {
            onCall() {
              throw hostile;
            },
          },
        },
        capacity: 1,
      });
      sink.onCall(hostile as CallEvent);
      sink.onCall(numbered(0));
      sink.onCall(numbered(1)); // the queue is full: to the fallback, which throws a hostile value
      readsAfterOnCall = reads;
      await sink.close();
    });
    assert.equal(reads, readsAfterOnCall, "nothing read the event after onCall");
    assert.equal(lines.length, 2, lines.join("\n"));
    assert.match(
      lines[0]!,
      /^@atd\/audit: skipped an invalid event: expected "ts" to be readable, but reading it threw/,
    );
    assert.equal(lines[1], "@atd/audit: dropped an event: the fallback sink threw: a thrown object");
    assert.ok(lines.every((line) => !line.includes("\n")));
  });

  it("prints a drop burst as one line that names the count and what to do", async () => {
    const lines = await capturingConsole(async () => {
      const sink = new JsonLinesAuditSink(stalledStream(), { capacity: 8 });
      for (let i = 0; i < 1000; i++) sink.onCall(numbered(i));
      await tick();
    });
    assert.equal(lines.length, 1);
    assert.match(lines[0]!, /^@atd\/audit: Dropped 992 events \(992 so far\): .*backpressure "block"/);
  });
});

describe("JsonLinesAuditSink on a closed stdout (subprocess)", () => {
  it("reports a closed stdout in a few lines that say how many events were lost", async () => {
    const [command, ...args] = await scriptCommand("tests/sink/_stdout_script.ts");
    // `head -c 0` exits at once: every write to the pipe fails (EPIPE), as when a reader goes away.
    const child = spawn("sh", ["-c", '"$@" | head -c 0', "sh", command, ...args, "30000", "block", "close"], {
      stdio: ["ignore", "ignore", "pipe"],
    });
    let stderr = "";
    child.stderr.on("data", (d) => (stderr += d));
    const code = await new Promise<number | null>((resolve) => child.on("close", resolve));
    assert.equal(code, 0, stderr);
    const lines = stderr.trim().split("\n");
    const stats = JSON.parse(lines.pop()!.replace(/^stats /, "")) as AuditSinkStats;
    assert.ok(lines.length <= 3, `${lines.length} lines on stderr:\n${stderr}`);
    assertBalanced(stats, 30_000);
    assert.equal(stats.queued, 0);
    assert.ok(stats.failed > 0, "the pipe was closed before the writes");
    assert.ok(lines.every((line) => line.startsWith("@atd/audit: Lost ") && !line.includes(" at ")), stderr);
    assert.ok(lines.at(-1)!.includes(`(${stats.failed} so far)`), `the last line counts every lost event:\n${stderr}`);
  });

  it("tells about drops in one line and lets a script that never closes exit", async () => {
    const result = await runScript("tests/sink/_stdout_script.ts", ["5000", "drop", "end"]);
    assert.equal(result.code, 0, result.stderr);
    const written = result.stdout.split("\n").filter((line) => line !== "").length;
    assert.equal(written, 1024);
    const lines = result.stderr.trim().split("\n");
    assert.equal(lines.length, 1, result.stderr);
    assert.match(lines[0]!, /^@atd\/audit: Dropped 3976 events \(3976 so far\)/);
  });
});
