// Hostile review of fileSeal: an attacker who can write the log and its seal
// file (the README's threat model) but not read the key, and who waits for the
// sealing process to restart.
import { describe, it } from "node:test";
import assert from "node:assert/strict";
import { appendFileSync, readFileSync, symlinkSync, unlinkSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { JsonLinesAuditSink } from "../../mod.ts";
import { fileDestination, fileSeal } from "../../src/destination/file_destination.ts";
import { numbered } from "../_helpers/events.ts";
import { main } from "../../src/cli/main.ts";
import { importAuditSealKey } from "../../src/seal/audit_seal_key.ts";
import { generateAuditSealKey } from "../../src/seal/generate_audit_seal_key.ts";
import { eventLine, keys, show, verify } from "../seal/_trail.ts";
import { inTempDir } from "../_helpers/temp_dir.ts";

function inDir(test: (path: string, dir: string) => Promise<void>): Promise<void> {
  return inTempDir("file-seal-attack", (dir) => test(join(dir, "audit.jsonl"), dir));
}

/** The writer (which holds the key) runs once: records `count` events from `first`, then closes. */
async function record(path: string, first: number, count: number): Promise<number> {
  const seal = await fileSeal(path, { key: (await keys()).seal, maxSegmentLines: 3, origin: "victim.example/audit" });
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

const FORGED = eventLine(999_999, "forged");

/** The adopted findings, as `[kind, first line, last line]`. */
function adopted(findings: readonly { kind: string; line: number; lastLine: number }[]): [string, number, number][] {
  return findings.filter((f) => f.kind === "adopted").map((f) => [f.kind, f.line, f.lastLine]);
}

describe("fileSeal under attack", () => {
  it("fileSeal marks a line appended by someone else after a clean close as adopted, not vouched for", async () => {
    await inDir(async (path) => {
      await record(path, 0, 6);
      appendFileSync(path, FORGED); // while the writer is down
      assert.equal(await record(path, 6, 3), 1);
      const { findings, summary } = await verifyFiles(path);
      assert.deepEqual(adopted(findings), [["adopted", 7, 7]], show(findings));
      assert.equal(summary.adoptedLines, 1);
      assert.equal(readFileSync(path, "utf8").split("\n")[6], FORGED.trimEnd());
    });
  });

  it("audit verify prints adopted lines, exits 0 for them, and 1 with --strict", async () => {
    await inDir(async (path, dir) => {
      const pair = await generateAuditSealKey();
      const key = await importAuditSealKey(pair.privateJwk);
      writeFileSync(join(dir, "key.jwk"), JSON.stringify(pair.publicJwk));
      for (const [first, count] of [[0, 3], [3, 2]] as const) {
        if (first > 0) appendFileSync(path, FORGED);
        const seal = await fileSeal(path, { key, maxSegmentLines: 3 });
        const sink = new JsonLinesAuditSink(fileDestination(path), { seal });
        for (let i = first; i < first + count; i++) sink.onCall(numbered(i));
        await sink.close();
      }
      const cli = async (...extra: string[]): Promise<[number | undefined, string]> => {
        let out = "";
        const write = (t: string): Promise<void> => Promise.resolve(void (out += t));
        return [
          await main(["verify", path, "--key", join(dir, "key.jwk"), ...extra], { stdout: write, stderr: write }),
          out,
        ];
      };
      const [status, out] = await cli();
      assert.equal(status, 0, out);
      assert.match(out, /audit\.jsonl:4: adopted: line 4 was sealed after a restart, not as it was written/);
      assert.match(out, /: intact: .*6 lines \(5 verified, 1 adopted, 0 unsealed\)/);
      assert.equal((await cli("--strict"))[0], 1);
    });
  });

  it("fileSeal refuses to start a new chain over an edited log whose seal file was deleted", async () => {
    await inDir(async (path) => {
      await record(path, 0, 6);
      const lines = readFileSync(path, "utf8").split(/(?<=\n)/);
      lines[2] = FORGED;
      writeFileSync(path, lines.join(""));
      unlinkSync(`${path}.seal`);
      await assert.rejects(record(path, 6, 3), (error: Error) => {
        assert.match(error.message, /start sealing ".*audit\.jsonl": it already holds \d+ bytes/);
        assert.match(error.message, /adoptExisting/);
        return true;
      });
      assert.equal(readFileSync(`${path}.seal`, "utf8"), "", "no checkpoint written");
      // Opting in seals the six lines, as adopted, in segments of at most maxSegmentLines.
      const seal = await fileSeal(path, { key: (await keys()).seal, maxSegmentLines: 3, adoptExisting: true });
      assert.equal(seal.adoptedLines, 6);
      const { findings, summary } = await verifyFiles(path);
      assert.deepEqual(adopted(findings), [["adopted", 1, 3], ["adopted", 4, 6]], show(findings));
      assert.equal(summary.adoptedLines, 6);
    });
  });

  it("fileSeal refuses a seal file ending in a partial line that is not a checkpoint", async () => {
    await inDir(async (path) => {
      await record(path, 0, 3);
      // Junk, and junk after the start of a checkpoint: no writer wrote that (audit verify finds it malformed).
      const start = '{"audit_checkpoint":1,"origin":"victim.example/audit"';
      for (const junk of ["x", '{"ts":"2026', '{"audit_x', `${start} junk`, `${start},"key_id":"k"}`]) {
        const seal = readFileSync(`${path}.seal`, "utf8");
        writeFileSync(`${path}.seal`, junk);
        await assert.rejects(record(path, 3, 1), /ends in a partial line that is not a checkpoint/);
        writeFileSync(`${path}.seal`, seal + junk);
        await assert.rejects(record(path, 3, 1), /ends in a partial line that is not a checkpoint/);
        writeFileSync(`${path}.seal`, seal);
      }
      // A torn checkpoint (a crash while writing one) is not junk.
      const seal = readFileSync(`${path}.seal`, "utf8");
      writeFileSync(`${path}.seal`, seal + seal.slice(0, 40));
      assert.equal(await record(path, 3, 1), 0);
    });
  });

  it("fileSeal marks lines whose last checkpoint was removed, and which were then edited, as adopted", async () => {
    await inDir(async (path) => {
      await record(path, 0, 3);
      await record(path, 3, 3); // two checkpoints of three lines each
      const seal = readFileSync(`${path}.seal`, "utf8").split(/(?<=\n)/);
      writeFileSync(`${path}.seal`, seal.slice(0, -1).join(""));
      const lines = readFileSync(path, "utf8").split(/(?<=\n)/);
      lines[4] = FORGED;
      writeFileSync(path, lines.join(""));
      assert.equal(await record(path, 6, 3), 3);
      const { findings } = await verifyFiles(path);
      assert.deepEqual(adopted(findings), [["adopted", 4, 6]], show(findings));
    });
  });

  it("fileSeal refuses a seal file that is a symlink to the log, and verify flags a log symlinked to its seal", async () => {
    await inDir(async (path, dir) => {
      await record(path, 0, 3);
      const other = join(dir, "other.jsonl");
      writeFileSync(other, eventLine(1) + eventLine(2));
      symlinkSync(other, `${other}.seal`);
      await assert.rejects(fileSeal(other, { key: (await keys()).seal }), /not a checkpoint/);
      assert.equal(readFileSync(other, "utf8"), eventLine(1) + eventLine(2), "nothing written into the log");
    });
  });
});
