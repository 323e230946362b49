import { describe, it } from "node:test";
import assert from "node:assert/strict";
import fc from "fast-check";
import { decimal } from "../../src/event/_decimal.ts";

describe("decimal", () => {
  it("writes every number as String does", () => {
    fc.assert(
      fc.property(
        fc.oneof(
          fc.integer({ min: 0, max: 999_999_999 }),
          fc.integer({ min: -1000, max: 2_000_000 }),
          fc.constantFrom(0, -0, 999, 1000, 999_999, 1_000_000, 1_000_001, 999_999_999, 1e9, 2 ** 53, -1),
          fc.double(),
        ),
        (n) => assert.equal(decimal(n), String(n)),
      ),
      { numRuns: 5000 },
    );
  });

  it("writes the integers around each table boundary as String does", () => {
    for (const edge of [0, 1e3, 1e6, 1e9]) {
      for (let n = edge - 2; n <= edge + 2; n++) assert.equal(decimal(n), String(n));
    }
  });
});
