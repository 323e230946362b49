import { describe, it } from "node:test";
import assert from "node:assert/strict";
import { CallEventParseStream, JsonLinesSplitStream, readCallEvents } from "../../mod.ts";

// Each wrong option, and the words its error must contain.
const WRONG: [string, unknown, RegExp][] = [
  ["onInvalid: 42", { onInvalid: 42 }, /onInvalid must be a function, got 42/],
  ["onInvalid: a string", { onInvalid: "log" }, /onInvalid must be a function, got a string/],
  ["strict: 1", { strict: 1 }, /strict must be a boolean, got 1/],
  ["maxLineBytes: a string", { maxLineBytes: "1" }, /maxLineBytes must be a number, got a string/],
  ["options: null", null, /options must be an object, got null/],
  ["options: a number", 5, /options must be an object, got number/],
];

describe("reader options", () => {
  for (const [what, options, message] of WRONG) {
    it(`readCallEvents and CallEventParseStream reject ${what} at construction`, () => {
      assert.throws(() => readCallEvents(new Blob([]), options as never), (error: unknown) => {
        assert.ok(error instanceof TypeError);
        assert.match(error.message, /^Cannot read call events: /);
        assert.match(error.message, message);
        return true;
      });
      assert.throws(() => new CallEventParseStream(options as never), (error: unknown) => {
        assert.ok(error instanceof TypeError);
        assert.match(error.message, /^Cannot parse call events: /);
        assert.match(error.message, message);
        return true;
      });
    });
  }

  it("readCallEvents and CallEventParseStream reject a maxLineBytes out of range with a RangeError", () => {
    for (const maxLineBytes of [0, -1, 1.5, Number.NaN]) {
      assert.throws(() => readCallEvents(new Blob([]), { maxLineBytes }), RangeError);
      assert.throws(() => new CallEventParseStream({ maxLineBytes }), RangeError);
      assert.throws(() => new JsonLinesSplitStream({ maxLineBytes }), RangeError);
    }
  });

  it("readCallEvents accepts undefined options and undefined fields", async () => {
    const reader = readCallEvents(new Blob(["not json\n"]), { onInvalid: undefined, strict: undefined } as never);
    for await (const _ of reader);
    assert.equal(reader.stats.invalid, 1);
  });
});
