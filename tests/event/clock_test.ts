import { describe, it } from "node:test";
import assert from "node:assert/strict";
import fc from "fast-check";
import { startClock, startMillis, timestampAt, WallMillis } from "../../src/event/_clock.ts";
import { nowRfc3339 } from "../../mod.ts";

/**
 * Drives `clock` as startClock does, at monotonic times `times`, with a wall
 * clock that reads `wallAt(t)`; returns the millisecond it gives at each time
 * and how many times it read the wall clock.
 */
function drive(clock: WallMillis, times: number[], wallAt: (t: number) => number): { ms: number[]; reads: number } {
  let reads = 0;
  const ms = times.map((t) => {
    if (!clock.holds(t)) {
      clock.read(t, wallAt(t));
      reads++;
    }
    return clock.ms;
  });
  return { ms, reads };
}

/** Increasing monotonic times: mostly steps of microseconds (calls in a burst), now and then of up to seconds. */
const monotonicTimes = fc.array(
  fc.oneof(
    { arbitrary: fc.double({ min: 0.001, max: 0.05, noNaN: true }), weight: 20 },
    { arbitrary: fc.double({ min: 0.05, max: 3000, noNaN: true }), weight: 1 },
  ),
  { minLength: 1, maxLength: 300 },
).map((steps) => steps.reduce<number[]>((times, step) => [...times, (times.at(-1) ?? 1000) + step], []));

describe("WallMillis", () => {
  it("gives exactly the wall clock's millisecond at every call, when both clocks run at the same rate", () => {
    fc.assert(
      fc.property(monotonicTimes, fc.double({ min: 0, max: 1e12, noNaN: true }), (times, offset) => {
        const wallAt = (t: number): number => Math.floor(offset + t);
        const { ms } = drive(new WallMillis(), times, wallAt);
        assert.deepEqual(ms, times.map(wallAt));
      }),
      { numRuns: 500 },
    );
  });

  it("reads the wall clock about once a millisecond, not once a call, when calls come every 10 µs", () => {
    const times = Array.from({ length: 10_000 }, (_, i) => 5 + i * 0.01); // 100 ms of calls
    const wallAt = (t: number): number => Math.floor(1_700_000_000_000.37 + t);
    const { ms, reads } = drive(new WallMillis(), times, wallAt);
    assert.deepEqual(ms, times.map(wallAt));
    // Each millisecond: one read that sees the tick, then reads in the last 0.2 ms before the next one (20 calls).
    assert.ok(reads < 100 * 25, `${reads} reads`);
    assert.ok(reads > 100, `${reads} reads`);
  });

  it("opens no window on the first reading, after idle time, or when the wall clock is set", () => {
    const clock = new WallMillis();
    clock.read(10, 5000);
    assert.equal(clock.holds(10.001), false, "first reading: when the tick came is unknown");
    clock.read(10.5, 5000);
    clock.read(10.6, 5001); // the tick came after 10.5: 5001 lasts until 11.5 at least
    assert.equal(clock.ms, 5001);
    assert.equal(clock.holds(11.2), true);
    assert.equal(clock.holds(11.4), false, "trusted only up to the margin before 11.5");
    clock.read(11.4, 5001);
    clock.read(11.45, 5000); // set back
    assert.equal(clock.ms, 5000);
    assert.equal(clock.holds(11.46), false);
    clock.read(11.5, 5000);
    clock.read(500, 5490); // idle, then a jump
    assert.equal(clock.ms, 5490);
    assert.equal(clock.holds(500.001), false);
  });

  it("sees a step of the wall clock within a millisecond of monotonic time", () => {
    fc.assert(
      fc.property(monotonicTimes, fc.integer({ min: 0, max: 299 }), fc.integer({ min: -5000, max: 5000 }), (
        times,
        at,
        step,
      ) => {
        const stepAt = times[Math.min(at, times.length - 1)]!;
        const wallAt = (t: number): number => Math.floor(1_000_000.5 + t + (t >= stepAt ? step : 0));
        const { ms } = drive(new WallMillis(), times, wallAt);
        times.forEach((t, i) => {
          if (t < stepAt || t >= stepAt + 1) assert.equal(ms[i], wallAt(t), `at ${t}, step at ${stepAt}`);
        });
      }),
    );
  });
});

describe("startClock", () => {
  it("returns performance.now() and gives the wall time of that instant, as Date.now() and nowRfc3339 do", () => {
    for (let i = 0; i < 5_000; i++) {
      const before = Date.now();
      const mono0 = performance.now();
      const start = startClock();
      const mono1 = performance.now();
      const after = Date.now();
      assert.ok(mono0 <= start && start <= mono1);
      const ms = startMillis();
      assert.ok(before <= ms && ms <= after, `${ms} within ${before}..${after}`);
      assert.equal(Date.parse(timestampAt(ms)), ms);
    }
    assert.ok(Date.parse(nowRfc3339()) >= startMillis());
  });
});

describe("timestampAt", () => {
  it("formats like nowRfc3339: milliseconds only when not zero, and a +00:00 offset", () => {
    assert.equal(timestampAt(Date.UTC(2026, 4, 29, 10, 4, 5, 123)), "2026-05-29T10:04:05.123+00:00");
    assert.equal(timestampAt(Date.UTC(2026, 4, 29, 10, 4, 5, 0)), "2026-05-29T10:04:05+00:00");
    assert.equal(timestampAt(Date.UTC(2026, 4, 29, 10, 4, 5, 7)), "2026-05-29T10:04:05.007+00:00");
  });

  it("gives what toISOString gives, with the offset written out and .000 left out, for any millisecond", () => {
    const iso = (ms: number): string => new Date(ms).toISOString().replace(".000Z", "Z").replace("Z", "+00:00");
    fc.assert(
      fc.property(fc.array(fc.integer({ min: -1e12, max: 253402300799999 - 1000 }), { maxLength: 20 }), (times) => {
        // Neighbours too: the same second, the next millisecond, a whole second.
        for (const ms of times.flatMap((t) => [t, t + 1, t - (t % 1000), t + 1000])) {
          assert.equal(timestampAt(ms), iso(ms), `${ms}`);
        }
      }),
    );
  });
});
