import { describe, it } from "node:test";
import assert from "node:assert/strict";
import { AuditSealer } from "../../src/seal/audit_sealer.ts";
import type { AuditCheckpoint } from "../../src/seal/audit_checkpoint.ts";
import { MAX_CHECKPOINT_BYTES } from "../../src/seal/_checkpoint.ts";
import { fromBase64 } from "../../src/seal/_encoding.ts";
import { eventLine, keys, problems, show, verify } from "./_trail.ts";

const encoder = new TextEncoder();
const decoder = new TextDecoder();

async function checkpoint(sealer: AuditSealer): Promise<AuditCheckpoint> {
  return JSON.parse(decoder.decode(await sealer.seal()));
}

function bytes(lines: readonly string[]): Uint8Array {
  return encoder.encode(lines.join(""));
}

describe("AuditSealer", () => {
  it("seals each segment with its counts, hash and first and last ts, and counts on across checkpoints", async () => {
    const sealer = new AuditSealer((await keys()).seal, { origin: "o" });
    const lines = [0, 1, 2, 3, 4].map((i) => eventLine(i));
    sealer.append(bytes(lines.slice(0, 2)), 2);
    sealer.append(bytes(lines.slice(2, 3)), 1);
    const first = await checkpoint(sealer);
    sealer.append(bytes(lines.slice(3)), 2);
    const second = await checkpoint(sealer);
    const digest = async (text: string): Promise<string> =>
      [...new Uint8Array(await crypto.subtle.digest("SHA-256", encoder.encode(text)))]
        .map((b) => b.toString(16).padStart(2, "0")).join("");
    assert.deepEqual(
      [first.seq, first.lines, first.seg_lines, first.bytes, first.seg_bytes],
      [0, 3, 3, bytes(lines.slice(0, 3)).length, bytes(lines.slice(0, 3)).length],
    );
    assert.equal(first.seg_sha256, await digest(lines.slice(0, 3).join("")));
    assert.deepEqual([second.seq, second.lines, second.seg_lines, second.bytes], [1, 5, 2, bytes(lines).length]);
    assert.equal(second.seg_sha256, await digest(lines.slice(3).join("")));
    assert.equal(first.first_ts, JSON.parse(lines[0]!).ts);
    assert.equal(first.last_ts, JSON.parse(lines[2]!).ts);
    assert.equal(fromBase64(second.seg_tags)!.length, 8);
    assert.equal(sealer.lastCheckpoint?.seq, 1);
  });

  it("merges losses by reason and kind, keeps their first and last times, and counts them in offered", async () => {
    const sealer = new AuditSealer((await keys()).seal);
    sealer.append(bytes([eventLine(0), eventLine(1)]), 2);
    sealer.lost("queue_full", 2, "t1", "t2");
    sealer.lost("invalid", 1, "t3");
    sealer.lost("queue_full", 5, "t4", "t5");
    sealer.undelivered("destination", 1, "t6");
    const c = await checkpoint(sealer);
    assert.deepEqual(c.gaps.map((g) => [g.reason, g.count, g.in_segment, g.first_ts, g.last_ts]), [
      ["queue_full", 7, false, "t1", "t5"],
      ["invalid", 1, false, "t3", "t3"],
      ["destination", 1, true, "t6", "t6"],
    ]);
    // offered = lines handed to the stream + losses that never reached it.
    assert.equal(c.offered, 2 + 7 + 1);
    const next = await checkpoint(sealer);
    assert.deepEqual([next.offered, next.gaps.length], [10, 0]);
  });

  it("lists the SHA-256 of each line (16 bytes) when some of its segment's lines were not delivered", async () => {
    const sealer = new AuditSealer((await keys()).seal);
    const lines = [eventLine(0), eventLine(1), eventLine(2)];
    sealer.append(bytes(lines), 3);
    sealer.undelivered("rerouted", 2);
    const c = await checkpoint(sealer);
    const digests = fromBase64(c.line_digests!)!;
    assert.equal(digests.length, 48);
    for (const [i, line] of lines.entries()) {
      const full = new Uint8Array(await crypto.subtle.digest("SHA-256", encoder.encode(line.slice(0, -1))));
      assert.deepEqual(digests.subarray(16 * i, 16 * i + 16), full.subarray(0, 16));
    }
    sealer.append(bytes([eventLine(3)]), 1);
    assert.equal((await checkpoint(sealer)).line_digests, undefined);
  });

  it("refuses undelivered lines beyond the open segment's, and malformed losses", async () => {
    const sealer = new AuditSealer((await keys()).seal);
    sealer.append(bytes([eventLine(0), eventLine(1)]), 2);
    sealer.undelivered("destination", 1);
    assert.throws(() => sealer.undelivered("destination", 2), RangeError);
    assert.throws(() => sealer.lost("Queue Full", 1), TypeError);
    assert.throws(() => sealer.lost("queue_full", 0), RangeError);
    assert.throws(() => sealer.lost("queue_full", 1.5), RangeError);
  });

  it("is due by lines, by bytes, and by time once something is pending; heartbeats make it due when idle", async () => {
    let now = 1_000;
    const key = (await keys()).seal;
    const sealer = new AuditSealer(key, {
      maxSegmentLines: 3,
      maxSegmentBytes: 10_000,
      intervalMs: 100,
      now: () => now,
    });
    assert.equal(sealer.msUntilDue(), Infinity);
    assert.equal(sealer.append(bytes([eventLine(0)]), 1), false);
    assert.equal(sealer.msUntilDue(), 100);
    now += 60;
    assert.deepEqual([sealer.due, sealer.msUntilDue()], [false, 40]);
    assert.equal(sealer.append(bytes([eventLine(1), eventLine(2)]), 2), true);
    assert.equal(sealer.due, true);
    await sealer.seal();
    assert.equal(sealer.msUntilDue(), Infinity);
    sealer.lost("queue_full", 1);
    now += 100;
    assert.equal(sealer.due, true);
    const bySize = new AuditSealer(key, { maxSegmentBytes: 50 });
    assert.equal(bySize.append(bytes([eventLine(0)]), 1), true);
    const heartbeat = new AuditSealer(key, { intervalMs: 100, heartbeat: true, now: () => now });
    assert.equal(heartbeat.msUntilDue(), 100);
    now += 100;
    assert.equal(heartbeat.due, true);
    const c = await checkpoint(heartbeat);
    assert.deepEqual([c.seg_lines, c.first_ts, c.seg_tags], [0, "-", ""]);
  });

  it("makes checkpoints in the order seal() was called, each chained to the one before", async () => {
    const sealer = new AuditSealer((await keys()).seal);
    const pending: Promise<Uint8Array>[] = [];
    for (let i = 0; i < 5; i++) {
      sealer.append(bytes([eventLine(i)]), 1);
      pending.push(sealer.seal());
    }
    const lines = (await Promise.all(pending)).map((b) => JSON.parse(decoder.decode(b)) as AuditCheckpoint);
    assert.deepEqual(lines.map((c) => [c.seq, c.lines]), [[0, 1], [1, 2], [2, 3], [3, 4], [4, 5]]);
    assert.equal(new Set(lines.map((c) => c.prev)).size, 5);
  });

  it("continues the chain of a previous checkpoint, in a new stream or in the same one", async () => {
    const key = (await keys()).seal;
    const first = new AuditSealer(key, { origin: "log" });
    first.append(bytes([eventLine(0), eventLine(1)]), 2);
    const line = decoder.decode(await first.seal());
    const previous: AuditCheckpoint = JSON.parse(line);
    const rotated = new AuditSealer(key, { previous });
    rotated.append(bytes([eventLine(2)]), 1);
    const a = await checkpoint(rotated);
    const appended = new AuditSealer(key, { previous: line, newStream: false });
    appended.append(bytes([eventLine(2)]), 1);
    const b = await checkpoint(appended);
    assert.deepEqual([a.origin, a.seq, a.lines, b.seq, b.lines, b.offered], ["log", 1, 1, 1, 3, 3]);
    assert.equal(a.prev, b.prev);
    assert.notEqual(a.prev, "0".repeat(64));
    assert.throws(() => new AuditSealer(key, { previous, origin: "other" }), /origin differs/);
    assert.throws(() => new AuditSealer(key, { previous: '{"audit_checkpoint":1}' }), /previous is not a checkpoint/);
  });

  it("fails this seal and every later one when a chunk does not end with a newline", async () => {
    const sealer = new AuditSealer((await keys()).seal);
    sealer.append(encoder.encode('{"ts":"x"}'), 1);
    await assert.rejects(sealer.seal(), /did not end with a newline/);
    sealer.append(bytes([eventLine(0)]), 1);
    await assert.rejects(sealer.seal(), /did not end with a newline/);
  });

  it("rejects a key that signs with the wrong length, and bad options", async () => {
    const liar = { keyId: "k", algorithm: "Ed25519" as const, sign: () => Promise.resolve(new Uint8Array(10)) };
    await assert.rejects(new AuditSealer(liar).seal(), /10-byte signature/);
    assert.throws(() => new AuditSealer({ keyId: "k" } as never), TypeError);
    assert.throws(() => new AuditSealer(liar, { origin: "has space" }), TypeError);
    assert.throws(() => new AuditSealer(liar, { maxSegmentLines: 0 }), RangeError);
    assert.throws(() => new AuditSealer(liar, { intervalMs: 1.5 }), RangeError);
  });

  it("caps maxSegmentLines at 262144 (2^18) and maxSegmentBytes at 128 MiB, naming the limit", async () => {
    const key = (await keys()).seal;
    const over = (pattern: RegExp) => (e: unknown): boolean => e instanceof RangeError && pattern.test(e.message);
    assert.throws(
      () => new AuditSealer(key, { maxSegmentLines: 2 ** 18 + 1 }),
      over(/maxSegmentLines.*at most 262144/),
    );
    assert.throws(() => new AuditSealer(key, { maxSegmentBytes: 2 ** 27 + 1 }), over(/at most 134217728/));
    const largest = new AuditSealer(key, { maxSegmentLines: 2 ** 18, maxSegmentBytes: 2 ** 27 });
    assert.deepEqual([largest.maxSegmentLines, largest.maxSegmentBytes], [2 ** 18, 2 ** 27]);
  });

  it("refuses to make a checkpoint larger than a verifier reads, when append() was told too few lines", async () => {
    const key = await keys();
    const sealer = new AuditSealer(key.seal, { origin: "test.example/cap", maxSegmentBytes: 1 << 23 });
    const lines = 3_500_000; // 4 bytes of tags a line: more than 16 MiB of checkpoint once in base64
    assert.equal(sealer.append(new Uint8Array(lines).fill(0x0a), 1), false, "told one line: not due");
    await assert.rejects(sealer.seal(), (error: Error) => {
      assert.ok(error instanceof RangeError);
      assert.match(
        error.message,
        /^Cannot seal: the checkpoint would be \d+ bytes, more than the 16777216 a verifier reads \(3500000 lines/,
      );
      return true;
    });
    sealer.append(bytes([eventLine(1)]), 1);
    await assert.rejects(sealer.seal(), RangeError, "a failed seal fails every later one");
  });

  it("refuses a loss whose time is not a short string", async () => {
    const key = await keys();
    const sealer = new AuditSealer(key.seal, { origin: "test.example/cap" });
    assert.throws(
      () => sealer.lost("queue_full", 1, "2026-12-02T10:00:00Z".padEnd(65, "0")),
      /at most 64 characters, got 65 characters/,
    );
    assert.throws(() => sealer.lost("queue_full", 1, undefined, 5 as unknown as string), /got number/);
    sealer.append(bytes([eventLine(1)]), 1);
    assert.throws(() => sealer.undelivered("destination", 1, "x".repeat(1 << 20)), RangeError);
    sealer.lost("queue_full", 2, "2026-12-02T10:00:00.123456789+00:00");
    const line = decoder.decode(await sealer.seal());
    assert.match(
      line,
      /"gaps":\[\{"reason":"queue_full","count":2,"in_segment":false,"first_ts":"2026-12-02T10:00:00.123456789\+00:00"/,
    );
  });

  it("seals a segment at the largest maxSegmentLines, with line digests, into a checkpoint the verifier reads", async () => {
    const key = await keys();
    const max = 2 ** 18;
    const sealer = new AuditSealer(key.seal, { origin: "test.example/cap", maxSegmentLines: max });
    // Short lines, in shared memory as a sink holds them (hashed by the worker, as fast as it gets).
    const lines = Array.from({ length: max }, (_, i) => `{"n":${i}}\n`);
    const plain = bytes(lines);
    const segment = new Uint8Array(new SharedArrayBuffer(plain.length));
    segment.set(plain);
    assert.equal(sealer.append(segment, max), true);
    // One line the destination lost: the checkpoint carries every line's digest, so the verifier can tell which.
    sealer.undelivered("destination", 1);
    const line = decoder.decode(await sealer.seal());
    assert.ok(line.length < MAX_CHECKPOINT_BYTES / 2, `a ${line.length}-byte checkpoint`);
    const lostAt = 100_000;
    const data = lines.filter((_, i) => i !== lostAt).join("");
    const { findings, summary } = await verify(data, { keys: key.verify, seal: [line] });
    assert.deepEqual(problems(findings), [], show(findings));
    assert.deepEqual(findings.map((f) => [f.kind, f.count]), [["gap", 1]]);
    assert.deepEqual([summary.checkpoints, summary.verifiedLines, summary.lost], [1, max - 1, 1]);
  });

  it("gives each log a distinct random origin unless told", async () => {
    const key = (await keys()).seal;
    const a = new AuditSealer(key).origin;
    assert.match(a, /^urn:uuid:[0-9a-f-]{36}$/);
    assert.notEqual(a, new AuditSealer(key).origin);
  });

  it("adopt marks the lines at a segment's start as adopted, signed, and only when there are some", async () => {
    const key = await keys();
    const sealer = new AuditSealer(key.seal, { origin: "o" });
    const lines = [0, 1, 2, 3].map((i) => eventLine(i));
    sealer.adopt(bytes(lines.slice(0, 2)), 2);
    sealer.append(bytes(lines.slice(2, 3)), 1);
    assert.throws(() => sealer.adopt(bytes(lines.slice(3)), 1), TypeError);
    const adopted = decoder.decode(await sealer.seal());
    sealer.append(bytes(lines.slice(3)), 1);
    const plain = decoder.decode(await sealer.seal());
    assert.equal(JSON.parse(adopted).adopted, 2);
    assert.match(adopted, /,"adopted":2,"sig":/);
    assert.equal("adopted" in JSON.parse(plain), false);
    const data = lines.join("");
    const ok = await verify(data, { keys: key.verify, seal: adopted + plain });
    assert.deepEqual(ok.findings.map((f) => [f.kind, f.line, f.lastLine, f.sealedLines]), [["adopted", 1, 2, [1, 2]]]);
    assert.deepEqual([ok.summary.intact, ok.summary.verifiedLines, ok.summary.adoptedLines], [true, 4, 2]);
    const inBand = await verify(lines.slice(0, 3).join("") + adopted + lines[3] + plain, { keys: key.verify });
    assert.deepEqual(inBand.findings.map((f) => [f.kind, f.line, f.lastLine]), [["adopted", 1, 2]]);
    // The member is signed: dropping it, or changing it, breaks the signature.
    for (const forged of [adopted.replace(',"adopted":2', ""), adopted.replace('"adopted":2', '"adopted":1')]) {
      const { findings } = await verify(data, { keys: key.verify, seal: forged + plain });
      assert.ok(findings.some((f) => f.kind === "bad_signature"), show(findings));
    }
    for (const bad of ["0", "4", "-1", "1.5", '"2"']) {
      const { findings } = await verify(data, {
        keys: key.verify,
        seal: adopted.replace('"adopted":2', `"adopted":${bad}`),
      });
      assert.match(
        findings[0]?.message ?? "",
        /adopted is not a count of the segment's lines/,
        `${bad}: ${show(findings)}`,
      );
    }
  });
});
