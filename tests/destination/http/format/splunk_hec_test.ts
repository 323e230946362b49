import { describe, it } from "node:test";
import assert from "node:assert/strict";
import { encodeCallEvent, splunkHec } from "../../../../mod.ts";
import { mkEvent } from "../../../_helpers/events.ts";
import { bodyOf } from "./_format_helpers.ts";

describe("splunkHec", () => {
  it("splunkHec writes one event object per line: time in epoch seconds, the line as event", () => {
    const a = encodeCallEvent({ ...mkEvent({ kind: "success" }, "a"), ts: "2026-05-29T00:00:00.123456789+00:00" });
    const b = encodeCallEvent({ ...mkEvent({ kind: "success" }, "b"), ts: "not a time" });
    const body = bodyOf(splunkHec({ index: "audit", host: "h1" }), [a, b]);
    const [first, second] = body.split("\n").map((text) => JSON.parse(text));
    assert.deepEqual(first, {
      time: 1780012800.123456,
      host: "h1",
      source: "atd-audit",
      sourcetype: "_json",
      index: "audit",
      event: a,
    });
    assert.deepEqual(second, { host: "h1", source: "atd-audit", sourcetype: "_json", index: "audit", event: b });
    assert.match(body, /^\{"time":1780012800\.123456,/, "microseconds, written as digits");
  });

  it("splunkHec takes its own metadata and request limit", () => {
    const line = encodeCallEvent(mkEvent());
    assert.deepEqual(Object.keys(JSON.parse(bodyOf(splunkHec({ source: "s", sourcetype: "t" }), [line]))), [
      "time",
      "source",
      "sourcetype",
      "event",
    ]);
    assert.equal(splunkHec().maxBodyBytes, 1_000_000);
    assert.equal(splunkHec({ maxBodyBytes: 800_000_000 }).maxBodyBytes, 800_000_000);
    assert.throws(() => splunkHec({ maxBodyBytes: 0 }), RangeError);
    assert.throws(() => splunkHec({ index: 1 as unknown as string }), TypeError);
  });
});
