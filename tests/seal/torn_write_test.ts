// A write that failed part way (a full disk) leaves the start of a line, which
// the next write ends with a newline: verifyAuditTrail reports it as a
// `torn_write`, not as tampering, where its checkpoint declares the line
// failed; anything else in its place stays a problem.
import { describe, it } from "node:test";
import assert from "node:assert/strict";
import fc from "fast-check";
import { encodeCallEvent } from "../../mod.ts";
import { AuditSealer } from "../../src/seal/audit_sealer.ts";
import type { AuditTrailFinding } from "../../src/seal/verify_audit_trail.ts";
import { numbered } from "../_helpers/events.ts";
import { eventLine, keys, problems, show, tornTrail, verify } from "./_trail.ts";

const encoder = new TextEncoder();
const decoder = new TextDecoder();

const WHERE = [["a seal stream", false], ["in band", true]] as const;

/** The line numbers (1-based) of the complete lines that are not JSON: the torn ones (not a cut-off last line). */
function tornLines(data: readonly string[]): number[] {
  return data.flatMap((line, i) => {
    try {
      JSON.parse(line);
      return [];
    } catch {
      return line.endsWith("\n") ? [i + 1] : [];
    }
  });
}

function torn(findings: readonly AuditTrailFinding[]): [number, number, number, readonly number[] | undefined][] {
  return findings.filter((f) => f.kind === "torn_write").map((f) => [f.line, f.lastLine, f.count, f.seq]);
}

/** `data` with `line` (1-based) replaced by `lines`. */
function replaced(data: readonly string[], line: number, ...lines: string[]): string[] {
  return data.toSpliced(line - 1, 1, ...lines);
}

/**
 * A trail written with `failures` (see tornTrail), verified: no problem, every
 * line written verified, each torn line counted and not verified.
 */
async function intactDespite(failures: [number, number][], inBand: boolean, options: { segment?: number } = {}) {
  const key = await keys();
  const trail = await tornTrail(key.seal, new Map(failures), { inBand, ...options });
  const lines = tornLines(trail.data);
  const { findings, summary } = await verify(trail.data, { keys: key.verify, seal: trail.seal });
  assert.deepEqual(problems(findings), [], show(findings));
  assert.deepEqual(
    [summary.intact, summary.problems, summary.verifiedLines, summary.tornLines],
    [true, 0, trail.written, lines.length],
  );
  return { findings, lines, summary, trail };
}

describe("verifyAuditTrail and torn writes", () => {
  for (const [where, inBand] of WHERE) {
    it(`reports a line torn by a failed write as torn_write, not tampering; the rest verifies (${where})`, async () => {
      const { findings, lines, summary, trail } = await intactDespite([[2, 30]], inBand);
      assert.deepEqual(lines, [3]);
      assert.deepEqual(torn(findings), [[3, 3, 1, [0, 0]]], show(findings));
      assert.equal(
        findings.find((f) => f.kind === "torn_write")!.message,
        "line 3 is a torn write: part of a line whose write failed (checkpoint 0 declares 1 failed at the destination)",
      );
      // The loss is still declared, and the line is not written.
      assert.deepEqual(findings.filter((f) => f.kind === "gap").map((f) => [f.reason, f.count]), [["destination", 1]]);
      assert.deepEqual([summary.written, summary.lost], [trail.written, 1]);
    });

    it(`reports a torn line right before a checkpoint, the segment's last line (${where})`, async () => {
      const { findings, lines } = await intactDespite([[5, 40]], inBand);
      assert.deepEqual(lines, [6]);
      assert.deepEqual(torn(findings), [[6, 6, 1, [0, 0]]], show(findings));
    });

    it(`reports two torn lines of one segment one finding each, with a third failure that left nothing (${where})`, async () => {
      // Events 6-11 are the second segment: 7 and 8 torn (one after the other), 10 failed without a trace.
      const { findings, lines } = await intactDespite([[7, 20], [8, 55], [10, 0]], inBand);
      assert.deepEqual(lines, inBand ? [9, 10] : [8, 9]);
      assert.deepEqual(torn(findings), lines.map((line) => [line, line, 1, [1, 1]]), show(findings));
      assert.match(
        findings.find((f) => f.kind === "torn_write")!.message,
        /^line \d+ is a torn write: .* \(checkpoint 1 declares 3 failed at the destination\)$/,
      );
      assert.deepEqual(findings.filter((f) => f.kind === "gap").map((f) => [f.reason, f.count]), [["destination", 3]]);
    });

    it(`reports torn lines in two segments against their own checkpoints (${where})`, async () => {
      const { findings, lines } = await intactDespite([[1, 10], [9, 70]], inBand);
      assert.deepEqual(lines, inBand ? [2, 11] : [2, 10]);
      assert.deepEqual(torn(findings), [[lines[0]!, lines[0]!, 1, [0, 0]], [lines[1]!, lines[1]!, 1, [1, 1]]]);
    });
  }

  it("keeps any mix of writes failed part way, or not at all, intact: each torn line one torn_write", async () => {
    await fc.assert(
      fc.asyncProperty(
        fc.array(fc.tuple(fc.nat(11), fc.nat(120)), { maxLength: 6 }),
        fc.integer({ min: 1, max: 6 }),
        fc.boolean(),
        async (failures, segment, inBand) => {
          const { findings, lines } = await intactDespite(failures, inBand, { segment });
          assert.deepEqual(torn(findings).map(([line]) => line), lines, show(findings));
        },
      ),
      { numRuns: 40 },
    );
  });
});

describe("verifyAuditTrail and torn writes under attack", () => {
  for (const [where, inBand] of WHERE) {
    it(`reports a torn-looking line where no loss was declared as inserted (${where})`, async () => {
      const key = await keys();
      const trail = await tornTrail(key.seal, new Map([[2, 30]]), { inBand });
      // The second segment declares no loss: a line cut short there was not written by the sink.
      const at = inBand ? 10 : 9;
      const forged = trail.data.toSpliced(at - 1, 0, trail.data[at - 1]!.slice(0, 30) + "\n");
      const { findings, summary } = await verify(forged, { keys: key.verify, seal: trail.seal });
      assert.deepEqual(problems(findings).map((f) => [f.kind, f.line, f.count]), [["inserted", at, 1]], show(findings));
      assert.deepEqual(torn(findings), [[3, 3, 1, [0, 0]]], show(findings));
      assert.equal(summary.intact, false);
      // Nor in a trail that declares no loss at all.
      const clean = await tornTrail(key.seal, new Map(), { inBand });
      const added = clean.data.toSpliced(2, 0, clean.data[2]!.slice(0, 30) + "\n");
      const plain = await verify(added, { keys: key.verify, seal: clean.seal });
      assert.deepEqual(problems(plain.findings).map((f) => [f.kind, f.line]), [["inserted", 3]], show(plain.findings));
    });

    it(`reports a complete event put where a failed line was as a problem, never torn_write (${where})`, async () => {
      const key = await keys();
      const trail = await tornTrail(key.seal, new Map([[2, 30]]), { inBand });
      for (const line of [encodeCallEvent(numbered(99)) + "\n", "{}\n", '"call-2"\n']) {
        const forged = replaced(trail.data, 3, line);
        const { findings, summary } = await verify(forged, { keys: key.verify, seal: trail.seal });
        assert.deepEqual(torn(findings), [], show(findings));
        assert.deepEqual(
          problems(findings).map((f) => [f.kind, f.line, f.lastLine]),
          [["inserted", 3, 3]],
          show(findings),
        );
        assert.equal(summary.intact, false);
      }
    });

    it(`reports more torn lines than the checkpoint declares failed as a problem (${where})`, async () => {
      const key = await keys();
      const trail = await tornTrail(key.seal, new Map([[2, 30]]), { inBand });
      for (
        const forged of [
          trail.data.toSpliced(3, 0, "and another\n"), // right after the torn line
          trail.data.toSpliced(4, 0, trail.data[4]!.slice(0, 12) + "\n"), // further on
        ]
      ) {
        const { findings, summary } = await verify(forged, { keys: key.verify, seal: trail.seal });
        assert.ok(problems(findings).length > 0, show(findings));
        assert.equal(summary.intact, false);
      }
    });

    it(`still reports an edited line beside a torn one (${where})`, async () => {
      const key = await keys();
      const trail = await tornTrail(key.seal, new Map([[2, 30]]), { inBand });
      for (const line of [2, 4]) {
        const forged = replaced(trail.data, line, trail.data[line - 1]!.replace("test-client", "test-clienZ"));
        const { findings, summary } = await verify(forged, { keys: key.verify, seal: trail.seal });
        const edited = problems(findings).filter((f) => f.kind === "edited");
        assert.ok(edited.some((f) => f.line <= line && line <= f.lastLine), show(findings));
        assert.equal(summary.intact, false);
      }
    });
  }

  it("takes a torn line only for a line that failed, not one rerouted to the destination's fallback", async () => {
    const key = await keys();
    const sealer = new AuditSealer(key.seal);
    const lines = [0, 1, 2, 3].map((i) => eventLine(i));
    sealer.append(encoder.encode(lines.join("")), lines.length);
    sealer.undelivered("rerouted", 1, "2026-12-02T10:01:00Z");
    const seal = [decoder.decode(await sealer.seal())];
    const forged = replaced(lines, 2, lines[1]!.slice(0, 30) + "\n");
    const { findings } = await verify(forged, { keys: key.verify, seal });
    assert.deepEqual(torn(findings), [], show(findings));
    assert.deepEqual(problems(findings).map((f) => [f.kind, f.line]), [["inserted", 2]], show(findings));
  });
});
