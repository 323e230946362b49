// verifyAuditSet over an in-band set a real sink wrote while rotating: its
// checkpoints do not split at rotations, so the files are verified read back
// to back, each finding naming its file and its line there.
import { describe, it } from "node:test";
import assert from "node:assert/strict";
import { mkdirSync, readdirSync, readFileSync } from "node:fs";
import { join } from "node:path";
import { JsonLinesAuditSink } from "../../mod.ts";
import { fileDestination } from "../../src/destination/file_destination.ts";
import { importAuditVerifyKey } from "../../src/seal/audit_seal_key.ts";
import { type AuditSetFile, type AuditSetFinding, verifyAuditSet } from "../../src/seal/verify_audit_set.ts";
import { numbered } from "../_helpers/events.ts";
import { inTempDir } from "../_helpers/temp_dir.ts";
import { rotatingTornSet } from "./_rotated_set.ts";
import { keys } from "./_trail.ts";

const PROBLEMS = new Set(["gap", "unsealed_tail", "adopted", "torn_write"]);

/** The findings that mean a set is not intact. */
function problems(findings: readonly AuditSetFinding[]): AuditSetFinding[] {
  return findings.filter((f) => !PROBLEMS.has(f.kind));
}

/** The set's files in `logs`, oldest first (the active file last): name and text. */
function setOf(logs: string): { name: string; text: string }[] {
  const closed = readdirSync(logs).filter((name) => /Z\.w\.jsonl$/.test(name)).sort();
  return [...closed, "audit.jsonl"].map((name) => ({ name, text: readFileSync(join(logs, name), "utf8") }));
}

/** The files as verifyAuditSet takes them, lazily, in band; `taken` lists each name as it is taken. */
async function* members(
  files: readonly { name: string; text: string }[],
  taken: string[] = [],
): AsyncGenerator<AuditSetFile, void, undefined> {
  for (const { name, text } of files) {
    taken.push(name);
    yield { name, data: new Blob([text]) };
  }
}

/** An in-band set of 60 events a rotating file destination wrote (about 2500 bytes a file, 4 lines a segment). */
async function inBandSet(dir: string) {
  const key = await keys();
  const logs = join(dir, "logs");
  mkdirSync(logs);
  const destination = fileDestination(join(logs, "audit.jsonl"), { rotate: { maxBytes: 2500, writerId: "w" } });
  const sink = new JsonLinesAuditSink(destination, { seal: { key: key.seal, inBand: true, maxSegmentLines: 4 } });
  for (let i = 0; i < 60; i++) {
    sink.onCall(numbered(i));
    if (i % 7 === 0) await sink.flush();
  }
  await sink.close();
  const files = setOf(logs);
  assert.ok(files.length >= 3, files.map((f) => f.name).join(" "));
  // Some segment runs on across a rotation: a file after the first opens with data lines, not a checkpoint.
  assert.ok(files.slice(1).some((f) => f.text.startsWith('{"ts"')), files.map((f) => f.text.slice(0, 20)).join(" "));
  return { files, verify: key.verify };
}

describe("verifyAuditSet (in band)", () => {
  it("verifyAuditSet verifies an honest in-band rotated set back to back, intact, taking the files one at a time", async () => {
    await inTempDir("inband-set", async (dir) => {
      const { files, verify } = await inBandSet(dir);
      const taken: string[] = [];
      const told: string[] = [];
      const verification = verifyAuditSet(members(files, taken), {
        keys: verify,
        onFile: (s) => {
          // A file's summary is told once the next file is taken, before any later one.
          assert.ok(taken.length <= files.indexOf(files.find((f) => f.name === s.file)!) + 2, s.file);
          told.push(s.file);
        },
      });
      const { findings, summary } = await verification.result();
      assert.deepEqual(findings.map((f) => `${f.file}:${f.line}: ${f.kind}`), []);
      assert.deepEqual(told, files.map((f) => f.name));
      assert.deepEqual(
        [summary.intact, summary.problems, summary.files, summary.lines, summary.verifiedLines, summary.unsealedLines],
        [true, 0, files.length, 60, 60, 0],
      );
      // Each file's lines are counted with it: its data lines.
      const dataLines = files.map((f) => f.text.split("\n").filter((line) => line.startsWith('{"ts"')).length);
      assert.deepEqual(summary.perFile.map((s) => s.lines), dataLines);
      assert.ok(summary.perFile.every((s) => s.intact && !s.unreadable && !s.missingSeal));
      assert.equal(summary.lastCheckpoint?.seq, summary.checkpoints - 1);
    });
  });

  it("verifyAuditSet names the file and its line for a line edited in the second file of an in-band set", async () => {
    await inTempDir("inband-edit", async (dir) => {
      const { files, verify } = await inBandSet(dir);
      const lines = files[1]!.text.split("\n");
      const at = lines.findIndex((line) => line.startsWith('{"ts"'));
      lines[at] = lines[at]!.replace('"call_id":"', '"call_id":"X');
      const edited = files.with(1, { ...files[1]!, text: lines.join("\n") });
      const { findings, summary } = await verifyAuditSet(members(edited), { keys: verify }).result();
      assert.equal(summary.intact, false);
      assert.deepEqual(
        problems(findings).map((f) => [f.kind, f.file, f.line, f.lastLine, f.lastFile]),
        [["edited", files[1]!.name, at + 1, at + 1, undefined]],
      );
      assert.ok(summary.perFile.some((s) => s.problems > 0));
    });
  });

  it("verifyAuditSet finds an in-band set with a file removed from the middle, or two files swapped, not intact", async () => {
    await inTempDir("inband-order", async (dir) => {
      const { files, verify } = await inBandSet(dir);
      const removed = files.toSpliced(1, 1);
      const swapped = [files[1]!, files[0]!, ...files.slice(2)];
      for (const [what, set] of [["removed", removed], ["swapped", swapped]] as const) {
        const { findings, summary } = await verifyAuditSet(members(set), { keys: verify }).result();
        assert.equal(summary.intact, false, what);
        assert.ok(problems(findings).length > 0, what);
        // Every finding names a file of the set and a line within it.
        for (const f of findings) {
          const file = set.find((s) => s.name === f.file);
          assert.ok(file !== undefined && f.line >= 1, `${what}: ${f.file}:${f.line}`);
          assert.ok(f.line <= file.text.split("\n").length, `${what}: ${f.file}:${f.line}`);
        }
      }
    });
  });

  it("verifyAuditSet finds an in-band set whose writes were torn, right before a rotation too, intact", async () => {
    await inTempDir("inband-torn", async (dir) => {
      const set = await rotatingTornSet(dir, true);
      const verify = await importAuditVerifyKey(JSON.parse(readFileSync(set.publicKey, "utf8")));
      const files = setOf(set.logs);
      const { findings, summary } = await verifyAuditSet(members(files), { keys: verify }).result();
      assert.deepEqual(problems(findings).map((f) => `${f.file}:${f.line}: ${f.kind}: ${f.message}`), []);
      assert.equal(summary.intact, true);
      const torn = findings.filter((f) => f.kind === "torn_write");
      assert.equal(torn.length, set.ended + set.unended);
      // A torn line that ends its file is named in that file, as its last line.
      const last = torn.filter((f) => {
        const text = files.find((file) => file.name === f.file)!.text;
        return !text.endsWith("\n") && f.line === text.split("\n").length;
      });
      assert.equal(last.length, set.unended);
    });
  });

  it("verifyAuditSet reports an in-band file that cannot be read, naming it, and goes on with the next", async () => {
    await inTempDir("inband-unreadable", async (dir) => {
      const { files, verify } = await inBandSet(dir);
      const broken = new ReadableStream<Uint8Array>({
        start(controller) {
          controller.enqueue(new TextEncoder().encode(files[1]!.text.slice(0, 100)));
          controller.error(new Error("corrupt gzip"));
        },
      });
      const set: AuditSetFile[] = files.map((f, i) => ({ name: f.name, data: i === 1 ? broken : new Blob([f.text]) }));
      const { findings, summary } = await verifyAuditSet(set, { keys: verify }).result();
      assert.equal(summary.intact, false);
      const unreadable = findings.filter((f) => f.kind === "unreadable");
      assert.deepEqual(unreadable.map((f) => [f.file, (f.cause as Error).message]), [[files[1]!.name, "corrupt gzip"]]);
      assert.deepEqual(summary.perFile.map((s) => [s.file, s.unreadable]), files.map((f, i) => [f.name, i === 1]));
      // The files after it are verified: they do not chain to the lost file (its checkpoints missing), and their lines
      // are read.
      const after = problems(findings).filter((f) => f.kind !== "unreadable");
      assert.deepEqual(after.map((f) => [f.kind, f.file]), [["deleted", files[2]!.name]]);
      const dataLines = (text: string) => text.split("\n").filter((line) => line.startsWith('{"ts"')).length;
      assert.deepEqual(summary.perFile.slice(2).map((s) => s.lines), files.slice(2).map((f) => dataLines(f.text)));
    });
  });
});
