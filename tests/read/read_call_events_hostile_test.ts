import { describe, it } from "node:test";
import assert from "node:assert/strict";
import { type CallEvent, createCallEvent, encodeCallEvent } from "../../mod.ts";
import { CallEventParseStream } from "../../src/read/call_event_parse_stream.ts";
import { InvalidLineError } from "../../src/read/invalid_line_error.ts";
import { JsonLinesSplitStream } from "../../src/read/json_lines_split_stream.ts";
import { readCallEvents } from "../../src/read/read_call_events.ts";
import { chunkedStream, collect, readAll } from "../_helpers/streams.ts";

const encoder = new TextEncoder();

function line(callId: string, extra = "", outcome = '{"kind":"success"}'): string {
  const event = createCallEvent({
    ts: "2026-05-29T10:00:00+00:00",
    call_id: callId,
    tool_id: "fs.read",
    duration_ms: 1,
    outcome: { kind: "success" },
    tier: "warm",
  });
  return encodeCallEvent(event).replace('{"kind":"success"}', outcome).slice(0, -1) + extra + "}";
}

const arrays = (n: number): string => "[".repeat(n) + "]".repeat(n);
// 100,000 nested arrays (200 KB) in an unknown field of the event: serde
// skips such a field unread, at any depth, so the line is a valid event.
const DEEP_VALID = line("deep", `,"x":${arrays(100_000)}`);
// The same inside `outcome`, which serde buffers: past its recursion limit.
const DEEP_INVALID = line("deep", "", `{"kind":"success","x":${arrays(100_000)}}`);

describe("readCallEvents against hostile lines", () => {
  it("readCallEvents reports an event whose unknown field nests 100,000 levels as one invalid line and reads on", async () => {
    // serde skips such a field unread; this reader limits nesting everywhere (src/event/_strict_json.ts).
    for (const sizes of [[1 << 20], [65536], [7]]) {
      const bytes = encoder.encode(`${line("a")}\n${DEEP_VALID}\n${line("b")}\n`);
      const { events, invalid } = await readAll(chunkedStream(bytes, sizes));
      assert.deepEqual(events.map((e) => e.call_id), ["a", "b"]);
      assert.deepEqual(invalid.map((e) => [e.kind, e.line, e.path]), [["invalid", 2, "x"]]);
      assert.match(invalid[0]!.reason, /to nest at most 127 levels deep/);
    }
  });

  it("readCallEvents reports an outcome nested past serde's limit as one invalid line and reads on", async () => {
    for (const sizes of [[1 << 20], [65536], [7]]) {
      const bytes = encoder.encode(`${line("a")}\n${DEEP_INVALID}\n${line("b")}\n`);
      const { events, invalid } = await readAll(chunkedStream(bytes, sizes));
      assert.deepEqual(events.map((e) => e.call_id), ["a", "b"]);
      assert.deepEqual(invalid.map((e) => [e.kind, e.line, e.path]), [["invalid", 2, "outcome.x"]]);
      assert.match(invalid[0]!.reason, /to nest at most 127 levels deep/);
      assert.ok(invalid[0]!.message.length < 300);
    }
  });

  it("readCallEvents in strict mode yields the events before a deep line, then throws its InvalidLineError", async () => {
    const reader = readCallEvents(new Blob([`${line("a")}\n${DEEP_INVALID}\n${line("b")}\n`]), { strict: true });
    const seen: string[] = [];
    await assert.rejects(async () => {
      for await (const event of reader) seen.push(event.call_id);
    }, (error: unknown) => error instanceof InvalidLineError && error.line === 2 && error.kind === "invalid");
    assert.deepEqual(seen, ["a"]);
    assert.deepEqual(reader.stats.invalid, 1);
  });

  it("readCallEvents yields the events before a line whose onInvalid throws, then throws what it threw", async () => {
    const boom = new Error("stop here");
    const reader = readCallEvents(new Blob([`${line("a")}\n${line("b")}\nnot json\n${line("c")}\n`]), {
      onInvalid: () => {
        throw boom;
      },
    });
    const seen: string[] = [];
    await assert.rejects(async () => {
      for await (const event of reader) seen.push(event.call_id);
    }, (error: unknown) => error === boom);
    assert.deepEqual(seen, ["a", "b"]);
  });

  it("readCallEvents turns an unexpected exception while parsing one line into one InvalidLineError", async () => {
    // A \u escape sends line 2 past the fast path, to the strict scan, which asks whether each key is well
    // formed. (The encoder, which the reader also runs, took isWellFormed at load: replacing it now reaches only
    // the scan.)
    const text = `${line("a")}\n${line("b\\n").replace('"warm"', '"w\\u0061rm"')}\n${line("c")}\n`;
    const original = String.prototype.isWellFormed;
    // Make that check fail hard, for line 2's key "tier" (lines 1 and 3 take the fast path: no scan).
    String.prototype.isWellFormed = function (this: string): boolean {
      if (this === "tier") throw new RangeError("simulated failure");
      return original.call(this);
    };
    try {
      const { events, invalid } = await readAll(new Blob([text]));
      assert.deepEqual(events.map((e) => e.call_id), ["a", "c"]);
      assert.deepEqual(invalid.map((e) => [e.kind, e.line, e.path]), [["invalid", 2, undefined]]);
      assert.match(invalid[0]!.reason, /could not be read \(RangeError\)/);
      assert.ok(invalid[0]!.cause instanceof RangeError);
    } finally {
      String.prototype.isWellFormed = original;
    }
  });

  it("readCallEvents reports a last line torn at any byte, inside a 2-, 3- or 4-byte character too, as torn", async () => {
    const last = line("é日😀", ',"note":"ü€𝄞"');
    const bytes = encoder.encode(`${line("a")}\n${last}`);
    const start = bytes.length - encoder.encode(last).length;
    for (let cut = start + 1; cut < bytes.length; cut++) {
      for (const sizes of [[bytes.length], [start + 2], [3]]) {
        const { events, invalid } = await readAll(chunkedStream(bytes.slice(0, cut), sizes));
        assert.deepEqual(events.map((e) => e.call_id), ["a"], `cut at ${cut}`);
        assert.deepEqual(invalid.map((e) => [e.kind, e.line]), [["torn", 2]], `cut at ${cut}`);
      }
    }
    const whole = await readAll(new Blob([bytes]));
    assert.deepEqual(whole.events.map((e) => e.call_id), ["a", "é日😀"]);
  });

  it("readCallEvents still reports invalid UTF-8 as invalid: in a complete line, or before a torn character", async () => {
    const bad = new Uint8Array([...encoder.encode(line("a")), 10, ...encoder.encode('{"ts":"'), 0xff, 0x22, 10]);
    const complete = await readAll(new Blob([bad]));
    assert.deepEqual(complete.invalid.map((e) => [e.kind, e.line, e.reason]), [["invalid", 2, "not valid UTF-8"]]);
    const cutShort = new Uint8Array([...encoder.encode(line("a")), 10, 0x22, 0xff, 0x22, 0xe6, 0x97]);
    const torn = await readAll(new Blob([cutShort]));
    assert.deepEqual(torn.invalid.map((e) => [e.kind, e.line]), [["invalid", 2]]);
    const endsCut = new Uint8Array([...encoder.encode(line("a")), 10, 0x22, 0xe6, 0x97, 10]);
    assert.deepEqual((await readAll(new Blob([endsCut]))).invalid.map((e) => e.kind), ["invalid"]);
  });
});

describe("readCallEvents and JsonLinesSplitStream against a source that gives something else than bytes", () => {
  const chunks: [unknown, string][] = [
    [`${line("a")}\n`, "a string"], // an fs read stream with an encoding, a TextDecoderStream
    [[123, 10], "an Array"],
    [new Uint16Array([0x7b, 0x0a]), "a Uint16Array"],
    [new DataView(new ArrayBuffer(2)), "a DataView"],
    [null, "null"],
    [42, "a number"],
  ];
  for (const [chunk, what] of chunks) {
    it(`readCallEvents yields the events before ${what} chunk, then throws a TypeError that says what it got`, async () => {
      async function* source() {
        yield encoder.encode(`${line("before")}\n`);
        yield chunk as Uint8Array;
      }
      const ids: string[] = [];
      await assert.rejects(
        async () => {
          for await (const event of readCallEvents(source())) ids.push(event.call_id);
        },
        (error: unknown) =>
          error instanceof TypeError &&
          error.message.includes(`the source gave ${what} where bytes (a Uint8Array) were expected`),
      );
      assert.deepEqual(ids, ["before"]);
    });
  }

  it("JsonLinesSplitStream errors with the same TypeError on a string chunk", async () => {
    const strings = new ReadableStream<unknown>({
      start(controller) {
        controller.enqueue(`${line("a")}\n`);
        controller.close();
      },
    }) as ReadableStream<Uint8Array>;
    await assert.rejects(
      collect(strings.pipeThrough(new JsonLinesSplitStream())),
      (error: unknown) => error instanceof TypeError && error.message.includes("the source gave a string"),
    );
  });
});

describe("JsonLinesSplitStream and CallEventParseStream against hostile lines", () => {
  it("JsonLinesSplitStream marks a last line cut inside a multi-byte character torn, at every cut", async () => {
    const bytes = encoder.encode('{"a":"é日😀"}');
    for (let cut = 1; cut < bytes.length; cut++) {
      const lines = await collect(chunkedStream(bytes.slice(0, cut), [2]).pipeThrough(new JsonLinesSplitStream()));
      assert.deepEqual(lines.map((l) => [l.kind, l.complete, l.bytes]), [["torn", false, cut]], `cut at ${cut}`);
    }
  });

  it("CallEventParseStream reports a deep unknown field and a deep outcome once each", async () => {
    const invalid: InvalidLineError[] = [];
    const text = `${line("a")}\n${DEEP_VALID}\n${DEEP_INVALID}\n${line("b")}\n`;
    const events = await collect(
      chunkedStream(encoder.encode(text), [4096])
        .pipeThrough(new JsonLinesSplitStream())
        .pipeThrough(new CallEventParseStream({ onInvalid: (e) => invalid.push(e) })),
    );
    assert.deepEqual(events.map((e) => e.call_id), ["a", "b"]);
    assert.deepEqual(invalid.map((e) => [e.kind, e.line, e.path]), [["invalid", 2, "x"], ["invalid", 3, "outcome.x"]]);
  });

  it("CallEventParseStream reports a torn multi-byte last line as torn", async () => {
    const invalid: InvalidLineError[] = [];
    const bytes = encoder.encode(`${line("a")}\n${line("b", ',"z":"日"')}`);
    await collect(
      chunkedStream(bytes.slice(0, -3)) // ends with two of 日's three bytes
        .pipeThrough(new JsonLinesSplitStream())
        .pipeThrough(new CallEventParseStream({ onInvalid: (e) => invalid.push(e) })),
    );
    assert.deepEqual(invalid.map((e) => [e.kind, e.line]), [["torn", 2]]);
  });

  it("CallEventParseStream in strict mode passes the events before a deep line, then errors with it", async () => {
    const text = `${line("a")}\n${DEEP_INVALID}\n${line("b")}\n`;
    const reader = chunkedStream(encoder.encode(text))
      .pipeThrough(new JsonLinesSplitStream())
      .pipeThrough(new CallEventParseStream({ strict: true }))
      .getReader();
    assert.equal((await reader.read()).value?.call_id, "a");
    await assert.rejects(reader.read(), (error: unknown) => error instanceof InvalidLineError && error.line === 2);
  });

  it("readCallEvents gives every line of a mixed hostile chunk exactly one verdict", async () => {
    const lines = [
      line("a"),
      DEEP_VALID,
      DEEP_INVALID,
      `\ufeff${line("bom")}`,
      line("dup", ',"tool_id":"again"'),
      line("proto", ',"__proto__":{"tool_id":"evil"}'),
      line("surrogate", ',"\\ud800":1'),
      line("big", `,"x":1${"0".repeat(400)}`),
      line("bigger", "", `{"kind":"success","x":1${"0".repeat(400)}}`),
      line("z"),
    ];
    const reader = readCallEvents(new Blob([lines.join("\n") + "\n"]), { onInvalid: () => {} });
    const read: CallEvent[] = [];
    for await (const event of reader) read.push(event);
    assert.deepEqual(read.map((e) => e.call_id), ["a", "proto", "big", "z"]);
    assert.equal(read[1]!.tool_id, "fs.read");
    assert.equal(Object.getPrototypeOf(read[1]), Object.prototype);
    assert.deepEqual(reader.stats, {
      lines: lines.length,
      events: 4,
      invalid: 6,
      checkpoints: 0,
      bytes: encoder.encode(lines.join("\n") + "\n").length,
    });
  });
});
