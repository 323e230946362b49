import { describe, it } from "node:test";
import assert from "node:assert/strict";
import { type JsonLine, JsonLinesSplitStream } from "../../src/read/json_lines_split_stream.ts";
import { chunkedStream, collect } from "../_helpers/streams.ts";

const encoder = new TextEncoder();

function split(text: string | Uint8Array, sizes?: number[], maxLineBytes?: number): Promise<JsonLine[]> {
  const bytes = typeof text === "string" ? encoder.encode(text) : text;
  const options = maxLineBytes === undefined ? {} : { maxLineBytes };
  return collect(chunkedStream(bytes, sizes).pipeThrough(new JsonLinesSplitStream(options)));
}

const brief = (lines: JsonLine[]) => lines.map((l) => [l.kind, l.text, l.line, l.offset]);

describe("JsonLinesSplitStream", () => {
  it("JsonLinesSplitStream joins lines split across chunks", async () => {
    const lines = await split('{"a":1}\n{"b":22}\n', [3, 5, 1, 100]);
    assert.deepEqual(brief(lines), [["line", '{"a":1}', 1, 0], ["line", '{"b":22}', 2, 8]]);
  });

  it("JsonLinesSplitStream strips CRLF and skips blank lines while counting them", async () => {
    const lines = await split("a\r\n\r\n  \n\tb\r\n", [2]);
    assert.deepEqual(brief(lines), [["line", "a", 1, 0], ["line", "\tb", 4, 8]]);
    assert.equal(lines[1]!.bytes, 2);
  });

  it("JsonLinesSplitStream drops a UTF-8 BOM split across chunks", async () => {
    const lines = await split("\ufeffé\nx\n", [1, 1, 1, 1]);
    assert.deepEqual(brief(lines), [["line", "é", 1, 0], ["line", "x", 2, 6]]);
  });

  it("JsonLinesSplitStream reports a torn last line", async () => {
    const lines = await split("a\nbc", [1]);
    assert.deepEqual(brief(lines), [["line", "a", 1, 0], ["torn", "bc", 2, 2]]);
    assert.equal(lines[1]!.complete, false);
  });

  it("JsonLinesSplitStream reports an over-long line without keeping it, then goes on", async () => {
    const long = "x".repeat(5000);
    for (const sizes of [[100000], [7], [4096]]) {
      const lines = await split(`a\n${long}\nb\n`, sizes, 1000);
      assert.deepEqual(lines.map((l) => [l.kind, l.line, l.offset, l.bytes]), [
        ["line", 1, 0, 1],
        ["too_long", 2, 2, 5000],
        ["line", 3, 5003, 1],
      ]);
      assert.ok(lines[1]!.text.length <= 256, "only the head of the long line is kept");
    }
  });

  it("JsonLinesSplitStream reports invalid UTF-8 and keeps offsets right after multibyte text", async () => {
    const bytes = new Uint8Array([...encoder.encode("ü\n"), 0xff, 0xfe, 10, ...encoder.encode("ok\n")]);
    const lines = await split(bytes, [2]);
    assert.deepEqual(lines.map((l) => [l.kind, l.line, l.offset]), [["line", 1, 0], ["invalid_utf8", 2, 3], [
      "line",
      3,
      6,
    ]]);
  });

  it("JsonLinesSplitStream emits nothing for an empty source", async () => {
    assert.deepEqual(await split(""), []);
  });

  it("JsonLinesSplitStream rejects a bad maxLineBytes", () => {
    assert.throws(() => new JsonLinesSplitStream({ maxLineBytes: 0 }), RangeError);
  });
});
