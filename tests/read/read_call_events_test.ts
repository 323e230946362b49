import { describe, it } from "node:test";
import assert from "node:assert/strict";
import fc from "fast-check";
import { type CallEvent, createCallEvent, encodeCallEvent, type Outcome, parseCallEvent } from "../../mod.ts";
import { InvalidLineError } from "../../src/read/invalid_line_error.ts";
import { CallEventReader, readCallEvents } from "../../src/read/read_call_events.ts";
import { chunkedStream, fixture, readAll } from "../_helpers/streams.ts";

const encoder = new TextEncoder();

function event(i: number, outcome: Outcome = { kind: "success" }): CallEvent {
  return createCallEvent({
    ts: "2026-05-29T10:00:00+00:00",
    call_id: `call-${i}`,
    tool_id: "fs.read",
    duration_ms: i,
    outcome,
    tier: "warm",
  });
}

const outcomeArb: fc.Arbitrary<Outcome> = fc.oneof(
  fc.constant({ kind: "success" as const }),
  fc.constant({ kind: "tool_not_found" as const }),
  fc.record({ kind: fc.constant("execution_failed" as const), code: fc.string(), retryable: fc.boolean() }),
  fc.record({ kind: fc.constant("invalid_args" as const), message: fc.string({ unit: "grapheme" }) }),
  fc.record({ kind: fc.constant("capability_denied" as const), missing: fc.array(fc.string()) }),
  fc.record({
    kind: fc.constant("rate_limited" as const),
    retry_after_ms: fc.option(fc.nat(), { nil: null }),
  }),
);

const eventArb: fc.Arbitrary<CallEvent> = fc.record({
  call_id: fc.string({ unit: "grapheme", maxLength: 30 }),
  tool_id: fc.string({ maxLength: 20 }),
  caller_id: fc.option(fc.string({ unit: "grapheme" }), { nil: null }),
  granted_capabilities: fc.array(fc.string(), { maxLength: 3 }),
  duration_ms: fc.nat(),
  outcome: outcomeArb,
  tier: fc.constantFrom("warm", "cold", "tiér"),
  dry_run: fc.boolean(),
  secrets_resolved: fc.boolean(),
  cursor_page: fc.option(fc.nat(), { nil: null }),
  capability_provenance: fc.option(
    fc.array(
      fc.record({
        cap: fc.string(),
        source: fc.oneof(
          fc.constant({ kind: "string_allow_list" as const }),
          fc.record({ kind: fc.constant("ucan_chain" as const), issuer_did: fc.string(), chain_depth: fc.nat(255) }),
        ),
      }, { noNullPrototype: true }),
      { maxLength: 2 },
    ),
    { nil: null },
  ),
}, { noNullPrototype: true }).map((fields) => createCallEvent({ ...fields, ts: "2026-05-29T10:00:00.5+00:00" }));

describe("readCallEvents", () => {
  it("readCallEvents reads v1, v2 and v3 lines and upgrades them", async () => {
    const { events, invalid } = await readAll(new Blob([fixture("mixed_versions.jsonl")]));
    assert.deepEqual(invalid, []);
    assert.deepEqual(events.map((e) => [e.call_id, e.schema_version, e.secrets_resolved]), [
      ["call-1", 1, false],
      ["call-2", 2, false],
      ["call-3", 3, true],
      ["call-4", 1, false],
      ["call-5", 2, false],
      ["call-6", 3, false],
    ]);
    assert.equal(events[1]!.cursor_page, 3);
    assert.equal(events[0]!.caller_id, undefined);
    assert.deepEqual(events[2]!.capability_provenance, [
      { cap: "read", source: { kind: "ucan_chain", issuer_did: "did:key:z6Mk", chain_depth: 1 } },
    ]);
  });

  it("readCallEvents handles CRLF, a BOM and blank lines with the right line numbers", async () => {
    const { events, invalid } = await readAll(chunkedStream(fixture("crlf.jsonl"), [5]));
    assert.deepEqual(invalid, []);
    assert.deepEqual(events.map((e) => e.call_id), ["call-1", "call-2", "call-3"]);
    // Line 3 is blank: an invalid line 4 would say so.
    const bytes = fixture("crlf.jsonl");
    const broken = new Uint8Array([...bytes.subarray(0, bytes.length - 2), ...encoder.encode("\r\n{oops\r\n")]);
    const again = await readAll(new Blob([broken]));
    assert.deepEqual(again.invalid.map((e) => [e.kind, e.line]), [["invalid", 5]]);
  });

  it("readCallEvents reports a torn last line", async () => {
    const { events, invalid } = await readAll(new Blob([fixture("torn.jsonl")]));
    assert.deepEqual(events.map((e) => e.call_id), ["call-1", "call-2"]);
    assert.equal(invalid.length, 1);
    assert.equal(invalid[0]!.kind, "torn");
    assert.equal(invalid[0]!.line, 3);
    assert.match(invalid[0]!.reason, /torn/);
    assert.equal(invalid[0]!.offset, fixture("torn.jsonl").lastIndexOf(10) + 1);
  });

  it("readCallEvents accepts a whole event on a last line without newline", async () => {
    const { events, invalid } = await readAll(new Blob([encodeCallEvent(event(1))]));
    assert.deepEqual([events.length, invalid.length], [1, 0]);
  });

  it("readCallEvents reports each invalid line with its line number, offset and field", async () => {
    const bytes = fixture("invalid.jsonl");
    const { events, invalid } = await readAll(chunkedStream(bytes, [64]));
    assert.deepEqual(events.map((e) => e.call_id), ["call-1", "call-6"]);
    assert.deepEqual(invalid.map((e) => [e.kind, e.line, e.path]), [
      ["invalid", 2, undefined],
      ["invalid", 3, "tool_id"],
      ["invalid", 5, "outcome.kind"],
      ["invalid", 6, "granted_capabilities[1]"],
    ]);
    assert.match(invalid[0]!.reason, /not valid JSON/);
    assert.match(invalid[1]!.reason, /to be a string/);
    assert.match(invalid[1]!.message, /^Cannot parse line 3: expected "tool_id" to be a string/);
    const text = new TextDecoder().decode(bytes);
    const starts = [0, ...[...text.matchAll(/\n/g)].map((m) => m.index! + 1)];
    assert.deepEqual(invalid.map((e) => e.offset), [starts[1], starts[2], starts[4], starts[5]]);
    assert.ok(invalid.every((e) => e instanceof InvalidLineError && e.excerpt!.length <= 81));
  });

  it("readCallEvents skips a 2 MiB line without stopping, and reports it as too long", async () => {
    const big = `{"ts":"${"x".repeat(2 * 1024 * 1024)}"}`;
    const text = `${encodeCallEvent(event(1))}\n${big}\n${encodeCallEvent(event(2))}\n`;
    const { events, invalid } = await readAll(chunkedStream(encoder.encode(text), [65536]));
    assert.deepEqual(events.map((e) => e.call_id), ["call-1", "call-2"]);
    assert.deepEqual(invalid.map((e) => [e.kind, e.line]), [["too_long", 2]]);
    assert.match(invalid[0]!.reason, /longer than the 1048576-byte limit \(2097161 bytes\)/);
  });

  it("readCallEvents reads nothing from an empty file", async () => {
    const reader = readCallEvents(new Blob([fixture("empty.jsonl")]));
    const { events, invalid } = await readAll(new Blob([fixture("empty.jsonl")]));
    assert.deepEqual([events, invalid], [[], []]);
    for await (const _ of reader) assert.fail("no events expected");
    assert.deepEqual(reader.stats, { lines: 0, events: 0, invalid: 0, checkpoints: 0, bytes: 0 });
  });

  it("readCallEvents reads a Response, a Blob, a stream and an async iterable alike", async () => {
    const bytes = fixture("mixed_versions.jsonl");
    async function* chunks(): AsyncGenerator<Uint8Array> {
      for (let i = 0; i < bytes.length; i += 100) yield bytes.slice(i, i + 100);
    }
    const sources = [new Response(bytes), new Blob([bytes]), chunkedStream(bytes, [33]), chunks()];
    const results = [];
    for (const source of sources) results.push((await readAll(source)).events);
    for (const result of results) assert.deepEqual(result, results[0]);
    assert.equal(results[0]!.length, 6);
  });

  it("readCallEvents throws the first invalid line in strict mode, after the events before it", async () => {
    const seen: string[] = [];
    await assert.rejects(async () => {
      for await (const e of readCallEvents(new Blob([fixture("invalid.jsonl")]), { strict: true })) {
        seen.push(e.call_id);
      }
    }, (error: unknown) => error instanceof InvalidLineError && error.line === 2);
    assert.deepEqual(seen, ["call-1"]);
  });

  it("readCallEvents counts lines, events and invalid lines in stats", async () => {
    const reader = readCallEvents(new Blob([fixture("invalid.jsonl")]));
    assert.ok(reader instanceof CallEventReader);
    for await (const _ of reader);
    assert.deepEqual(reader.stats, {
      lines: 7,
      events: 2,
      invalid: 4,
      checkpoints: 0,
      bytes: fixture("invalid.jsonl").length,
    });
    assert.throws(() => reader[Symbol.asyncIterator](), TypeError);
  });

  it("readCallEvents cancels the source when the loop breaks", async () => {
    let cancelled = false;
    const line = encoder.encode(encodeCallEvent(event(1)) + "\n");
    const source = new ReadableStream<Uint8Array>({
      pull: (controller) => controller.enqueue(line),
      cancel: () => {
        cancelled = true;
      },
    });
    for await (const _ of readCallEvents(source)) break;
    assert.equal(cancelled, true);
  });

  it("readCallEvents cancels and releases a stream whose reader throws on its first read, and throws what it threw", async () => {
    // A stream's getReader may be the caller's code (a subclass's, or patched): its reader's read may throw rather
    // than reject.
    const broken = new Error("read threw");
    const reasons: unknown[] = [];
    const source = new ReadableStream<Uint8Array>({ cancel: (reason) => void reasons.push(reason) });
    const getReader = source.getReader.bind(source);
    source.getReader = (() => {
      const reader = getReader();
      reader.read = () => {
        throw broken;
      };
      return reader;
    }) as typeof source.getReader;
    await assert.rejects(async () => {
      for await (const _ of readCallEvents(source)) assert.fail("no events expected");
    }, (error: unknown) => error === broken);
    assert.deepEqual(reasons, [undefined], "cancelled once");
    assert.equal(source.locked, false, "released");
  });

  it("readCallEvents hands out a chunk's events before what a reader threw when asked for the next chunk", async () => {
    // The read ahead asks for chunk 2 before chunk 1 is parsed: a reader of the caller's code that throws then
    // must fail the read after chunk 1's events, as a read that rejects does, and the stream be cancelled once.
    const broken = new Error("read threw");
    const reasons: unknown[] = [];
    const source = new ReadableStream<Uint8Array>({
      pull: (controller) => controller.enqueue(encoder.encode(encodeCallEvent(event(1)) + "\n")),
      cancel: (reason) => void reasons.push(reason),
    }, { highWaterMark: 0 });
    const getReader = source.getReader.bind(source);
    source.getReader = (() => {
      const reader = getReader();
      const read = reader.read.bind(reader);
      let reads = 0;
      reader.read = () => {
        if (++reads === 2) throw broken;
        return read();
      };
      return reader;
    }) as typeof source.getReader;
    const ids: string[] = [];
    await assert.rejects(async () => {
      for await (const read of readCallEvents(source)) ids.push(read.call_id);
    }, (error: unknown) => error === broken);
    assert.deepEqual(ids, [event(1).call_id], "chunk 1's event first");
    assert.deepEqual(reasons, [undefined], "cancelled once");
    assert.equal(source.locked, false, "released");
  });

  it("readCallEvents releases a stream, and throws what stopped the read, when its reader's cancel throws or answers a plain value", async () => {
    // A reader of the caller's code (a subclass's getReader): its cancel may throw rather than reject.
    for (
      const cancel of [() => {
        throw new Error("cancel threw");
      }, () => undefined]
    ) {
      const source = new ReadableStream<Uint8Array>({
        start(controller) {
          controller.enqueue(encoder.encode(`${encodeCallEvent(event(1))}\nnot json\n${encodeCallEvent(event(2))}\n`));
        },
      });
      const getReader = source.getReader.bind(source);
      source.getReader = (() => {
        const reader = getReader();
        reader.cancel = cancel as unknown as typeof reader.cancel;
        return reader;
      }) as typeof source.getReader;
      const ids: string[] = [];
      await assert.rejects(async () => {
        for await (const read of readCallEvents(source, { strict: true })) ids.push(read.call_id);
      }, InvalidLineError);
      assert.deepEqual(ids, [event(1).call_id]);
      assert.equal(source.locked, false, "released");
    }
  });

  it("readCallEvents reads a stream whose reader answers with plain values rather than promises", async () => {
    // Outside the stream contract, but what awaiting each read always took: a subclass's reader may answer at once.
    const chunks = [1, 2, 3].map((i) => encoder.encode(encodeCallEvent(event(i)) + "\n"));
    const source = new ReadableStream<Uint8Array>();
    source.getReader = (() => ({
      read: () => chunks.length > 0 ? { done: false, value: chunks.shift()! } : { done: true, value: undefined },
      cancel: () => Promise.resolve(),
      releaseLock: () => {},
    })) as unknown as typeof source.getReader;
    const ids: string[] = [];
    for await (const read of readCallEvents(source)) ids.push(read.call_id);
    assert.deepEqual(ids, [1, 2, 3].map((i) => event(i).call_id));
  });

  it("readCallEvents asks a stream for its next chunk before handing out this one's events, and a stream failing then fails after them", async () => {
    // One read ahead: the stream's I/O for the next chunk runs while this one is parsed and consumed.
    const lines = [1, 2, 3].map((i) => encoder.encode(encodeCallEvent(event(i)) + "\n"));
    let pulls = 0;
    const source = new ReadableStream<Uint8Array>({
      pull(controller) {
        pulls++;
        if (pulls <= 2) controller.enqueue(lines[pulls - 1]!);
        else controller.error(new Error("disk gone"));
      },
    }, { highWaterMark: 0 });
    const events = readCallEvents(source)[Symbol.asyncIterator]();
    const first = await events.next();
    assert.equal(first.value?.call_id, event(1).call_id);
    assert.equal(pulls, 2, "the second chunk was asked for before the first chunk's event was handed out");
    assert.equal((await events.next()).value?.call_id, event(2).call_id, "the events read before the failure first");
    await assert.rejects(events.next(), /disk gone/);
  });

  it("readCallEvents reads a stream that reuses or transfers a chunk's buffer once the next is asked for, as it read it before its read ahead", async () => {
    // A source that reads a file into one buffer refills it for the next chunk, at once or after its I/O; one that
    // hands its buffers on detaches them. Reading one chunk ahead asks for the next before this one is parsed: with
    // a line a chunk, the first event was lost and the last one read twice, and no line was invalid.
    const lines = Array.from({ length: 40 }, (_, i) => encoder.encode(encodeCallEvent(event(i)) + "\n"));
    const bytes = new Uint8Array(lines.flatMap((line) => [...line]));
    const splits = {
      "a line a chunk": lines,
      "chunks of 100 bytes": Array.from(
        { length: Math.ceil(bytes.length / 100) },
        (_, i) => bytes.slice(i * 100, i * 100 + 100),
      ),
      "chunks of 1000 bytes": Array.from(
        { length: Math.ceil(bytes.length / 1000) },
        (_, i) => bytes.slice(i * 1000, i * 1000 + 1000),
      ),
    };
    const oneBuffer = (chunks: readonly Uint8Array[], io: boolean) => {
      const buffer = new Uint8Array(1000);
      let at = 0;
      return new ReadableStream<Uint8Array>({
        async pull(controller) {
          if (io) await Promise.resolve(); // done by the time the stream hands out the chunk before
          if (at >= chunks.length) return controller.close();
          const chunk = chunks[at++]!;
          buffer.set(chunk);
          controller.enqueue(buffer.subarray(0, chunk.length));
        },
      }, { highWaterMark: 0 });
    };
    const handedOn = (chunks: readonly Uint8Array[]) => {
      let at = 0;
      let last: Uint8Array | undefined;
      return new ReadableStream<Uint8Array>({
        pull(controller) {
          if (last !== undefined) structuredClone(last.buffer, { transfer: [last.buffer] }); // detaches it
          if (at >= chunks.length) return controller.close();
          last = chunks[at++]!.slice();
          controller.enqueue(last);
        },
      }, { highWaterMark: 0 });
    };
    for (const [split, chunks] of Object.entries(splits)) {
      const sources = {
        "reusing one buffer": oneBuffer(chunks, false),
        "reusing one buffer after its I/O": oneBuffer(chunks, true),
        "transferring each buffer once the next is asked for": handedOn(chunks),
      };
      for (const [name, source] of Object.entries(sources)) {
        const invalid: InvalidLineError[] = [];
        const reader = readCallEvents(source, { onInvalid: (error) => invalid.push(error) });
        const ids: string[] = [];
        for await (const read of reader) ids.push(read.call_id);
        assert.deepEqual(invalid.map((error) => error.message), [], `${name}, ${split}`);
        assert.deepEqual(ids, lines.map((_, i) => `call-${i}`), `${name}, ${split}`);
        assert.equal(reader.stats.bytes, bytes.length, `${name}, ${split}`);
      }
    }
  });

  it("readCallEvents parses a chunk over 1 MiB before it asks for the next, rather than copy it to read ahead", async () => {
    // A runtime may hand out a Blob or a Response held in memory as one chunk: a copy would double what is held.
    const line = encodeCallEvent(event(1)) + "\n";
    const big = encoder.encode(line.repeat(Math.ceil((1 << 20) / line.length) + 1));
    let pulls = 0;
    const source = new ReadableStream<Uint8Array>({
      pull(controller) {
        pulls++;
        if (pulls === 1) controller.enqueue(big);
        else controller.close();
      },
    }, { highWaterMark: 0 });
    const reader = readCallEvents(source);
    const events = reader[Symbol.asyncIterator]();
    assert.equal((await events.next()).value?.call_id, event(1).call_id);
    assert.equal(pulls, 1, "the next chunk not yet asked for");
    while (!(await events.next()).done);
    assert.equal(reader.stats.events, big.length / line.length);
    assert.equal(reader.stats.bytes, big.length);
  });

  it("readCallEvents has a stream start reading its next chunk before it parses this one, through an async generator too", async () => {
    // The next chunk's I/O overlaps this chunk's parsing only if the source's pull has started it by then: a stream
    // calls pull again only some microtask turns after its last chunk came. Each chunk holds one line that is not
    // JSON, which onInvalid sees while that chunk is parsed; each pull notes how many it had seen.
    const chunk = (i: number) => encoder.encode(`not json ${i}\n${encodeCallEvent(event(i))}\n`);
    async function* file(): AsyncGenerator<Uint8Array> {
      for (let i = 1; i <= 4; i++) yield await Promise.resolve(chunk(i)); // as a file read through the CLI's input
    }
    const sources = {
      "a pull that reads itself": () => {
        let i = 0;
        return (seen: () => number, pulls: number[]) =>
          new ReadableStream<Uint8Array>({
            async pull(controller) {
              pulls.push(seen());
              await Promise.resolve();
              if (++i <= 4) controller.enqueue(chunk(i));
              else controller.close();
            },
          }, { highWaterMark: 0 });
      },
      "a pull through an async generator": () => {
        const chunks = file();
        return (seen: () => number, pulls: number[]) =>
          new ReadableStream<Uint8Array>({
            async pull(controller) {
              pulls.push(seen());
              const next = await chunks.next();
              if (next.done) controller.close();
              else controller.enqueue(next.value);
            },
          }, { highWaterMark: 0 });
      },
    };
    for (const [name, make] of Object.entries(sources)) {
      let invalid = 0;
      const pulls: number[] = [];
      const events = readCallEvents(make()(() => invalid, pulls), { onInvalid: () => void invalid++ });
      let read = 0;
      for await (const _ of events) read++;
      assert.equal(read, 4, name);
      // Pull k + 1 (k >= 1) began before chunk k's bad line was seen: k - 1 of them.
      assert.deepEqual(pulls, [0, 0, 1, 2, 3], `${name}: each pull started before the chunk before it was parsed`);
    }
  });

  it("readCallEvents pulls an async iterable only when its next chunk is needed", async () => {
    // A generator may act on being pulled (the CLI's follow prints what it kept when its file's end is reached):
    // it is pulled once the events of the chunk before are all handed out, as `for await` would pull it.
    const pulled: number[] = [];
    const handed: number[] = [];
    async function* source(): AsyncGenerator<Uint8Array> {
      for (let i = 1; i <= 3; i++) {
        pulled.push(handed.length);
        yield encoder.encode(encodeCallEvent(event(2 * i - 1)) + "\n" + encodeCallEvent(event(2 * i)) + "\n");
      }
      pulled.push(handed.length);
    }
    for await (const read of readCallEvents(source())) handed.push(read.duration_ms);
    assert.deepEqual(handed, [1, 2, 3, 4, 5, 6].map((i) => event(i).duration_ms));
    assert.deepEqual(pulled, [0, 2, 4, 6], "each chunk pulled once every event before it was handed out");
  });

  it("readCallEvents answers next() calls made at once in order, across chunks, then return() and later calls as done", async () => {
    const lines = [1, 2, 3, 4, 5].map((i) => encodeCallEvent(event(i)) + "\n");
    let cancelled = false;
    let at = 0;
    // Two lines a chunk: the calls span three batches and the end.
    const source = new ReadableStream<Uint8Array>({
      pull(controller) {
        if (at >= lines.length) return controller.close();
        controller.enqueue(encoder.encode(lines.slice(at, at + 2).join("")));
        at += 2;
      },
      cancel: () => {
        cancelled = true;
      },
    });
    const reader = readCallEvents(source);
    const iterator = reader[Symbol.asyncIterator]();
    const results = await Promise.all([1, 2, 3, 4, 5, 6].map(() => iterator.next()));
    assert.deepEqual(results.map((r) => (r.done ? "done" : r.value.call_id)), [
      "call-1",
      "call-2",
      "call-3",
      "call-4",
      "call-5",
      "done",
    ]);
    assert.equal(reader.stats.events, 5);
    assert.deepEqual(await iterator.return!(), { value: undefined, done: true });
    assert.deepEqual(await iterator.next(), { value: undefined, done: true });
    assert.equal(cancelled, false); // it had ended: nothing to cancel
  });

  it("readCallEvents cancels the source when return() is called mid-batch, and answers the calls after it as done", async () => {
    let cancelled = false;
    const chunk = encoder.encode([1, 2, 3].map((i) => encodeCallEvent(event(i)) + "\n").join(""));
    const source = new ReadableStream<Uint8Array>({
      pull: (controller) => controller.enqueue(chunk),
      cancel: () => {
        cancelled = true;
      },
    });
    const iterator = readCallEvents(source)[Symbol.asyncIterator]();
    assert.equal((await iterator.next()).value?.call_id, "call-1");
    // call-2 and call-3 are at hand; a call after return() must still wait for it.
    const second = iterator.next();
    const ended = iterator.return!();
    const after = iterator.next();
    assert.equal((await second).value?.call_id, "call-2");
    assert.deepEqual(await ended, { value: undefined, done: true });
    assert.deepEqual(await after, { value: undefined, done: true });
    assert.equal(cancelled, true);
  });

  it("readCallEvents answers any schedule of next() and return() calls as a generator would, through invalid lines and a failing source (property)", async () => {
    const thrown = new Error("onInvalid threw");
    await fc.assert(
      fc.asyncProperty(
        fc.array(fc.boolean(), { maxLength: 10 }), // which lines are invalid
        fc.array(fc.integer({ min: 1, max: 4 }), { minLength: 1, maxLength: 5 }), // lines a chunk
        fc.boolean(), // the source errors after its last chunk
        fc.constantFrom("strict", "throw", "skip"),
        fc.array(fc.array(fc.constantFrom("next", "next", "next", "return"), { minLength: 1, maxLength: 5 }), {
          minLength: 1,
          maxLength: 5,
        }), // calls made at once, wave after wave
        async (invalid, sizes, sourceErrors, mode, waves) => {
          const lines = invalid.map((bad, i) => (bad ? `{"bad":${i}}\n` : encodeCallEvent(event(i)) + "\n"));
          let at = 0;
          let chunks = 0;
          const source = new ReadableStream<Uint8Array>({
            pull(controller) {
              if (at >= lines.length) {
                return sourceErrors ? controller.error(new Error("source broke")) : controller.close();
              }
              const n = sizes[chunks++ % sizes.length]!;
              controller.enqueue(encoder.encode(lines.slice(at, at + n).join("")));
              at += n;
            },
          }, { highWaterMark: 0 });
          const options = mode === "strict" ? { strict: true } : mode === "throw"
            ? {
              onInvalid: () => {
                throw thrown;
              },
            }
            : {};
          const reader = readCallEvents(source, options);
          // What reading one call at a time gives: the valid events, then the error that ends the read, if any.
          const outcomes: string[] = [];
          for (const [i, bad] of invalid.entries()) {
            if (!bad) outcomes.push(`call-${i}`);
            else if (mode !== "skip") {
              outcomes.push(mode === "strict" ? "InvalidLineError" : thrown.message);
              break;
            }
          }
          if (sourceErrors && (mode === "skip" || !invalid.includes(true))) outcomes.push("source broke");
          const iterator = reader[Symbol.asyncIterator]();
          const expected: string[] = [];
          const got: string[] = [];
          let ended = false;
          for (const wave of waves) {
            const calls = wave.map((call) => {
              if (call === "return") {
                ended = true;
                expected.push("return");
                return iterator.return!().then((
                  result,
                ) => (assert.deepEqual(result, { value: undefined, done: true }), "return"));
              }
              const outcome = ended ? "done" : outcomes.shift() ?? "done";
              ended ||= outcome === "done" || !outcome.startsWith("call-");
              expected.push(outcome);
              return iterator.next().then(
                (result) => (result.done ? "done" : result.value.call_id),
                (error: Error) => (error instanceof InvalidLineError ? "InvalidLineError" : error.message),
              );
            });
            got.push(...await Promise.all(calls));
          }
          assert.deepEqual(got, expected);
          assert.equal(reader.stats.events, expected.filter((outcome) => outcome.startsWith("call-")).length);
        },
      ),
      { numRuns: 300 },
    );
  });

  it("readCallEvents hands out each event once and in order, with stats of the chunks parsed, however a stream is chunked and timed, one buffer reused too (property)", async () => {
    // Read one chunk ahead: the stats never count the chunk read ahead, and a stream's failure comes after the
    // events before it (a stream that errors drops what it had queued: with a high-water mark, only a prefix).
    const sourceError = new Error("source broke");
    const thrown = new Error("onInvalid threw");
    const tick = () => new Promise<void>((resolve) => setTimeout(resolve, 0));
    const streamArb = fc.record({
      highWaterMark: fc.constantFrom(0, 1, 3),
      perPull: fc.array(fc.integer({ min: 1, max: 3 }), { minLength: 1, maxLength: 4 }), // chunks a pull enqueues
      timing: fc.array(fc.constantFrom("sync", "microtask", "macrotask"), { minLength: 1, maxLength: 4 }),
      end: fc.constantFrom("close", "error", "throw", "reject"),
      reuse: fc.boolean(), // one buffer, refilled for each chunk (then one chunk a pull, nothing queued)
    });
    await fc.assert(
      fc.asyncProperty(
        fc.array(fc.constantFrom("event", "event", "event", "invalid", "blank"), { maxLength: 12 }),
        fc.boolean(), // a newline after the last line
        fc.array(fc.integer({ min: 0, max: 300 }), { minLength: 1, maxLength: 8 }), // 0: an empty chunk
        streamArb,
        fc.constantFrom("skip", "strict", "throw"),
        fc.array(fc.constantFrom("next", "next", "next", "slow", "three at once"), { minLength: 1, maxLength: 30 }),
        fc.option(fc.nat(20), { nil: undefined }), // return() once this many events were handed out
        async (kinds, newlineAtEnd, sizes, stream, mode, steps, stopAt) => {
          const lines = kinds.map((kind, i) =>
            kind === "event" ? encodeCallEvent(event(i)) : kind === "invalid" ? `{"bad":${i}}` : ""
          );
          const bytes = encoder.encode(lines.join("\n") + (newlineAtEnd && lines.length > 0 ? "\n" : ""));
          const chunks: Uint8Array[] = [];
          for (let at = 0, i = 0; at < bytes.length; i++) {
            let size = sizes[i % sizes.length]!;
            if (size === 0) chunks.push(new Uint8Array(0));
            size ||= 1;
            chunks.push(bytes.slice(at, at + size));
            at += size;
          }
          const { highWaterMark, perPull, timing, end, reuse } = stream;
          const buffer = new Uint8Array(300);
          const cancels: unknown[] = [];
          let at = 0;
          let pulls = 0;
          const source = new ReadableStream<Uint8Array>({
            pull(controller) {
              const when = timing[pulls % timing.length]!;
              const count = reuse ? 1 : perPull[pulls % perPull.length]!;
              pulls++;
              const step = () => {
                if (at >= chunks.length) {
                  if (end === "close") controller.close();
                  else if (end === "error") controller.error(sourceError);
                  else if (end === "throw") throw sourceError;
                  else return Promise.reject(sourceError);
                  return;
                }
                for (let i = 0; i < count && at < chunks.length; i++) {
                  const chunk = chunks[at++]!;
                  if (!reuse) controller.enqueue(chunk);
                  else {
                    buffer.fill(0x7b).set(chunk);
                    controller.enqueue(buffer.subarray(0, chunk.length));
                  }
                }
              };
              if (when === "sync") return step();
              return (when === "microtask" ? Promise.resolve() : tick()).then(step);
            },
            cancel: (reason) => void cancels.push(reason),
          }, { highWaterMark: reuse ? 0 : highWaterMark });
          const options = mode === "strict" ? { strict: true } : mode === "throw"
            ? {
              onInvalid: () => {
                throw thrown;
              },
            }
            : {};
          // What a reader one call at a time gives: the events, then what ends the read. A last line without a
          // newline ends only when the stream closes.
          const expected: string[] = [];
          let failure: string | undefined;
          for (const [i, kind] of kinds.entries()) {
            if (i === kinds.length - 1 && !newlineAtEnd && end !== "close") break;
            if (kind === "event") expected.push(`call-${i}`);
            if (kind === "invalid" && mode !== "skip") {
              failure = mode === "strict" ? "InvalidLineError" : thrown.message;
              break;
            }
          }
          if (failure === undefined && end !== "close") failure = sourceError.message;
          // Where each line ends in the bytes, and where each chunk ends.
          const lineEnds: number[] = [];
          for (const [i, line] of lines.entries()) {
            lineEnds.push(
              (lineEnds.at(-1) ?? 0) + encoder.encode(line).length + (i < lines.length - 1 || newlineAtEnd ? 1 : 0),
            );
          }
          const chunkEnds: number[] = [];
          for (const chunk of chunks) chunkEnds.push((chunkEnds.at(-1) ?? 0) + chunk.length);
          const reader = readCallEvents(source, options);
          const iterator = reader[Symbol.asyncIterator]();
          const handed: string[] = [];
          /** The stats once the event of line `i` is handed out: those of the chunks up to the one that ends it. */
          const checkStats = (i: number): void => {
            const stats = reader.stats;
            assert.equal(stats.events, handed.length);
            const parsed = i === lines.length - 1 && !newlineAtEnd
              ? bytes.length // ends when the stream does
              : chunkEnds.find((chunkEnd) => chunkEnd >= lineEnds[i]!)!;
            assert.equal(stats.bytes, parsed, `bytes once call-${i} is out`);
            const ended = parsed === bytes.length && i === lines.length - 1;
            const lineCount = bytes.subarray(0, parsed).filter((byte) => byte === 10).length +
              (ended && !newlineAtEnd ? 1 : 0);
            if (mode === "skip") assert.equal(stats.lines, lineCount, `lines once call-${i} is out`); // else it stops mid-chunk
          };
          let error: string | undefined;
          let stopped = false;
          run: for (const step of [...steps, ...Array<string>(100).fill("next")]) {
            if (stopAt !== undefined && handed.length >= stopAt) {
              const before = reader.stats;
              await iterator.return!();
              assert.deepEqual(reader.stats, before, "return() changes no count");
              stopped = true;
              break;
            }
            if (step === "slow") {
              await tick();
              continue;
            }
            const calls = step === "three at once"
              ? [iterator.next(), iterator.next(), iterator.next()]
              : [iterator.next()];
            for (const call of calls) {
              let result: IteratorResult<CallEvent>;
              try {
                result = await call;
              } catch (caught) {
                error = caught instanceof InvalidLineError ? "InvalidLineError" : (caught as Error).message;
                break run;
              }
              if (result.done) break run;
              handed.push(result.value.call_id);
              if (calls.length === 1) checkStats(Number(result.value.call_id.slice("call-".length)));
            }
          }
          assert.deepEqual(handed, expected.slice(0, handed.length), "each event once, in order");
          const dropped = highWaterMark > 0 && !reuse && error === sourceError.message;
          if (!stopped && !dropped) assert.deepEqual([handed, error], [expected, failure]);
          assert.ok(cancels.length <= 1 && cancels.every((reason) => reason === undefined), "cancelled once at most");
          assert.equal(source.locked, false);
        },
      ),
      { numRuns: 200 },
    );
  });

  it("readCallEvents rejects a source of the wrong kind and a bad maxLineBytes", () => {
    assert.throws(() => readCallEvents("audit.jsonl" as unknown as Blob), TypeError);
    assert.throws(() => readCallEvents(new Blob([]), { maxLineBytes: -1 }), RangeError);
  });

  it("readCallEvents yields the same events for any split of a valid file into chunks", async () => {
    await fc.assert(
      fc.asyncProperty(
        fc.array(eventArb, { minLength: 1, maxLength: 8 }),
        fc.array(fc.integer({ min: 1, max: 64 }), { minLength: 1, maxLength: 20 }),
        fc.boolean(),
        async (events, sizes, crlf) => {
          const text = events.map((e) => encodeCallEvent(e)).join(crlf ? "\r\n" : "\n") + "\n";
          const { events: read, invalid } = await readAll(chunkedStream(encoder.encode(text), sizes));
          assert.deepEqual(invalid, []);
          assert.deepEqual(read, events);
        },
      ),
      { numRuns: 150 },
    );
  });

  it("readCallEvents agrees with parseCallEvent, and its fast path with the schema, on every line", async () => {
    const mutation = fc.tuple(
      fc.constantFrom(
        "ts",
        "caller_id",
        "granted_capabilities",
        "duration_ms",
        "outcome",
        "schema_version",
        "secrets_resolved",
        "cursor_page",
        "capability_provenance",
        "dry_run",
      ),
      fc.oneof(fc.jsonValue(), fc.constant(undefined), fc.constant(-0), fc.constant(2 ** 53), fc.constant(1.5)),
    );
    await fc.assert(
      fc.asyncProperty(eventArb, mutation, async (original, [key, value]) => {
        const mutated: Record<string, unknown> = { ...original, [key]: value };
        const line = JSON.stringify(mutated);
        let expected: CallEvent | string;
        try {
          expected = parseCallEvent(line);
        } catch (error) {
          expected = (error as { path: string }).path;
        }
        // A parsed value always goes through the valibot schema: the text's fast path must agree with it.
        let viaSchema: CallEvent | string;
        try {
          viaSchema = parseCallEvent(JSON.parse(line));
        } catch (error) {
          viaSchema = (error as { path: string }).path;
        }
        assert.deepEqual(viaSchema, expected);
        const { events, invalid } = await readAll(new Blob([line + "\n"]));
        assert.deepEqual(events[0] ?? invalid[0]!.path, expected);
      }),
      { numRuns: 300 },
    );
  });
});
