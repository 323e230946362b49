// Chaos: a sink driven by random bursts, record(), flush() and close() (with
// and without deadlines), against destinations that resolve, reject, throw,
// stall, re-enter the sink, and lose lines in every way the contract allows;
// in drop, block and fallback modes (the fallback failing too), sealed or not.
// Whatever happens: onCall returns nothing and never throws, the counters
// balance at every step, every loss reaches onError, block mode against a
// destination that works loses nothing and keeps the order, and a sealed
// trail accounts for every event offered before close() and verifies.
// CHAOS_SEED and CHAOS_RUNS pick other runs (CI runs the default seed).
import { describe, it } from "node:test";
import assert from "node:assert/strict";
import fc from "fast-check";
import {
  AuditLossError,
  type AuditSink,
  type AuditSinkStats,
  type BackpressureStrategy,
  type CallEvent,
  InvalidCallEventError,
  JsonLinesAuditSink,
} from "../../mod.ts";
import { numbered, tick } from "../_helpers/events.ts";
import { keys, problems, show, verify } from "../seal/_trail.ts";
import { gapsByReason, OrderedDestination, type OrderedPlan, SealStream } from "./_sealed.ts";

const decoder = new TextDecoder();
const CHECKPOINT = '{"audit_checkpoint":';

/** What a plain stream's write does. */
type PlainStep = "ok" | "delay" | "reject" | "throw" | "never" | "reenter-call" | "reenter-flush" | "reenter-close";
/** Steps of a plain stream that takes every line, in the end. */
const WORKING: readonly PlainStep[] = ["ok", "ok", "delay", "reenter-call", "reenter-flush"];
const FAILING: readonly PlainStep[] = [...WORKING, "reject", "throw", "never", "reenter-close"];

const ORDERED: readonly ((lines: number) => OrderedPlan)[] = [
  () => ({}),
  () => ({ delayMs: 1 }),
  () => ({ hold: true }),
  (lines) => ({ deliver: lines - 1 }),
  (lines) => ({ deliver: Math.floor(lines / 2), rest: "rerouted" }),
  () => ({ reject: true }),
];

type Op =
  | "valid"
  | "invalid"
  | "burst"
  | "record"
  | "record-await"
  | "flush"
  | "flush-await"
  | "flush-now"
  | "flush-soon"
  | "close"
  | "close-soon"
  | "tick";

/** A scenario, shrinkable and printable. */
interface Scenario {
  readonly destination: "plain" | "ordered";
  readonly working: boolean;
  readonly steps: readonly number[];
  readonly strategy: "drop" | "block" | "fallback" | "fallback-throws" | "fallback-reenters";
  readonly capacity: number;
  readonly seal: "off" | "to" | "in-band";
  readonly segment: number;
  readonly onErrorReenters: boolean;
  readonly ops: readonly Op[];
}

const scenario: fc.Arbitrary<Scenario> = fc.record({
  destination: fc.constantFrom("plain" as const, "ordered" as const),
  working: fc.boolean(),
  steps: fc.array(fc.nat({ max: 99 }), { minLength: 1, maxLength: 10 }),
  strategy: fc.constantFrom(
    "drop" as const,
    "block" as const,
    "fallback" as const,
    "fallback-throws" as const,
    "fallback-reenters" as const,
  ),
  capacity: fc.integer({ min: 1, max: 8 }),
  seal: fc.constantFrom("off" as const, "to" as const, "in-band" as const),
  segment: fc.integer({ min: 1, max: 6 }),
  onErrorReenters: fc.boolean(),
  ops: fc.array(
    fc.constantFrom<Op>(
      "valid",
      "valid",
      "valid",
      "invalid",
      "burst",
      "record",
      "record-await",
      "flush",
      "flush-await",
      "flush-now",
      "flush-soon",
      "close",
      "close-soon",
      "tick",
    ),
    { minLength: 1, maxLength: 30 },
  ),
});

/** A signal that aborts at once, or after a few milliseconds (on a timer that keeps the process alive). */
function deadline(now: boolean): AbortSignal {
  const controller = new AbortController();
  if (now) controller.abort(new Error("deadline"));
  else setTimeout(() => controller.abort(new Error("deadline")), 3);
  return controller.signal;
}

function assertBalanced(s: AuditSinkStats, offered: number, waiting: number, when: string): void {
  const at = `${when}: ${JSON.stringify(s)}, ${offered} offered, ${waiting} waiting`;
  const landed = s.accepted + s.dropped + s.fallback + s.invalid;
  assert.ok(landed <= offered && landed >= offered - waiting, at);
  assert.equal(s.accepted, s.written + s.rerouted + s.failed + s.queued, at);
  for (const value of Object.values(s)) assert.ok(Number.isSafeInteger(value) && value >= 0, at);
}

/** Runs one scenario; throws on a broken invariant. */
async function run(sc: Scenario, key: Awaited<ReturnType<typeof keys>>): Promise<void> {
  const told: [unknown, CallEvent | undefined][] = [];
  let offered = 0;
  /** Events offered from inside the sink's callbacks (they count as offered too). */
  const reenter = (i: number): void => {
    if (i >= 6) return; // a destination that records on every write would record for ever
    offered++;
    const result = sink.onCall(numbered(10_000 + i)) as unknown;
    assert.equal(result, undefined, "onCall returns nothing");
  };
  let reentries = 0;
  let closedFromWrite = false;

  // The destination.
  const arrived: string[] = [];
  let destination: WritableStream<Uint8Array>;
  let ordered: OrderedDestination | undefined;
  const inBand = sc.seal === "in-band";
  if (sc.destination === "plain") {
    const steps = sc.working ? WORKING : FAILING;
    let writes = 0;
    destination = new WritableStream<Uint8Array>({
      write(chunk): Promise<void> | void {
        const text = decoder.decode(chunk);
        const step = steps[sc.steps[writes++ % sc.steps.length]! % steps.length]!;
        // In band, a write that errors or stalls the stream would take every later checkpoint with it.
        const plain = inBand && (text.startsWith(CHECKPOINT) || ["throw", "reject", "never"].includes(step))
          ? "ok"
          : step;
        if (plain === "throw") throw new Error("write threw");
        if (plain === "never") return new Promise<void>(() => {});
        if (plain === "reject") return Promise.reject(new Error("write rejected"));
        if (plain === "reenter-call") reenter(reentries++);
        if (plain === "reenter-flush") void sink.flush();
        if (plain === "reenter-close") {
          closedFromWrite = true; // events recorded after it may come after the last checkpoint
          void sink.close();
        }
        arrived.push(...text.split(/(?<=\n)/));
        if (plain === "delay") return tick(1);
      },
    });
  } else {
    ordered = new OrderedDestination((write, lines, first) => {
      const plan = ORDERED[sc.steps[write % sc.steps.length]! % (sc.working ? 2 : ORDERED.length)]!(lines);
      return inBand && (first.startsWith(CHECKPOINT) || plan.reject) ? {} : plan;
    });
    destination = ordered.destination;
  }

  // The strategy.
  let fallbackCalls = 0;
  const fallback: AuditSink = {
    onCall(): void {
      fallbackCalls++;
      if (sc.strategy === "fallback-throws" && fallbackCalls % 2 === 0) throw new Error("fallback refused");
      if (sc.strategy === "fallback-reenters" && fallbackCalls % 3 === 0) reenter(reentries++);
    },
  };
  const strategy: BackpressureStrategy = sc.strategy === "drop" || sc.strategy === "block" ? sc.strategy : { fallback };

  const seal = new SealStream();
  let errorCalls = 0;
  let closing = false;
  const sink: JsonLinesAuditSink = new JsonLinesAuditSink(destination, {
    capacity: sc.capacity,
    backpressure: strategy,
    lossReportInterval: 0,
    onError: (error, event) => {
      told.push([error, event]);
      // Not once close() was called: a loss it causes during close()'s last report is neither told nor sealed
      // (chaos_findings_test.ts).
      if (sc.onErrorReenters && !closing && errorCalls++ < 3) {
        reenter(reentries++);
        void sink.flush();
      }
    },
    ...(sc.seal === "off" ? {} : {
      seal: { key: key.seal, maxSegmentLines: sc.segment, ...(inBand ? { inBand: true } : { to: seal.stream }) },
    }),
  });

  // The run.
  let waiting = 0;
  let n = 0;
  const call = (event: CallEvent): void => {
    offered++;
    let result: unknown;
    assert.doesNotThrow(() => (result = sink.onCall(event)));
    assert.equal(result, undefined, "onCall returns nothing");
  };
  const pending: Promise<unknown>[] = [];
  for (const [i, op] of sc.ops.entries()) {
    switch (op) {
      case "valid":
        call(numbered(n++));
        break;
      case "invalid":
        call({ ...numbered(n++), duration_ms: -1 });
        break;
      case "burst":
        for (let j = 0; j < 6; j++) call(numbered(n++));
        break;
      case "record":
      case "record-await": {
        offered++;
        waiting++;
        const recorded = sink.record(numbered(n++)).then(() => void waiting--);
        if (op === "record-await") await Promise.race([recorded, tick(2)]);
        pending.push(recorded);
        break;
      }
      case "flush":
        pending.push(sink.flush());
        break;
      case "flush-await":
        await Promise.race([sink.flush(), tick(5)]);
        break;
      case "flush-now":
      case "flush-soon":
        await sink.flush({ signal: deadline(op === "flush-now") });
        break;
      case "close":
        closing = true;
        pending.push(sink.close());
        break;
      case "close-soon":
        closing = true;
        await sink.close({ signal: deadline(false) });
        break;
      case "tick":
        await tick();
        break;
    }
    assertBalanced(sink.stats(), offered, waiting, `after ${op} #${i}`);
  }
  // A working destination gets all the time it takes; any other, a deadline.
  closing = true;
  await (sc.working ? sink.close() : sink.close({ signal: deadline(false) }));
  const s = sink.stats();
  // Read the trail as close() left it: nothing may come after.
  const checkpointLines = inBand
    ? (ordered?.arrived ?? arrived).filter((line) => line.startsWith(CHECKPOINT))
    : [...seal.lines];
  const dataText = (ordered?.arrived ?? arrived).join("");
  await Promise.all(pending); // every close() and record() settles once closed
  assert.equal(waiting, 0, "close() settles every record() call");
  assertBalanced(s, offered, 0, "after close");
  assert.equal(s.queued, 0, "nothing left queued after close()");

  // Every loss told.
  const losses = told.map(([error]) => error).filter((e): e is AuditLossError => e instanceof AuditLossError);
  const sum = (...reasons: string[]): number =>
    losses.filter((e) => reasons.includes(e.reason)).reduce((total, e) => total + e.events, 0);
  const refused = told.filter(([error, event]) => event !== undefined && !(error instanceof InvalidCallEventError))
    .length;
  const at = JSON.stringify(s);
  assert.equal(sum("destination", "deadline"), s.failed, `every failed event was told: ${at}`);
  assert.equal(sum("queue_full", "closed") + refused, s.dropped, `every dropped event was told: ${at}`);
  assert.equal(told.filter(([error]) => error instanceof InvalidCallEventError).length, s.invalid, at);

  // Block mode against a destination that takes every line: all of them, once, in order.
  const deadlines = sc.ops.some((op) => op === "flush-now" || op === "flush-soon" || op === "close-soon");
  if (sc.strategy === "block" && sc.working && !deadlines && s.dropped === 0) {
    const lines = dataText.split("\n").filter((line) => line !== "" && !line.startsWith(CHECKPOINT));
    assert.equal(lines.length, s.accepted - s.failed, `block mode: every accepted line arrived: ${at}`);
    assert.equal(s.failed, 0, `block mode, a working destination: nothing failed: ${at}`);
    const ids = lines.map((line) => JSON.parse(line).call_id as string);
    assert.equal(new Set(ids).size, ids.length, "no line twice");
    const order = ids.map((id) => Number(id.slice(5))).filter((k) => k < 10_000);
    assert.deepEqual(order, [...order].sort((a, b) => a - b), "in the order recorded");
  }

  // Events recorded once a close() was called may come after the last checkpoint: no trail can hold them.
  const closeAt = sc.ops.findIndex((op) => op === "close" || op === "close-soon");
  const recordsAfterClose = closeAt !== -1 &&
    sc.ops.slice(closeAt).some((op) => ["valid", "invalid", "burst", "record", "record-await"].includes(op));
  // In band, checkpoint lines go through the destination: one that fails may lose them, and the trail with them.
  if (sc.seal === "off" || recordsAfterClose || closedFromWrite || reentries > 0) return;
  if (sc.seal === "in-band" && !sc.working) return;
  // The trail, as close() left it, accounts for every event offered before close() resolved.
  const checkpoints = checkpointLines.map((line) => JSON.parse(line));
  const gaps = gapsByReason(checkpoints);
  const offeredNow = s.accepted + s.dropped + s.fallback + s.invalid;
  const detail = `${at} gaps ${JSON.stringify(gaps)} (${checkpoints.length} checkpoints)`;
  assert.equal(checkpoints.at(-1)?.offered ?? 0, offeredNow, `the last checkpoint counts every event: ${detail}`);
  const lost = Object.values(gaps).reduce((total, c) => total + c, 0);
  assert.equal(s.written + lost, offeredNow, `written + Σ gaps = offered: ${detail}`);
  const { findings, summary } = await verify(dataText, {
    keys: key.verify,
    ...(inBand ? {} : { seal: checkpointLines.join("") }),
  });
  assert.deepEqual(problems(findings), [], show(findings));
  assert.deepEqual([summary.written, summary.offered], [s.written, offeredNow], `${detail} ${show(findings)}`);
}

describe("JsonLinesAuditSink under chaos (property)", () => {
  it("keeps every invariant whatever the destination, strategy, sealing and interleaving", {
    timeout: 600_000,
  }, async () => {
    const key = await keys();
    const seed = Number(process.env.CHAOS_SEED ?? 20261203);
    const numRuns = Number(process.env.CHAOS_RUNS ?? 150);
    console.log(`chaos seed ${seed}, ${numRuns} runs`);
    await fc.assert(
      fc.asyncProperty(scenario, async (sc) => {
        let timer: ReturnType<typeof setTimeout> | undefined;
        const hang = new Promise<never>((_, reject) => {
          timer = setTimeout(() => reject(new Error("the run did not end within 5 s")), 5_000);
        });
        try {
          await Promise.race([run(sc, key), hang]);
        } finally {
          clearTimeout(timer);
        }
      }),
      { seed, numRuns, endOnFailure: false },
    );
  });
});
