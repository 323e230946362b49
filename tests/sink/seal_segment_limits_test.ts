// A sealed segment holds at most `maxSegmentLines` lines and `maxSegmentBytes`
// bytes, however the sink's writes fall: a segment ends before the write that
// would take it past a limit, and writes stay within both limits.
import { describe, it } from "node:test";
import assert from "node:assert/strict";
import { readFileSync } from "node:fs";
import { join } from "node:path";
import { type CallEvent, encodeCallEvent, JsonLinesAuditSink } from "../../mod.ts";
import { fileDestination } from "../../src/destination/file_destination.ts";
import { fileSeal } from "../../src/destination/file_seal.ts";
import { MemoryDestination, numbered } from "../_helpers/events.ts";
import { inTempDir } from "../_helpers/temp_dir.ts";
import { keys, linesOf, problems, show, verify } from "../seal/_trail.ts";
import { SealStream } from "./_sealed.ts";

interface Limits {
  readonly maxSegmentLines?: number;
  readonly maxSegmentBytes?: number;
}

interface Checkpoint {
  readonly seg_lines: number;
  readonly seg_bytes: number;
}

/** An event whose line has about `size` bytes (ASCII). */
function sized(i: number, size: number): CallEvent {
  const event = numbered(i);
  const base = encodeCallEvent(event).length;
  return { ...event, tool_id: `${event.tool_id}${"x".repeat(Math.max(0, size - base))}` };
}

/** Offers `events` as a producer in block mode does: all at once, awaiting room whenever the queue is full. */
async function offer(sink: JsonLinesAuditSink, events: readonly CallEvent[], burst: boolean): Promise<void> {
  for (const event of events) {
    if (!burst && sink.desiredSize <= 0) await sink.ready;
    sink.onCall(event);
  }
  await sink.close();
}

/** Every checkpoint within the limits, their lines adding up to the events', and the trail intact. */
async function assertWithin(
  checkpoints: readonly Checkpoint[],
  limits: Limits,
  events: number,
  check: () => ReturnType<typeof verify>,
): Promise<void> {
  const sizes = checkpoints.map((c) => [c.seg_lines, c.seg_bytes]);
  assert.ok(checkpoints.length > 1, JSON.stringify(sizes));
  for (const c of checkpoints) {
    assert.ok(c.seg_lines <= (limits.maxSegmentLines ?? Infinity), `lines over the limit: ${JSON.stringify(sizes)}`);
    assert.ok(c.seg_bytes <= (limits.maxSegmentBytes ?? Infinity), `bytes over the limit: ${JSON.stringify(sizes)}`);
  }
  assert.equal(checkpoints.reduce((sum, c) => sum + c.seg_lines, 0), events);
  const { findings, summary } = await check();
  assert.deepEqual(problems(findings), [], show(findings));
  assert.equal(summary.verifiedLines, events);
}

const LIMITS: readonly Limits[] = [
  { maxSegmentLines: 10 },
  { maxSegmentLines: 100 },
  { maxSegmentBytes: 4096 },
  { maxSegmentLines: 7, maxSegmentBytes: 1500 },
];

describe("sealed segments stay within their limits", () => {
  for (const limits of LIMITS) {
    for (const burst of [true, false]) {
      const how = `${JSON.stringify(limits)}, ${burst ? "one burst" : "awaiting room"}`;

      it(`a seal stream: ${how}`, async () => {
        const key = await keys();
        const data = new MemoryDestination();
        const seal = new SealStream();
        const sink = new JsonLinesAuditSink(data.stream, {
          backpressure: "block",
          seal: { key: key.seal, to: seal.stream, ...limits },
        });
        const events = Array.from({ length: 600 }, (_, i) => sized(i, 150 + (i * 37) % 200));
        await offer(sink, events, burst);
        await assertWithin(
          seal.checkpoints() as unknown as Checkpoint[],
          limits,
          events.length,
          () => verify(data.text(), { keys: key.verify, seal: seal.text() }),
        );
      });

      it(`in band: ${how}`, async () => {
        const key = await keys();
        const data = new MemoryDestination();
        const sink = new JsonLinesAuditSink(data.stream, {
          backpressure: "block",
          capacity: 256,
          seal: { key: key.seal, inBand: true, ...limits },
        });
        const events = Array.from({ length: 400 }, (_, i) => sized(i, 150 + (i * 37) % 200));
        await offer(sink, events, burst);
        const checkpoints = linesOf(data.text()).filter((line) => line.startsWith('{"audit_checkpoint":'));
        await assertWithin(
          checkpoints.map((line) => JSON.parse(line)),
          limits,
          events.length,
          () => verify(data.text(), { keys: key.verify }),
        );
      });

      it(`a file and its seal file (lines encoded in place): ${how}`, async () => {
        await inTempDir("seg-limits", async (dir) => {
          const key = await keys();
          const path = join(dir, "audit.jsonl");
          const seal = await fileSeal(path, { key: key.seal, ...limits });
          const sink = new JsonLinesAuditSink(fileDestination(path), { backpressure: "block", seal });
          const events = Array.from({ length: 600 }, (_, i) => sized(i, 150 + (i * 37) % 200));
          await offer(sink, events, burst);
          const sealText = readFileSync(`${path}.seal`, "utf8");
          await assertWithin(
            linesOf(sealText).map((line) => JSON.parse(line)),
            limits,
            events.length,
            () => verify(readFileSync(path, "utf8"), { keys: key.verify, seal: sealText }),
          );
        });
      });
    }
  }

  it("a line larger than the byte limit is a segment of its own; the lines around it stay within the limit", async () => {
    const key = await keys();
    const data = new MemoryDestination();
    const seal = new SealStream();
    const sink = new JsonLinesAuditSink(data.stream, {
      backpressure: "block",
      seal: { key: key.seal, to: seal.stream, maxSegmentBytes: 2000 },
    });
    const events = Array.from({ length: 60 }, (_, i) => sized(i, i === 30 ? 5000 : 180));
    await offer(sink, events, true);
    const checkpoints = seal.checkpoints() as unknown as Checkpoint[];
    const large = checkpoints.filter((c) => c.seg_bytes > 2000);
    assert.deepEqual(large.map((c) => c.seg_lines), [1], JSON.stringify(checkpoints));
    assert.ok(large[0]!.seg_bytes >= 5000);
    const { findings } = await verify(data.text(), { keys: key.verify, seal: seal.text() });
    assert.deepEqual(problems(findings), [], show(findings));
  });
});
