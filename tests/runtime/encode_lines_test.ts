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

  it("gives each line's end when ASCII batches, empty lines and empty batches meet one wide or lone-surrogate line, with ends longer or shorter than the lines (property)", () => {
    const ascii = fc.string({
      unit: fc.integer({ min: 0x20, max: 0x7e }).map((c) => String.fromCharCode(c)),
      maxLength: 30,
    });
    const wide = fc.constantFrom(
      "é",
      "€",
      "😀",
      "\u2028",
      "\ud800",
      "\udfff",
      "a\udc00b",
      "\u0080",
      "\uffff",
      "\ud83d",
    );
    const withWide = fc.tuple(ascii, wide, ascii).map(([a, w, b]) => a + w + b);
    const batch = fc.array(fc.oneof(ascii, fc.constant("")), { maxLength: 5 });
    fc.assert(
      fc.property(
        fc.array(batch, { maxLength: 5 }),
        fc.option(fc.tuple(fc.nat(), withWide), { nil: undefined, freq: 2 }),
        fc.integer({ min: -3, max: 3 }),
        (base, one, extra) => {
          const batches = base.map((lines) => [...lines]);
          if (one !== undefined) {
            // The wide line into any batch, an empty one included.
            if (batches.length === 0) batches.push([]);
            const lines = batches[one[0] % batches.length]!;
            lines.splice(one[0] % (lines.length + 1), 0, one[1]);
          }
          const all = batches.flat();
          const want = expected(batches);
          const size = Math.max(0, all.length + extra);
          const ends = new Uint32Array(size).fill(0xdeadbeef);
          assert.deepEqual(encodeLines(batches, charsOf(batches), ends), want);
          let at = -1;
          for (let i = 0; i < size; i++) {
            if (i >= all.length) {
              assert.equal(ends[i], 0xdeadbeef, `slot ${i} past the lines is left alone`);
              continue;
            }
            at += encoder.encode(all[i]!).length + 1;
            assert.equal(ends[i], at, `line ${i} ends at its newline`);
            assert.equal(want[at], 0x0a);
          }
        },
      ),
      { numRuns: 500 },
    );
  });
});
