import { describe, it } from "node:test";
import assert from "node:assert/strict";
import { CallEventParseStream } from "../../src/read/call_event_parse_stream.ts";
import { InvalidLineError } from "../../src/read/invalid_line_error.ts";
import { JsonLinesSplitStream } from "../../src/read/json_lines_split_stream.ts";
import { chunkedStream, collect, fixture } from "../_helpers/streams.ts";

describe("CallEventParseStream", () => {
  it("CallEventParseStream parses split lines and reports invalid ones to onInvalid", async () => {
    const invalid: InvalidLineError[] = [];
    const parse = new CallEventParseStream({ onInvalid: (e) => invalid.push(e) });
    const events = await collect(
      chunkedStream(fixture("invalid.jsonl"), [17]).pipeThrough(new JsonLinesSplitStream()).pipeThrough(parse),
    );
    assert.deepEqual(events.map((e) => e.call_id), ["call-1", "call-6"]);
    assert.deepEqual(invalid.map((e) => [e.kind, e.line, e.path]), [
      ["invalid", 2, undefined],
      ["invalid", 3, "tool_id"],
      ["invalid", 5, "outcome.kind"],
      ["invalid", 6, "granted_capabilities[1]"],
    ]);
    assert.equal(parse.invalidLines, 4);
  });

  it("CallEventParseStream reports a torn last line as torn", async () => {
    const invalid: InvalidLineError[] = [];
    const events = await collect(
      chunkedStream(fixture("torn.jsonl"))
        .pipeThrough(new JsonLinesSplitStream())
        .pipeThrough(new CallEventParseStream({ onInvalid: (e) => invalid.push(e) })),
    );
    assert.equal(events.length, 2);
    assert.deepEqual(invalid.map((e) => [e.kind, e.line]), [["torn", 3]]);
  });

  it("CallEventParseStream errors the stream on the first invalid line in strict mode", async () => {
    const stream = chunkedStream(fixture("invalid.jsonl"))
      .pipeThrough(new JsonLinesSplitStream())
      .pipeThrough(new CallEventParseStream({ strict: true }));
    await assert.rejects(collect(stream), (error: unknown) => error instanceof InvalidLineError && error.line === 2);
  });

  it("CallEventParseStream reports an over-long line with the limit it was split with", async () => {
    const invalid: InvalidLineError[] = [];
    const text = new TextEncoder().encode(`{"x":"${"y".repeat(200)}"}\n`);
    await collect(
      chunkedStream(text, [50])
        .pipeThrough(new JsonLinesSplitStream({ maxLineBytes: 100 }))
        .pipeThrough(new CallEventParseStream({ maxLineBytes: 100, onInvalid: (e) => invalid.push(e) })),
    );
    assert.deepEqual(invalid.map((e) => [e.kind, e.line, e.offset]), [["too_long", 1, 0]]);
    assert.match(invalid[0]!.reason, /100-byte limit \(208 bytes\)/);
  });
});
