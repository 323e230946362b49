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
import { numbered, ScriptedDestination, tick, type WritePlan } from "../_helpers/events.ts";

/** How the destination answers a write of `lines` lines. */
const PLANS: readonly ((lines: number) => WritePlan)[] = [
  (lines) => ({ delivered: lines }),
  (lines) => ({ delivered: lines, delayMs: 2 }),
  (lines) => ({ held: lines }),
  (lines) => ({ delivered: Math.floor(lines / 2), rerouted: 1, failed: lines - Math.floor(lines / 2) - 1 }),
  (lines) => ({ failed: lines, delayMs: 1 }),
  () => ({ settle: "reject" }),
  () => ({ settle: "never" }),
  (lines) => ({ delivered: lines + 3 }), // more than it was given
  (lines) => ({ delivered: lines, settle: "reject" }), // reports, then rejects
];

type Op = "valid" | "invalid" | "record" | "flush" | "flush-deadline" | "close" | "tick" | "ready";
const OPS: readonly Op[] = [
  "valid",
  "valid",
  "valid",
  "invalid",
  "record",
  "flush",
  "flush-deadline",
  "close",
  "tick",
  "ready",
];

function strategyOf(kind: number, told: () => void): BackpressureStrategy {
  if (kind === 0) return "drop";
  if (kind === 1) return "block";
  let calls = 0;
  const fallback: AuditSink = {
    onCall() {
      if (kind === 3 && calls++ % 2 === 1) throw new Error("fallback refused");
      told();
    },
  };
  return { fallback };
}

/** `waiting`: record() calls not settled yet, whose event may not have reached onCall. */
function assertBalanced(s: AuditSinkStats, offered: number, when: string, waiting = 0): void {
  const at = `${when}: ${JSON.stringify(s)}`;
  const landed = s.accepted + s.dropped + s.fallback + s.invalid;
  assert.ok(landed <= offered && landed >= offered - waiting, `${offered} offered, ${waiting} waiting; ${at}`);
  assert.equal(s.accepted, s.written + s.rerouted + s.failed + s.queued, at);
  for (const value of Object.values(s)) assert.ok(Number.isSafeInteger(value) && value >= 0, at);
}

/** A signal that aborts after a few event-loop turns (or at once). */
function deadline(soon: boolean): AbortSignal {
  const controller = new AbortController();
  if (soon) controller.abort(new Error("deadline"));
  else void tick(2).then(() => controller.abort(new Error("deadline")));
  return controller.signal;
}

describe("JsonLinesAuditSink counters (property)", () => {
  it("balance after every step and tell onError of every loss, whatever the destination, strategy and interleaving", {
    timeout: 120_000,
  }, async () => {
    await fc.assert(
      fc.asyncProperty(
        fc.array(fc.nat({ max: PLANS.length - 1 }), { minLength: 1, maxLength: 12 }),
        fc.constantFrom<"honour" | "hang">("honour", "honour", "hang"),
        fc.nat({ max: 3 }),
        fc.integer({ min: 1, max: 8 }),
        fc.array(fc.constantFrom(...OPS), { minLength: 1, maxLength: 40 }),
        fc.boolean(),
        async (plans, flushMode, strategyKind, capacity, ops, abortAtOnce) => {
          const told: [unknown, CallEvent | undefined][] = [];
          const scripted = new ScriptedDestination(
            (write, lines) => PLANS[plans[write % plans.length]!]!(lines),
            { flush: flushMode },
          );
          const sink = new JsonLinesAuditSink(scripted.destination, {
            capacity,
            backpressure: strategyOf(strategyKind, () => {}),
            onError: (error, event) => void told.push([error, event]),
          });
          let offered = 0;
          let waiting = 0;
          for (const [i, op] of ops.entries()) {
            if (op === "valid") {
              offered++;
              sink.onCall(numbered(i));
            } else if (op === "invalid") {
              offered++;
              sink.onCall({ ...numbered(i), duration_ms: -1 });
            } else if (op === "record") {
              offered++;
              waiting++;
              void sink.record(numbered(i)).then(() => waiting--); // may wait for room for ever: not awaited
            } else if (op === "flush") void sink.flush();
            else if (op === "flush-deadline") await sink.flush({ signal: deadline(abortAtOnce) });
            else if (op === "close") void sink.close();
            else if (op === "tick") await tick();
            else await Promise.race([sink.ready, tick(1)]);
            assertBalanced(sink.stats(), offered, `after ${op} #${i}`, waiting);
          }
          await sink.close({ signal: deadline(abortAtOnce) });
          assert.equal(waiting, 0, "close() settles every record() call");
          const s = sink.stats();
          assertBalanced(s, offered, "after close");
          assert.equal(s.queued, 0, "nothing left queued after close()");

          const losses = told.map(([error]) => error).filter((e): e is AuditLossError => e instanceof AuditLossError);
          const sum = (...reasons: string[]) =>
            losses.filter((e) => reasons.includes(e.reason)).reduce((n, e) => n + e.events, 0);
          const refused = told.filter(([error, event]) =>
            event !== undefined && !(error instanceof InvalidCallEventError)
          ).length;
          assert.equal(sum("destination", "deadline"), s.failed, "every failed event was told");
          assert.equal(sum("queue_full", "closed") + refused, s.dropped, "every dropped event was told");
          assert.equal(told.filter(([error]) => error instanceof InvalidCallEventError).length, s.invalid);
          for (const loss of losses) assert.ok(loss.events > 0 && loss.firstAt <= loss.lastAt);
        },
      ),
      { numRuns: 60 },
    );
  });
});
