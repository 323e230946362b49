import { describe, it } from "node:test";
import assert from "node:assert/strict";
import { datadogLogs, encodeCallEvent } from "../../../../mod.ts";
import { mkEvent } from "../../../_helpers/events.ts";
import { bodyOf, itemOf } from "./_format_helpers.ts";

describe("datadogLogs", () => {
  it("datadogLogs writes a JSON array: the line as message, ts in epoch milliseconds, status by outcome", () => {
    const a = encodeCallEvent({ ...mkEvent({ kind: "success" }, "a"), ts: "2026-05-29T00:00:00.123+00:00" });
    const b = encodeCallEvent(mkEvent({ kind: "execution_failed", code: "E", retryable: false }, "b"));
    const c = encodeCallEvent({ ...mkEvent({ kind: "capability_denied", missing: [] }, "c"), ts: "?" });
    const body = JSON.parse(bodyOf(datadogLogs({ tags: "env:test" }), [a, b, c]));
    assert.deepEqual(body[0], {
      ddsource: "atd-audit",
      service: "atd-audit",
      ddtags: "env:test",
      status: "info",
      timestamp: 1780012800123,
      message: a,
    });
    assert.deepEqual([body[1].status, body[1].message], ["error", b]);
    assert.deepEqual([body[2].status, "timestamp" in body[2]], ["warn", false]);
  });

  it("datadogLogs follows Datadog's limits: 1,000 entries, 5 MB a request, 1 MB a log", () => {
    const format = datadogLogs();
    assert.deepEqual([format.maxEvents, format.maxBodyBytes, format.maxItemBytes], [1000, 5_000_000, 1_000_000]);
    const big = JSON.stringify({ call_id: "x", tool_id: "y".repeat(1_000_000) });
    assert.equal(typeof itemOf(format, big), "object", "the limit applies to the entry, checked by the destination");
    assert.throws(() => datadogLogs({ hostname: 1 as unknown as string }), TypeError);
  });
});
