import { describe, it } from "node:test";
import assert from "node:assert/strict";
import { appendFileSync, readFileSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { JsonLinesAuditSink } from "../../mod.ts";
import { fileDestination, fileSeal, IoError } from "../../src/destination/file_destination.ts";
import { importAuditSealKey, importAuditVerifyKey } from "../../src/seal/audit_seal_key.ts";
import { generateAuditSealKey } from "../../src/seal/generate_audit_seal_key.ts";
import { numbered } from "../_helpers/events.ts";
import { eventLine, keys, problems, show, verify } from "../seal/_trail.ts";
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

async function verifyFiles(path: string): Promise<Awaited<ReturnType<typeof verify>>> {
  return await verify(readFileSync(path, "utf8"), {
    keys: (await keys()).verify,
    seal: readFileSync(`${path}.seal`, "utf8"),
  });
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

  it("fileSeal goes on after a checkpoint torn by a crash, which verify then reports as malformed", async () => {
    await inDir(async (path) => {
      const key = (await keys()).seal;
      await record(path, 0, 3, key);
      appendFileSync(path, eventLine(50));
      appendFileSync(`${path}.seal`, '{"audit_checkpoint":1,"origin":"x","ke');
      assert.equal(await record(path, 3, 2, key), 1);
      const { findings, summary } = await verifyFiles(path);
      assert.deepEqual(problems(findings).map((f) => f.kind), ["malformed"], show(findings));
      assert.equal(summary.verifiedLines, 6);
    });
  });
});
