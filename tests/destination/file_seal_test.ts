import { describe, it } from "node:test";
import assert from "node:assert/strict";
import { appendFileSync, readFileSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { JsonLinesAuditSink } from "../../mod.ts";
import { fileDestination, fileSeal, IoError } from "../../src/destination/file_destination.ts";
import {
  type AuditSealKey,
  type AuditVerifyKey,
  importAuditSealKey,
  importAuditVerifyKey,
} from "../../src/seal/audit_seal_key.ts";
import { generateAuditSealKey } from "../../src/seal/generate_audit_seal_key.ts";
import { numbered, tick } from "../_helpers/events.ts";
import { main } from "../../src/cli/main.ts";
import { eventLine, keys, linesOf, problems, show, verify } from "../seal/_trail.ts";
import { inTempDir } from "../_helpers/temp_dir.ts";
import { tearWrites } from "../_helpers/torn_writes.ts";

/** Runs `test` with the path of `audit.jsonl` in a fresh folder, removed afterwards. */
function inDir(test: (path: string) => Promise<void>): Promise<void> {
  return inTempDir("file-seal", (dir) => test(join(dir, "audit.jsonl")));
}

/** Runs a sealed file sink over `path`: records `count` events from `first`, then closes. */
async function record(path: string, first: number, count: number, key: unknown, adopt = false): Promise<number> {
  const seal = await fileSeal(path, { key: key as string, maxSegmentLines: 3, adoptExisting: adopt });
  const sink = new JsonLinesAuditSink(fileDestination(path), { seal });
  for (let i = first; i < first + count; i++) sink.onCall(numbered(i));
  await sink.close();
  return seal.adoptedLines;
}

async function verifyFiles(path: string, key?: AuditVerifyKey): Promise<Awaited<ReturnType<typeof verify>>> {
  return await verify(readFileSync(path, "utf8"), {
    keys: key ?? (await keys()).verify,
    seal: readFileSync(`${path}.seal`, "utf8"),
  });
}

/**
 * Two runs of a sealed file sink over `path` (4 events, then 3 after a
 * restart: the last checkpoint seals lines 5–7); the seal file's text and
 * its last line, with its newline.
 */
async function twoRuns(path: string, key: unknown): Promise<{ seal: string; last: string }> {
  await record(path, 0, 4, key);
  await record(path, 4, 3, key);
  const seal = readFileSync(`${path}.seal`, "utf8");
  return { seal, last: linesOf(seal).at(-1)! };
}

/** The seal file `seal` with its last line, `last`, cut after `cut` characters (and `end` after them). */
function cutLast(path: string, seal: string, last: string, cut: number, end = ""): void {
  writeFileSync(`${path}.seal`, seal.slice(0, seal.length - last.length) + last.slice(0, cut) + end);
}

describe("fileSeal", () => {
  it("fileSeal seals a new log beside it, in audit.jsonl.seal, that verifies", async () => {
    await inDir(async (path) => {
      assert.equal(await record(path, 0, 10, (await keys()).seal), 0);
      const { findings, summary } = await verifyFiles(path);
      assert.deepEqual(findings, [], show(findings));
      assert.deepEqual([summary.verifiedLines, summary.firstSeq], [10, 0]);
    });
  });

  it("fileSeal continues the chain and the counters of a log sealed before (a restart)", async () => {
    await inDir(async (path) => {
      const key = (await keys()).seal;
      await record(path, 0, 7, key);
      const before = readFileSync(`${path}.seal`, "utf8").trim().split("\n").map((l) => JSON.parse(l));
      assert.equal(await record(path, 7, 5, key), 0);
      const after = readFileSync(`${path}.seal`, "utf8").trim().split("\n").map((l) => JSON.parse(l));
      assert.deepEqual(after.map((c) => c.seq), after.map((_, i) => i));
      assert.equal(after[before.length].origin, before[0].origin);
      const { findings, summary } = await verifyFiles(path);
      assert.deepEqual(findings, [], show(findings));
      assert.deepEqual([summary.verifiedLines, summary.offered], [12, 12]);
    });
  });

  it("fileSeal seals the unsealed tail a crash left (a torn last line included) before going on", async () => {
    await inDir(async (path) => {
      const key = (await keys()).seal;
      await record(path, 0, 4, key);
      // What a writer killed mid-segment leaves: lines no checkpoint covers, the last one cut short.
      appendFileSync(path, eventLine(100) + eventLine(101) + eventLine(102).slice(0, 30));
      const unsealed = await verifyFiles(path);
      assert.deepEqual(unsealed.findings.map((f) => [f.kind, f.count]), [["unsealed_tail", 3]]);
      assert.equal(await record(path, 4, 2, key), 3);
      const { findings, summary } = await verifyFiles(path);
      // Sealed, but reported as adopted: this writer did not write them as they are now.
      assert.deepEqual(
        findings.map((f) => [f.kind, f.line, f.lastLine]),
        [["adopted", 5, 6], ["adopted", 7, 7]],
        show(findings),
      );
      assert.equal(summary.intact, true);
      assert.deepEqual([summary.verifiedLines, summary.adoptedLines], [4 + 3 + 2, 3]);
    });
  });

  it("fileSeal seals a log that had no seal file only with adoptExisting, and takes the key as JWK text", async () => {
    await inDir(async (path) => {
      const pair = await generateAuditSealKey();
      writeFileSync(path, eventLine(1) + eventLine(2));
      const jwk = JSON.stringify(pair.privateJwk);
      await assert.rejects(
        record(path, 3, 2, jwk),
        (e: unknown) => e instanceof IoError && /adoptExisting/.test(e.message),
      );
      assert.equal(await record(path, 3, 2, jwk, true), 2);
      const { findings, summary } = await verify(readFileSync(path, "utf8"), {
        keys: await importAuditVerifyKey(pair.publicJwk),
        seal: readFileSync(`${path}.seal`, "utf8"),
      });
      assert.deepEqual(findings.map((f) => [f.kind, f.line, f.lastLine]), [["adopted", 1, 2]], show(findings));
      assert.equal(summary.verifiedLines, 4);
    });
  });

  it("fileSeal adopts a long unsealed tail in segments of at most maxSegmentLines", async () => {
    await inDir(async (path) => {
      const key = (await keys()).seal;
      // Seven short lines, well within one maxSegmentBytes: the line limit must cut them (3 + 3 + 1).
      writeFileSync(path, Array.from({ length: 7 }, (_, i) => eventLine(i)).join(""));
      assert.equal(await record(path, 7, 2, key, true), 7);
      const checkpoints = readFileSync(`${path}.seal`, "utf8").trim().split("\n").map((l) => JSON.parse(l));
      assert.deepEqual(checkpoints.map((c) => [c.seg_lines, c.adopted]), [[3, 3], [3, 3], [1, 1], [2, undefined]]);
      const { findings, summary } = await verifyFiles(path);
      assert.deepEqual(problems(findings), [], show(findings));
      assert.deepEqual([summary.verifiedLines, summary.adoptedLines], [9, 7]);
    });
  });

  it("fileSeal refuses a log shorter than its seal says, another key's chain, another origin", async () => {
    await inDir(async (path) => {
      const key = (await keys()).seal;
      await record(path, 0, 5, key);
      const full = readFileSync(path);
      writeFileSync(path, full.subarray(0, full.length - 10));
      await assert.rejects(
        fileSeal(path, { key }),
        (e: unknown) => e instanceof IoError && /truncated/.test(e.message),
      );
      writeFileSync(path, full);
      const other = await importAuditSealKey((await generateAuditSealKey()).privateJwk, { keyId: key.keyId });
      await assert.rejects(fileSeal(path, { key: other }), /was not signed by key/);
      await assert.rejects(fileSeal(path, { key, origin: "elsewhere" }), /seals log urn:uuid:/);
    });
  });

  it("fileSeal goes on after a checkpoint a crash cut short: verify reports it as a torn write, before and after", async () => {
    await inDir(async (path) => {
      const pair = await generateAuditSealKey();
      const key = await importAuditSealKey(pair.privateJwk);
      const verifyKey = await importAuditVerifyKey(pair.publicJwk);
      writeFileSync(`${path}.key.jwk`, JSON.stringify(pair.publicJwk));
      const { seal, last } = await twoRuns(path, key);
      const data = readFileSync(path);
      const lines = linesOf(seal);
      const lost = JSON.parse(last);
      const at = (member: string): number => last.indexOf(`"${member}":`);
      // Anywhere in the line, as a crash cuts it: within the prefix, before and after its seq, in its binary members.
      for (const cut of [1, 19, 60, at("seq") + 3, at("time"), at("seg_tags") + 10, at("sig") + 20, last.length - 2]) {
        writeFileSync(path, data);
        cutLast(path, seal, last, cut);
        const crashed = await verifyFiles(path, verifyKey);
        assert.deepEqual(
          crashed.findings.map((f) => [f.kind, f.line, f.sealLine]),
          [["torn_write", 5, lines.length], ["unsealed_tail", 5, undefined]],
          `cut ${cut}: ${show(crashed.findings)}`,
        );
        assert.equal(crashed.summary.intact, true);
        // The writer starts again: it adopts the lines the cut checkpoint sealed, in its place in the chain.
        assert.equal(await record(path, 7, 2, key), 3);
        const first = JSON.parse(linesOf(readFileSync(`${path}.seal`, "utf8"))[lines.length]!);
        assert.deepEqual([first.seq, first.prev, first.adopted], [lost.seq, lost.prev, 3]);
        const { findings, summary } = await verifyFiles(path, verifyKey);
        assert.deepEqual(
          findings.map((f) => [f.kind, f.line, f.sealLine]),
          [["torn_write", 5, lines.length], ["adopted", 5, undefined]],
          `cut ${cut}: ${show(findings)}`,
        );
        assert.deepEqual([summary.intact, summary.verifiedLines, summary.adoptedLines], [true, 9, 3]);
      }
      // audit verify: intact (exit 0), naming the torn line; --strict fails it, as other lines not vouched for.
      let out = "";
      const write = (text: string): Promise<void> => Promise.resolve(void (out += text));
      const args = ["verify", path, "--key", `${path}.key.jwk`];
      assert.equal(await main(args, { stdout: write, stderr: write }), 0, out);
      assert.match(
        out,
        new RegExp(
          `audit\\.jsonl:5: torn write: seal line ${lines.length} is a torn write: a checkpoint cut short by a crash; `,
        ),
      );
      assert.match(out, /: intact: /);
      assert.equal(await main([...args, "--strict"], { stdout: write, stderr: write }), 1);
    });
  });

  it("fileSeal goes on after a restart that ended a cut checkpoint's line and stopped before its first checkpoint", async () => {
    await inDir(async (path) => {
      const key = (await keys()).seal;
      const { seal, last } = await twoRuns(path, key);
      cutLast(path, seal, last, 200, "\n");
      const stopped = await verifyFiles(path);
      assert.deepEqual(stopped.findings.map((f) => f.kind), ["torn_write", "unsealed_tail"], show(stopped.findings));
      assert.equal(await record(path, 7, 2, key), 3);
      const { findings, summary } = await verifyFiles(path);
      const expected = [["torn_write", 5, linesOf(seal).length], ["adopted", 5, undefined]];
      assert.deepEqual(findings.map((f) => [f.kind, f.line, f.sealLine]), expected, show(findings));
      assert.deepEqual([summary.intact, summary.verifiedLines], [true, 9]);
    });
  });

  it("fileSeal goes on from a last checkpoint that a crash left whole but for its newline", async () => {
    await inDir(async (path) => {
      const key = (await keys()).seal;
      await record(path, 0, 5, key);
      const seal = readFileSync(`${path}.seal`, "utf8");
      writeFileSync(`${path}.seal`, seal.slice(0, -1));
      const crashed = await verifyFiles(path);
      assert.deepEqual(crashed.findings, [], show(crashed.findings));
      assert.equal(await record(path, 5, 2, key), 0);
      const checkpoints = linesOf(readFileSync(`${path}.seal`, "utf8")).map((line) => JSON.parse(line));
      assert.deepEqual(checkpoints.map((c) => c.seq), checkpoints.map((_, i) => i));
      const { findings, summary } = await verifyFiles(path);
      assert.deepEqual(findings, [], show(findings));
      assert.equal(summary.verifiedLines, 7);
    });
  });

  it("fileSeal goes on after a cut checkpoint whose lines never reached the disk: a torn write if it shows its seq", async () => {
    await inDir(async (path) => {
      const key = (await keys()).seal;
      const { seal, last } = await twoRuns(path, key);
      const lost = JSON.parse(last);
      // Power lost: the data file kept none of the lines of the checkpoint being written, its seal file a part of it.
      const data = readFileSync(path).subarray(0, lost.bytes - lost.seg_bytes);
      for (const [cut, torn] of [[last.indexOf('"seg_sha256":'), true], [40, false]] as const) {
        writeFileSync(path, data);
        cutLast(path, seal, last, cut);
        assert.equal(await record(path, 4, 2, key), 0);
        const { findings, summary } = await verifyFiles(path);
        // Cut before its seq, nothing shows that a writer started again after it: it stays a line that is no checkpoint.
        assert.deepEqual(
          findings.map((f) => f.kind),
          [torn ? "torn_write" : "malformed"],
          `cut ${cut}: ${show(findings)}`,
        );
        assert.deepEqual([summary.intact, summary.verifiedLines], [torn, 6]);
      }
    });
  });
});

/**
 * Runs a sealed file sink over `path` whose data file's writes of the events
 * in `tears` stop part way (see tearWrites): writes the events of `writes`
 * (the events of each entry in one write), one write after another, then
 * closes. Segments are 3 lines at most.
 */
async function recordTearing(
  path: string,
  key: AuditSealKey,
  writes: readonly (readonly number[])[],
  tears: ReadonlyMap<number, number> = new Map(),
): Promise<{ adopted: number; failed: number }> {
  const restore = tearWrites(new Map(tears));
  try {
    const seal = await fileSeal(path, { key, maxSegmentLines: 3 });
    const sink = new JsonLinesAuditSink(fileDestination(path), { seal, onError: () => {} });
    const settled = (): number => sink.stats().written + sink.stats().failed;
    for (const events of writes) {
      const after = settled() + events.length;
      for (const i of events) sink.onCall(numbered(i));
      for (let turn = 0; turn < 2_000 && settled() < after; turn++) await tick();
    }
    await sink.close();
    return { adopted: seal.adoptedLines, failed: sink.stats().failed };
  } finally {
    restore();
  }
}

/** One write per event, from `first` to `last`. */
function each(first: number, last: number): number[][] {
  return Array.from({ length: last - first + 1 }, (_, i) => [first + i]);
}

/** Asserts that the log at `path` verifies intact (a torn, adopted or unsealed line is not a problem); its summary. */
async function assertIntact(path: string, what: string): Promise<Awaited<ReturnType<typeof verify>>["summary"]> {
  const { findings, summary } = await verifyFiles(path);
  assert.deepEqual(problems(findings), [], `${what}: ${show(findings)}`);
  assert.equal(summary.intact, true, what);
  return summary;
}

describe("fileSeal after a destination loss", () => {
  it("fileSeal goes on after torn writes and lines lost without a trace, over restarts and a crash", async () => {
    await inDir(async (path) => {
      const key = (await keys()).seal;
      // Segments of 3: event 1 torn, event 4 lost without a trace, event 7 torn as the log's last line (no newline).
      assert.equal((await recordTearing(path, key, each(0, 7), new Map([[1, 30], [4, 0], [7, 25]]))).failed, 3);
      assert.ok(!readFileSync(path, "utf8").endsWith("\n"));
      await assertIntact(path, "first run");
      // The torn last line is the last segment's: the restart ends it and seals nothing more.
      assert.equal((await recordTearing(path, key, each(8, 10))).adopted, 0);
      let summary = await assertIntact(path, "after a restart");
      assert.deepEqual([summary.tornLines, summary.unsealedLines, summary.lost], [2, 0, 3]);
      // A crash leaves two lines and a torn one unsealed; the next writer adopts them, and tears its own last line.
      appendFileSync(path, eventLine(100) + eventLine(101) + eventLine(102).slice(0, 40));
      const third = await recordTearing(path, key, each(11, 13), new Map([[13, 20]]));
      assert.deepEqual(third, { adopted: 3, failed: 1 });
      summary = await assertIntact(path, "after a crash");
      assert.equal(summary.adoptedLines, 3);
      // Restarted twice more, once with nothing to write.
      await recordTearing(path, key, []);
      await recordTearing(path, key, each(14, 15));
      summary = await assertIntact(path, "after two more restarts");
      assert.deepEqual(
        [summary.tornLines, summary.adoptedLines, summary.unsealedLines, summary.lost, summary.verifiedLines],
        [3, 3, 0, 4, 16 - 4 + 3],
      );
      assert.deepEqual([summary.offered, summary.written], [16 + 3, 16 - 4 + 3]);
    });
  });

  it("fileSeal goes on after a write of several lines failed part way, and after one that failed whole", async () => {
    await inDir(async (path) => {
      const key = (await keys()).seal;
      // Events 3-5 in one write, which stops in event 4's line: event 3 arrives, event 4 is torn, event 5 lost.
      const first = await recordTearing(path, key, [...each(0, 2), [3, 4, 5]], new Map([[3, 300]]));
      assert.equal(first.failed, 2);
      await assertIntact(path, "part of a write");
      // Events 6-8 in one write that leaves nothing: the whole last segment is lost.
      assert.equal((await recordTearing(path, key, [[6, 7, 8]], new Map([[6, 0]]))).failed, 3);
      await assertIntact(path, "a whole write lost");
      await recordTearing(path, key, each(9, 10));
      const summary = await assertIntact(path, "after the restarts");
      assert.deepEqual([summary.lost, summary.tornLines, summary.adoptedLines], [5, 1, 0]);
    });
  });

  it("fileSeal goes on after a segment whose last line was lost without a trace, whatever a crash left after it", async () => {
    const tails = [
      eventLine(100).slice(0, 40) + "\n" + eventLine(101), // a torn line, then a whole one
      eventLine(100).slice(0, 40), // a torn line, the log's last
      "restarting after a crash\n" + eventLine(101), // a line that is no event
    ];
    for (const [k, tail] of tails.entries()) {
      await inDir(async (path) => {
        const key = (await keys()).seal;
        assert.equal((await recordTearing(path, key, each(0, 2), new Map([[2, 0]]))).failed, 1);
        appendFileSync(path, tail);
        await recordTearing(path, key, each(3, 4));
        const summary = await assertIntact(path, `tail ${k}`);
        assert.equal(summary.lost, 1, `tail ${k}`);
        assert.equal(summary.tornLines + summary.adoptedLines, linesOf(tail).length, `tail ${k}`);
      });
    }
  });

  it("fileSeal refuses a log edited or cut short where a segment with a loss lies, and leaves the rest to audit verify", async () => {
    await inDir(async (path) => {
      const key = (await keys()).seal;
      // Segments of events 0-2 and 3-5; event 4's write is torn, and the last checkpoint declares it failed.
      await recordTearing(path, key, each(0, 5), new Map([[4, 30]]));
      const lines = linesOf(readFileSync(path, "utf8"));
      const refused = async (text: string, why: RegExp, what: string): Promise<void> => {
        writeFileSync(path, text);
        await assert.rejects(
          fileSeal(path, { key }),
          (e: unknown) => e instanceof IoError && why.test(e.message),
          what,
        );
        assert.equal(readFileSync(path, "utf8"), text, `${what}: left as it was`);
      };
      await refused(lines.toSpliced(3, 1, lines[3]!.replace("call-3", "call-9")).join(""), /edited or/, "edited");
      await refused(lines.toSpliced(5, 1).join(""), /edited or truncated/, "its last line gone");
      await refused(lines.toSpliced(0, 1).join(""), /edited or truncated/, "a line before it gone");
      await refused(lines.slice(0, 2).join(""), /fewer than .* \(truncated\?\)/, "cut before it");
      // An edit in the segment before, its length kept: fileSeal does not read that segment; audit verify reports it,
      // after the restart as before.
      writeFileSync(path, lines.toSpliced(1, 1, lines[1]!.replace("call-1", "call-7")).join(""));
      const found = async (): Promise<(string | number)[][]> =>
        problems((await verifyFiles(path)).findings).map((f) => [f.kind, f.line, f.lastLine]);
      const before = await found();
      assert.deepEqual(before[0], ["edited", 2, 2]);
      await recordTearing(path, key, each(6, 7));
      assert.deepEqual(await found(), before);
    });
  });

  it("fileSeal goes on after a loss, heartbeats (the last checkpoint seals no line) and a crash", async () => {
    await inDir(async (path) => {
      const key = (await keys()).seal;
      await recordTearing(path, key, each(0, 2), new Map([[1, 30]]));
      const seal = await fileSeal(path, { key, heartbeat: true, intervalMs: 10 });
      const sink = new JsonLinesAuditSink(fileDestination(path), { seal });
      for (let turn = 0; turn < 500 && linesOf(readFileSync(`${path}.seal`, "utf8")).length < 3; turn++) await tick(10);
      await sink.close();
      assert.equal(JSON.parse(linesOf(readFileSync(`${path}.seal`, "utf8")).at(-1)!).seg_lines, 0);
      // Then a crash leaves lines unsealed: the log is now longer than the last checkpoint's count.
      appendFileSync(path, eventLine(100) + eventLine(101));
      assert.equal((await recordTearing(path, key, each(3, 4))).adopted, 2);
      const summary = await assertIntact(path, "after heartbeats");
      assert.deepEqual([summary.tornLines, summary.lost, summary.verifiedLines], [1, 1, 6]);
    });
  });

  it("fileSeal goes on from a last checkpoint that declares a loss, whole but for its newline", async () => {
    await inDir(async (path) => {
      const key = (await keys()).seal;
      await recordTearing(path, key, each(0, 2), new Map([[1, 30]]));
      writeFileSync(`${path}.seal`, readFileSync(`${path}.seal`, "utf8").slice(0, -1));
      assert.equal((await recordTearing(path, key, each(3, 4))).adopted, 0);
      const summary = await assertIntact(path, "after the restart");
      assert.deepEqual([summary.tornLines, summary.lost, summary.verifiedLines], [1, 1, 4]);
    });
  });

  it("fileSeal goes on after a loss and a checkpoint a crash cut short: the lines that one sealed are adopted", async () => {
    await inDir(async (path) => {
      const key = (await keys()).seal;
      // Both segments declare a torn line (events 1 and 4); the crash cuts the second checkpoint after its gap.
      await recordTearing(path, key, each(0, 5), new Map([[1, 30], [4, 30]]));
      const seal = readFileSync(`${path}.seal`, "utf8");
      const last = linesOf(seal).at(-1)!;
      cutLast(path, seal, last, last.indexOf('"in_segment":true') + 20);
      assert.equal((await recordTearing(path, key, each(6, 7))).adopted, 3);
      const { findings, summary } = await verifyFiles(path);
      assert.deepEqual(problems(findings), [], show(findings));
      const torn = findings.filter((f) => f.kind === "torn_write").map((f) => [f.line, f.sealLine]);
      assert.deepEqual(torn, [[2, undefined], [4, 2]], show(findings));
      assert.deepEqual([summary.adoptedLines, summary.tornLines], [3, 1]);
    });
  });
});
