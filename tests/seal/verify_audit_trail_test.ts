import { describe, it } from "node:test";
import assert from "node:assert/strict";
import { AuditSealer } from "../../src/seal/audit_sealer.ts";
import { verifyAuditTrail } from "../../src/seal/verify_audit_trail.ts";
import { chunkedStream, reusingStream } from "../_helpers/streams.ts";
import {
  dataLines,
  eventLine,
  forgeKeepingTag,
  inBandLines,
  keys,
  problems,
  sealTrail,
  show,
  verify,
} from "./_trail.ts";

const encoder = new TextEncoder();
const decoder = new TextDecoder();

function kinds(findings: readonly { kind: string; line: number; lastLine: number }[]): [string, number, number][] {
  return findings.map((f) => [f.kind, f.line, f.lastLine]);
}

describe("verifyAuditTrail", () => {
  for (const algorithm of ["Ed25519", "HMAC-SHA256"] as const) {
    it(`finds nothing wrong with a clean ${algorithm} trail, with a seal stream or in band`, async () => {
      const key = await keys(algorithm);
      const trail = await sealTrail(key.seal, [4, 0, 7, 1, 3]);
      for (const [data, seal] of [[dataLines(trail), trail.checkpoints], [inBandLines(trail), undefined]] as const) {
        const { findings, summary } = await verify(data, { keys: key.verify, ...(seal ? { seal } : {}) });
        assert.deepEqual(findings, [], show(findings));
        assert.deepEqual(
          [summary.intact, summary.lines, summary.verifiedLines, summary.checkpoints, summary.segments],
          [true, 15, 15, 5, 5],
        );
        assert.deepEqual([summary.offered, summary.written, summary.lost, summary.firstSeq, summary.lastSeq], [
          15,
          15,
          0,
          0,
          4,
        ]);
      }
    });
  }

  it("reads every kind of source, in chunks of any size", async () => {
    const key = await keys();
    const trail = await sealTrail(key.seal, [3, 2]);
    const bytes = encoder.encode(dataLines(trail).join("") + eventLine(99));
    const seal = encoder.encode(trail.checkpoints.join(""));
    async function* iterable(): AsyncGenerator<Uint8Array> {
      for (let i = 0; i < bytes.length; i += 7) yield bytes.slice(i, i + 7);
    }
    const sources = [
      () => chunkedStream(bytes, [1, 2, 3, 50]),
      () => new Response(bytes),
      () => iterable(),
      () => new Blob([bytes]),
    ];
    for (const source of sources) {
      const { findings } = await verifyAuditTrail(source(), { keys: key.verify, seal: chunkedStream(seal, [5, 300]) })
        .result();
      assert.deepEqual(kinds(findings), [["unsealed_tail", 6, 6]]);
    }
    const inBand = encoder.encode(inBandLines(trail).join(""));
    const { findings } = await verifyAuditTrail(chunkedStream(inBand, [1, 19, 20, 21, 3]), { keys: key.verify })
      .result();
    assert.deepEqual(findings, []);
  });

  it("reports a crash's unsealed tail, torn last line included, without calling the trail tampered", async () => {
    const key = await keys();
    const trail = await sealTrail(key.seal, [3, 3], 2);
    const torn = eventLine(50).slice(0, 40);
    for (
      const [data, seal, first] of [[dataLines(trail), trail.checkpoints, 7], [
        inBandLines(trail),
        undefined,
        9,
      ]] as const
    ) {
      const { findings, summary } = await verify([...data, torn], { keys: key.verify, ...(seal ? { seal } : {}) });
      assert.deepEqual(kinds(findings), [["unsealed_tail", first, first + 2]]);
      assert.match(findings[0]!.message, /cut short/);
      assert.deepEqual([summary.intact, summary.unsealedLines, summary.verifiedLines], [true, 3, 6]);
    }
  });

  it("locates an edited, inserted, deleted or duplicated line, and lines swapped within or across segments", async () => {
    const key = await keys();
    const trail = await sealTrail(key.seal, [5, 5, 5, 5]);
    const lines = dataLines(trail);
    const cases: [string, (l: string[]) => void, [string, number, number][]][] = [
      ["edit", (l) => (l[6] = l[6]!.replace('"warm"', '"cold"')), [["edited", 7, 7]]],
      ["insert", (l) => l.splice(12, 0, eventLine(500)), [["inserted", 13, 13]]],
      ["delete", (l) => l.splice(12, 1), [["deleted", 13, 12]]],
      ["duplicate", (l) => l.splice(3, 0, l[9]!), [["inserted", 4, 4]]],
      ["swap within", (l) => ([l[11], l[13]] = [l[13]!, l[11]!]), [["reordered", 12, 14]]],
      ["swap adjacent segments", (l) => ([l[3], l[6]] = [l[6]!, l[3]!]), [["reordered", 4, 7]]],
      ["swap far", (l) => ([l[1], l[18]] = [l[18]!, l[1]!]), [["reordered", 2, 19]]],
    ];
    for (const [name, change, expected] of cases) {
      const data = [...lines];
      change(data);
      const { findings } = await verify(data, { keys: key.verify, seal: trail.checkpoints });
      assert.deepEqual(kinds(findings), expected, `${name}:\n${show(findings)}`);
    }
    const deleted = (await verify(lines.toSpliced(12, 1), { keys: key.verify, seal: trail.checkpoints })).findings[0]!;
    assert.deepEqual([deleted.count, deleted.sealedLines, deleted.seq], [1, [13, 13], [2, 2]]);
  });

  it("tells findings in the data's order: a one-line edit, held while its mirror image may come, goes before what follows it", async () => {
    const key = await keys();
    const trail = await sealTrail(key.seal, [5, 5, 5, 5, 5]); // damaged segments apart: each is its own region
    const lines = dataLines(trail);
    const edit = (l: string[], i: number) => (l[i] = l[i]!.replace('"warm"', '"cold"'));
    const cases: [string, (l: string[]) => void, [string, number, number][]][] = [
      ["edit, then a deletion two segments on", (l) => {
        edit(l, 2);
        l.splice(15, 1);
      }, [["edited", 3, 3], ["deleted", 16, 15]]],
      ["edit, insertion, edit, each in its own segment", (l) => {
        edit(l, 1);
        l.splice(12, 0, eventLine(500));
        edit(l, 23);
      }, [["edited", 2, 2], ["inserted", 13, 13], ["edited", 24, 24]]],
      ["an edit between the two lines of a swap: the swap is told where it starts", (l) => {
        [l[1], l[23]] = [l[23]!, l[1]!];
        edit(l, 12);
      }, [["reordered", 2, 24], ["edited", 13, 13]]],
      ["a swap, then an edit", (l) => {
        [l[1], l[13]] = [l[13]!, l[1]!];
        edit(l, 22);
      }, [["reordered", 2, 14], ["edited", 23, 23]]],
    ];
    for (const [name, change, expected] of cases) {
      const data = [...lines];
      change(data);
      const { findings } = await verify(data, { keys: key.verify, seal: trail.checkpoints });
      assert.deepEqual(kinds(findings), expected, `${name}:\n${show(findings)}`);
    }
  });

  it("finds a line forged to keep its line tag by its segment's SHA-256, alone or among edits in other segments", async () => {
    const key = await keys();
    const trail = await sealTrail(key.seal, [5, 5, 5, 5, 5]);
    const lines = dataLines(trail);
    const edit = (l: string[], i: number) => (l[i] = l[i]!.replace('"warm"', '"cold"'));
    const cases: [string, (l: string[]) => void, [string, number, number][]][] = [
      ["alone", (l) => (l[7] = forgeKeepingTag(l[7]!)), [["edited", 6, 10]]],
      ["between two edited segments", (l) => {
        edit(l, 1);
        l[12] = forgeKeepingTag(l[12]!);
        edit(l, 23);
      }, [["edited", 2, 2], ["edited", 11, 15], ["edited", 24, 24]]],
      ["between the two lines of a swap (the three segments compared as one region)", (l) => {
        [l[1], l[23]] = [l[23]!, l[1]!];
        l[12] = forgeKeepingTag(l[12]!);
      }, [["reordered", 2, 24], ["edited", 11, 15]]],
      ["swapped within a segment, one of the two forged: not a mere reorder", (l) => {
        [l[11], l[13]] = [forgeKeepingTag(l[13]!), l[11]!];
      }, [["edited", 12, 14]]],
      ["swapped within a segment, untouched: a reorder", (l) => {
        [l[11], l[13]] = [l[13]!, l[11]!];
      }, [["reordered", 12, 14]]],
    ];
    for (const [name, change, expected] of cases) {
      const data = [...lines];
      change(data);
      const { findings, summary } = await verify(data, { keys: key.verify, seal: trail.checkpoints });
      assert.deepEqual(kinds(findings), expected, `${name}:\n${show(findings)}`);
      assert.equal(summary.intact, false);
    }
  });

  it("reports a copy of a whole later segment inserted ahead of it as inserted, not that segment moved", async () => {
    const key = await keys();
    // Segment 2 is line 8 alone; segment 2 of the second trail is lines 9-10.
    const cases: [number[], number, number[], [string, number, number][]][] = [
      [[5, 2, 1, 5], 6, [7], [["inserted", 7, 7], ["unsealed_tail", 15, 17]]],
      [[5, 3, 2, 5], 6, [8, 9], [["inserted", 7, 8], ["unsealed_tail", 18, 20]]],
    ];
    for (const [plan, at, copied, expected] of cases) {
      const trail = await sealTrail(key.seal, plan, 3);
      const lines = dataLines(trail);
      const data = lines.toSpliced(at, 0, ...copied.map((i) => lines[i]!));
      const { findings } = await verify(data, { keys: key.verify, seal: trail.checkpoints });
      assert.deepEqual(kinds(findings), expected, `plan ${plan}:\n${show(findings)}`);
    }
  });

  it("locates the same changes in band, where line numbers count the checkpoint lines", async () => {
    const key = await keys();
    const trail = await sealTrail(key.seal, [5, 5, 5]);
    const lines = inBandLines(trail); // data lines 1-5, checkpoint 6, data 7-11, checkpoint 12, ...
    const cases: [string, (l: string[]) => void, [string, number, number][]][] = [
      ["edit", (l) => (l[7] = l[7]!.replace("agent-A", "agent-B")), [["edited", 8, 8]]],
      ["insert", (l) => l.splice(8, 0, eventLine(500)), [["inserted", 9, 9]]],
      ["delete", (l) => l.splice(8, 1), [["deleted", 9, 8]]],
      ["swap across segments", (l) => ([l[1], l[13]] = [l[13]!, l[1]!]), [["reordered", 2, 14]]],
      ["segment removed with its checkpoint", (l) => l.splice(6, 6), [["deleted", 7, 6]]],
      ["swap within, one line forged to keep its tag", (l) => ([l[7], l[9]] = [forgeKeepingTag(l[9]!), l[7]!]), [[
        "edited",
        8,
        10,
      ]]],
      ["checkpoint removed", (l) => l.splice(5, 1), [["broken_chain", 1, 5]]],
    ];
    for (const [name, change, expected] of cases) {
      const data = [...lines];
      change(data);
      const { findings } = await verify(data, { keys: key.verify });
      assert.deepEqual(kinds(findings), expected, `${name}:\n${show(findings)}`);
    }
  });

  it("reports a segment removed with its checkpoint, and a checkpoint removed alone, from a seal stream", async () => {
    const key = await keys();
    const trail = await sealTrail(key.seal, [4, 4, 0, 4]);
    const lines = dataLines(trail);
    const both = await verify(lines.toSpliced(4, 4), { keys: key.verify, seal: trail.checkpoints.toSpliced(1, 1) });
    assert.deepEqual(kinds(both.findings), [["deleted", 5, 4]]);
    assert.deepEqual([both.findings[0]!.sealedLines, both.findings[0]!.seq], [[5, 8], [1, 1]]);
    const sealOnly = await verify(lines, { keys: key.verify, seal: trail.checkpoints.toSpliced(1, 1) });
    assert.deepEqual(kinds(sealOnly.findings), [["broken_chain", 5, 8]]);
    const heartbeat = await verify(lines, { keys: key.verify, seal: trail.checkpoints.toSpliced(2, 1) });
    assert.deepEqual(kinds(heartbeat.findings), [["broken_chain", 9, 8]]);
    assert.match(heartbeat.findings[0]!.message, /checkpoint 2 is missing \(sealing no line\)/);
  });

  it("reports truncated data; a seal stream or data that ends inside a checkpoint is a torn write (a crash)", async () => {
    const key = await keys();
    const trail = await sealTrail(key.seal, [4, 4, 4]);
    const text = dataLines(trail).join("");
    const cut = text.indexOf(eventLine(6)) + 30; // inside line 7
    const data = await verify(text.slice(0, cut), { keys: key.verify, seal: trail.checkpoints });
    assert.deepEqual(kinds(data.findings), [["truncated", 7, 7]]);
    assert.deepEqual([data.findings[0]!.count, data.findings[0]!.sealedLines], [6, [7, 12]]);
    const atLine = await verify(text.slice(0, text.indexOf(eventLine(6))), {
      keys: key.verify,
      seal: trail.checkpoints,
    });
    assert.deepEqual(kinds(atLine.findings), [["truncated", 7, 6]]);
    const sealText = trail.checkpoints.join("");
    const seal = await verify(text, { keys: key.verify, seal: sealText.slice(0, sealText.length - 50) });
    assert.deepEqual(kinds(seal.findings), [["torn_write", 9, 8], ["unsealed_tail", 9, 12]]);
    assert.equal(seal.findings[0]!.sealLine, 3);
    assert.equal(seal.summary.intact, true);
    const inBand = inBandLines(trail).join("");
    const inside = await verify(inBand.slice(0, inBand.indexOf(trail.checkpoints[1]!) + 100), { keys: key.verify });
    assert.deepEqual(kinds(inside.findings), [["unsealed_tail", 6, 9], ["torn_write", 10, 10]]);
    assert.equal(inside.summary.intact, true);
  });

  it("says so once when the key is unknown, or the signatures do not verify", async () => {
    const key = await keys();
    const other = await keys("Ed25519", "other");
    const trail = await sealTrail(key.seal, [3, 3, 3]);
    const unknown = await verify(dataLines(trail), { keys: other.verify, seal: trail.checkpoints });
    assert.deepEqual(kinds(unknown.findings), [["unknown_key", 1, 9]]);
    assert.deepEqual([unknown.findings[0]!.seq, unknown.summary.verifiedLines], [[0, 2], 0]);
    const hmac = await keys("HMAC-SHA256");
    const hmacTrail = await sealTrail(hmac.seal, [3, 3]);
    const wrongSecret = { ...(await keys("HMAC-SHA256", "other")).verify, keyId: hmac.verify.keyId };
    const bad = await verify(dataLines(hmacTrail), { keys: wrongSecret, seal: hmacTrail.checkpoints });
    assert.deepEqual(kinds(bad.findings), [["bad_signature", 1, 6]]);
    const both = await verify(dataLines(trail), { keys: [other.verify, key.verify], seal: trail.checkpoints });
    assert.deepEqual(both.findings, []);
  });

  it("flags a tampered checkpoint: its signature, its shape, or its in-band prefix", async () => {
    const key = await keys();
    const trail = await sealTrail(key.seal, [3, 3, 3]);
    const seal = [...trail.checkpoints];
    seal[1] = seal[1]!.replace(/"seg_lines":3/, '"seg_lines":2');
    const shape = await verify(dataLines(trail), { keys: key.verify, seal });
    assert.equal(shape.findings[0]!.kind, "malformed");
    assert.equal(shape.summary.intact, false);
    const signed = [...trail.checkpoints];
    signed[1] = signed[1]!.replace(/"time":"(.)/, (_, c) => `"time":"${c === "1" ? "2" : "1"}`);
    assert.deepEqual(kinds((await verify(dataLines(trail), { keys: key.verify, seal: signed })).findings), [
      ["bad_signature", 4, 6],
    ]);
    const inBand = inBandLines(trail);
    inBand[7] = inBand[7]!.replace("audit_checkpoint", "audit_checkpoinx");
    const prefix = await verify(inBand, { keys: key.verify });
    assert.deepEqual(kinds(prefix.findings), [["broken_chain", 5, 8]]);
  });

  it("judges the chain from the last trusted checkpoint: an untrusted one's counters and seq say nothing", async () => {
    const key = await keys();
    const trail = await sealTrail(key.seal, [4, 3, 5, 2]);
    const tags = (text: string): string => btoa(atob(text).slice(4)); // without the first line's tag
    const forgeries: Record<string, (line: string) => string> = {
      // Signed fields changed, each set consistent, so that the checkpoint parses and its signature fails.
      "a line less": (line) =>
        line.replace(/"lines":(\d+)/, (_, n) => `"lines":${+n - 1}`)
          .replace(/"seg_lines":(\d+)/, (_, n) => `"seg_lines":${+n - 1}`)
          .replace(/"seg_tags":"([^"]+)"/, (_, t) => `"seg_tags":"${tags(t)}"`),
      "more lines": (line) =>
        line.replace(/"lines":(\d+)/, (_, n) => `"lines":${+n + 2}`)
          .replace(/"offered":(\d+)/, (_, n) => `"offered":${+n + 2}`),
      "a later seq": (line) => line.replace(/"seq":(\d+)/, (_, n) => `"seq":${+n + 1}`),
    };
    for (const [name, forge] of Object.entries(forgeries)) {
      const seal = trail.checkpoints.map((line, i) => (i === 1 ? forge(line) : line));
      const sidecar = await verify(dataLines(trail), { keys: key.verify, seal });
      assert.deepEqual(kinds(sidecar.findings), [["bad_signature", 5, 7]], `${name}: ${show(sidecar.findings)}`);
      const inBand = inBandLines({ ...trail, checkpoints: seal });
      const band = await verify(inBand, { keys: key.verify });
      assert.deepEqual(kinds(band.findings), [["bad_signature", 6, 8]], `${name} in band: ${show(band.findings)}`);
      assert.equal(sidecar.summary.verifiedLines, 11, name);
    }
    // A checkpoint missing after an untrusted one: how many lines it sealed is not known.
    const seal = [trail.checkpoints[0]!, forgeries["a line less"]!(trail.checkpoints[1]!), trail.checkpoints[3]!];
    const gone = await verify(dataLines(trail), { keys: key.verify, seal });
    assert.deepEqual(kinds(gone.findings), [["bad_signature", 5, 12], ["broken_chain", 13, 12]], show(gone.findings));
    assert.doesNotMatch(gone.findings[1]!.message, /sealing no line/);
  });

  it("names a log whose line endings were converted to CRLF as such, not as another log's, in both modes", async () => {
    const key = await keys();
    const trail = await sealTrail(key.seal, [4, 3, 5], 2);
    const crlf = (lines: readonly string[]): string[] => lines.map((line) => line.replace(/\n$/, "\r\n"));
    const converted =
      /the log's line endings were converted \(each line is altered; without their CR, they are the lines sealed\)$/;
    const sidecar = await verify(crlf(dataLines(trail)), { keys: key.verify, seal: trail.checkpoints });
    assert.deepEqual(kinds(sidecar.findings), [["edited", 1, 12], ["unsealed_tail", 13, 14]], show(sidecar.findings));
    assert.match(sidecar.findings[0]!.message, /^lines 1–12 end in CRLF where checkpoints 0–2 sealed LF: /);
    assert.match(sidecar.findings[0]!.message, converted);
    assert.deepEqual([sidecar.summary.intact, sidecar.summary.verifiedLines, sidecar.summary.problems], [false, 0, 1]);
    // The seal file converted too: its checkpoints read as before.
    const both = await verify(crlf(dataLines(trail)), { keys: key.verify, seal: crlf(trail.checkpoints) });
    assert.deepEqual(kinds(both.findings), kinds(sidecar.findings), show(both.findings));
    const inBand = await verify(crlf(inBandLines(trail)), { keys: key.verify });
    assert.deepEqual(kinds(inBand.findings), [["edited", 1, 14], ["unsealed_tail", 16, 17]], show(inBand.findings));
    assert.match(inBand.findings[0]!.message, converted);
    // Only some segments converted: each is named, the others verify.
    const some = trail.segments.flatMap((lines, i) => (i === 1 ? lines : crlf(lines)));
    const part = await verify(some, { keys: key.verify, seal: trail.checkpoints });
    assert.deepEqual(kinds(part.findings), [["edited", 1, 4], ["edited", 8, 12]], show(part.findings));
    assert.equal(part.summary.verifiedLines, 3);
    // Converted, and a line edited besides: the conversion is not all that changed, and the line is named.
    const edited = crlf(dataLines(trail).map((line, i) => (i === 5 ? line.replace("agent-A", "agent-B") : line)));
    const more = await verify(edited, { keys: key.verify, seal: trail.checkpoints });
    assert.ok(!more.findings.some((f) => f.kind === "foreign_seal"), show(more.findings));
    assert.ok(more.findings.some((f) => /end in CRLF/.test(f.message)), show(more.findings));
    assert.ok(!more.findings.some((f) => converted.test(f.message)), show(more.findings));
    assert.ok(more.findings.some((f) => f.kind === "edited" && f.line === 6 && f.lastLine === 6), show(more.findings));
  });

  it("recognises a seal from another log, by content or by the origin it was told", async () => {
    const key = await keys();
    const ours = await sealTrail(key.seal, [4, 4, 4]);
    const theirs = await sealTrail(key.seal, [4, 4, 4], 0, { salt: "elsewhere", origin: "elsewhere" });
    const foreign = await verify(dataLines(ours), { keys: key.verify, seal: theirs.checkpoints });
    assert.deepEqual(kinds(foreign.findings), [["foreign_seal", 1, 12]]);
    const told = await verify(dataLines(ours), { keys: key.verify, seal: ours.checkpoints, origin: "elsewhere" });
    assert.deepEqual(kinds(told.findings), [["foreign_seal", 1, 12]]);
    const spliced = [...ours.checkpoints];
    spliced[1] = theirs.checkpoints[1]!;
    const mixed = await verify(dataLines(ours), { keys: key.verify, seal: spliced });
    assert.equal(mixed.findings[0]!.kind, "foreign_seal");
    assert.deepEqual([mixed.findings[0]!.line, mixed.findings[0]!.lastLine], [5, 8]);
  });

  it("reports declared losses as gaps, and lines the destination lost as a gap rather than a deletion", async () => {
    const key = await keys();
    const sealer = new AuditSealer(key.seal);
    const lines = [0, 1, 2, 3, 4, 5].map((i) => eventLine(i));
    const seal = async (from: number, to: number, losses: (s: AuditSealer) => void): Promise<string> => {
      sealer.append(encoder.encode(lines.slice(from, to).join("")), to - from);
      losses(sealer);
      return decoder.decode(await sealer.seal());
    };
    const checkpoints = [
      await seal(0, 2, (s) => s.lost("queue_full", 4, "2026-12-02T10:00:00Z", "2026-12-02T10:00:09Z")),
      await seal(2, 5, (s) => s.undelivered("destination", 1, "2026-12-02T10:01:00Z")),
      await seal(5, 6, () => {}),
    ];
    // The destination lost line 4 (the second of the middle segment).
    const data = lines.toSpliced(3, 1);
    const { findings, summary } = await verify(data, { keys: key.verify, seal: checkpoints });
    assert.deepEqual(
      findings.map((f) => [f.kind, f.line, f.count, f.reason, f.firstTs, f.lastTs]),
      [
        ["gap", 1, 4, "queue_full", "2026-12-02T10:00:00Z", "2026-12-02T10:00:09Z"],
        ["gap", 3, 1, "destination", "2026-12-02T10:01:00Z", "2026-12-02T10:01:00Z"],
      ],
    );
    assert.match(
      findings[0]!.message,
      /^4 events lost between 2026-12-02T10:00:00Z and 2026-12-02T10:00:09Z because queue_full/,
    );
    assert.deepEqual([summary.intact, summary.offered, summary.written, summary.lost], [true, 10, 5, 5]);
    assert.equal(summary.written + summary.lost, summary.offered);
    // Two lines missing where one was declared: a deletion. A line edited: tampering, declared loss or not.
    const tooMany = await verify(lines.toSpliced(2, 2), { keys: key.verify, seal: checkpoints });
    assert.deepEqual(problems(tooMany.findings).map((f) => [f.kind, f.line]), [["deleted", 3]], show(tooMany.findings));
    const edited = lines.toSpliced(3, 1);
    edited[2] = edited[2]!.replace("agent-A", "agent-Z");
    const editedLossy = await verify(edited, { keys: key.verify, seal: checkpoints });
    assert.deepEqual(problems(editedLossy.findings).map((f) => [f.kind, f.line]), [["edited", 3]]);
    const inBand = [
      lines[0]!,
      lines[1]!,
      checkpoints[0]!,
      lines[2]!,
      lines[4]!,
      checkpoints[1]!,
      lines[5]!,
      checkpoints[2]!,
    ];
    assert.deepEqual(problems((await verify(inBand, { keys: key.verify })).findings), []);
  });

  it("continues the chain of the previous stream when given its last checkpoint", async () => {
    const key = await keys();
    const sealer = new AuditSealer(key.seal, { origin: "rotating" });
    sealer.append(encoder.encode(eventLine(0)), 1);
    const last = decoder.decode(await sealer.seal());
    const next = new AuditSealer(key.seal, { previous: last });
    next.append(encoder.encode(eventLine(1)), 1);
    const checkpoint = decoder.decode(await next.seal());
    const alone = await verify([eventLine(1)], { keys: key.verify, seal: [checkpoint], continues: true });
    assert.deepEqual([alone.findings, alone.summary.firstSeq], [[], 1]);
    const headless = await verify([eventLine(1)], { keys: key.verify, seal: [checkpoint] });
    assert.deepEqual(kinds(headless.findings), [["broken_chain", 1, 0]]);
    assert.match(headless.findings[0]!.message, /checkpoint 0 is missing/);
    const chained = await verify([eventLine(1)], { keys: key.verify, seal: [checkpoint], previous: last });
    assert.deepEqual(chained.findings, []);
    const other = new AuditSealer(key.seal, { origin: "rotating" });
    other.append(encoder.encode(eventLine(0)), 1);
    const wrong = await verify([eventLine(1)], {
      keys: key.verify,
      seal: [checkpoint],
      previous: decoder.decode(await other.seal()),
    });
    assert.deepEqual(kinds(wrong.findings), [["broken_chain", 1, 0]]);
    assert.deepEqual(alone.summary.lastCheckpoint, JSON.parse(checkpoint));
  });

  it("rejects bad arguments at once, and a second iteration", async () => {
    const key = await keys();
    assert.throws(() => verifyAuditTrail("text" as never, { keys: key.verify }), TypeError);
    assert.throws(() => verifyAuditTrail(new Blob([]), { keys: [] }), TypeError);
    assert.throws(() => verifyAuditTrail(new Blob([]), { keys: key.verify, seal: 1 as never }), TypeError);
    assert.throws(() => verifyAuditTrail(new Blob([]), { keys: key.verify, origin: "a b" }), TypeError);
    assert.throws(() => verifyAuditTrail(new Blob([]), { keys: key.verify, maxSegmentBytes: 0 }), RangeError);
    assert.throws(() => verifyAuditTrail(new Blob([]), { keys: key.verify, previous: "{}" }), TypeError);
    const verification = verifyAuditTrail(new Blob([]), { keys: key.verify });
    assert.deepEqual(await verification.result(), { findings: [], summary: verification.summary });
    assert.throws(() => verification[Symbol.asyncIterator](), TypeError);
  });

  it("counts a segment larger than maxSegmentBytes without holding it", async () => {
    const key = await keys();
    const trail = await sealTrail(key.seal, [6, 2]);
    const sidecar = await verify(dataLines(trail), { keys: key.verify, seal: trail.checkpoints, maxSegmentBytes: 600 });
    assert.equal(sidecar.findings[0]?.kind, "malformed", show(sidecar.findings));
    const inBand = inBandLines(trail);
    inBand.splice(2, 0, eventLine(70));
    const big = await verify(inBand, { keys: key.verify, maxSegmentBytes: 600 });
    assert.deepEqual(kinds(big.findings), [["inserted", 1, 7]]);
  });

  it("verifies a trail read from sources that reuse one buffer for every chunk, with a seal stream and in band", async () => {
    const key = await keys();
    const trail = await sealTrail(key.seal, [300, 40, 500, 2, 250], 3);
    const bytes = (lines: readonly string[]) => encoder.encode(lines.join(""));
    // Chunk sizes below and above the reader's small-chunk gathering, and above a segment.
    for (const size of [100, 5000, 70_000]) {
      const sidecar = await verifyAuditTrail(reusingStream(bytes(dataLines(trail)), size), {
        keys: key.verify,
        seal: reusingStream(bytes(trail.checkpoints), size),
      }).result();
      const inBand = await verifyAuditTrail(reusingStream(bytes(inBandLines(trail)), size), { keys: key.verify })
        .result();
      for (const [how, result] of [["with a seal stream", sidecar], ["in band", inBand]] as const) {
        assert.deepEqual(problems(result.findings), [], `${how}, chunks of ${size}: ${show(result.findings)}`);
        assert.equal(result.summary.verifiedLines, 1092, `${how}, chunks of ${size}`);
        assert.equal(result.summary.unsealedLines, 3, `${how}, chunks of ${size}`);
      }
    }
  });

  it("counts the data's lines alike when its stream ends with an empty chunk, with a seal stream and in band", async () => {
    // A stream may hand out an empty chunk (a transform that flushes nothing): it ends no line and tears none.
    const key = await keys();
    const withEmpty = (bytes: Uint8Array) => {
      const chunks = [bytes, new Uint8Array(0)];
      return new ReadableStream<Uint8Array>({
        pull: (controller) => chunks.length > 0 ? controller.enqueue(chunks.shift()!) : controller.close(),
      }, { highWaterMark: 0 });
    };
    for (const tail of [0, 2]) {
      const trail = await sealTrail(key.seal, [3, 3], tail);
      const seal = encoder.encode(trail.checkpoints.join(""));
      for (
        const [how, data, options] of [
          ["with a seal stream", dataLines(trail), { seal: chunkedStream(seal) }],
          ["in band", inBandLines(trail), {}],
        ] as const
      ) {
        const bytes = encoder.encode(data.join(""));
        const { findings, summary } = await verifyAuditTrail(withEmpty(bytes), { keys: key.verify, ...options })
          .result();
        const first = how === "in band" ? 9 : 7; // in band, line numbers count the checkpoint lines
        assert.deepEqual(
          [kinds(findings), summary.lines, summary.unsealedLines],
          [tail > 0 ? [["unsealed_tail", first, first + tail - 1]] : [], 6 + tail, tail],
          `${how}, ${tail} unsealed: ${show(findings)}`,
        );
      }
    }
  });

  it("refuses chunks that are not bytes (an ArrayBuffer, a DataView) as the readers do, never calling the trail intact", async () => {
    const key = await keys();
    const trail = await sealTrail(key.seal, [6, 3]);
    const notBytes = {
      ArrayBuffer: (bytes: Uint8Array): unknown => bytes.slice().buffer,
      DataView: (bytes: Uint8Array): unknown => new DataView(bytes.buffer, bytes.byteOffset, bytes.length),
    };
    for (const [what, wrap] of Object.entries(notBytes)) {
      const source = (lines: readonly string[]) =>
        new ReadableStream<unknown>({
          start(controller) {
            controller.enqueue(wrap(encoder.encode(lines.join(""))));
            controller.close();
          },
        }) as ReadableStream<Uint8Array>;
      const message = new RegExp(`^Cannot verify: the source gave an? ${what} where bytes \\(a Uint8Array\\)`);
      await assert.rejects(verifyAuditTrail(source(inBandLines(trail)), { keys: key.verify }).result(), {
        name: "TypeError",
        message,
      });
      await assert.rejects(
        verifyAuditTrail(source(dataLines(trail)), { keys: key.verify, seal: source(trail.checkpoints) }).result(),
        { name: "TypeError", message },
      );
    }
  });
});
