// Hostile review of in-band sealing and of the readers that skip checkpoint
// lines: event fields that look like checkpoints or confuse first_ts/last_ts,
// and lines that only pretend to be checkpoints.
import { describe, it } from "node:test";
import assert from "node:assert/strict";
import { type CallEvent, JsonLinesAuditSink, readCallEvents } from "../../mod.ts";
import { main } from "../../src/cli/main.ts";
import { rmSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { MemoryDestination, mkEvent, tick } from "../_helpers/events.ts";
import { keys, show, verify } from "./_trail.ts";
import { tempDir } from "../_helpers/temp_dir.ts";

const LOOKALIKE = '{"audit_checkpoint":1,"origin":"x","seq":0}\n{"audit_checkpoint":';

/** Events whose strings hold checkpoint lookalikes, newlines, and a ts full of quotes, escapes and non-ASCII. */
function hostile(i: number): CallEvent {
  const base = mkEvent({ kind: "success" }, `in-band-${i}`);
  const ts = [
    '2026-12-02T10:00:00Z"',
    '\\"},"audit_checkpoint":1,"x":"',
    "\\",
    "日本\u2028\u0000\u001b[31m",
    "x".repeat(300),
    "",
    '"',
  ][i % 7]!;
  return { ...base, ts, tool_id: LOOKALIKE, caller_id: `\n${LOOKALIKE}\r\n`, tier: '"}\n{"audit_checkpoint":1' };
}

describe("in-band sealing under attack", () => {
  it("seals events whose fields hold checkpoint lookalikes and hostile ts values into a trail that verifies", async () => {
    const key = await keys();
    for (const inBand of [true, false]) {
      const data = new MemoryDestination();
      const seal = new MemoryDestination();
      const sink = new JsonLinesAuditSink(data.stream, {
        onError: () => {},
        seal: { key: key.seal, maxSegmentLines: 3, ...(inBand ? { inBand: true } : { to: seal.stream }) },
      });
      for (let i = 0; i < 20; i++) {
        sink.onCall(hostile(i));
        if (i % 2 === 1) await tick();
      }
      await sink.close();
      assert.equal(sink.stats().written, 20, JSON.stringify(sink.stats()));
      const { findings, summary } = await verify(data.text(), {
        keys: key.verify,
        ...(inBand ? {} : { seal: seal.text() }),
      });
      assert.deepEqual(findings, [], `${inBand ? "in band" : "seal stream"}: ${show(findings)}`);
      assert.equal(summary.verifiedLines, 20);
      const checkpoints = inBand ? data.lines().filter((l) => l.startsWith('{"audit_checkpoint":')).length : 0;
      const read = readCallEvents(new Blob([data.text()]));
      const events = [];
      for await (const event of read) events.push(event);
      assert.equal(events.length, 20);
      assert.deepEqual(events.map((e) => e.ts), Array.from({ length: 20 }, (_, i) => hostile(i).ts));
      assert.equal(read.stats.checkpoints, checkpoints);
    }
  });

  it(
    "readers skip only lines that are checkpoints: a lookalike that is not one is an invalid line",
    async () => {
      const key = await keys();
      const dir = tempDir("inband-attack");
      try {
        const good = new MemoryDestination();
        const sink = new JsonLinesAuditSink(good.stream, { seal: { key: key.seal, inBand: true } });
        sink.onCall(mkEvent({ kind: "success" }, "one"));
        await sink.close();
        const file = join(dir, "audit.jsonl");
        // An event hidden behind the prefix, and garbage behind it.
        writeFileSync(
          file,
          good.text() + '{"audit_checkpoint":0,"ts":"2026-12-02T10:00:00Z","call_id":"hidden"}\n' +
            '{"audit_checkpoint":not json at all\n',
        );
        let out = "";
        const status = await main(["validate", file], {
          stdout: (t) => Promise.resolve(void (out += t)),
          stderr: (t) => Promise.resolve(void (out += t)),
        });
        assert.equal(status, 1, out);
        const read = readCallEvents(new Blob([good.text() + '{"audit_checkpoint":not json\n']));
        for await (const _ of read) { /* drain */ }
        assert.deepEqual([read.stats.checkpoints, read.stats.invalid], [1, 1]);
      } finally {
        rmSync(dir, { recursive: true, force: true });
      }
    },
  );
});
