// A crash (kill -9, power loss) while a checkpoint line is written leaves the
// seal stream ending inside that line: the lines it would have sealed are an
// unsealed tail, as after any crash. A restarted writer ends the cut line and
// goes on from the last whole checkpoint, taking the lost one's place in the
// chain (its seq and prev) and adopting those lines. verifyAuditTrail reports
// such a line as a `torn_write`, not tampering, before and after the restart;
// anything else in its place stays a problem.
import { describe, it } from "node:test";
import assert from "node:assert/strict";
import fc from "fast-check";
import { AuditSealer } from "../../src/seal/audit_sealer.ts";
import type { AuditTrailFinding } from "../../src/seal/verify_audit_trail.ts";
import { eventLine, type Keys, keys, problems, show, verify } from "./_trail.ts";

const encoder = new TextEncoder();
const decoder = new TextDecoder();
const ORIGIN = "test.example/audit";
const START = Date.UTC(2026, 11, 4, 12);

/** What a writer left when it crashed while writing a checkpoint. */
interface Crash {
  /** The data lines, the crashed checkpoint's segment last. */
  readonly data: string[];
  /** The whole checkpoint lines before the crash. */
  readonly checkpoints: string[];
  /** The checkpoint line that was being written (whole, with its newline). */
  readonly lost: string;
  /** The lines it was sealing: after the crash, no checkpoint covers them. */
  readonly unsealed: string[];
}

/** Writer A seals `plan` (line counts), then crashes while writing the checkpoint of `crashed` more lines. */
async function crash(key: Keys, plan: readonly number[] = [3, 3], crashed = 2): Promise<Crash> {
  const sealer = new AuditSealer(key.seal, { origin: ORIGIN, now: () => START });
  const data: string[] = [];
  const checkpoints: string[] = [];
  let lost = "";
  for (const [i, count] of [...plan, crashed].entries()) {
    const lines = Array.from({ length: count }, (_, j) => eventLine(data.length + j));
    data.push(...lines);
    if (count > 0) sealer.append(encoder.encode(lines.join("")), count);
    const line = decoder.decode(await sealer.seal());
    if (i < plan.length) checkpoints.push(line);
    else lost = line;
  }
  return { data, checkpoints, lost, unsealed: data.slice(data.length - crashed) };
}

/**
 * Writer B restarts a second later, as fileSeal does: it goes on from the
 * last whole checkpoint (its counters too), adopts `adopt`, then seals `more`.
 */
async function restart(key: Keys, crash: Crash, adopt: readonly string[], more: readonly string[]): Promise<string[]> {
  const sealer = new AuditSealer(key.seal, {
    previous: crash.checkpoints.at(-1)!,
    newStream: false,
    now: () => START + 1000,
  });
  const out: string[] = [];
  if (adopt.length > 0) {
    sealer.adopt(encoder.encode(adopt.join("")), adopt.length);
    out.push(decoder.decode(await sealer.seal()));
  }
  if (more.length > 0) {
    sealer.append(encoder.encode(more.join("")), more.length);
    out.push(decoder.decode(await sealer.seal()));
  }
  return out;
}

/** Lines written after the restart. */
const MORE = [eventLine(500, "more"), eventLine(501, "more")];

function kinds(findings: readonly AuditTrailFinding[]): [string, number, number, number | undefined][] {
  return findings.map((f) => [f.kind, f.line, f.lastLine, f.sealLine]);
}

/** Verifies and asserts the trail intact, without a problem; returns the findings. */
async function intact(key: Keys, data: readonly string[], seal: string | readonly string[]) {
  const result = await verify(data, { keys: key.verify, seal });
  assert.deepEqual(problems(result.findings), [], show(result.findings));
  assert.equal(result.summary.intact, true, show(result.findings));
  return result;
}

/** Verifies and asserts the trail not intact; returns the findings. */
async function notIntact(key: Keys, data: readonly string[], seal: string | readonly string[]) {
  const result = await verify(data, { keys: key.verify, seal });
  assert.equal(result.summary.intact, false, show(result.findings));
  assert.ok(problems(result.findings).length > 0, show(result.findings));
  return result;
}

/** Where to cut a checkpoint line of `length` characters (with its newline): each member's start, and a few inside. */
function cuts(line: string): number[] {
  const at = [...line.matchAll(/"[a-z_]+":/g)].flatMap((m) => [m.index, m.index + 1, m.index + m[0].length + 1]);
  return [...new Set([1, 2, 3, 19, 20, 21, ...at, line.length - 3, line.length - 2])]
    .filter((n) => n > 0 && n < line.length - 1)
    .sort((a, b) => a - b);
}

describe("verifyAuditTrail and a checkpoint torn by a crash", () => {
  it("reports a seal stream that ends inside its last checkpoint as a torn write, its lines as the unsealed tail", async () => {
    const key = await keys();
    const c = await crash(key);
    const seal = c.checkpoints.join("") + c.lost.slice(0, 300);
    const { findings, summary } = await intact(key, c.data, seal);
    assert.deepEqual(kinds(findings), [["torn_write", 7, 6, 3], ["unsealed_tail", 7, 8, undefined]], show(findings));
    assert.match(findings[0]!.message, /^seal line 3 is a torn write: the seal stream ends inside it/);
    assert.deepEqual([summary.verifiedLines, summary.unsealedLines, summary.tornLines], [6, 2, 0]);
  });

  it("reports the seal stream's last checkpoint cut anywhere as a torn write (property)", async () => {
    const key = await keys();
    const c = await crash(key, [2, 0, 3], 2);
    const check = async (cut: number): Promise<void> => {
      const { findings } = await intact(key, c.data, c.checkpoints.join("") + c.lost.slice(0, cut));
      assert.deepEqual(findings.map((f) => f.kind), ["torn_write", "unsealed_tail"], `cut ${cut}: ${show(findings)}`);
    };
    for (const cut of cuts(c.lost)) await check(cut);
    await fc.assert(fc.asyncProperty(fc.integer({ min: 1, max: c.lost.length - 2 }), check), { numRuns: 40 });
  });

  it("verifies a last checkpoint that lost only its newline as a checkpoint", async () => {
    const key = await keys();
    const c = await crash(key);
    const { findings, summary } = await intact(key, c.data, c.checkpoints.join("") + c.lost.slice(0, -1));
    assert.deepEqual(findings, [], show(findings));
    assert.deepEqual([summary.verifiedLines, summary.lastSeq], [8, 2]);
  });

  it("reports a cut checkpoint ended by a newline, the seal stream's last line, as a torn write", async () => {
    // A writer restarted, ended the cut line, and crashed again before its first checkpoint.
    const key = await keys();
    const c = await crash(key);
    const seal = c.checkpoints.join("") + c.lost.slice(0, 500) + "\n";
    const { findings } = await intact(key, c.data, seal);
    assert.deepEqual(kinds(findings), [["torn_write", 7, 6, 3], ["unsealed_tail", 7, 8, undefined]], show(findings));
  });

  it("reports a checkpoint torn by a crash, then a restart that adopted its lines, as a torn write (property)", async () => {
    const key = await keys();
    const c = await crash(key);
    const after = await restart(key, c, c.unsealed, MORE);
    const data = [...c.data, ...MORE];
    const check = async (cut: number): Promise<void> => {
      const seal = [...c.checkpoints, c.lost.slice(0, cut) + "\n", ...after];
      const { findings, summary } = await intact(key, data, seal);
      assert.deepEqual(
        kinds(findings),
        [["torn_write", 7, 6, 3], ["adopted", 7, 8, undefined]],
        `cut ${cut}: ${show(findings)}`,
      );
      assert.match(findings[0]!.message, /^seal line 3 is a torn write: a checkpoint cut short by a crash; /);
      assert.deepEqual(
        [summary.verifiedLines, summary.adoptedLines, summary.segments, summary.checkpoints, summary.lastSeq],
        [10, 2, 4, 5, 3],
      );
    };
    for (const cut of cuts(c.lost)) await check(cut);
    await fc.assert(fc.asyncProperty(fc.integer({ min: 1, max: c.lost.length - 2 }), check), { numRuns: 30 });
  });

  it("takes the restart's checkpoint for the cut one's successor in the chain: it repeats its seq and prev", async () => {
    const key = await keys();
    const c = await crash(key);
    const [adopted] = await restart(key, c, c.unsealed, []);
    const [lost, first] = [JSON.parse(c.lost), JSON.parse(adopted!)];
    assert.deepEqual([first.seq, first.prev, first.adopted], [lost.seq, lost.prev, 2]);
    assert.notEqual(first.time, lost.time);
  });

  it("reports a torn checkpoint whose lines a restart did not find (lost with the crash) as a torn write when the cut line shows its seq", async () => {
    // Power lost before the data reached the disk: the restart finds nothing to adopt and seals on.
    const key = await keys();
    const c = await crash(key);
    const after = await restart(key, c, [], MORE);
    const data = [...c.data.slice(0, 6), ...MORE];
    const past = c.lost.indexOf('"lines":'); // its seq whole, and a time that is not the restart's
    const { findings } = await intact(key, data, [...c.checkpoints, c.lost.slice(0, past) + "\n", ...after]);
    assert.deepEqual(kinds(findings), [["torn_write", 7, 6, 3]], show(findings));
    // Cut before its seq, nothing shows that the writer restarted: a line that is no checkpoint, in the chain.
    const short = await notIntact(key, data, [...c.checkpoints, c.lost.slice(0, 60) + "\n", ...after]);
    assert.deepEqual(problems(short.findings).map((f) => [f.kind, f.sealLine]), [["malformed", 3]]);
  });

  describe("what stays a problem", () => {
    it("a cut checkpoint the writer did not restart after (a failed write): the next one chains to the lost one", async () => {
      const key = await keys();
      // Writer A goes on: its chain runs through the checkpoint the seal stream lost.
      const sealer = new AuditSealer(key.seal, { origin: ORIGIN });
      const lines = Array.from({ length: 9 }, (_, i) => eventLine(i));
      const seal: string[] = [];
      for (let i = 0; i < 9; i += 3) {
        sealer.append(encoder.encode(lines.slice(i, i + 3).join("")), 3);
        seal.push(decoder.decode(await sealer.seal()));
      }
      seal[1] = seal[1]!.slice(0, 400) + "\n";
      const { findings } = await notIntact(key, lines, seal);
      assert.ok(findings.some((f) => f.kind === "malformed" && f.sealLine === 2), show(findings));
      assert.ok(!findings.some((f) => f.kind === "torn_write"), show(findings));
    });

    it("a cut copy of the next checkpoint put before it, where no writer restarted", async () => {
      const key = await keys();
      const c = await crash(key, [3, 3], 0);
      // No crash: the third checkpoint was written whole; a forger puts its start before it.
      const next = c.checkpoints[1]!;
      const seal = [c.checkpoints[0]!, next.slice(0, next.indexOf('"seg_tags":')) + "\n", next];
      const { findings } = await notIntact(key, c.data, seal);
      assert.deepEqual(problems(findings).map((f) => [f.kind, f.sealLine]), [["malformed", 2]], show(findings));
    });

    it("two cut checkpoints in a row before the restart's", async () => {
      const key = await keys();
      const c = await crash(key);
      const after = await restart(key, c, c.unsealed, MORE);
      const cut = c.lost.slice(0, 300) + "\n";
      const { findings } = await notIntact(key, [...c.data, ...MORE], [...c.checkpoints, cut, cut, ...after]);
      assert.ok(findings.some((f) => f.kind === "malformed" && f.sealLine === 3), show(findings));
    });

    it("a line that is not the start of a checkpoint, mid-stream or at the end with or without its newline", async () => {
      const key = await keys();
      const c = await crash(key);
      const after = await restart(key, c, c.unsealed, MORE);
      const data = [...c.data, ...MORE];
      const start = c.lost.slice(0, 120);
      for (const junk of ["x", '{"ts":"2026', '{"audit_x', `${start} junk`, `${start}"}`, c.lost.replace(",", ";")]) {
        const line = junk.endsWith("\n") ? junk : junk + "\n";
        const mid = await notIntact(key, data, [...c.checkpoints, line, ...after]);
        assert.ok(
          mid.findings.some((f) => f.kind === "malformed" && f.sealLine === 3),
          `${junk}\n${show(mid.findings)}`,
        );
        for (const end of [line, line.trimEnd()]) {
          const last = await notIntact(key, c.data, [...c.checkpoints, end]);
          assert.ok(!last.findings.some((f) => f.kind === "torn_write"), `${junk}\n${show(last.findings)}`);
        }
      }
    });

    it("a cut checkpoint whose origin, seq or prev is not the next checkpoint's", async () => {
      const key = await keys();
      const c = await crash(key);
      const after = await restart(key, c, c.unsealed, MORE);
      const data = [...c.data, ...MORE];
      const other = await crash(key, [3, 3, 1], 2); // another trail: same origin, another place in its chain
      const forged = [
        c.lost.replace(ORIGIN, "other.example/audit"),
        c.lost.replace(/"seq":\d+/, '"seq":7'),
        c.lost.replace(/"prev":"([0-9a-f])/, (_, x) => `"prev":"${x === "0" ? "1" : "0"}`),
        other.lost,
        c.checkpoints[0]!,
      ];
      for (const line of forged) {
        const { findings } = await notIntact(key, data, [...c.checkpoints, line.slice(0, 400) + "\n", ...after]);
        assert.ok(!findings.some((f) => f.kind === "torn_write"), show(findings));
      }
    });

    it("a cut checkpoint before one that does not follow the last whole checkpoint", async () => {
      const key = await keys();
      const c = await crash(key, [3, 3, 3], 2);
      const after = await restart(key, c, c.unsealed, MORE);
      const cut = c.lost.slice(0, 400) + "\n";
      // The checkpoint before the cut one removed: the restart's does not follow the one now before it.
      const removed = [c.checkpoints[0]!, c.checkpoints[1]!, cut, ...after];
      const { findings } = await notIntact(key, [...c.data, ...MORE], removed);
      assert.ok(findings.some((f) => f.kind === "malformed" && f.sealLine === 3), show(findings));
      // The restart's first checkpoint removed: the next one does not follow either.
      const skipped = await notIntact(key, [...c.data, ...MORE], [...c.checkpoints, cut, after[1]!]);
      assert.ok(!skipped.findings.some((f) => f.kind === "torn_write"), show(skipped.findings));
    });

    it("a cut in-band checkpoint that lines follow: no in-band writer goes on over it", async () => {
      const key = await keys();
      const c = await crash(key);
      const after = await restart(key, c, [], MORE);
      const data = [
        ...c.data.slice(0, 3),
        c.checkpoints[0]!,
        ...c.data.slice(3, 6),
        c.checkpoints[1]!,
        ...c.unsealed,
        c.lost.slice(0, 400) + "\n",
        ...MORE,
        after[0]!,
      ];
      const { findings, summary } = await verify(data, { keys: key.verify });
      assert.equal(summary.intact, false, show(findings));
      assert.ok(findings.some((f) => f.kind === "malformed" && f.sealLine === 11), show(findings));
    });
  });

  it("reports data that ends inside an in-band checkpoint as a torn write, its lines as the unsealed tail", async () => {
    const key = await keys();
    const c = await crash(key);
    const inBand = [...c.data.slice(0, 3), c.checkpoints[0]!, ...c.data.slice(3, 6), c.checkpoints[1]!, ...c.unsealed];
    for (const cut of cuts(c.lost)) {
      const { findings, summary } = await verify([...inBand, c.lost.slice(0, cut)], { keys: key.verify });
      assert.equal(summary.intact, true, `cut ${cut}: ${show(findings)}`);
      const expected = cut < 3 ? [] : [["torn_write", 11, 11, 11]]; // {" alone could start a data line
      assert.deepEqual(
        kinds(findings).filter(([kind]) => kind === "torn_write"),
        expected,
        `cut ${cut}: ${show(findings)}`,
      );
      assert.deepEqual(findings.find((f) => f.kind === "unsealed_tail")?.line, 9, `cut ${cut}: ${show(findings)}`);
    }
    // Only its newline missing: a whole checkpoint, which verifies.
    const whole = await verify([...inBand, c.lost.slice(0, -1)], { keys: key.verify });
    assert.deepEqual(whole.findings, [], show(whole.findings));
    assert.equal(whole.summary.verifiedLines, 8);
  });
});
