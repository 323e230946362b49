// Hostile review of fileSeal: an attacker who can write the log and its seal
// file (the README's threat model) but not read the key, and who waits for the
// sealing process to restart.
import { describe, it } from "node:test";
import assert from "node:assert/strict";
import { appendFileSync, mkdtempSync, readFileSync, rmSync, symlinkSync, unlinkSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { JsonLinesAuditSink } from "../../mod.ts";
import { fileDestination, fileSeal } from "../../src/destination/file_destination.ts";
import { numbered } from "../_helpers/events.ts";
import { eventLine, keys, show, verify } from "../seal/_trail.ts";

async function inDir(test: (path: string, dir: string) => Promise<void>): Promise<void> {
  const dir = mkdtempSync(join(tmpdir(), "atd-file-seal-attack-"));
  try {
    await test(join(dir, "audit.jsonl"), dir);
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
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

// fileSeal adopts whatever follows the last checkpoint, and starts a new chain over a log without a seal file, so the
// process holding the key signs what the attacker wrote (a confused deputy). Not a small fix: the lead decides.
const DEPUTY = {
  skip: "reason: fileSeal seals, at restart, lines an attacker appended or re-wrote while the writer was down " +
    "(adoption and a fresh chain over a non-empty log); verify then calls the forged trail intact. See the report.",
};

describe("fileSeal under attack", () => {
  it("fileSeal does not vouch for a line appended by someone else after a clean close", DEPUTY, async () => {
    await inDir(async (path) => {
      await record(path, 0, 6);
      appendFileSync(path, FORGED); // while the writer is down
      await record(path, 6, 3);
      const { findings, summary } = await verifyFiles(path);
      assert.ok(!summary.intact || findings.length > 0, `the forged line is vouched for:\n${show(findings)}`);
    });
  });

  it("fileSeal does not re-seal an edited log whose seal file was deleted", DEPUTY, async () => {
    await inDir(async (path) => {
      await record(path, 0, 6);
      const lines = readFileSync(path, "utf8").split(/(?<=\n)/);
      lines[2] = FORGED;
      writeFileSync(path, lines.join(""));
      unlinkSync(`${path}.seal`);
      await record(path, 6, 3);
      const { findings, summary } = await verifyFiles(path);
      assert.ok(!summary.intact || findings.length > 0, `the edited log is vouched for:\n${show(findings)}`);
    });
  });

  it(
    "fileSeal does not re-seal lines whose last checkpoint was removed and which were then edited",
    DEPUTY,
    async () => {
      await inDir(async (path) => {
        await record(path, 0, 6); // two segments of 3
        const seal = readFileSync(`${path}.seal`, "utf8").split(/(?<=\n)/);
        writeFileSync(`${path}.seal`, seal.slice(0, -1).join(""));
        const lines = readFileSync(path, "utf8").split(/(?<=\n)/);
        lines[4] = FORGED;
        writeFileSync(path, lines.join(""));
        await record(path, 6, 3);
        const { findings, summary } = await verifyFiles(path);
        assert.ok(!summary.intact || findings.length > 0, `the edited lines are vouched for:\n${show(findings)}`);
      });
    },
  );

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
