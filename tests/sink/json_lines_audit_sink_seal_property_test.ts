// For any run of a sealing sink (any strategy, any interleaving, a destination
// that loses lines in every way it can while settling in order): the
// checkpoints account for every event offered (written + Σ gaps = offered),
// their gaps agree with the sink's counters reason by reason, and the trail
// verifies against the lines that arrived.
import { describe, it } from "node:test";
import assert from "node:assert/strict";
import fc from "fast-check";
import { type BackpressureStrategy, type CallEvent, JsonLinesAuditSink } from "../../mod.ts";
import { numbered, tick } from "../_helpers/events.ts";
import { keys, problems, show, verify } from "../seal/_trail.ts";
import { gapsByReason, OrderedDestination, type OrderedPlan, SealStream } from "./_sealed.ts";

const PLANS: readonly ((lines: number) => OrderedPlan)[] = [
  () => ({}),
  () => ({}),
  () => ({ delayMs: 1 }),
  () => ({ hold: true }),
  (lines) => ({ deliver: lines - 1 }),
  (lines) => ({ deliver: Math.floor(lines / 2), rest: "rerouted" }),
  () => ({ deliver: 0, hold: true }),
  () => ({ reject: true }),
];

type Op = "valid" | "invalid" | "tick" | "flush" | "burst";
const INVALID = { tool_id: 7 } as unknown as CallEvent;

function strategyOf(kind: number): BackpressureStrategy {
  if (kind === 0) return "drop";
  if (kind === 1) return "block";
  let calls = 0;
  return {
    fallback: {
      onCall(): void {
        if (calls++ % 2 === 1) throw new Error("fallback refused");
      },
    },
  };
}

describe("JsonLinesAuditSink sealing (property)", () => {
  it(
    "written + Σ gaps = offered, per reason as the counters say, and the trail verifies",
    { timeout: 120_000 },
    async () => {
      const key = await keys();
      await fc.assert(
        fc.asyncProperty(
          fc.array(fc.nat({ max: PLANS.length - 1 }), { minLength: 1, maxLength: 10 }),
          fc.array(fc.constantFrom<Op>("valid", "valid", "valid", "invalid", "tick", "flush", "burst"), {
            maxLength: 40,
          }),
          fc.nat({ max: 2 }),
          fc.integer({ min: 1, max: 6 }),
          fc.integer({ min: 1, max: 5 }),
          fc.boolean(),
          async (plans, ops, strategy, capacity, segment, inBand) => {
            // In band, checkpoint lines go through the same destination: those arrive (a lost one is a finding),
            // and a write that rejects, which errors the stream for good, would take every later checkpoint with it.
            const data = new OrderedDestination((write, lines, first) => {
              const plan = PLANS[plans[write % plans.length]!]!(lines);
              return !inBand ? plan : first.startsWith('{"audit_checkpoint":') || plan.reject ? {} : plan;
            });
            const seal = new SealStream();
            const sink = new JsonLinesAuditSink(data.destination, {
              capacity,
              backpressure: strategyOf(strategy),
              onError: () => {},
              seal: {
                key: key.seal,
                maxSegmentLines: segment,
                ...(inBand ? { inBand: true } : { to: seal.stream }),
              },
            });
            let n = 0;
            for (const op of ops) {
              if (op === "valid") sink.onCall(numbered(n++));
              else if (op === "invalid") sink.onCall(INVALID);
              else if (op === "burst") { for (let i = 0; i < 8; i++) sink.onCall(numbered(n++)); }
              else if (op === "tick") await tick();
              else await sink.flush();
            }
            await sink.close();
            const s = sink.stats();
            const offered = s.accepted + s.dropped + s.fallback + s.invalid;
            const checkpointLines = inBand
              ? data.arrived.filter((line) => line.startsWith('{"audit_checkpoint":'))
              : seal.lines;
            const checkpoints = checkpointLines.map((line) => JSON.parse(line));
            const gaps = gapsByReason(checkpoints);
            const at = `${JSON.stringify(s)} gaps ${JSON.stringify(gaps)}`;
            assert.equal(checkpoints.at(-1)?.offered ?? 0, offered, at);
            const expected: Record<string, number> = {
              queue_full: s.dropped - (gaps.fallback_failed ?? 0),
              invalid: s.invalid,
              fallback: s.fallback,
              fallback_failed: gaps.fallback_failed ?? 0,
              destination: s.failed,
              rerouted: s.rerouted,
            };
            for (const [reason, count] of Object.entries(expected)) {
              assert.equal(
                gaps[reason] ?? 0,
                count,
                `${reason}: ${at}`,
              );
            }
            const lost = Object.values(gaps).reduce((sum, c) => sum + c, 0);
            assert.equal(s.written + lost, offered, at);
            const { findings, summary } = inBand
              ? await verify(data.text(), { keys: key.verify })
              : await verify(data.text(), { keys: key.verify, seal: seal.text() });
            assert.deepEqual(problems(findings), [], show(findings));
            assert.deepEqual([summary.written, summary.lost, summary.offered], [s.written, lost, offered], at);
          },
        ),
        { numRuns: 150, timeout: 5_000 },
      );
    },
  );
});
