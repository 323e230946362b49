// The retry policy as a table of cases: no server, no clock, no randomness.
import { describe, it } from "node:test";
import assert from "node:assert/strict";
import {
  type AttemptOutcome,
  backoffMs,
  decideRetry,
  parseRetryAfter,
  type RetryDecision,
  type RetryPolicy,
  type RetryState,
} from "../../../src/destination/http/_retry_policy.ts";

const POLICY: RetryPolicy = { delayMs: 1000, backoffLimitMs: 30_000, deadlineMs: 30_000 };
const NOW = Date.UTC(2026, 11, 2, 12, 0, 0);
/** Mid-jitter: the backoff exactly. */
const STATE: RetryState = { events: 10, attempt: 1, msLeft: 29_000, now: NOW, random: 0.5 };

interface Case {
  readonly name: string;
  readonly outcome: AttemptOutcome;
  readonly state?: Partial<RetryState>;
  readonly policy?: Partial<RetryPolicy>;
  readonly want: RetryDecision;
}

const imf = (ms: number): string => new Date(NOW + ms).toUTCString();

const CASES: Case[] = [
  { name: "503 → backoff", outcome: { status: 503 }, want: { action: "retry", delayMs: 1000 } },
  { name: "408 → retry", outcome: { status: 408 }, want: { action: "retry", delayMs: 1000 } },
  { name: "429 → retry", outcome: { status: 429 }, want: { action: "retry", delayMs: 1000 } },
  { name: "500, 502, 504 → retry", outcome: { status: 502 }, want: { action: "retry", delayMs: 1000 } },
  {
    name: "network error → retry",
    outcome: { status: undefined, error: "TypeError: fetch failed" },
    want: { action: "retry", delayMs: 1000 },
  },
  {
    name: "third attempt → 1.5² × delay",
    outcome: { status: 503 },
    state: { attempt: 3 },
    want: { action: "retry", delayMs: 2250 },
  },
  {
    name: "backoff capped at backoffLimitMs",
    outcome: { status: 503 },
    state: { attempt: 40, msLeft: 1e9 },
    policy: { deadlineMs: 1e9 },
    want: { action: "retry", delayMs: 30_000 },
  },
  {
    name: "jitter low end −20%",
    outcome: { status: 503 },
    state: { random: 0 },
    want: { action: "retry", delayMs: 800 },
  },
  {
    name: "jitter high end +20%",
    outcome: { status: 503 },
    state: { random: 0.999999 },
    want: { action: "retry", delayMs: 1200 },
  },
  {
    name: "Retry-After seconds lengthens the wait",
    outcome: { status: 429, retryAfter: "5" },
    want: { action: "retry", delayMs: 5000 },
  },
  {
    name: "Retry-After 0 does not shorten the backoff",
    outcome: { status: 503, retryAfter: "0" },
    want: { action: "retry", delayMs: 1000 },
  },
  {
    name: "Retry-After date lengthens the wait",
    outcome: { status: 503, retryAfter: imf(7000) },
    want: { action: "retry", delayMs: 7000 },
  },
  {
    name: "Retry-After date in the past: backoff",
    outcome: { status: 503, retryAfter: imf(-60_000) },
    want: { action: "retry", delayMs: 1000 },
  },
  {
    name: "Retry-After junk is ignored",
    outcome: { status: 503, retryAfter: "soon, please" },
    want: { action: "retry", delayMs: 1000 },
  },
  {
    name: "Retry-After on a final status is ignored",
    outcome: { status: 400, retryAfter: "1" },
    want: { action: "give-up", reason: "HTTP 400" },
  },
  {
    name: "Retry-After beyond the deadline: give up at once, saying so",
    outcome: { status: 429, retryAfter: "999999" },
    want: {
      action: "give-up",
      reason: "HTTP 429; the server asked to wait 999999 s, beyond the 30000 ms deadline",
    },
  },
  {
    name: "Retry-After exactly what is left: give up",
    outcome: { status: 503, retryAfter: "29" },
    want: { action: "give-up", reason: "HTTP 503; the server asked to wait 29 s, beyond the 30000 ms deadline" },
  },
  {
    name: "Retry-After date beyond the deadline",
    outcome: { status: 503, retryAfter: imf(3_600_000) },
    want: { action: "give-up", reason: "HTTP 503; the server asked to wait 3600 s, beyond the 30000 ms deadline" },
  },
  {
    name: "backoff past the deadline: give up",
    outcome: { status: 503 },
    state: { msLeft: 999 },
    want: { action: "give-up", reason: "HTTP 503; no time left to retry within the 30000 ms deadline" },
  },
  {
    name: "network error past the deadline names the error",
    outcome: { status: undefined, error: "TimeoutError: Request timed out after 10000 ms" },
    state: { msLeft: 10 },
    want: {
      action: "give-up",
      reason:
        "network error (TimeoutError: Request timed out after 10000 ms); no time left to retry within the 30000 ms deadline",
    },
  },
  { name: "413 with many lines → split", outcome: { status: 413 }, want: { action: "split" } },
  {
    name: "413 with one line → give up",
    outcome: { status: 413 },
    state: { events: 1 },
    want: { action: "give-up", reason: "HTTP 413" },
  },
  { name: "400 → give up", outcome: { status: 400 }, want: { action: "give-up", reason: "HTTP 400" } },
  { name: "401 → give up", outcome: { status: 401 }, want: { action: "give-up", reason: "HTTP 401" } },
  { name: "501 → give up", outcome: { status: 501 }, want: { action: "give-up", reason: "HTTP 501" } },
  {
    name: "redirect → give up, not followed",
    outcome: { status: 302, redirect: true, retryAfter: "1" },
    want: { action: "give-up", reason: "HTTP 302 redirect (not followed)" },
  },
  {
    name: "browser's opaque redirect (status 0)",
    outcome: { status: 0, redirect: true },
    want: { action: "give-up", reason: "redirect (not followed)" },
  },
];

describe("decideRetry", () => {
  for (const c of CASES) {
    it(`decideRetry: ${c.name}`, () => {
      const got = decideRetry({ ...POLICY, ...c.policy }, c.outcome, { ...STATE, ...c.state });
      assert.deepEqual(got, c.want);
    });
  }

  it("decideRetry never waits less than the backoff, whatever Retry-After says", () => {
    for (const value of ["0", "-1", "+3", "1.5", "0x10", " 2 ", "", "1e3", "９"]) {
      for (let attempt = 1; attempt <= 6; attempt++) {
        const got = decideRetry(POLICY, { status: 503, retryAfter: value }, { ...STATE, attempt, msLeft: 1e9 });
        assert.equal(got.action, "retry", value);
        assert.ok(
          got.action === "retry" && got.delayMs >= backoffMs(POLICY, attempt, STATE.random),
          `${value}: ${JSON.stringify(got)}`,
        );
      }
    }
  });
});

describe("parseRetryAfter", () => {
  it("parseRetryAfter reads delta-seconds and whole HTTP dates only", () => {
    assert.equal(parseRetryAfter("120", NOW), 120_000);
    assert.equal(parseRetryAfter(" 3 ", NOW), 3000);
    assert.equal(parseRetryAfter(imf(4000), NOW), 4000);
    assert.equal(parseRetryAfter(imf(-4000), NOW), 0);
    assert.equal(parseRetryAfter("99999999999999999999", NOW), 99999999999999999999 * 1000);
    for (
      const junk of [
        null,
        undefined,
        "",
        "1.5",
        "-5",
        "+5",
        "x 1",
        "1 2",
        new Date(NOW).toISOString(),
        "1".repeat(40),
        "Wednesday, 02-Dec-26 12:00:04", // RFC 850 without its zone
        "Wed Dec  2 12:00:04 2026 GMT", // asctime with one
        "Wed, 2 Dec 2026 12:00:04 GMT", // a one-digit day
      ]
    ) {
      assert.equal(parseRetryAfter(junk, NOW), undefined, String(junk));
    }
  });
});

describe("parseRetryAfter's obsolete HTTP dates", () => {
  it("parseRetryAfter reads the RFC 850 and asctime forms too, as GMT (RFC 9110 says recipients must)", () => {
    // NOW is Wednesday, 2 December 2026, 12:00:00 GMT.
    assert.equal(parseRetryAfter("Wednesday, 02-Dec-26 12:00:04 GMT", NOW), 4000);
    assert.equal(parseRetryAfter("Wed Dec  2 12:00:04 2026", NOW), 4000);
    assert.equal(parseRetryAfter("Thu Dec 10 12:00:00 2026", NOW), 8 * 86_400_000);
    // Two-digit years: 94 is 1994 (2094 would be more than 50 years ahead), so it is past.
    assert.equal(parseRetryAfter("Sunday, 06-Nov-94 08:49:37 GMT", NOW), 0);
    assert.equal(parseRetryAfter("Sun Nov  6 08:49:37 1994", NOW), 0);
  });
});

describe("backoffMs", () => {
  it("backoffMs grows by 1.5× up to the limit, within ±20%", () => {
    const policy: RetryPolicy = { delayMs: 100, backoffLimitMs: 500, deadlineMs: 10_000 };
    assert.deepEqual([1, 2, 3, 4, 5, 6].map((a) => backoffMs(policy, a, 0.5)), [100, 150, 225, 338, 500, 500]);
    assert.equal(backoffMs(policy, 1, 0), 80);
    assert.equal(backoffMs(policy, 1, 1), 120);
  });
});
