import { describe, it } from "node:test";
import assert from "node:assert/strict";
import { AuditLossError } from "../../mod.ts";
import { LossLedger, lossMessages } from "../../src/sink/_losses.ts";
import { tick } from "../_helpers/events.ts";

/** A ledger whose reports are collected, on a clock the test moves. */
function ledger(interval: number) {
  const reports: AuditLossError[] = [];
  const clock = { now: 1_000_000 };
  const losses = new LossLedger(interval, lossMessages(16), (error) => reports.push(error), () => clock.now);
  return { losses, reports, clock };
}

describe("AuditLossError", () => {
  it("carries the reason, the counts, the time range and the cause", () => {
    const cause = new Error("EPIPE");
    const error = new AuditLossError("Lost 3 events", {
      reason: "destination",
      events: 3,
      total: 10,
      firstAt: 1,
      lastAt: 2,
      cause,
    });
    assert.ok(error instanceof Error);
    assert.equal(error.name, "AuditLossError");
    assert.deepEqual([error.reason, error.events, error.total, error.firstAt, error.lastAt], [
      "destination",
      3,
      10,
      1,
      2,
    ]);
    assert.equal(error.cause, cause);
    assert.equal(
      "cause" in new AuditLossError("x", { reason: "closed", events: 1, total: 1, firstAt: 0, lastAt: 0 }),
      false,
    );
  });
});

describe("LossLedger", () => {
  it("reports the first loss of a reason in a microtask, with every loss of the same burst", async () => {
    const { losses, reports, clock } = ledger(60_000);
    for (let i = 0; i < 500; i++) losses.add("queue_full", 1);
    assert.equal(reports.length, 0, "never from within the call that lost the event");
    await Promise.resolve();
    assert.equal(reports.length, 1);
    const [report] = reports;
    assert.deepEqual([report!.reason, report!.events, report!.total], ["queue_full", 500, 500]);
    assert.deepEqual([report!.firstAt, report!.lastAt], [clock.now, clock.now]);
    assert.match(report!.message, /^Dropped 500 events \(500 so far\): the queue of 16 events was full/);
    assert.match(
      report!.message,
      /backpressure "block" with await sink\.record\(event\), a larger capacity or maxQueueBytes, or a fallback/,
    );
  });

  it("holds later losses until the interval passed, then reports them on the next loss", async () => {
    const { losses, reports, clock } = ledger(10_000);
    losses.add("destination", 2, new Error("first"));
    await tick();
    const firstHeld = (clock.now += 4_000);
    losses.add("destination", 3, new Error("second"));
    await tick();
    clock.now += 5_000;
    losses.add("destination", 1, new Error("third"));
    await tick();
    assert.equal(reports.length, 1, "within the interval: held");
    const last = (clock.now += 1_000);
    losses.add("destination", 1, new Error("fourth"));
    await tick();
    assert.equal(reports.length, 2);
    const report = reports[1]!;
    assert.deepEqual([report.events, report.total, report.firstAt, report.lastAt], [5, 7, firstHeld, last]);
    assert.equal((report.cause as Error).message, "second", "the first cause since the last report");
    assert.equal(report.message, "Lost 5 events (7 so far): the destination failed: second");
  });

  it("reports everything held at reportAll, one report per reason, adding up to each total", async () => {
    const { losses, reports } = ledger(60_000);
    losses.add("queue_full", 1);
    losses.add("closed", 2);
    await Promise.resolve();
    losses.add("queue_full", 4);
    losses.add("closed", 1);
    losses.add("deadline", 7, new DOMException("signal timed out", "TimeoutError"));
    losses.reportAll();
    losses.reportAll(); // nothing left: nothing more
    const byReason = new Map<string, AuditLossError[]>();
    for (const report of reports) byReason.set(report.reason, [...(byReason.get(report.reason) ?? []), report]);
    assert.deepEqual([...byReason.keys()].sort(), ["closed", "deadline", "queue_full"]);
    for (const [reason, list] of byReason) {
      const sum = list.reduce((n, report) => n + report.events, 0);
      assert.equal(sum, list.at(-1)!.total, `${reason}: the reports add up to the total`);
    }
    const deadline = byReason.get("deadline")![0]!;
    assert.match(
      deadline.message,
      /^Lost 7 events \(7 so far\): still undelivered when the flush\(\) or close\(\) deadline passed \(TimeoutError: signal timed out\)$/,
    );
  });

  it("reports every loss at once with an interval of 0", async () => {
    const { losses, reports } = ledger(0);
    for (let round = 0; round < 3; round++) {
      losses.add("closed", 1);
      await tick();
    }
    assert.deepEqual(reports.map((report) => report.total), [1, 2, 3]);
    assert.match(reports[0]!.message, /^Dropped 1 event \(1 so far\) recorded after close\(\)/);
  });

  it("folds a counter's single losses into one report per turn, stamped with the first loss's time", async () => {
    const { losses, reports, clock } = ledger(60_000);
    const drops = losses.counter("queue_full");
    const first = clock.now;
    drops.count();
    clock.now += 5;
    for (let i = 0; i < 99; i++) drops.count();
    assert.equal(reports.length, 0);
    await tick();
    assert.deepEqual(reports.map((r) => [r.events, r.total, r.firstAt]), [[100, 100, first]]);
    drops.count();
    losses.reportAll(); // folds what is pending, at once
    assert.deepEqual(reports.map((r) => r.total), [100, 101]);
  });
});
