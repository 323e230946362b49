// What to do after an attempt: a pure function of the outcome, the attempt
// number and the time left, tested without a server.

/** Statuses worth another try, unless the body format says otherwise: the server may accept the same batch later. */
export const RETRYABLE: ReadonlySet<number> = new Set([408, 429, 500, 502, 503, 504]);
/** Each retry waits this much longer than the one before. */
export const BACKOFF_FACTOR = 1.5;
/** Waits vary by ±20% so that many clients do not retry in step. */
export const JITTER = 0.2;

/** The retry settings of a destination. */
export interface RetryPolicy {
  /** First retry delay; each further one is 1.5× longer, ±20% jitter. */
  readonly delayMs: number;
  /** Longest backoff between two attempts (a `Retry-After` may ask for longer). */
  readonly backoffLimitMs: number;
  /** Budget of a batch across all its attempts and waits. */
  readonly deadlineMs: number;
  /** The error statuses retried (the body format's). @default {RETRYABLE} */
  readonly retryable?: ReadonlySet<number>;
}

/** How an attempt ended, as far as the policy cares. */
export interface AttemptOutcome {
  /** The response's status; `undefined` when there was none (network error, timeout). */
  readonly status: number | undefined;
  /** A redirect, which is never followed (a browser's `opaqueredirect` has status 0). */
  readonly redirect?: boolean;
  /** The response's `Retry-After` header, if any. */
  readonly retryAfter?: string | null;
  /** What went wrong when there was no response (already free of secrets). */
  readonly error?: string;
  /**
   * What went wrong, said instead of the status (a 2xx whose items must go
   * again, a 2xx that could not be read): it is retried like a 503.
   */
  readonly what?: string;
}

/** Where the batch stands. */
export interface RetryState {
  /** Events in the batch (a 413 splits only a batch of two or more). */
  readonly events: number;
  /** Attempts made so far, this one included (1 after the first). */
  readonly attempt: number;
  /** Milliseconds left of the batch's deadline. */
  readonly msLeft: number;
  /** The current time (epoch ms), against which an HTTP-date `Retry-After` is read. */
  readonly now: number;
  /** A number in [0, 1) that places the wait within its jitter. */
  readonly random: number;
}

/** The policy's answer. */
export type RetryDecision =
  | { readonly action: "retry"; readonly delayMs: number }
  | { readonly action: "split" }
  | { readonly action: "give-up"; readonly reason: string };

/**
 * What to do after a failed attempt (a 2xx never gets here): retry after a
 * wait, split the batch in halves (413), or give up, with the reason.
 *
 * Network errors, timeouts and the policy's statuses (408, 429, 500, 502,
 * 503 and 504 unless the body format names others) are retried,
 * after the backoff or the `Retry-After`, whichever is longer (so that a
 * server answering `Retry-After: 0` cannot make the client spin), as long as
 * the wait ends before the deadline. A 413 splits a batch of two or more.
 * Redirects and every other status are final.
 */
export function decideRetry(policy: RetryPolicy, outcome: AttemptOutcome, state: RetryState): RetryDecision {
  const { status } = outcome;
  if (outcome.redirect === true) {
    return { action: "give-up", reason: status ? `HTTP ${status} redirect (not followed)` : "redirect (not followed)" };
  }
  if (status === 413 && state.events > 1) return { action: "split" };
  const what = outcome.what ??
    (status === undefined ? `network error (${outcome.error ?? "no response"})` : `HTTP ${status}`);
  if (status !== undefined && outcome.what === undefined && !(policy.retryable ?? RETRYABLE).has(status)) {
    return { action: "give-up", reason: what };
  }
  const asked = status === undefined ? undefined : parseRetryAfter(outcome.retryAfter, state.now);
  if (asked !== undefined && asked >= state.msLeft) {
    const seconds = Math.ceil(asked / 1000);
    return {
      action: "give-up",
      reason: `${what}; the server asked to wait ${seconds} s, beyond the ${policy.deadlineMs} ms deadline`,
    };
  }
  const delayMs = Math.max(asked ?? 0, backoffMs(policy, state.attempt, state.random));
  if (delayMs >= state.msLeft) {
    return { action: "give-up", reason: `${what}; no time left to retry within the ${policy.deadlineMs} ms deadline` };
  }
  return { action: "retry", delayMs };
}

/**
 * The backoff after attempt `attempt` (1-based): `delayMs × 1.5^(attempt-1)`,
 * at most `backoffLimitMs`, then ±20% by `random`.
 */
export function backoffMs(policy: RetryPolicy, attempt: number, random: number): number {
  const ms = Math.min(policy.delayMs * BACKOFF_FACTOR ** (attempt - 1), policy.backoffLimitMs);
  return Math.round(ms * (1 - JITTER + 2 * JITTER * random));
}

/** `Retry-After` as an IMF-fixdate, the HTTP date form senders must generate (RFC 9110 §5.6.7). */
const IMF_FIXDATE = /^(?:Mon|Tue|Wed|Thu|Fri|Sat|Sun), \d{2} [A-Z][a-z]{2} \d{4} \d{2}:\d{2}:\d{2} GMT$/;
/** The obsolete RFC 850 form, which recipients must still accept: `Sunday, 06-Nov-94 08:49:37 GMT`. */
const RFC_850 =
  /^(?:Monday|Tuesday|Wednesday|Thursday|Friday|Saturday|Sunday), (\d{2})-([A-Z][a-z]{2})-(\d{2}) (\d{2}:\d{2}:\d{2}) GMT$/;
/** The obsolete asctime form, which recipients must still accept (in GMT, though it says not): `Sun Nov  6 08:49:37 1994`. */
const ASCTIME = /^(?:Mon|Tue|Wed|Thu|Fri|Sat|Sun) ([A-Z][a-z]{2}) ([ \d]\d) (\d{2}:\d{2}:\d{2}) (\d{4})$/;

/**
 * Milliseconds a `Retry-After` value asks for (0 for a date in the past):
 * delta-seconds or an HTTP date in any of its three forms (RFC 9110 §5.6.7:
 * IMF-fixdate, and the obsolete RFC 850 and asctime forms, read as GMT),
 * each matched whole (`Date.parse` alone takes junk such as "1.5" or
 * "x 1"); `undefined` for anything else, which is ignored.
 */
export function parseRetryAfter(value: string | null | undefined, now: number): number | undefined {
  if (typeof value !== "string") return undefined;
  const text = value.trim();
  if (/^\d{1,32}$/.test(text)) return Number(text) * 1000;
  const at = Date.parse(imfOf(text, now) ?? "");
  return Number.isNaN(at) ? undefined : Math.max(0, at - now);
}

/** `text` as an IMF-fixdate (the day of the week left out), if it is an HTTP date in one of its three forms. */
function imfOf(text: string, now: number): string | undefined {
  if (IMF_FIXDATE.test(text)) return text;
  const rfc850 = RFC_850.exec(text);
  if (rfc850 !== null) {
    const [, day, month, yy, time] = rfc850;
    // A two-digit year more than 50 years ahead is the most recent past year with those digits (RFC 9110).
    const thisYear = new Date(now).getUTCFullYear();
    let year = thisYear - (thisYear % 100) + Number(yy);
    if (year > thisYear + 50) year -= 100;
    return `${day} ${month} ${year} ${time} GMT`;
  }
  const asctime = ASCTIME.exec(text);
  if (asctime !== null) {
    const [, month, day, time, year] = asctime;
    return `${day!.trim().padStart(2, "0")} ${month} ${year} ${time} GMT`;
  }
  return undefined;
}
