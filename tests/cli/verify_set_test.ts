// `audit verify` over rotated sets, through main(args, io): each file against
// its own seal, the chain running on across files, gzip included; a missing,
// reordered or altered file, or a missing seal, is reported.
import { after, before, describe, it } from "node:test";
import assert from "node:assert/strict";
import { mkdirSync, mkdtempSync, readdirSync, readFileSync, renameSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { main } from "../../src/cli/main.ts";
import { JsonLinesAuditSink } from "../../mod.ts";
import { fileDestination } from "../../src/destination/file_destination.ts";
import { numbered } from "../_helpers/events.ts";
import { importAuditSealKey } from "../../src/seal/audit_seal_key.ts";
import { generateAuditSealKey } from "../../src/seal/generate_audit_seal_key.ts";
import { gzip, type SetFileSpec, writeSet } from "./_sets.ts";

let dir = "";
let publicKey = "";
let sealKey: Awaited<ReturnType<typeof importAuditSealKey>>;
before(async () => {
  dir = mkdtempSync(join(tmpdir(), "audit-verify-set-test-"));
  const pair = await generateAuditSealKey();
  publicKey = join(dir, "audit-seal.public.jwk");
  writeFileSync(publicKey, JSON.stringify(pair.publicJwk));
  sealKey = await importAuditSealKey(pair.privateJwk);
});
after(() => rmSync(dir, { recursive: true, force: true }));

const T1 = "2026-12-01T23-59-59.999Z";
const T2 = "2026-12-02T00-00-00.000Z";
const T3 = "2026-12-02T05-59-59.123Z";
const SPECS: SetFileSpec[] = [
  { time: T1, lines: 4, gzip: true },
  { time: T2, lines: 3 },
  { time: T3, lines: 5, gzip: true },
  { lines: 2 },
];

let count = 0;
/** A sealed set in a fresh folder. */
async function sealedSet(specs: readonly SetFileSpec[] = SPECS) {
  const logs = join(dir, `set-${count++}`);
  mkdirSync(logs);
  return { logs, set: await writeSet(logs, "audit", specs, sealKey) };
}

async function verify(...args: string[]): Promise<{ status: number; stdout: string; stderr: string }> {
  let stdout = "";
  let stderr = "";
  const status = await main(["verify", "--key", publicKey, ...args], {
    stdout: (text) => Promise.resolve(void (stdout += text)),
    stderr: (text) => Promise.resolve(void (stderr += text)),
  });
  return { status, stdout, stderr };
}

describe("audit verify over a rotated set", () => {
  it("finds a set intact, file by file in time order along one chain, gzip included", async () => {
    const { logs, set } = await sealedSet();
    const result = await verify(logs);
    assert.equal(result.status, 0, result.stdout + result.stderr);
    const lines = result.stdout.trim().split("\n");
    assert.equal(lines.length, set.files.length + 1, result.stdout);
    set.files.forEach((file, i) =>
      assert.match(lines[i]!, new RegExp(`${file.name.replace(/\./g, "\\.")} .*: intact`))
    );
    assert.equal(lines.at(-1), "audit: 4 files: intact");
    const glob = await verify(join(logs, "audit*.jsonl*"));
    assert.equal(glob.stdout, result.stdout, "a glob reads the same set, seal files left out");
  });

  it("reports a file missing from the middle of the set", async () => {
    const { logs, set } = await sealedSet();
    rmSync(join(logs, set.files[1]!.name));
    rmSync(join(logs, `${set.files[1]!.name}.seal`));
    const result = await verify(logs);
    assert.equal(result.status, 1);
    assert.match(result.stdout, new RegExp(`${set.files[2]!.name.replace(/\./g, "\\.")}:1: (broken chain|deleted): `));
    assert.match(result.stdout, /audit: 3 files: NOT intact \(1 of 1 set\)\n$/);
    // The missing file's checkpoints sealed its lines: not "sealing no line".
    assert.match(
      result.stdout,
      /checkpoints 2–3 are missing \(of a file missing before this one, or sealing no line\)/,
    );
  });

  it("reports two closed files whose names were swapped (reordered)", async () => {
    const { logs, set } = await sealedSet([{ time: T1, lines: 3 }, { time: T2, lines: 3 }, { lines: 1 }]);
    const [a, b] = [set.files[0]!.name, set.files[1]!.name];
    for (const suffix of ["", ".seal"]) {
      renameSync(join(logs, a + suffix), join(logs, "swap"));
      renameSync(join(logs, b + suffix), join(logs, a + suffix));
      renameSync(join(logs, "swap"), join(logs, b + suffix));
    }
    const result = await verify(logs);
    assert.equal(result.status, 1, result.stdout);
    assert.match(result.stdout, /broken chain/);
  });

  it("reports a line edited inside a compressed file, with the file's own line number", async () => {
    const { logs, set } = await sealedSet();
    const file = set.files[2]!;
    const lines = [...file.lines];
    lines[3] = lines[3]!.replace('"agent-A"', '"agent-B"');
    writeFileSync(join(logs, file.name), await gzip(new TextEncoder().encode(lines.join(""))));
    const result = await verify(logs);
    assert.equal(result.status, 1);
    assert.match(result.stdout, new RegExp(`${file.name.replace(/\./g, "\\.")}:4: edited: `));
    assert.equal(result.stdout.match(/: NOT intact/g)?.length, 2, "that file, and the set");
  });

  it("reports a compressed file cut short, and goes on with the next", async () => {
    const { logs, set } = await sealedSet();
    const path = join(logs, set.files[0]!.name);
    const bytes = readFileSync(path);
    writeFileSync(path, bytes.subarray(0, bytes.length - 10));
    const result = await verify(logs);
    assert.equal(result.status, 1);
    assert.match(result.stdout, /\.jsonl\.gz: altered or cut short: not a complete gzip file/);
    assert.match(result.stdout, /audit\.jsonl \(seal .*\): intact/, "the files after it are still verified");
  });

  it("reports the active file removed while its seal file is still in the folder", async () => {
    const { logs } = await sealedSet();
    rmSync(join(logs, "audit.jsonl")); // the newest lines: the chain alone cannot show them gone
    const result = await verify(logs);
    assert.equal(result.status, 1, result.stdout);
    assert.match(result.stdout, /audit\.jsonl: missing: its seal .*audit\.jsonl\.seal is there, the file is not\n/);
    assert.match(result.stdout, /audit\.jsonl:1: truncated: the data ends before sealed lines 1–2\n/);
    assert.match(result.stdout, /audit: 4 files: NOT intact \(1 of 1 set\)\n$/);
    // An empty seal file (sealing began, nothing sealed yet) is no sign of a removed file.
    writeFileSync(join(logs, "audit.jsonl.seal"), "");
    assert.equal((await verify(logs)).status, 0);
  });

  it("reads a rotation cut between renaming the data file and its seal file as that closed file's seal, not tampering", async () => {
    // A writer killed between the two renames of a rotation: the newest closed file has no seal yet, the active
    // file is gone (renamed), and the active seal file seals the closed file. The writer finishes the rotation
    // when it starts again; until then the set must read as what it is.
    const { logs } = await sealedSet();
    const T4 = "2026-12-02T06-00-00.000Z";
    renameSync(join(logs, "audit.jsonl"), join(logs, `audit.${T4}.w1.jsonl`));
    const result = await verify(logs);
    assert.equal(result.status, 0, result.stdout);
    assert.match(
      result.stdout,
      new RegExp(
        `audit\\.${T4}\\.w1\\.jsonl: sealed by .*audit\\.jsonl\\.seal: a rotation cut between its two renames`,
      ),
    );
    assert.match(result.stdout, new RegExp(`audit\\.${T4}\\.w1\\.jsonl \\(seal .*audit\\.jsonl\\.seal\\): intact`));
    assert.match(result.stdout, /audit: 4 files: intact\n$/);
    // The same set with that seal belonging to no file of it (lines edited since): not intact.
    const name = join(logs, `audit.${T4}.w1.jsonl`);
    writeFileSync(name, readFileSync(name, "utf8").replace('"agent-A"', '"agent-B"'));
    assert.equal((await verify(logs)).status, 1);
  });

  it("reports a closed file whose seal is missing", async () => {
    const { logs, set } = await sealedSet();
    rmSync(join(logs, `${set.files[1]!.name}.seal`));
    const result = await verify(logs);
    assert.equal(result.status, 1);
    assert.match(result.stdout, new RegExp(`${set.files[1]!.name.replace(/\./g, "\\.")}: missing seal: `));
  });

  it("needs --continues for a set whose oldest files were removed (retention)", async () => {
    const { logs, set } = await sealedSet();
    rmSync(join(logs, set.files[0]!.name));
    rmSync(join(logs, `${set.files[0]!.name.slice(0, -3)}.seal`));
    const strict = await verify(logs);
    assert.equal(strict.status, 1, "a set that starts after checkpoint 0 has lost its head");
    const continued = await verify("--continues", logs);
    assert.equal(continued.status, 0, continued.stdout);
  });

  it("verifies an in-band set read back to back (its checkpoints do not split at rotations), naming each file", async () => {
    const logs = join(dir, `set-${count++}`);
    mkdirSync(logs);
    const destination = fileDestination(join(logs, "audit.jsonl"), { rotate: { maxBytes: 2500, writerId: "w" } });
    const sink = new JsonLinesAuditSink(destination, {
      seal: { key: sealKey, inBand: true, maxSegmentLines: 4 },
      onError: () => {},
    });
    for (let i = 0; i < 60; i++) {
      sink.onCall(numbered(i));
      if (i % 7 === 0) await sink.flush();
    }
    await sink.close();
    const sound = await verify("--in-band", logs);
    assert.equal(sound.status, 0, sound.stdout);
    assert.match(sound.stdout, /\(\d+ files read back to back, .*\): intact: .* 60 lines \(60 verified, 0 unsealed\)/);
    // A data line edited in a closed file: the finding names that file and the line within it.
    const names = readdirSync(logs).filter((name) => /\d{3}Z\.w\.jsonl$/.test(name)).sort();
    const target = names.find((name) => readFileSync(join(logs, name), "utf8").split("\n")[1]?.startsWith('{"ts"'))!;
    const text = readFileSync(join(logs, target), "utf8").split("\n");
    text[1] = text[1]!.replace('"call_id":"', '"call_id":"X');
    writeFileSync(join(logs, target), text.join("\n"));
    const edited = await verify("--in-band", logs);
    assert.equal(edited.status, 1, edited.stdout);
    assert.match(edited.stdout, new RegExp(`^${join(logs, target).replace(/\./g, "\\.")}:2: edited: `, "m"));
  });

  it("refuses --seal with several files, and stdin", async () => {
    const { logs } = await sealedSet();
    const several = await verify("--seal", join(logs, "audit.jsonl.seal"), logs);
    assert.equal(several.status, 2);
    assert.match(several.stderr, /^audit: --seal names the seal of one FILE/);
    const stdin = await verify("-");
    assert.equal(stdin.status, 2);
    assert.match(stdin.stderr, /^audit: verify reads files, not stdin\n$/);
  });
});
