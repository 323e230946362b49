import { describe, it } from "node:test";
import assert from "node:assert/strict";
import { fetchDestination } from "../../../src/destination/fetch_destination.ts";

describe("fetchDestination options", () => {
  it("fetchDestination rejects bad options at construction", () => {
    assert.throws(() => fetchDestination("not a url"), TypeError);
    assert.throws(() => fetchDestination("http://x/", { batch: { maxEvents: 0 } }), RangeError);
    assert.throws(() => fetchDestination("http://x/", { maxInFlight: 17 }), RangeError);
    assert.throws(() => fetchDestination("http://x/", { timeoutMs: 1.5 }), RangeError);
    assert.throws(() => fetchDestination("http://x/", { fallback: {} as never }), TypeError);
  });
});
