import { describe, it } from "node:test";
import assert from "node:assert/strict";
import { existsSync, readFileSync, renameSync, rmSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { gunzipSync, gzipSync } from "node:zlib";
import { JsonLinesAuditSink } from "../../mod.ts";
import { fileDestination, fileSeal } from "../../src/destination/file_destination.ts";
import { runtime } from "../../src/runtime/runtime.ts";
import { verifyAuditSet } from "../../src/seal/verify_audit_set.ts";
import { verifyAuditTrail } from "../../src/seal/verify_audit_trail.ts";
import { main } from "../../src/cli/main.ts";
import { importAuditSealKey, importAuditVerifyKey } from "../../src/seal/audit_seal_key.ts";
import { generateAuditSealKey } from "../../src/seal/generate_audit_seal_key.ts";
import { numbered, tick } from "../_helpers/events.ts";
import { keys } from "../seal/_trail.ts";
import { setFiles } from "./_rotation_files.ts";
import { inTempDir } from "../_helpers/temp_dir.ts";
import { tearWrites } from "../_helpers/torn_writes.ts";

function inDir(test: (dir: string) => Promise<void>): Promise<void> {
  return inTempDir("rotate-seal", test);
}

/** Records events `first`… through a sealed, rotating sink, some batches at a time, then closes. */
async function record(dir: string, first: number, count: number, gzip = false): Promise<void> {
  const destination = fileDestination(join(dir, "audit.jsonl"), {
    rotate: { maxBytes: 3000, writerId: "w", gzip },
  });
  const seal = await fileSeal(destination, { key: (await keys()).seal, maxSegmentLines: 4 });
  const sink = new JsonLinesAuditSink(destination, { seal, backpressure: "block" });
  for (let i = first; i < first + count; i++) {
    await sink.record(numbered(i));
    if (i % 9 === 0) await sink.flush();
  }
  await sink.close();
}

function read(dir: string, name: string): Uint8Array<ArrayBuffer> {
  const bytes = readFileSync(join(dir, name));
  return new Uint8Array(name.endsWith(".gz") ? gunzipSync(bytes) : bytes);
}

/** The set as `verifyAuditSet` takes it, in the given order of data file names. */
function members(dir: string, names: readonly string[]) {
  return names.map((name) => ({
    name,
    data: new Blob([read(dir, name)]),
    seal: new Blob([readFileSync(join(dir, `${name.replace(/\.gz$/, "")}.seal`))]),
  }));
}

async function verifySet(dir: string, names = setFiles(dir)) {
  return await verifyAuditSet(members(dir, names), { keys: (await keys()).verify }).result();
}

function checkpoints(dir: string, name: string): { lines: number; seg_lines: number; seq: number }[] {
  return readFileSync(join(dir, `${name.replace(/\.gz$/, "")}.seal`), "utf8").split("\n").slice(0, -1)
    .map((line) => JSON.parse(line));
}

describe("fileSeal with a rotating fileDestination", () => {
  it("fileSeal seals each rotated file in its own seal file, chained across files, and the set verifies", async () => {
    await inDir(async (dir) => {
      await record(dir, 0, 300);
      const names = setFiles(dir);
      assert.ok(names.length >= 5, `${names.length} files`);
      let seq = 0;
      for (const name of names) {
        assert.ok(existsSync(join(dir, `${name}.seal`)), `${name} has its seal file`);
        const cps = checkpoints(dir, name);
        assert.equal(cps[0]!.lines - cps[0]!.seg_lines, 0, `${name} starts a new stream`);
        for (const c of cps) assert.equal(c.seq, seq++, `${name}: the chain goes on across files`);
      }
      const { findings, summary } = await verifySet(dir);
      assert.deepEqual(findings.map((f) => `${f.file}: ${f.kind}`), []);
      assert.equal(summary.intact, true);
      assert.equal(summary.files, names.length);
      assert.equal(summary.verifiedLines, 300);
      assert.equal(summary.written, 300);
    });
  });

  it("verifyAuditSet finds a removed, a reordered and an edited file of a rotated set", async () => {
    await inDir(async (dir) => {
      await record(dir, 0, 200);
      const names = setFiles(dir);
      assert.ok(names.length >= 4);
      const removed = await verifySet(dir, names.filter((_, i) => i !== 1));
      assert.equal(removed.summary.intact, false);
      assert.deepEqual(
        removed.findings.filter((f) => f.kind === "broken_chain").map((f) => f.file),
        [names[2]],
        "the file after the gap shows it",
      );
      const swapped = [names[0]!, names[2]!, names[1]!, ...names.slice(3)];
      const reordered = await verifySet(dir, swapped);
      assert.equal(reordered.summary.intact, false);
      assert.ok(reordered.findings.some((f) => f.kind === "broken_chain" && f.file === names[2]));
      const target = join(dir, names[1]!);
      writeFileSync(target, readFileSync(target, "utf8").replace(/"duration_ms":17/, '"duration_ms":18'));
      const edited = await verifySet(dir);
      assert.deepEqual(edited.findings.map((f) => [f.file, f.kind]), [[names[1], "edited"]]);
    });
  });

  it("fileSeal declares the events a full queue dropped, in whichever file's trail, and the set's accounts add up", async () => {
    await inDir(async (dir) => {
      const destination = fileDestination(join(dir, "audit.jsonl"), { rotate: { maxBytes: 2000, writerId: "w" } });
      const seal = await fileSeal(destination, { key: (await keys()).seal, maxSegmentLines: 5 });
      const sink = new JsonLinesAuditSink(destination, { seal, capacity: 8, onError: () => {} });
      for (let round = 0; round < 20; round++) {
        for (let i = 0; i < 20; i++) sink.onCall(numbered(round * 20 + i)); // 8 fit, the rest are dropped
        await sink.flush();
      }
      await sink.close();
      const stats = sink.stats();
      assert.ok(stats.dropped > 0 && stats.written > 0);
      assert.ok(setFiles(dir).length >= 3);
      const { findings, summary } = await verifySet(dir);
      assert.deepEqual(findings.filter((f) => f.kind !== "gap").map((f) => `${f.file}: ${f.kind}`), []);
      assert.equal(summary.intact, true);
      assert.equal(summary.written, stats.written);
      assert.equal(summary.lost, stats.dropped);
    });
  });

  it("in-band checkpoints do not split at rotations: the set verifies as one stream, its files concatenated", async () => {
    await inDir(async (dir) => {
      const told: unknown[] = [];
      const destination = fileDestination(join(dir, "audit.jsonl"), { rotate: { maxBytes: 2500, writerId: "w" } });
      const sink = new JsonLinesAuditSink(destination, {
        seal: { key: (await keys()).seal, inBand: true, maxSegmentLines: 4 },
        onError: (error) => void told.push(error),
      });
      for (let i = 0; i < 100; i++) {
        sink.onCall(numbered(i));
        if (i % 7 === 0) await sink.flush();
      }
      await sink.close();
      assert.ok(setFiles(dir).length >= 3);
      assert.equal(told.length, 1);
      assert.match(String((told[0] as Error).message), /In-band checkpoints do not follow a file rotation/);
      const whole = new Blob(setFiles(dir).map((name) => read(dir, name)));
      const { findings, summary } = await verifyAuditTrail(whole, { keys: (await keys()).verify }).result();
      assert.deepEqual(findings.map((f) => f.kind), []);
      assert.equal(summary.verifiedLines, 100);
    });
  });

  it("fileSeal finishes a rotation a crash cut between renaming the data file and its seal file", async () => {
    await inDir(async (dir) => {
      await record(dir, 0, 60);
      // The crash: the active file was renamed, its seal file was not, and no new active file was made.
      renameSync(join(dir, "audit.jsonl"), join(dir, "audit.2099-01-01T00-00-00.000Z.w.jsonl"));
      await record(dir, 60, 40);
      assert.ok(existsSync(join(dir, "audit.2099-01-01T00-00-00.000Z.w.jsonl.seal")));
      const names = setFiles(dir);
      const ordered = [...names.filter((n) => n !== "audit.jsonl"), "audit.jsonl"];
      const { findings, summary } = await verifySet(dir, ordered);
      assert.deepEqual(findings.map((f) => `${f.file}: ${f.kind}`), []);
      assert.equal(summary.verifiedLines, 100);
    });
  });

  it("fileSeal finishes a cut rotation whose closed file was compressed since (the restart's tidying came first)", async () => {
    await inDir(async (dir) => {
      await record(dir, 0, 60, true);
      // The crash as above; then the next run's destination compressed the closed file before fileSeal looked.
      const closed = join(dir, "audit.2099-01-01T00-00-00.000Z.w.jsonl");
      writeFileSync(`${closed}.gz`, gzipSync(readFileSync(join(dir, "audit.jsonl"))));
      rmSync(join(dir, "audit.jsonl"));
      await record(dir, 60, 40, true);
      assert.ok(existsSync(`${closed}.seal`));
      const names = setFiles(dir);
      const ordered = [...names.filter((n) => n !== "audit.jsonl"), "audit.jsonl"];
      const { findings, summary } = await verifySet(dir, ordered);
      assert.deepEqual(findings.map((f) => `${f.file}: ${f.kind}`), []);
      assert.equal(summary.verifiedLines, 100);
    });
  });

  it("fileSeal finishes a cut rotation whose closed file was compressed between its listing and its size", async () => {
    await inDir(async (dir) => {
      await record(dir, 0, 60, true);
      const closed = join(dir, "audit.2099-01-01T00-00-00.000Z.w.jsonl");
      writeFileSync(`${closed}.gz`, gzipSync(readFileSync(join(dir, "audit.jsonl"))));
      rmSync(join(dir, "audit.jsonl"));
      // Listings a moment old: the plain file still there (its compression was finishing).
      const driver = runtime();
      const readDir = driver.readDir;
      driver.readDir = async (path) =>
        [...new Set([...await readDir.call(driver, path), "audit.2099-01-01T00-00-00.000Z.w.jsonl"])].sort();
      try {
        await record(dir, 60, 40, true);
      } finally {
        driver.readDir = readDir;
      }
      assert.ok(existsSync(`${closed}.seal`));
    });
  });

  it("fileSeal goes on with the chain after a restart, from the newest closed file's seal, and gzip'd files verify", async () => {
    await inDir(async (dir) => {
      await record(dir, 0, 100, true);
      // The active file moves away as a rotation would leave it, without a seal: the next run starts fresh.
      const before = setFiles(dir);
      assert.ok(before.slice(0, -1).every((name) => name.endsWith(".jsonl.gz")), before.join());
      await record(dir, 100, 100, true);
      const { findings, summary } = await verifySet(dir);
      assert.deepEqual(findings.map((f) => `${f.file}: ${f.kind}`), []);
      assert.equal(summary.verifiedLines, 200);
      // A fresh active file (after an external move), with the newest closed file's chain.
      renameSync(join(dir, "audit.jsonl"), join(dir, "audit.2099-01-01T00-00-00.000Z.x.jsonl"));
      renameSync(join(dir, "audit.jsonl.seal"), join(dir, "audit.2099-01-01T00-00-00.000Z.x.jsonl.seal"));
      await record(dir, 200, 5, true);
      const names = setFiles(dir);
      const last = checkpoints(dir, "audit.jsonl");
      const moved = checkpoints(dir, "audit.2099-01-01T00-00-00.000Z.x.jsonl");
      assert.equal(last[0]!.seq, moved.at(-1)!.seq + 1);
      const sorted = [...names.filter((n) => !n.includes("2099")), ...names.filter((n) => n.includes("2099"))];
      const ordered = [...sorted.filter((n) => n !== "audit.jsonl"), "audit.jsonl"];
      const all = await verifySet(dir, ordered);
      assert.deepEqual(all.findings.map((f) => `${f.file}: ${f.kind}`), []);
      assert.equal(all.summary.verifiedLines, 205);
    });
  });

  it("fileSeal goes on after torn writes in a rotating set's active file, over restarts, and the set verifies intact", async () => {
    await inDir(async (dir) => {
      // Three runs of 12 events: the second's write torn, the sixth's lost whole, the last's torn as the file's end.
      for (const first of [0, 12, 24]) {
        const restore = tearWrites(new Map([[first + 1, 30], [first + 5, 0], [first + 11, 25]]));
        try {
          const destination = fileDestination(join(dir, "audit.jsonl"), { rotate: { maxBytes: 3000, writerId: "w" } });
          const seal = await fileSeal(destination, { key: (await keys()).seal, maxSegmentLines: 4 });
          const sink = new JsonLinesAuditSink(destination, { seal, onError: () => {} });
          for (let i = first; i < first + 12; i++) {
            sink.onCall(numbered(i));
            for (let turn = 0; turn < 2_000 && sink.stats().written + sink.stats().failed <= i - first; turn++) {
              await tick();
            }
          }
          await sink.close();
          assert.equal(sink.stats().failed, 3);
        } finally {
          restore();
        }
      }
      assert.ok(setFiles(dir).length > 2, "it rotated");
      const { findings, summary } = await verifySet(dir);
      const problems = findings.filter((f) => !["gap", "torn_write", "unsealed_tail"].includes(f.kind));
      assert.deepEqual(problems.map((f) => `${f.file}: ${f.kind}: ${f.message}`), []);
      assert.deepEqual([summary.intact, summary.lost, summary.written], [true, 9, 36 - 9]);
    });
  });

  it("a rotated set verifies as intact, with an unsealed tail, while the new active file has lines and no checkpoint yet (a live writer, or one killed then)", async () => {
    await inDir(async (dir) => {
      const pair = await generateAuditSealKey();
      const key = await importAuditSealKey(pair.privateJwk);
      const verifyKey = await importAuditVerifyKey(pair.publicJwk);
      const destination = fileDestination(join(dir, "audit.jsonl"), { rotate: { maxBytes: 3000, writerId: "w" } });
      // Checkpoints only at rotations: what follows the last one waits (for intervalMs, or maxSegmentLines).
      const seal = await fileSeal(destination, { key, maxSegmentLines: 1000, intervalMs: 60_000 });
      const sink = new JsonLinesAuditSink(destination, { seal, backpressure: "block" });
      try {
        // A few lines a batch, each batch written before the next (flush() would seal them).
        for (let i = 0; i < 40; i++) {
          await sink.record(numbered(i));
          for (let n = 0; n < 500 && i % 4 === 3 && sink.stats().written <= i; n++) {
            await new Promise((resolve) => setTimeout(resolve, 5));
          }
        }
        assert.equal(sink.stats().written, 40);
        assert.ok(setFiles(dir).length > 2, "it rotated");
        const { findings, summary } = await verifyAuditSet(
          setFiles(dir).map((name) => {
            const sealName = join(dir, `${name}.seal`);
            return {
              name,
              data: new Blob([read(dir, name)]),
              seal: existsSync(sealName) ? new Blob([readFileSync(sealName)]) : null,
            };
          }),
          { keys: verifyKey },
        ).result();
        assert.deepEqual(findings.map((f) => `${f.file}: ${f.kind}`), ["audit.jsonl: unsealed_tail"]);
        assert.equal(summary.intact, true);
        assert.equal(summary.verifiedLines + summary.unsealedLines, 40);
        // The command line says the same of the folder.
        const out: string[] = [];
        const keyFile = join(dir, "key.public.jwk");
        writeFileSync(keyFile, JSON.stringify(pair.publicJwk));
        const status = await main(["verify", "--key", keyFile, dir], {
          stdout: (text) => Promise.resolve(void out.push(text)),
          stderr: (text) => Promise.resolve(void out.push(text)),
        });
        assert.equal(status, 0, out.join(""));
      } finally {
        await sink.close();
      }
    });
  });
});
