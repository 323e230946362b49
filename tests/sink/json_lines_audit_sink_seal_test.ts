import { describe, it } from "node:test";
import assert from "node:assert/strict";
import { readFileSync } from "node:fs";
import { join } from "node:path";
import {
  type AuditDestination,
  type CallEvent,
  type DeliveryReport,
  JsonLinesAuditSink,
  type JsonLinesAuditSinkOptions,
} from "../../mod.ts";
import type { AuditSealKey } from "../../src/seal/audit_seal_key.ts";
import { importAuditVerifyKey } from "../../src/seal/audit_seal_key.ts";
import { AuditSealer } from "../../src/seal/audit_sealer.ts";
import { verifyAuditTrail } from "../../src/seal/verify_audit_trail.ts";
import { abortAfter } from "../../src/_abort.ts";
import { MemoryDestination, numbered, stalledStream, tick } from "../_helpers/events.ts";
import { keys, problems, show, verify } from "../seal/_trail.ts";
import { runScript } from "../_helpers/run_script.ts";
import { gapsByReason, OrderedDestination, SealStream } from "./_sealed.ts";
import { tempDir } from "../_helpers/temp_dir.ts";

const INVALID = { call_id: 5 } as unknown as CallEvent;

/** Waits (bounded) until `ready()` holds. */
async function until(what: string, ready: () => boolean, turns = 500): Promise<void> {
  for (let i = 0; i < turns && !ready(); i++) await tick(5);
  assert.ok(ready(), `timed out waiting for ${what}`);
}

function sealed(
  destination: WritableStream<Uint8Array>,
  seal: SealStream | "in band",
  key: AuditSealKey,
  options: JsonLinesAuditSinkOptions & { segment?: number } = {},
): JsonLinesAuditSink {
  const { segment = 4, ...rest } = options;
  const where = seal === "in band" ? { inBand: true } : { to: seal.stream };
  return new JsonLinesAuditSink(destination, {
    onError: () => {},
    ...rest,
    seal: { key, origin: "test.example/sink", maxSegmentLines: segment, ...where },
  });
}

/**
 * A sealed sink on a custom destination that ends its stream after its first
 * write (`report.newStream(switchStreams)`), with ten events written one a
 * turn, segments of 3 lines, and what it told onError.
 */
async function sinkThatSwitches(
  key: AuditSealKey,
  seal: SealStream,
  switchStreams: () => Promise<void>,
): Promise<{ sink: JsonLinesAuditSink; errors: unknown[] }> {
  let report: DeliveryReport | undefined;
  let writes = 0;
  const stream = new WritableStream<Uint8Array>({
    write(chunk) {
      report!.delivered(chunk.filter((byte) => byte === 0x0a).length);
      if (++writes === 1) void report!.newStream?.(switchStreams);
    },
  });
  const destination: AuditDestination = Object.assign(stream, {
    attach: (r: DeliveryReport) => void (report = r),
    flush: () => Promise.resolve(),
  });
  const errors: unknown[] = [];
  const sink = sealed(destination, seal, key, { capacity: 8, segment: 3, onError: (e) => errors.push(e) });
  for (let i = 0; i < 10; i++) {
    sink.onCall(numbered(i));
    await tick();
  }
  return { sink, errors };
}

describe("JsonLinesAuditSink sealing", () => {
  for (const mode of ["seal stream", "in band"] as const) {
    it(`JsonLinesAuditSink seals every line it writes, segment by segment, into a trail that verifies (${mode})`, async () => {
      const key = await keys();
      const data = new MemoryDestination();
      const seal = new SealStream();
      // "block": in band, data writes wait for each checkpoint, and drop mode could lose events meanwhile.
      const sink = sealed(data.stream, mode === "in band" ? "in band" : seal, key.seal, {
        capacity: 8,
        backpressure: "block",
      });
      for (let i = 0; i < 30; i++) {
        sink.onCall(numbered(i));
        if (i % 3 === 2) await tick();
      }
      await sink.flush();
      for (let i = 30; i < 35; i++) sink.onCall(numbered(i));
      await sink.close();
      const lines = data.lines();
      const events = lines.filter((line) => line.startsWith('{"ts":'));
      assert.deepEqual(
        events.map((line) => JSON.parse(line).call_id),
        Array.from({ length: 35 }, (_, i) => `call-${i}`),
      );
      const { findings, summary } = mode === "in band"
        ? await verify(data.text(), { keys: key.verify })
        : await verify(data.text(), { keys: key.verify, seal: seal.text() });
      assert.deepEqual(findings, [], show(findings));
      assert.equal(summary.verifiedLines, 35);
      assert.equal(summary.offered, 35);
      // Cut once 4 lines are in, after a chunk of up to 4: from 4 to 7 lines a segment, then what flush() found.
      assert.ok(summary.segments >= 35 / 7, `${summary.segments} segments`);
      if (mode === "in band") {
        // Each checkpoint line follows its segment: never more than 4 event lines between two checkpoints.
        const runs = data.text().split(/\{"audit_checkpoint":[^\n]*\n/).map((run) => run.split("\n").length - 1);
        assert.ok(runs.every((n) => n <= 4 + 3), `runs of event lines: ${runs}`); // + the chunk that overshot
        assert.ok(!lines[lines.length - 1]!.startsWith('{"ts":'), "the last line is a checkpoint");
      } else assert.ok(seal.closed, "the seal stream was closed with the sink");
    });
  }

  for (const mode of ["seal stream", "in band"] as const) {
    // Bun finds line ends from the lines' lengths when a write is all ASCII, by search otherwise: a wrong end would
    // hash the wrong bytes, and the trail would not verify.
    it(`JsonLinesAuditSink seals writes that mix ASCII lines with wide ones, segments cut inside them, into a trail that verifies (${mode})`, async () => {
      const key = await keys();
      const data = new MemoryDestination({ delayMs: 1 });
      const seal = new SealStream();
      const sink = sealed(data.stream, mode === "in band" ? "in band" : seal, key.seal, {
        capacity: 16,
        backpressure: "block",
        segment: 5,
      });
      const WIDE = ["é", "€😀", "\u2028", "\u0080\uffff", '\ud83d\ude00\n"\\'];
      const tools: string[] = [];
      for (let i = 0; i < 120; i++) {
        // Runs of ASCII-only writes, then writes with one wide line among ASCII ones; bursts past a write's worth.
        const tool = i % 23 === 7 || (i >= 60 && i % 5 === 0) ? `tool${WIDE[i % WIDE.length]}${i}` : `tool${i}`;
        tools.push(tool);
        sink.onCall({ ...numbered(i), tool_id: tool });
        if (i % 7 === 6 || (i > 90 && i % 3 === 0)) await tick(i % 2);
      }
      await sink.close();
      const lines = data.lines().filter((line) => line.startsWith('{"ts":'));
      assert.deepEqual(lines.map((line) => JSON.parse(line).tool_id), tools);
      const written = new Blob(data.chunks as BlobPart[]);
      const { findings, summary } = await verifyAuditTrail(
        written,
        mode === "in band" ? { keys: key.verify } : { keys: key.verify, seal: new Blob([seal.text()]) },
      ).result();
      assert.deepEqual(findings, [], show(findings));
      assert.equal(summary.verifiedLines, 120);
      assert.equal(summary.offered, 120);
      assert.ok(summary.segments >= 120 / 9, `${summary.segments} segments`);
    });
  }

  it("JsonLinesAuditSink seal: drop mode with a stalled destination declares every drop, and the gaps add up exactly", async () => {
    const key = await keys();
    let release!: () => void;
    const stalled = new Promise<void>((resolve) => (release = resolve));
    const data = new OrderedDestination(() => ({}), stalled);
    const seal = new SealStream();
    const sink = sealed(data.destination, seal, key.seal, { capacity: 16, segment: 5 });
    sink.onCall(INVALID);
    for (let i = 0; i < 500; i++) {
      sink.onCall(numbered(i));
      if (i % 50 === 49) await tick();
    }
    release();
    await sink.close();
    const s = sink.stats();
    assert.equal(s.dropped, 500 - 16);
    const checkpoints = seal.checkpoints();
    const last = checkpoints[checkpoints.length - 1]!;
    const gaps = gapsByReason(checkpoints);
    assert.deepEqual(gaps, { queue_full: s.dropped, invalid: 1 });
    assert.equal(last.offered, s.accepted + s.dropped + s.invalid);
    assert.equal(last.lines, s.written);
    assert.equal(last.offered, last.lines + gaps.queue_full! + gaps.invalid!);
    const { findings, summary } = await verify(data.text(), { keys: key.verify, seal: seal.text() });
    assert.deepEqual(problems(findings), [], show(findings));
    const reported = findings.filter((f) => f.kind === "gap");
    assert.equal(reported.reduce((sum, f) => sum + f.count, 0), 501 - 16);
    assert.ok(reported.every((f) => /lost between \S+ and \S+ because (queue_full|invalid)/.test(f.message)));
    assert.deepEqual([summary.written, summary.lost, summary.offered], [16, 485, 501]);
  });

  it("JsonLinesAuditSink seal: lines the destination fails, reroutes or refuses are gaps in their own segment", async () => {
    const key = await keys();
    const plans = [{}, { deliver: 1 }, { deliver: 0, rest: "rerouted" as const }, {}, { deliver: 2 }, { reject: true }];
    const data = new OrderedDestination((write) => plans[write] ?? {});
    const seal = new SealStream();
    const sink = sealed(data.destination, seal, key.seal, { capacity: 8, segment: 6 });
    for (let i = 0; i < 40; i++) {
      sink.onCall(numbered(i));
      if (i % 3 === 2) await tick();
    }
    await sink.close();
    const s = sink.stats();
    assert.ok(s.failed > 0 && s.rerouted > 0, JSON.stringify(s));
    const checkpoints = seal.checkpoints();
    const gaps = gapsByReason(checkpoints);
    assert.equal(gaps.destination, s.failed);
    assert.equal(gaps.rerouted, s.rerouted);
    for (const c of checkpoints) {
      const inSegment = c.gaps.filter((g) => g.in_segment).reduce((sum, g) => sum + g.count, 0);
      assert.ok(inSegment <= c.seg_lines, `checkpoint ${c.seq} declares more losses than lines`);
    }
    const last = checkpoints[checkpoints.length - 1]!;
    assert.equal(last.offered, 40);
    assert.equal(last.lines - (gaps.destination ?? 0) - (gaps.rerouted ?? 0), s.written);
    const { findings, summary } = await verify(data.text(), { keys: key.verify, seal: seal.text() });
    assert.deepEqual(problems(findings), [], show(findings));
    assert.deepEqual([summary.written, summary.offered], [s.written, 40]);
  });

  it("JsonLinesAuditSink seal: a segment is sealed only once its lines are settled, so a late failure is in it", async () => {
    const key = await keys();
    const data = new OrderedDestination((write) => (write === 0 ? { hold: true, deliver: 0 } : { hold: true }));
    const seal = new SealStream();
    const sink = sealed(data.destination, seal, key.seal, { capacity: 4, segment: 2 });
    for (let i = 0; i < 12; i++) {
      sink.onCall(numbered(i));
      await tick();
    }
    await tick(20);
    assert.equal(seal.lines.length, 0, "no checkpoint before the destination settled the lines");
    await sink.flush();
    const checkpoints = seal.checkpoints();
    assert.ok(checkpoints.length >= 2, `${checkpoints.length} checkpoints`);
    assert.deepEqual(gapsByReason(checkpoints), { destination: sink.stats().failed });
    assert.ok(checkpoints[0]!.gaps.some((g) => g.in_segment && g.reason === "destination"));
    await sink.close();
    const { findings } = await verify(data.text(), { keys: key.verify, seal: seal.text() });
    assert.deepEqual(problems(findings), [], show(findings));
  });

  it("JsonLinesAuditSink seal: events that are invalid, go to the fallback or are refused by it are out-of-stream gaps", async () => {
    const key = await keys();
    let calls = 0;
    const fallback = {
      onCall(): void {
        if (calls++ % 3 === 2) throw new Error("fallback refused");
      },
    };
    const seal = new SealStream();
    const sink = sealed(stalledStream(), seal, key.seal, {
      capacity: 2,
      backpressure: { fallback },
      preventClose: true,
    });
    for (let i = 0; i < 20; i++) sink.onCall(i % 7 === 0 ? INVALID : numbered(i));
    await sink.close({ signal: abortAfter(50) });
    const s = sink.stats();
    const gaps = gapsByReason(seal.checkpoints());
    assert.deepEqual(gaps, {
      invalid: s.invalid,
      fallback: s.fallback,
      fallback_failed: s.dropped,
      deadline: s.failed,
    });
    const last = seal.checkpoints().at(-1)!;
    assert.equal(last.offered, 20);
    // Accepted events the deadline cut from the queue never reached the stream: out-of-stream gaps too.
    const out = seal.checkpoints().flatMap((c) => c.gaps).filter((g) => !g.in_segment);
    assert.equal(last.offered, last.lines + out.reduce((sum, g) => sum + g.count, 0));
  });

  it("JsonLinesAuditSink seal: an event recorded from its own getters too deep is an invalid gap like any invalid event", async () => {
    const key = await keys();
    const data = new MemoryDestination();
    const seal = new SealStream();
    const sink = sealed(data.stream, seal, key.seal, { capacity: 1 << 10 });
    const event = {
      ...numbered(0),
      get tool_id(): string {
        sink.onCall(event as CallEvent); // nests until the sink stops it (MAX_NESTING)
        return "t";
      },
    };
    sink.onCall(event as CallEvent);
    await sink.close();
    const s = sink.stats();
    assert.equal(s.invalid, 1);
    assert.deepEqual(gapsByReason(seal.checkpoints()), { invalid: 1 });
    const last = seal.checkpoints().at(-1)!;
    assert.equal(last.offered, s.accepted + s.invalid);
  });

  it("JsonLinesAuditSink seal: a stalled seal stream never holds up the data, and close with a deadline returns", async () => {
    const key = await keys();
    const data = new MemoryDestination();
    const seal = new SealStream({ stall: true });
    const errors: unknown[] = [];
    const sink = sealed(data.stream, seal, key.seal, { capacity: 8, segment: 3, onError: (e) => errors.push(e) });
    for (let i = 0; i < 50; i++) {
      sink.onCall(numbered(i));
      if (i % 4 === 3) await tick();
    }
    await sink.flush({ signal: abortAfter(50) });
    assert.equal(data.lines().length, 50, "every line reached the data stream");
    await sink.close({ signal: abortAfter(50) });
    assert.deepEqual(sink.stats().written, 50);
  });

  it("JsonLinesAuditSink seal: close with a deadline seals what the destination gave up as deadline gaps", async () => {
    const key = await keys();
    const seal = new SealStream();
    const sink = sealed(stalledStream(), seal, key.seal, { capacity: 8, backpressure: "drop", preventClose: true });
    for (let i = 0; i < 20; i++) sink.onCall(numbered(i));
    await tick();
    await sink.close({ signal: abortAfter(30) });
    const s = sink.stats();
    const checkpoints = seal.checkpoints();
    const last = checkpoints.at(-1)!;
    assert.equal(last.offered, 20);
    assert.deepEqual(gapsByReason(checkpoints), { queue_full: 12, deadline: 8 });
    // The chunk in flight was handed to the stream (a gap in its segment); the queued lines were not.
    assert.ok(checkpoints.flatMap((c) => c.gaps).some((g) => g.reason === "deadline" && g.in_segment));
    assert.equal(s.failed, 8);
  });

  it("JsonLinesAuditSink seal: tells onError when a close deadline passes with sealing unfinished (a stream switch that never settles)", async () => {
    const key = await keys();
    const seal = new SealStream();
    // The switch never ends.
    const { sink, errors } = await sinkThatSwitches(key.seal, seal, () => new Promise<void>(() => {}));
    await sink.close({ signal: abortAfter(50) });
    assert.equal(sink.stats().written, 10);
    const told = errors.map((e) => (e as Error).message);
    assert.ok(told.some((m) => /^Sealing did not finish before the deadline/.test(m)), told.join("\n"));
  });

  it("JsonLinesAuditSink seal: flush resolves once the lines after a destination's stream switch are sealed too", async () => {
    const key = await keys();
    const seal = new SealStream();
    // The switch takes a while.
    const { sink, errors } = await sinkThatSwitches(key.seal, seal, () => tick(30));
    await sink.flush();
    assert.equal(seal.checkpoints().reduce((sum, c) => sum + c.seg_lines, 0), 10, "every line flushed is sealed");
    await sink.close();
    assert.deepEqual(errors, []);
  });

  it("JsonLinesAuditSink seal: flush resolves under steady traffic to a destination that switches streams on every write", async () => {
    // A flush waits for the checkpoints of the lines written before it, also those behind the stream switches
    // pending then; not for the switches that later writes bring, or steady traffic would hold it forever.
    const key = await keys();
    const seal = new SealStream();
    let report: DeliveryReport | undefined;
    const stream = new WritableStream<Uint8Array>({
      write(chunk) {
        report!.delivered(chunk.filter((byte) => byte === 0x0a).length);
        void report!.newStream?.(() => tick(3));
      },
    });
    const destination: AuditDestination = Object.assign(stream, {
      attach: (r: DeliveryReport) => void (report = r),
      flush: () => Promise.resolve(),
    });
    const sink = sealed(destination, seal, key.seal, { segment: 3 });
    for (let i = 0; i < 10; i++) {
      sink.onCall(numbered(i));
      await tick();
    }
    let flushed = false;
    const flushing = sink.flush().then(() => (flushed = true));
    let during = 0;
    for (let i = 10; i < 1000 && !flushed; i++, during++) {
      sink.onCall(numbered(i));
      await tick(1);
    }
    await flushing;
    assert.ok(during < 1000 - 10, "flush resolved while events kept coming");
    const sealedLines = seal.checkpoints().reduce((sum, c) => sum + c.seg_lines, 0);
    assert.ok(sealedLines >= 10, `the lines written before the flush are sealed (${sealedLines} lines)`);
    await sink.close();
    assert.equal(seal.checkpoints().reduce((sum, c) => sum + c.seg_lines, 0), sink.stats().written);
  });

  it("JsonLinesAuditSink seal: does not tell onError that sealing did not finish when it finished within the deadline's grace", async () => {
    for (const end of ["flush", "close"] as const) {
      const key = await keys();
      const seal = new SealStream();
      const deadline = new AbortController();
      // The switch ends just after the deadline.
      const { sink, errors } = await sinkThatSwitches(
        key.seal,
        seal,
        () => new Promise<void>((resolve) => deadline.signal.addEventListener("abort", () => setTimeout(resolve, 0))),
      );
      setTimeout(() => deadline.abort(), 20);
      await (end === "flush" ? sink.flush({ signal: deadline.signal }) : sink.close({ signal: deadline.signal }));
      assert.equal(sink.stats().written, 10, end);
      const sealedLines = seal.checkpoints().reduce((sum, c) => sum + c.seg_lines, 0);
      assert.equal(sealedLines, 10, `${end}: sealing finished (every line is in a sealed segment)`);
      const told = errors.map((e) => (e as Error).message);
      assert.ok(!told.some((m) => /^Sealing did not finish/.test(m)), `${end}: ${told.join("\n")}`);
      if (end === "flush") await sink.close();
    }
  });

  it("JsonLinesAuditSink seal: in band, a chunk waiting for a checkpoint also waits for one cut while it waited", async () => {
    const key = await keys();
    // Lines are reported 40 ms after their write: a full segment's checkpoint waits that long.
    const data = new OrderedDestination(() => ({ delayMs: 40 }));
    const sink = new JsonLinesAuditSink(data.destination, {
      onError: () => {},
      seal: { key: key.seal, origin: "test.example/sink", maxSegmentLines: 2, intervalMs: 5, inBand: true },
    });
    sink.onCall(numbered(0));
    sink.onCall(numbered(1)); // a full segment, cut: the next chunk waits for its checkpoint line
    await tick();
    sink.onCall(numbered(2)); // waits
    await tick();
    sink.onCall({ ...numbered(3), duration_ms: -1 }); // invalid: a loss, which the interval cuts (an empty segment) meanwhile
    await tick(20);
    await sink.close();
    const s = sink.stats();
    assert.deepEqual([s.written, s.invalid, s.queued], [3, 1, 0], JSON.stringify(s));
    const { findings, summary } = await verify(data.arrived.join(""), { keys: key.verify });
    assert.deepEqual(problems(findings), [], show(findings));
    assert.deepEqual([summary.written, summary.offered], [3, 4]);
  });

  it("JsonLinesAuditSink seal: heartbeats seal empty segments while nothing is written", async () => {
    const key = await keys();
    const seal = new SealStream();
    const sink = new JsonLinesAuditSink(new MemoryDestination().stream, {
      seal: { key: key.seal, to: seal.stream, heartbeat: true, intervalMs: 10 },
    });
    await until("three heartbeats", () => seal.lines.length >= 3);
    await sink.close();
    const checkpoints = seal.checkpoints();
    assert.ok(checkpoints.slice(0, 3).every((c) => c.seg_lines === 0 && c.gaps.length === 0));
    assert.deepEqual(checkpoints.map((c) => c.seq), checkpoints.map((_, i) => i));
  });

  it("JsonLinesAuditSink seal: a segment with lines is sealed intervalMs after the last cut", async () => {
    const key = await keys();
    const seal = new SealStream();
    const sink = new JsonLinesAuditSink(new MemoryDestination().stream, {
      seal: { key: key.seal, to: seal.stream, intervalMs: 10 },
    });
    sink.onCall(numbered(1));
    await until("a checkpoint without flush", () => seal.lines.length === 1);
    assert.equal(seal.checkpoints()[0]!.seg_lines, 1);
    await sink.close();
    assert.equal(seal.lines.length, 1, "close had nothing left to seal");
  });

  it("JsonLinesAuditSink seal: a key that cannot sign stops sealing, once told, and the data goes on", async () => {
    const key = await keys();
    const broken = {
      keyId: "broken",
      algorithm: "Ed25519" as const,
      sign: () => Promise.reject(new Error("HSM down")),
    };
    const errors: unknown[] = [];
    const data = new MemoryDestination();
    const seal = new SealStream();
    const sink = sealed(data.stream, seal, broken, { onError: (e) => errors.push(e), segment: 2 });
    for (let i = 0; i < 10; i++) {
      sink.onCall(numbered(i));
      await tick();
    }
    await sink.close();
    assert.equal(data.lines().length, 10);
    assert.equal(seal.lines.length, 0);
    const told = errors.filter((e) => String((e as Error).message).startsWith("Sealing stopped"));
    assert.equal(told.length, 1);
    assert.match(String(((told[0] as Error).cause as Error).message), /HSM down/);
    assert.ok(key);
  });

  it("JsonLinesAuditSink seal: a given sealer continues its chain", async () => {
    const key = await keys();
    const first = new SealStream();
    const a = sealed(new MemoryDestination().stream, first, key.seal);
    a.onCall(numbered(0));
    await a.close();
    const last = first.lines.at(-1)!;
    const second = new SealStream();
    const sealer = new AuditSealer(key.seal, { previous: last });
    const b = new JsonLinesAuditSink(new MemoryDestination().stream, { seal: { sealer, to: second.stream } });
    b.onCall(numbered(1));
    await b.close();
    const next = second.checkpoints()[0]!;
    assert.equal(next.seq, JSON.parse(last).seq + 1);
    assert.equal((next as unknown as { origin: string }).origin, "test.example/sink");
  });

  it("JsonLinesAuditSink seal: construction checks the seal option", async () => {
    const key = (await keys()).seal;
    const make = (seal: unknown): unknown =>
      new JsonLinesAuditSink(new WritableStream(), { seal } as JsonLinesAuditSinkOptions);
    assert.throws(() => make(5), TypeError);
    assert.throws(() => make({ key }), /either to .* or inBand: true/);
    assert.throws(() => make({ key, to: new WritableStream(), inBand: true }), /either to/);
    assert.throws(() => make({ to: new WritableStream() }), /either a key or a sealer/);
    assert.throws(() => make({ key, sealer: new AuditSealer(key), inBand: true }), /either a key or a sealer/);
    assert.throws(() => make({ key, to: {} }), /seal.to must be a WritableStream/);
    assert.throws(() => make({ key, inBand: "yes" }), /inBand must be a boolean/);
    assert.throws(() => make({ sealer: {}, inBand: true }), /must be an AuditSealer/);
    assert.throws(() => make({ key, inBand: true, maxSegmentLines: 0 }), RangeError);
    // A larger segment would make checkpoints longer than a verifier reads.
    assert.throws(
      () => make({ key, inBand: true, maxSegmentLines: 2 ** 18 + 1 }),
      /maxSegmentLines must be at most 262144/,
    );
    assert.throws(() => make({ key: {}, inBand: true }), TypeError);
  });
});

describe("JsonLinesAuditSink sealing when the process ends without close() (subprocess)", () => {
  it("seals every line before the process ends, also without flush() or close()", async () => {
    const dir = tempDir("seal-exit");
    const path = join(dir, "audit.jsonl");
    const result = await runScript("tests/sink/_seal_exit_script.ts", [path, "25", "200", "no"]);
    assert.equal(result.code, 0, result.stderr);
    const keys = await importAuditVerifyKey(readFileSync(`${path}.pub.jwk`, "utf8"));
    const { findings, summary } = await verifyAuditTrail(new Blob([readFileSync(path)]), {
      keys,
      seal: new Blob([readFileSync(`${path}.seal`)]),
    }).result();
    assert.deepEqual(findings.map((f) => f.kind), [], "no unsealed tail, nothing else");
    assert.deepEqual([summary.lines, summary.verifiedLines, summary.unsealedLines], [25, 25, 0]);
  });

  it("lets a process with only heartbeats pending end on its own", async () => {
    const dir = tempDir("seal-exit");
    const path = join(dir, "audit.jsonl");
    // A heartbeat an hour away must not keep the process alive (runScript kills it after CHILD_TIMEOUT_MS).
    const result = await runScript("tests/sink/_seal_exit_script.ts", [path, "0", "3600000", "yes"]);
    assert.deepEqual([result.code, result.signal], [0, null], result.stderr);
  });
});
