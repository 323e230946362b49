// Attacks on the verifier by an attacker without the key: lines changed so
// that their line tags stay the same (forgeKeepingTag), alone or with swaps,
// truncation and other edits. Each changed line must fall in the line range
// of a finding that says its content differs (not `reordered`, `gap`,
// `unsealed_tail`, `adopted`), and findings must come in the data's order.
import { describe, it } from "node:test";
import assert from "node:assert/strict";
import { AuditSealer } from "../../src/seal/audit_sealer.ts";
import type { AuditTrailFinding } from "../../src/seal/verify_audit_trail.ts";
import { dataLines, eventLine, forgeKeepingTag, inBandLines, keys, sealTrail, show, verify } from "./_trail.ts";

const encoder = new TextEncoder();
const decoder = new TextDecoder();

/** Kinds that do not say a line's content differs from what was sealed. */
const SILENT = new Set(["reordered", "gap", "unsealed_tail", "adopted"]);

/** Whether data line `line` lies in a finding that says its content is not what was sealed. */
function covered(findings: readonly AuditTrailFinding[], line: number): boolean {
  return findings.some((f) => !SILENT.has(f.kind) && f.line <= line && line <= f.lastLine);
}

/**
 * The lines of a trail sealed in band, from (changed) data lines: `sizes[i]`
 * data lines, then checkpoint `i` (sizes: the trail's segments', or as a change left them).
 */
function inBand(lines: readonly string[], sizes: readonly number[], checkpoints: readonly string[]): string[] {
  const out: string[] = [];
  let at = 0;
  sizes.forEach((size, i) => {
    out.push(...lines.slice(at, at + size), checkpoints[i]!);
    at += size;
  });
  return out;
}

const sizesOf = (trail: { segments: readonly (readonly string[])[] }): number[] => trail.segments.map((s) => s.length);

const edit = (line: string): string => line.replace('"warm"', '"cold"');

describe("verifyAuditTrail against tag-keeping forgeries", () => {
  it("does not call a swap 'reordered' when a swapped line was forged to keep its tag (seal file, one region)", async () => {
    const key = await keys();
    const trail = await sealTrail(key.seal, [5, 5, 5, 5, 5]);
    const lines = dataLines(trail);
    // Line 2 (segment 0) and line 7 (segment 1) traded, line 2 now a forgery with line 7's tag: its bytes were
    // never sealed. Both segments are compared in one region, whose bytes are all at hand; put back in the sealed
    // order they do not hash to the segments' SHA-256, yet the two one-line edits are paired into a swap.
    const data = [...lines];
    data[1] = forgeKeepingTag(lines[6]!);
    data[6] = lines[1]!;
    const { findings } = await verify(data, { keys: key.verify, seal: trail.checkpoints });
    assert.ok(covered(findings, 2), `forged line 2 reported only as reordered:\n${show(findings)}`);
  });

  it("reports a forged line that shares its segment with an inserted one (seal file and in band)", async () => {
    const key = await keys();
    const trail = await sealTrail(key.seal, [5, 5, 5, 5, 5]);
    const lines = dataLines(trail);
    // Segment 1 (lines 6-10): a line inserted after line 6, and line 8 (data line 9) forged to keep its tag.
    const data = [...lines];
    data[7] = forgeKeepingTag(lines[7]!);
    data.splice(6, 0, eventLine(500));
    const sidecar = await verify(data, { keys: key.verify, seal: trail.checkpoints });
    assert.ok(covered(sidecar.findings, 7) && covered(sidecar.findings, 9), show(sidecar.findings));
    const laidOut = inBand(data, [5, 6, 5, 5, 5], trail.checkpoints); // segment 1 holds the inserted line
    const inBandResult = await verify(laidOut, { keys: key.verify });
    // In band, data line 7 is line 8 of the file (checkpoint 0's line comes first), data line 9 is line 10.
    assert.ok(covered(inBandResult.findings, 8) && covered(inBandResult.findings, 10), show(inBandResult.findings));
  });

  it("counts the segments of a damaged region that match their SHA-256 as verified", async () => {
    const key = await keys();
    const trail = await sealTrail(key.seal, [5, 5, 5, 5, 5]);
    const data = dataLines(trail);
    [data[1], data[3]] = [data[3]!, data[1]!]; // a swap inside segment 0
    data[21] = edit(data[21]!); // an edit in segment 4
    const { findings, summary } = await verify(data, { keys: key.verify, seal: trail.checkpoints });
    assert.deepEqual([summary.segments, summary.verifiedLines], [3, 15], show(findings));
  });
});

describe("verifyAuditTrail tells findings in the data's order", () => {
  /** Five segments of five lines; checkpoints 1 and 3 declare losses before their segments. */
  async function lossyTrail(): Promise<{ lines: string[]; checkpoints: string[]; segments: string[][] }> {
    const key = await keys();
    const sealer = new AuditSealer(key.seal, { origin: "test.example/audit" });
    const segments: string[][] = [];
    const checkpoints: string[] = [];
    for (let s = 0; s < 5; s++) {
      const lines = Array.from({ length: 5 }, (_, i) => eventLine(s * 5 + i));
      if (s === 1 || s === 3) sealer.lost("queue_full", 2, "2026-12-02T10:00:00Z", "2026-12-02T10:00:09Z");
      sealer.append(encoder.encode(lines.join("")), 5);
      segments.push(lines);
      checkpoints.push(decoder.decode(await sealer.seal()));
    }
    return { lines: segments.flat(), checkpoints, segments };
  }

  const lines = (findings: readonly AuditTrailFinding[]): number[] => findings.map((f) => f.line);
  const sorted = (xs: number[]): number[] => xs.toSorted((a, b) => a - b);

  it("tells a segment's gap before an edit further into that segment (seal file and in band)", async () => {
    const key = await keys();
    const trail = await lossyTrail();
    const data = [...trail.lines];
    data[8] = edit(data[8]!); // line 9, in segment 1 (lines 6-10), whose checkpoint declares a gap at line 6
    for (const inBandMode of [false, true]) {
      const { findings } = inBandMode
        ? await verify(inBand(data, sizesOf(trail), trail.checkpoints), { keys: key.verify })
        : await verify(data, { keys: key.verify, seal: trail.checkpoints });
      assert.deepEqual(lines(findings), sorted(lines(findings)), `in band: ${inBandMode}\n${show(findings)}`);
    }
  });

  it("tells the gaps of a region's segments where those segments start, in order (seal file)", async () => {
    const key = await keys();
    const trail = await lossyTrail();
    const data = [...trail.lines];
    [data[1], data[3]] = [data[3]!, data[1]!]; // segment 0
    data[20] = edit(data[20]!); // segment 4: the five segments are compared as one region
    const { findings } = await verify(data, { keys: key.verify, seal: trail.checkpoints });
    const gaps = findings.filter((f) => f.kind === "gap").map((f) => [f.seq![0], f.line]);
    assert.deepEqual(gaps, [[1, 6], [3, 16]], show(findings));
    assert.deepEqual(lines(findings), sorted(lines(findings)), show(findings));
  });
});

describe("verifyAuditTrail's summary", () => {
  it("keeps a clean trail intact, in both modes, with heartbeats and repeated identical lines", async () => {
    const key = await keys();
    const sealer = new AuditSealer(key.seal, { origin: "test.example/audit" });
    const segments: string[][] = [];
    const checkpoints: string[] = [];
    for (const count of [3, 0, 7, 0, 0, 1200, 4]) {
      const segment = Array.from({ length: count }, (_, i) => eventLine(i % 2));
      for (let at = 0; at < count; at += 100) {
        const chunk = segment.slice(at, at + 100);
        sealer.append(encoder.encode(chunk.join("")), chunk.length);
      }
      segments.push(segment);
      checkpoints.push(decoder.decode(await sealer.seal()));
    }
    const trail = { segments, checkpoints, tail: [eventLine(0)] };
    for (const [data, seal] of [[dataLines(trail), checkpoints], [inBandLines(trail), undefined]] as const) {
      const { findings, summary } = await verify(data, { keys: key.verify, ...(seal ? { seal } : {}) });
      assert.deepEqual(findings.map((f) => f.kind), ["unsealed_tail"], show(findings));
      assert.deepEqual([summary.intact, summary.verifiedLines], [true, 1214]);
    }
  });
});
