import { describe, it } from "node:test";
import assert from "node:assert/strict";
import type { AuditCheckpoint } from "../../src/seal/audit_checkpoint.ts";
import { AuditSealer } from "../../src/seal/audit_sealer.ts";
import { type AuditSetFile, type AuditSetFinding, verifyAuditSet } from "../../src/seal/verify_audit_set.ts";
import { eventLine, keys } from "./_trail.ts";

const encoder = new TextEncoder();
const decoder = new TextDecoder();

/** One file of a set in memory: its name, lines and seal stream text. */
interface SetFile {
  readonly name: string;
  readonly lines: string[];
  readonly seal: string;
}

/** A set of files of `counts` lines, each sealed in two segments, each file's chain going on from the one before. */
async function sealSet(counts: readonly number[]): Promise<SetFile[]> {
  const key = (await keys()).seal;
  const files: SetFile[] = [];
  let previous: AuditCheckpoint | undefined;
  let n = 0;
  for (const [i, count] of counts.entries()) {
    const sealer = new AuditSealer(key, {
      origin: "sets.example/audit",
      ...(previous === undefined ? {} : { previous, newStream: true }),
    });
    const lines = Array.from({ length: count }, () => eventLine(n++, "set"));
    const seal: string[] = [];
    for (const part of [lines.slice(0, count >> 1), lines.slice(count >> 1)]) {
      sealer.append(encoder.encode(part.join("")), part.length);
      seal.push(decoder.decode(await sealer.seal()));
    }
    previous = sealer.lastCheckpoint ?? previous;
    files.push({ name: i === counts.length - 1 ? "audit.jsonl" : `audit.${i}.jsonl`, lines, seal: seal.join("") });
  }
  return files;
}

/** The set as verifyAuditSet takes it. */
function members(files: readonly SetFile[]): AuditSetFile[] {
  return files.map((f) => ({ name: f.name, data: new Blob(f.lines), seal: new Blob([f.seal]) }));
}

/** A stream of `bytes` that then fails with `error`; `cancelled` is set when it is cancelled. */
function failing(bytes: string, error: Error, state: { cancelled?: boolean } = {}): ReadableStream<Uint8Array> {
  let sent = false;
  return new ReadableStream<Uint8Array>({
    pull(controller) {
      if (sent) controller.error(error);
      else controller.enqueue(encoder.encode(bytes));
      sent = true;
    },
    cancel() {
      state.cancelled = true;
    },
  }, { highWaterMark: 0 });
}

function show(findings: readonly AuditSetFinding[]): string[] {
  return findings.map((f) => `${f.file}: ${f.kind}`);
}

describe("verifyAuditSet", () => {
  it("verifyAuditSet verifies a set along one chain, with one summary per file and totals", async () => {
    const files = await sealSet([4, 3, 5]);
    const { findings, summary } = await verifyAuditSet(members(files), { keys: (await keys()).verify }).result();
    assert.deepEqual(show(findings), []);
    assert.deepEqual(
      [summary.intact, summary.problems, summary.files, summary.lines, summary.verifiedLines, summary.checkpoints],
      [true, 0, 3, 12, 12, 6],
    );
    assert.deepEqual(summary.perFile.map((s) => [s.file, s.verifiedLines, s.missingSeal, s.unreadable]), [
      ["audit.0.jsonl", 4, false, false],
      ["audit.1.jsonl", 3, false, false],
      ["audit.jsonl", 5, false, false],
    ]);
    assert.equal(summary.lastCheckpoint?.seq, 5);
  });

  it("verifyAuditSet streams: each file's findings and summary come before the next file is taken", async () => {
    const files = await sealSet([3, 3, 3]);
    files[0]!.lines[1] = files[0]!.lines[1]!.replace('"agent-A"', '"agent-B"');
    files[2]!.lines[2] = files[2]!.lines[2]!.replace('"agent-A"', '"agent-B"');
    const log: string[] = [];
    async function* taken(): AsyncGenerator<AuditSetFile> {
      for (const member of members(files)) {
        log.push(`take ${member.name}`);
        yield member;
      }
    }
    const verification = verifyAuditSet(taken(), {
      keys: (await keys()).verify,
      onFile: (s) => void log.push(`summary ${s.file} intact=${s.intact}`),
    });
    for await (const f of verification) log.push(`${f.kind} ${f.file}:${f.line} (${verification.summary.files} done)`);
    assert.deepEqual(log, [
      "take audit.0.jsonl",
      "edited audit.0.jsonl:2 (0 done)",
      "summary audit.0.jsonl intact=false",
      "take audit.1.jsonl",
      "summary audit.1.jsonl intact=true",
      "take audit.jsonl",
      "edited audit.jsonl:3 (2 done)",
      "summary audit.jsonl intact=false",
    ]);
    assert.equal(verification.summary.problems, 2);
  });

  it("verifyAuditSet reports a file whose seal is null (missing) and reads its data in band", async () => {
    const files = await sealSet([4, 3, 5]);
    const set = members(files).map((m, i) => i === 1 ? { ...m, seal: null } : m);
    const { findings, summary } = await verifyAuditSet(set, { keys: (await keys()).verify }).result();
    assert.deepEqual(show(findings), [
      "audit.1.jsonl: missing_seal",
      "audit.1.jsonl: unsealed_tail",
      "audit.jsonl: broken_chain",
    ]);
    assert.deepEqual([findings[0]!.line, findings[0]!.lastLine, findings[0]!.count], [1, 0, 0]);
    assert.match(findings[2]!.message, /checkpoints 2–3 are missing/, "the next file chains to the file before");
    const middle = summary.perFile[1]!;
    assert.deepEqual([middle.missingSeal, middle.lines, middle.verifiedLines, middle.intact], [true, 3, 0, false]);
    assert.deepEqual([summary.intact, summary.problems], [false, 2]);
  });

  it("verifyAuditSet counts a missing seal as a problem even when the file has no lines", async () => {
    const files = await sealSet([2, 2]);
    const set = [...members(files), { name: "audit.empty.jsonl", data: new Blob([]), seal: null }];
    const { findings, summary } = await verifyAuditSet(set, { keys: (await keys()).verify }).result();
    assert.deepEqual(show(findings), ["audit.empty.jsonl: missing_seal"]);
    assert.equal(summary.perFile[2]!.intact, true, "its trail alone is intact");
    assert.deepEqual([summary.intact, summary.problems], [false, 1]);
  });

  it("verifyAuditSet reports a file whose data fails mid-way, and goes on with the next file", async () => {
    const files = await sealSet([4, 3, 5]);
    const error = new Error("not a complete gzip file");
    const set = members(files).map((m, i) => i === 1 ? { ...m, data: failing(files[1]!.lines[0]!, error) } : m);
    const { findings, summary } = await verifyAuditSet(set, { keys: (await keys()).verify }).result();
    assert.deepEqual(show(findings), ["audit.1.jsonl: unreadable", "audit.jsonl: broken_chain"]);
    assert.equal(findings[0]!.cause, error);
    assert.match(findings[0]!.message, /cannot be read to its end: not a complete gzip file/);
    // Its first segment (one line) verified before the stream failed.
    assert.deepEqual(summary.perFile.map((s) => [s.unreadable, s.verifiedLines]), [[false, 4], [true, 1], [false, 5]]);
    assert.equal(summary.lastCheckpoint?.seq, 5, "the chain goes on past it");
    assert.deepEqual([summary.intact, summary.problems], [false, 2]);
  });

  it("verifyAuditSet lets the file after an unreadable first file continue the chain", async () => {
    const files = await sealSet([4, 3, 5]);
    const set = members(files).map((m, i) => i === 0 ? { ...m, data: failing("", new Error("EIO")) } : m);
    const { findings, summary } = await verifyAuditSet(set, { keys: (await keys()).verify }).result();
    assert.deepEqual(show(findings), ["audit.0.jsonl: unreadable"], "its loss is not reported twice");
    assert.deepEqual(summary.perFile.map((s) => s.intact), [true, true, true]);
    assert.deepEqual([summary.intact, summary.verifiedLines], [false, 8]);
  });

  it("verifyAuditSet reports a seal or data stream that fails, and cancels the other", async () => {
    const files = await sealSet([4, 3]);
    const data: { cancelled?: boolean } = {};
    const set: AuditSetFile[] = [
      {
        name: "audit.0.jsonl",
        data: failing(files[0]!.lines.join(""), new Error("not read"), data),
        seal: failing("", new Error("seal gone")),
      },
      { ...members(files)[1]!, data: failing(files[1]!.lines[0]!, new Error("data cut")) },
    ];
    const { findings } = await verifyAuditSet(set, { keys: (await keys()).verify }).result();
    assert.deepEqual(findings.map((f) => [f.file, f.kind, (f.cause as Error).message]), [
      ["audit.0.jsonl", "unreadable", "seal gone"],
      ["audit.jsonl", "unreadable", "data cut"],
    ]);
    assert.equal(data.cancelled, true, "the data of the file whose seal failed is cancelled, unread");
  });

  it("verifyAuditSet needs continues for a set whose oldest file is gone", async () => {
    const files = (await sealSet([4, 3, 5])).slice(1);
    const key = (await keys()).verify;
    const headless = await verifyAuditSet(members(files), { keys: key }).result();
    assert.deepEqual(show(headless.findings), ["audit.1.jsonl: broken_chain"]);
    const continued = await verifyAuditSet(members(files), { keys: key, continues: true }).result();
    assert.deepEqual(show(continued.findings), []);
    assert.equal(continued.summary.intact, true);
  });

  it("verifyAuditSet reports a file replayed or out of order where it is, not the files after it as missing checkpoints", async () => {
    const files = await sealSet([4, 3, 5, 2]);
    const key = (await keys()).verify;
    const replayed = [files[0]!, files[1]!, files[2]!, { ...files[0]!, name: "audit.copy.jsonl" }, files[3]!];
    const once = await verifyAuditSet(members(replayed), { keys: key }).result();
    assert.deepEqual(
      show(once.findings),
      ["audit.copy.jsonl: broken_chain"],
      once.findings.map((f) => f.message).join(),
    );
    const swapped = [files[0]!, files[2]!, files[1]!, files[3]!];
    const twice = await verifyAuditSet(members(swapped), { keys: key }).result();
    assert.deepEqual(show(twice.findings), ["audit.2.jsonl: broken_chain", "audit.1.jsonl: broken_chain"]);
    assert.equal(twice.summary.intact, false);
    assert.equal(twice.summary.lastCheckpoint?.seq, 7);
  });

  it("verifyAuditSet checks its arguments at once, and iterates once", async () => {
    const key = (await keys()).verify;
    assert.throws(() => verifyAuditSet(42 as never, { keys: key }), TypeError);
    assert.throws(() => verifyAuditSet([], { keys: [] }), TypeError);
    assert.throws(() => verifyAuditSet([], { keys: key, maxSegmentBytes: 0 }), RangeError);
    assert.throws(() => verifyAuditSet([], { keys: key, onFile: "no" as never }), TypeError);
    const verification = verifyAuditSet([{ name: 1 } as never], { keys: key });
    await assert.rejects(verification.result(), /each file needs a name/);
    assert.throws(() => verification[Symbol.asyncIterator](), TypeError);
  });

  it("hands onFile a summary it cannot change: the next file chains to the checkpoint verified, the totals stand", async () => {
    const files = await sealSet([4, 3, 5]);
    const { verify } = await keys();
    const changes: [string, (s: Record<string, unknown>) => void][] = [
      ["trims the large members it does not print", (s) => {
        const c = s.lastCheckpoint as Record<string, unknown>;
        delete c.seg_tags;
        delete c.sig;
      }],
      ["rewrites the sequence number", (s) => void ((s.lastCheckpoint as Record<string, unknown>).seq = 0)],
      ["empties the gaps", (s) => void ((s.lastCheckpoint as { gaps: unknown[] }).gaps.length = 0)],
      ["clears the problems", (s) => void (s.problems = 0)],
    ];
    for (const [what, change] of changes) {
      const refused: unknown[] = [];
      const { findings, summary } = await verifyAuditSet(members(files), {
        keys: verify,
        onFile: (s) => {
          try {
            change(s as unknown as Record<string, unknown>);
          } catch (error) {
            refused.push(error); // a frozen object: the change throws in strict code
          }
        },
      }).result();
      assert.equal(refused.length, 3, what);
      assert.ok(refused.every((error) => error instanceof TypeError), what);
      assert.deepEqual(show(findings), [], what);
      assert.equal(summary.intact, true, what);
      assert.equal(summary.verifiedLines, 12, what);
      assert.equal(summary.lastCheckpoint?.seq, 5, what);
    }
  });
});
