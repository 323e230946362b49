// Drives AuditSealer as a sink does (chunks of lines handed to the stream,
// losses of every kind reported as they happen, checkpoints between) and
// checks the books: what the checkpoints declare adds up to what was offered,
// and the verifier reports every loss where it happened.
import { describe, it } from "node:test";
import assert from "node:assert/strict";
import fc from "fast-check";
import { AuditSealer } from "../../src/seal/audit_sealer.ts";
import { eventLine, keys, problems, show, verify } from "./_trail.ts";

const encoder = new TextEncoder();
const decoder = new TextDecoder();

/** What became of one offered event. */
type Fate = "written" | "queue_full" | "invalid" | "fallback" | "closed" | "deadline" | "destination" | "rerouted";
const IN_SEGMENT: ReadonlySet<Fate> = new Set(["destination", "rerouted"]);

type Step = { readonly fates: Fate[] } | { readonly seal: true };

const fate: fc.Arbitrary<Fate> = fc.oneof(
  { weight: 6, arbitrary: fc.constant("written" as const) },
  { weight: 1, arbitrary: fc.constantFrom<Fate>("queue_full", "invalid", "fallback", "closed", "deadline") },
  { weight: 1, arbitrary: fc.constantFrom<Fate>("destination", "rerouted") },
);
const steps: fc.Arbitrary<Step[]> = fc.array(
  fc.oneof(
    { weight: 3, arbitrary: fc.record({ fates: fc.array(fate, { minLength: 1, maxLength: 8 }) }) },
    { weight: 1, arbitrary: fc.constant({ seal: true as const }) },
  ),
  { maxLength: 25 },
);

/** One expected gap: a checkpoint's losses for one reason. */
interface Gap {
  reason: string;
  count: number;
  first: string;
  last: string;
}

describe("AuditSealer accounting", () => {
  it("declares every loss once: written + lost = offered, per reason and time range, as the verifier reports", async () => {
    const key = await keys();
    await fc.assert(
      fc.asyncProperty(steps, fc.boolean(), async (plan, inBand) => {
        const sealer = new AuditSealer(key.seal);
        const data: string[] = [];
        const seal: string[] = [];
        const expected: Gap[] = [];
        let period = new Map<string, Gap>();
        let offered = 0;
        let written = 0;
        const close = async (): Promise<void> => {
          const checkpoint = decoder.decode(await sealer.seal());
          (inBand ? data : seal).push(checkpoint);
          expected.push(...period.values());
          period = new Map();
        };
        for (const step of [...plan, { seal: true as const }]) {
          if ("seal" in step) {
            await close();
            continue;
          }
          const handed: string[] = [];
          const losses: [Fate, string][] = [];
          for (const f of step.fates) {
            const ts = `2026-12-02T10:00:${String(offered % 60).padStart(2, "0")}Z`;
            const line = eventLine(offered++);
            if (f === "written" || IN_SEGMENT.has(f)) handed.push(line);
            if (f === "written") {
              data.push(line);
              written++;
              continue;
            }
            const gap = period.get(f);
            period.set(f, { reason: f, count: (gap?.count ?? 0) + 1, first: gap?.first ?? ts, last: ts });
            losses.push([f, ts]);
          }
          // The chunk goes to the stream; what never reached it, and what it failed to deliver, are reported.
          if (handed.length > 0) sealer.append(encoder.encode(handed.join("")), handed.length);
          for (const [f, ts] of losses) {
            if (IN_SEGMENT.has(f)) sealer.undelivered(f, 1, ts);
            else sealer.lost(f, 1, ts);
          }
        }
        const { findings, summary } = await verify(data, { keys: key.verify, ...(inBand ? {} : { seal }) });
        assert.deepEqual(problems(findings), [], show(findings));
        const lost = expected.reduce((sum, g) => sum + g.count, 0);
        assert.deepEqual([summary.offered, summary.written, summary.lost], [offered, written, lost]);
        assert.equal(summary.written + summary.lost, summary.offered);
        assert.equal(summary.verifiedLines, written);
        assert.deepEqual(
          findings.filter((f) => f.kind === "gap").map((f) => [f.reason, f.count, f.firstTs, f.lastTs]),
          expected.map((g) => [g.reason, g.count, g.first, g.last]),
        );
      }),
      { numRuns: 120 },
    );
  });
});
