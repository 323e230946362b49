import { describe, it } from "node:test";
import assert from "node:assert/strict";
import { type CallEvent, createCallEvent, type Outcome } from "../../mod.ts";
import { readCallEvents } from "../../src/read/read_call_events.ts";
import { summarizeCallEvents } from "../../src/read/summarize_call_events.ts";
import { fixture } from "../_helpers/streams.ts";

function event(i: number, fields: Partial<Parameters<typeof createCallEvent>[0]> = {}): CallEvent {
  return createCallEvent({
    ts: `2026-05-29T10:00:${String(i % 60).padStart(2, "0")}+00:00`,
    call_id: `call-${i}`,
    tool_id: "fs.read",
    duration_ms: i,
    outcome: { kind: "success" },
    tier: "warm",
    ...fields,
  });
}

describe("summarizeCallEvents", () => {
  it("summarizeCallEvents counts by outcome, tool, caller and tier, and lists denied capabilities", async () => {
    const denied: Outcome = { kind: "capability_denied", missing: ["net:egress", "fs:write"] };
    const events = [
      event(1, { caller_id: "a" }),
      event(2, { caller_id: "b", tool_id: "http.fetch", outcome: denied, tier: "cold" }),
      event(3, {
        caller_id: "b",
        tool_id: "http.fetch",
        outcome: { kind: "capability_denied", missing: ["net:egress"] },
      }),
      event(4, { dry_run: true, outcome: { kind: "rate_limited", retry_after_ms: null } }),
    ];
    const summary = await summarizeCallEvents(events);
    assert.equal(summary.total, 4);
    assert.deepEqual(summary.byOutcome, {
      success: 1,
      execution_failed: 0,
      invalid_args: 0,
      capability_denied: 2,
      rate_limited: 1,
      tool_not_found: 0,
    });
    assert.deepEqual(Object.entries(summary.byTool), [["fs.read", 2], ["http.fetch", 2]]);
    assert.deepEqual(Object.entries(summary.byCaller), [["b", 2], ["a", 1]]);
    assert.equal(summary.withoutCaller, 1);
    assert.deepEqual(summary.byTier, { warm: 3, cold: 1 });
    assert.deepEqual(Object.entries(summary.deniedCapabilities), [["net:egress", 2], ["fs:write", 1]]);
    assert.equal(summary.dryRuns, 1);
    assert.equal(summary.invalidLines, 0);
  });

  it("summarizeCallEvents computes nearest-rank duration percentiles", async () => {
    const events = Array.from({ length: 100 }, (_, i) => event(i, { duration_ms: 100 - i }));
    const summary = await summarizeCallEvents(events);
    assert.deepEqual(summary.durationMs, { p50: 50, p95: 95, p99: 99, max: 100 });
  });

  it("summarizeCallEvents finds the earliest and latest timestamps across offsets", async () => {
    const summary = await summarizeCallEvents([
      event(1, { ts: "2026-05-29T10:00:00+02:00" }), // 08:00Z
      event(2, { ts: "2026-05-29T09:00:00+00:00" }),
      event(3, { ts: "2026-05-29T07:59:59Z" }),
    ]);
    assert.equal(summary.firstTs, "2026-05-29T07:59:59Z");
    assert.equal(summary.lastTs, "2026-05-29T09:00:00+00:00");
  });

  it("summarizeCallEvents summarizes nothing as zeros and nulls", async () => {
    const summary = await summarizeCallEvents([]);
    assert.deepEqual([summary.total, summary.durationMs, summary.firstTs, summary.lastTs], [0, null, null, null]);
  });

  it("summarizeCallEvents takes the invalid line count from the reader and the option", async () => {
    const summary = await summarizeCallEvents(readCallEvents(new Blob([fixture("invalid.jsonl")])), {
      invalidLines: () => 3,
    });
    assert.equal(summary.total, 2);
    assert.equal(summary.invalidLines, 4 + 3);
  });
});
