import { describe, it } from "node:test";
import assert from "node:assert/strict";
import { HttpDeliveryError } from "../../../mod.ts";

describe("HttpDeliveryError", () => {
  it("HttpDeliveryError carries status, a 500-character excerpt, counts and a cause", () => {
    const cause = new Error("socket hang up");
    const error = new HttpDeliveryError("Cannot deliver 3 audit events", {
      status: 503,
      body: "b".repeat(800),
      events: 3,
      attempts: 4,
      cause,
    });
    assert.ok(error instanceof Error);
    assert.equal(error.name, "HttpDeliveryError");
    assert.equal(error.message, "Cannot deliver 3 audit events");
    assert.deepEqual([error.status, error.body, error.events, error.attempts], [503, "b".repeat(500), 3, 4]);
    assert.equal(error.cause, cause);
  });

  it("HttpDeliveryError leaves status, body and cause unset when not given", () => {
    const error = new HttpDeliveryError("x", { events: 1, attempts: 0 });
    assert.equal(error.status, undefined);
    assert.equal(error.body, undefined);
    assert.equal("cause" in error, false);
  });
});
