import { describe, it } from "node:test";
import assert from "node:assert/strict";
import fc from "fast-check";
import { AuditSealer } from "../../src/seal/audit_sealer.ts";
import { isCutCheckpoint, restartsAfter } from "../../src/seal/_cut_checkpoint.ts";
import { eventLine, keys } from "./_trail.ts";

const encoder = new TextEncoder();
const decoder = new TextDecoder();

/** Checkpoint lines (without their newlines) with every optional member: gaps, line digests, adopted lines; and a heartbeat. */
async function lines(): Promise<string[]> {
  const sealer = new AuditSealer((await keys()).seal, { origin: "test.example/audit" });
  sealer.adopt(encoder.encode(eventLine(1)), 1);
  sealer.append(encoder.encode(eventLine(2) + eventLine(3)), 2);
  sealer.undelivered("destination", 1);
  sealer.lost("queue_full", 3);
  sealer.lost("invalid", 1);
  const out = [decoder.decode(await sealer.seal())];
  out.push(decoder.decode(await sealer.seal()));
  sealer.append(encoder.encode(eventLine(4)), 1);
  out.push(decoder.decode(await sealer.seal()));
  return out.map((line) => line.slice(0, -1));
}

describe("isCutCheckpoint", () => {
  it("isCutCheckpoint takes every start of a checkpoint line for one cut short, and never the whole line", async () => {
    for (const line of await lines()) {
      for (let n = 1; n < line.length; n++) assert.ok(isCutCheckpoint(line.slice(0, n)), line.slice(0, n));
      assert.equal(isCutCheckpoint(line), false);
      assert.equal(isCutCheckpoint(""), false);
    }
  });

  it("isCutCheckpoint refuses anything a checkpoint line cannot start with (property)", async () => {
    const all = await lines();
    const line = all[0]!;
    // A character changed to one the writer never writes there: a quote (it ends a name or value), a space, a
    // backslash, a newline.
    await fc.assert(
      fc.property(fc.nat(line.length - 2), fc.constantFrom('"', " ", "\\", "\n"), (at, c) => {
        fc.pre(line[at] !== c);
        const changed = line.slice(0, at) + c + line.slice(at + 1);
        assert.equal(isCutCheckpoint(changed.slice(0, -1)), false, changed.slice(Math.max(0, at - 20), at + 20));
      }),
      { numRuns: 300 },
    );
    for (const junk of ["x", '{"ts":"2026', '{"audit_x', '{"audit_checkpoint":2', `${line} `, `${line}}`]) {
      assert.equal(isCutCheckpoint(junk), false, junk);
    }
  });
});

describe("restartsAfter", () => {
  it("restartsAfter takes a restart's checkpoint for the cut one's successor only where it repeats its place", async () => {
    const key = await keys();
    const first = new AuditSealer(key.seal, { origin: "test.example/audit", now: () => 0 });
    const previous = decoder.decode(await first.seal());
    first.append(encoder.encode(eventLine(1)), 1);
    const cut = decoder.decode(await first.seal());
    const again = new AuditSealer(key.seal, { previous, newStream: false, now: () => 1000 });
    const plain = decoder.decode(await again.seal());
    const c = JSON.parse(plain);
    const pastTime = cut.indexOf('"lines":');
    // Its seq whole and another checkpoint than c (another time): a restart. Not its seq: nothing shows one.
    assert.equal(restartsAfter(cut.slice(0, pastTime), c, plain), true);
    assert.equal(restartsAfter(cut.slice(0, 40), c, plain), false);
    assert.equal(restartsAfter(cut.slice(0, 40), { ...c, adopted: 1 }, plain), true);
    // The start of c's own line, or a cut that ends before they differ: not another checkpoint.
    assert.equal(restartsAfter(plain.slice(0, 300), c, plain), false);
    assert.equal(restartsAfter(cut.slice(0, cut.indexOf('"prev":')), c, plain), false);
    // Another place in the chain, or another log.
    assert.equal(restartsAfter(cut.slice(0, pastTime), { ...c, seq: c.seq + 1, adopted: 1 }, plain), false);
    assert.equal(restartsAfter(cut.slice(0, 300), { ...c, prev: "f".repeat(64), adopted: 1 }, plain), false);
    assert.equal(restartsAfter(cut.slice(0, 300), { ...c, origin: "other.example", adopted: 1 }, plain), false);
  });
});
