// Checkpoint lines that JSON.parse reads one way and other readers of the
// trail (jq, a database, serde_json, Go's encoding/json) could read another:
// the signature covers the text form, not the line, so each is a spelling a
// forger may choose. The verifier calls them malformed, with a seal stream and
// in band, and a reader of events takes them for invalid lines, not checkpoints.
import { describe, it } from "node:test";
import assert from "node:assert/strict";
import { parseCallEvent, readCallEvents } from "../../mod.ts";
import { AuditSealer } from "../../src/seal/audit_sealer.ts";
import { dataLines, eventLine, inBandLines, keys, sealTrail, show, type Trail, verify } from "./_trail.ts";

const encoder = new TextEncoder();
const decoder = new TextDecoder();

async function trail(): Promise<Trail> {
  return await sealTrail((await keys()).seal, [2, 2], 0, { salt: "differential", origin: "differential.example/log" });
}

/** Checkpoint 0 seals 2 lines and a loss of 3 events (a gap); checkpoint 1 is a heartbeat (its segment counters are 0). */
async function lossyTrail(): Promise<Trail> {
  const sealer = new AuditSealer((await keys()).seal, { origin: "differential.example/log" });
  const lines = [eventLine(0, "lossy"), eventLine(1, "lossy")];
  sealer.append(encoder.encode(lines.join("")), 2);
  sealer.lost("queue_full", 3, "2026-12-02T10:00:00.000Z", "2026-12-02T10:00:01.000Z");
  const checkpoints = [decoder.decode(await sealer.seal()), decoder.decode(await sealer.seal())];
  return { segments: [lines, []], checkpoints, tail: [] };
}

/**
 * Asserts that `line`, put for the trail's checkpoint `index` (its last by
 * default), is malformed to the verifier and not a checkpoint to a reader.
 */
async function assertMalformed(t: Trail, line: string, name: string, index = t.checkpoints.length - 1): Promise<void> {
  assert.notEqual(line, t.checkpoints[index], `${name}: the line is altered`);
  const seal = t.checkpoints.map((c, i) => i === index ? line : c);
  const sidecar = await verify(dataLines(t), { keys: (await keys()).verify, seal });
  assert.equal(sidecar.summary.intact, false, `${name}, seal stream: ${show(sidecar.findings)}`);
  assert.ok(sidecar.findings.some((f) => f.kind === "malformed"), `${name}, seal stream: ${show(sidecar.findings)}`);
  const lines = inBandLines({ ...t, checkpoints: seal });
  const inBand = await verify(lines, { keys: (await keys()).verify });
  assert.equal(inBand.summary.intact, false, `${name}, in band: ${show(inBand.findings)}`);
  assert.ok(inBand.findings.some((f) => f.kind === "malformed"), `${name}, in band: ${show(inBand.findings)}`);
  let invalid = 0;
  for await (const _ of readCallEvents(new Blob(lines), { onInvalid: () => invalid++ }));
  assert.equal(invalid, 1, `${name}: a reader reports the line as an invalid line`);
}

describe("verifyAuditTrail on checkpoint lines other JSON readers read differently", () => {
  it("calls a checkpoint that gives a member twice malformed (unescaped and ignoring case, as readers compare names)", async () => {
    const t = await trail();
    const c = t.checkpoints[1]!;
    const lost = '[{"reason":"queue_full","count":1,"in_segment":false,"first_ts":"a","last_ts":"a"}]';
    const cases: Record<string, string> = {
      // A reader that keeps the first sees no loss, or another seq.
      "gaps before the signed one": c.replace('"gaps":', '"gaps":[],"gaps":'),
      "seq before the signed one": c.replace('"seq":', '"seq":7,"seq":'),
      "gaps after the signed one": c.replace('"sig":', `"gaps":${lost},"sig":`),
      "an escaped name": c.replace('"gaps":', '"g\\u0061ps":[],"gaps":'),
      "a name in upper case": c.replace('"sig":', '"GAPS":[],"sig":'),
      "a name with a long s": c.replace('"sig":', '"\u017feq":9,"sig":'),
      "a name with a Kelvin sign": c.replace('"sig":', '"\u212aey_id":"other","sig":'),
      "an unknown member": c.replace('"sig":', '"note":1,"note":2,"sig":'),
      "a gap's member": c.replace(
        '"gaps":[]',
        '"gaps":[{"reason":"queue_full","count":2,"count":1,' +
          '"in_segment":false,"first_ts":"a","last_ts":"a"}]',
      ),
    };
    for (const [name, line] of Object.entries(cases)) await assertMalformed(t, line, name);
  });

  it("calls a checkpoint whose integers are not written as plain digits malformed (1.0, 1e0, -0, a long fraction)", async () => {
    const t = await lossyTrail();
    const [lossy, beat] = t.checkpoints as [string, string];
    assert.match(lossy, /"count":3,/);
    assert.match(beat, /"seq":1,.*"seg_lines":0,"seg_bytes":0,/);
    const cases: [string, number, string][] = [
      ["seq 1.0", 1, beat.replace('"seq":1,', '"seq":1.0,')],
      ["seq 1E0", 1, beat.replace('"seq":1,', '"seq":1E0,')],
      // JSON.parse reads 1; a reader that keeps decimals exact (jq 1.7, a Decimal) or truncates reads another number.
      ["seq 0.99999999999999999999", 1, beat.replace('"seq":1,', '"seq":0.99999999999999999999,')],
      ["seq 1.00000000000000000001", 1, beat.replace('"seq":1,', '"seq":1.00000000000000000001,')],
      ["seg_lines -0", 1, beat.replace('"seg_lines":0,', '"seg_lines":-0,')],
      ["seg_bytes 0e5", 1, beat.replace('"seg_bytes":0,', '"seg_bytes":0e5,')],
      ["audit_checkpoint 1.0", 1, beat.replace('{"audit_checkpoint":1,', '{"audit_checkpoint":1.0,')],
      ["lines 2.0", 0, lossy.replace('"lines":2,', '"lines":2.0,')],
      ["a gap's count 3e0", 0, lossy.replace('"count":3,', '"count":3e0,')],
    ];
    for (const [name, index, line] of cases) await assertMalformed(t, line, name, index);
  });

  it("calls a checkpoint that also holds an event (a ts member) malformed, and a reader reads the event as others do", async () => {
    const t = await trail();
    const c = t.checkpoints[1]!;
    const event = eventLine(99, "forged").trimEnd();
    // serde (and parseCallEvent) ignore the checkpoint's members as unknown: to a reader that knows nothing of
    // sealing, or one that reads an event from every line that has one, this line is the forged event.
    const line = c.replace('"sig":', `${event.slice(1, -1)},"sig":`);
    assert.equal(parseCallEvent(line.trimEnd()).call_id, "forged-000099");
    const seal = [t.checkpoints[0]!, line];
    const sidecar = await verify(dataLines(t), { keys: (await keys()).verify, seal });
    assert.equal(sidecar.summary.intact, false, `seal stream: ${show(sidecar.findings)}`);
    assert.ok(sidecar.findings.some((f) => f.kind === "malformed"), `seal stream: ${show(sidecar.findings)}`);
    const lines = inBandLines({ ...t, checkpoints: seal });
    const inBand = await verify(lines, { keys: (await keys()).verify });
    assert.equal(inBand.summary.intact, false, `in band: ${show(inBand.findings)}`);
    assert.ok(inBand.findings.some((f) => f.kind === "malformed"), `in band: ${show(inBand.findings)}`);
    const read = [];
    for await (const e of readCallEvents(new Blob(lines))) read.push(e.call_id);
    assert.deepEqual(read.slice(-1), ["forged-000099"], "the reader does not hide the event other readers see");
    const upper = c.replace('"sig":', '"TS":"2026-12-02T10:00:00.000Z","sig":'); // Go's encoding/json reads it as ts
    await assertMalformed(t, upper, "a TS member");
  });

  it("still reads a checkpoint with unknown members, in any order, with whitespace and nested values", async () => {
    const t = await trail();
    const c = t.checkpoints[1]!;
    const moved = c.replace(/,"seq":(\d+)/, "").replace('"sig":', `"seq":${/"seq":(\d+)/.exec(c)![1]}, "sig" :`);
    const line = moved.replace(
      '"sig"',
      '"x":{"gaps":[],"y":[{"seq":1}],"z":"\\"}","w":"\\\\"},"\\u0067":1.5e3,"H":-0,"sig"',
    );
    const seal = [t.checkpoints[0]!, line];
    const sidecar = await verify(dataLines(t), { keys: (await keys()).verify, seal });
    assert.equal(sidecar.summary.intact, true, show(sidecar.findings));
    const inBand = await verify(inBandLines({ ...t, checkpoints: seal }), { keys: (await keys()).verify });
    assert.equal(inBand.summary.intact, true, show(inBand.findings));
  });
});
