import { describe, it } from "node:test";
import assert from "node:assert/strict";
import { appendFileSync, readFileSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { JsonLinesAuditSink } from "../../mod.ts";
import { fileDestination, fileSeal, IoError } from "../../src/destination/file_destination.ts";
import { type AuditVerifyKey, importAuditSealKey, importAuditVerifyKey } from "../../src/seal/audit_seal_key.ts";
import { generateAuditSealKey } from "../../src/seal/generate_audit_seal_key.ts";
import { numbered } from "../_helpers/events.ts";
import { main } from "../../src/cli/main.ts";
import { eventLine, keys, linesOf, problems, show, verify } from "../seal/_trail.ts";
import { inTempDir } from "../_helpers/temp_dir.ts";

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
