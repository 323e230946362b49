import { describe, it } from "node:test";
import assert from "node:assert/strict";
import { encodeCallEvent, lokiPush } from "../../../../mod.ts";
import { mkEvent } from "../../../_helpers/events.ts";
import { bodyOf, itemOf } from "./_format_helpers.ts";

describe("lokiPush", () => {
  it("lokiPush groups lines into one stream per label set, each line unchanged with its ts in nanoseconds", () => {
    const a = encodeCallEvent({ ...mkEvent({ kind: "success" }, "a"), ts: "2026-05-29T00:00:00.5+00:00" });
    const b = encodeCallEvent({ ...mkEvent({ kind: "tool_not_found" }, "b"), ts: "2026-05-29T00:00:01Z" });
    const c = encodeCallEvent({ ...mkEvent({ kind: "success" }, "c"), ts: "2026-05-29T00:00:02Z", tier: "cold" });
    const d = encodeCallEvent({ ...mkEvent({ kind: "success" }, "d"), ts: "2026-05-29T00:00:03Z" });
    const body = JSON.parse(bodyOf(lokiPush(), [a, b, c, d]));
    assert.deepEqual(body, {
      streams: [
        {
          stream: { service_name: "atd-audit", tier: "warm", outcome: "success" },
          values: [["1780012800500000000", a], ["1780012803000000000", d]],
        },
        {
          stream: { service_name: "atd-audit", tier: "warm", outcome: "tool_not_found" },
          values: [["1780012801000000000", b]],
        },
        {
          stream: { service_name: "atd-audit", tier: "cold", outcome: "success" },
          values: [["1780012802000000000", c]],
        },
      ],
    });
  });

  it("lokiPush takes only static labels and the fields it allows; never call_id", () => {
    const line = encodeCallEvent(mkEvent({ kind: "success" }, "x"));
    const only = JSON.parse(bodyOf(lokiPush({ labels: { job: "audit", env: "prod" }, labelFields: [] }), [line]));
    assert.deepEqual(only.streams[0].stream, { job: "audit", env: "prod" });
    assert.throws(() => lokiPush({ labelFields: ["call_id" as "tier"] }), /labelFields/);
    assert.throws(() => lokiPush({ labelFields: ["tier", "tier"] }), /labelFields/);
    assert.throws(() => lokiPush({ labels: { "bad-name": "x" } }), /label name/);
    assert.throws(() => lokiPush({ labels: { __name__: "x" } }), /label name/);
    assert.throws(() => lokiPush({ labels: { tier: "x" } }), /also in labelFields/);
    assert.throws(() => lokiPush({ labels: {} }), /at least one label/);
    assert.throws(() => lokiPush({ labels: { a: "" } }), /1 to 2048/);
    assert.throws(() => lokiPush({ maxLineBytes: 0 }), RangeError);
  });

  it("lokiPush refuses a line over maxLineBytes or a label value over Loki's limit, and skips a missing one", () => {
    const line = encodeCallEvent(mkEvent({ kind: "success" }, "x"));
    assert.match(String(itemOf(lokiPush({ maxLineBytes: 100 }), line)), /100-byte line limit/);
    assert.equal(typeof itemOf(lokiPush({ maxLineBytes: line.length }), line), "object");
    assert.match(String(itemOf(lokiPush(), JSON.stringify({ tier: "t".repeat(2049) }))), /tier is longer/);
    const bare = itemOf(lokiPush(), JSON.stringify({ call_id: "x", tier: 5 }));
    assert.deepEqual(typeof bare === "object" && JSON.parse(bare.group), { service_name: "atd-audit" });
  });
});
