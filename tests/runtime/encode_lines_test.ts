import { describe, it } from "node:test";
import assert from "node:assert/strict";
import fc from "fast-check";
import { encodeLines } from "../../src/runtime/_encode_lines.ts";

const encoder = new TextEncoder();
const expected = (batches: string[][]): Uint8Array =>
  encoder.encode(batches.flat().map((line) => `${line}\n`).join(""));
const charsOf = (batches: string[][]): number => batches.flat().reduce((sum, line) => sum + line.length + 1, 0);

describe("encodeLines", () => {
  it("gives each line's UTF-8 and a newline, whatever the buffer's first guess, with and without line ends (property)", () => {
    // Lines hold no raw newline: the sink's lines are JSON.
    const line = fc.oneof(fc.string({ unit: "grapheme", maxLength: 40 }), fc.string({ maxLength: 40 }))
      .map((text) => text.replaceAll("\n", "\\n"));
    fc.assert(
      fc.property(fc.array(fc.array(line, { maxLength: 6 }), { maxLength: 4 }), (batches) => {
        const want = expected(batches);
        assert.deepEqual(encodeLines(batches, charsOf(batches)), want);
        const ends = new Uint32Array(batches.flat().length);
        assert.deepEqual(encodeLines(batches, charsOf(batches), ends), want);
        let at = 0;
        batches.flat().forEach((text, i) => {
          at += encoder.encode(text).length;
          assert.equal(ends[i], at, `line ${i} ends at its newline`);
          assert.equal(want[at], 0x0a);
          at++;
        });
      }),
      { numRuns: 300 },
    );
  });

  it("encodes a write of many lines, wide characters among them, past the buffer's first guess", () => {
    const lines = Array.from({ length: 900 }, (_, i) => `${i % 7 === 0 ? "é€😀" : "a"}${"x".repeat(i % 50)}`);
    const batches = [lines.slice(0, 400), lines.slice(400)];
    assert.deepEqual(encodeLines(batches, charsOf(batches)), expected(batches));
  });
});
