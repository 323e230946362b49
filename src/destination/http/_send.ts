// Sends one piece of a parcel until it is acknowledged, split or given up
// on: attempts, the retry policy's answers, and the waits between them.
import { attempt, type Bytes, describe, gzip, newKey } from "./_attempt.ts";
import type { Ledger, Parcel } from "./_ledger.ts";
import type { BodyEncoder, Piece } from "./_pieces.ts";
import type { Redactor } from "./_redact.ts";
import { type AttemptOutcome, decideRetry, type RetryPolicy } from "./_retry_policy.ts";
import { settleResponse } from "./_settle.ts";

/** Request counters, in requests and batches. */
export interface SendCounters {
  requests: number;
  retried: number;
  split: number;
}

/** The browser's keepalive allowance, when the destination delivers on page unload. */
export interface KeepaliveQuota {
  /** Takes `bytes` of the allowance for a request of a `full` batch; false when it should not go with keepalive. */
  reserve(bytes: number, full: boolean): boolean;
  /** Gives `bytes` back once the request is over. */
  release(bytes: number): void;
}

/** What every send of a destination shares. */
export interface SendContext {
  readonly fetch: typeof fetch;
  readonly url: string;
  /** The endpoint's origin and path: what errors name. */
  readonly where: string;
  /** The body format, guarded. */
  readonly encoder: BodyEncoder;
  readonly headers: Headers;
  readonly gzip: boolean;
  readonly timeoutMs: number;
  readonly retry: RetryPolicy;
  readonly redactor: Redactor;
  readonly ledger: Ledger;
  readonly counters: SendCounters;
  readonly keepalive: KeepaliveQuota | undefined;
}

/** How to send a piece. */
export interface SendOptions {
  readonly key: string;
  /** The {@linkcode monotonicNow} after which no retry starts (413 halves share their batch's). */
  readonly deadline: number;
  /** Sealed because it was full: in browsers it goes with keepalive, to outlive the page. */
  readonly full?: boolean;
  /** The smallest body a 413 refused, shared by the halves of a piece (created by the first call). */
  readonly tooLarge?: TooLarge;
}

/**
 * The smallest body an endpoint refused with 413: its bytes on the wire,
 * uncompressed, and its lines. A body at least as large by all three is
 * refused too (whichever the server limits), so it is split (or given up, a
 * single line) without being sent: a server that refuses every line costs
 * one request per halving, not two per line.
 */
export interface TooLarge {
  wire: number;
  payload: number;
  events: number;
}

/** No 413 seen yet. */
function noneTooLarge(): TooLarge {
  const none = Number.POSITIVE_INFINITY;
  return { wire: none, payload: none, events: none };
}

/** Whether a body of `piece`, `wire` bytes on the wire, is at least as large as one a 413 refused. */
function refusedBefore(tooLarge: TooLarge, piece: Piece, wire: number): boolean {
  return wire >= tooLarge.wire && piece.payload.length >= tooLarge.payload && piece.events >= tooLarge.events;
}

/**
 * Sends `piece` of `parcel` until a 2xx, a final answer, or the deadline,
 * and reports its fate to the ledger; when a 2xx says some of its lines must
 * go again, sends those (under a new Idempotency-Key) the same way. Returns
 * early, reporting nothing, once the parcel is given up on (its controller
 * aborts). Never throws.
 */
export async function sendPiece(ctx: SendContext, parcel: Parcel, piece: Piece, options: SendOptions): Promise<void> {
  const signal = parcel.controller.signal;
  const full = options.full ?? false;
  let current = piece;
  let key = options.key;
  let wire = await wireOf(ctx, current);
  const tooLarge = options.tooLarge ?? noneTooLarge();
  let attempts = 0;
  // The last attempt that had its full time limit, and what to say of it: an attempt that the
  // deadline cut short (timed out, or its 2xx body unread to the end) tells less than the failure before it.
  let earlier: { outcome: AttemptOutcome; more: Parameters<typeof ctx.ledger.error>[3] } | undefined;
  for (;;) {
    if (signal.aborted || !parcel.pieces.has(current)) return;
    if (attempts === 0 && monotonicNow() >= options.deadline) {
      // A 413 half shares its batch's deadline, which may have passed.
      const what = `its ${ctx.retry.deadlineMs} ms deadline passed`;
      ctx.ledger.giveUp(parcel, current, ctx.ledger.error(what, current.events, 0, {}));
      return;
    }
    if (attempts === 0 && refusedBefore(tooLarge, current, wire.body.length)) {
      if (current.events > 1) return splitPiece(ctx, parcel, current, { ...options, tooLarge });
      const what = `HTTP 413 (not sent: a body of ${tooLarge.wire} bytes was refused, this one is ${wire.body.length})`;
      ctx.ledger.giveUp(parcel, current, ctx.ledger.error(what, current.events, 0, { status: 413 }));
      return;
    }
    attempts++;
    parcel.attempts++;
    ctx.counters.requests++;
    if (attempts > 1) ctx.counters.retried++;
    const keepalive = ctx.keepalive?.reserve(wire.body.length, full) ?? false;
    parcel.keepalive = keepalive;
    const timeoutMs = Math.max(1, Math.min(ctx.timeoutMs, Math.ceil(options.deadline - monotonicNow())));
    let result;
    try {
      result = await attempt({
        fetch: ctx.fetch,
        url: ctx.url,
        headers: ctx.headers,
        body: wire.body,
        gzipped: wire.gzipped,
        key,
        timeoutMs,
        signal,
        keepalive,
        redactor: ctx.redactor,
        readOk: ctx.encoder.responseBytes(current.events),
      });
    } finally {
      // The response was read or cancelled (or failed): the browser has released its allowance.
      if (keepalive) ctx.keepalive?.release(wire.body.length);
      parcel.keepalive = false;
    }
    let outcome: AttemptOutcome;
    if (result.ok) {
      const again = settleResponse(ctx, parcel, current, result.status, result.read, attempts);
      if (again === undefined) return;
      outcome = { status: result.status, what: again.what };
      if (again.piece !== current) {
        // Other lines, another body: another Idempotency-Key.
        current = again.piece;
        key = newKey();
        wire = await wireOf(ctx, current);
      }
    } else {
      if (signal.aborted) return;
      if (result.status === 413 && wire.body.length < tooLarge.wire) {
        Object.assign(tooLarge, { wire: wire.body.length, payload: current.payload.length, events: current.events });
      }
      outcome = result.status === undefined
        ? { status: undefined, error: describe(result.error) }
        : { status: result.status, redirect: result.redirect, retryAfter: result.retryAfter };
    }
    const more = result.ok
      ? { status: result.status }
      : result.status === undefined
      ? { cause: result.error }
      : { status: result.status, body: result.excerpt };
    // Cut short by the deadline: it timed out, or its 2xx body was not read to the end, within a shortened limit.
    const shortened = timeoutMs < ctx.timeoutMs;
    const cutShort = shortened &&
      (result.ok ? result.read?.complete === false : result.status === undefined && isTimeout(result.error));
    const told = cutShort && earlier !== undefined ? earlier : { outcome, more };
    if (!cutShort) earlier = { outcome, more };
    const decision = decideRetry(ctx.retry, told.outcome, {
      events: current.events,
      attempt: attempts,
      msLeft: options.deadline - monotonicNow(),
      now: Date.now(), // what an HTTP-date Retry-After is read against
      random: Math.random(),
    });
    if (decision.action === "split") return splitPiece(ctx, parcel, current, { ...options, tooLarge }, attempts);
    if (decision.action === "give-up") {
      ctx.ledger.giveUp(parcel, current, ctx.ledger.error(decision.reason, current.events, attempts, told.more));
      return;
    }
    await sleep(decision.delayMs, signal);
  }
}

/** Replaces `piece` of `parcel` by its halves and sends them in turn, within what is left of its deadline. */
async function splitPiece(
  ctx: SendContext,
  parcel: Parcel,
  piece: Piece,
  options: SendOptions,
  attempts = 0,
): Promise<void> {
  ctx.counters.split++;
  const halves = ctx.encoder.split(piece);
  if (typeof halves === "string") {
    ctx.ledger.giveUp(parcel, piece, ctx.ledger.error(halves, piece.events, attempts, {}));
    return;
  }
  const [first, second] = halves;
  parcel.pieces.delete(piece);
  parcel.pieces.add(first).add(second);
  // The halves share what is left of this batch's deadline, and what a 413 taught about the endpoint's limit.
  await sendPiece(ctx, parcel, first, { ...options, key: newKey() });
  await sendPiece(ctx, parcel, second, { ...options, key: newKey() });
}

/**
 * Milliseconds on a clock that only moves forward, at its own pace: what
 * deadlines are measured on, so that a step of the wall clock (NTP, a
 * machine resumed) neither gives up a batch at once nor retries it for hours.
 */
export function monotonicNow(): number {
  return performance.now();
}

/** The bytes a piece goes as: its body, gzipped when asked (and when compression worked). */
async function wireOf(ctx: SendContext, piece: Piece): Promise<{ body: Bytes; gzipped: boolean }> {
  if (!ctx.gzip) return { body: piece.payload, gzipped: false };
  const compressed = await (piece.compressed ?? gzip(piece.payload));
  return compressed === undefined ? { body: piece.payload, gzipped: false } : { body: compressed, gzipped: true };
}

/** Resolves after `ms`, or at once when `signal` aborts. */
function sleep(ms: number, signal: AbortSignal): Promise<void> {
  return new Promise((resolve) => {
    if (signal.aborted) return resolve();
    const done = (): void => {
      clearTimeout(timer);
      signal.removeEventListener("abort", done);
      resolve();
    };
    const timer = setTimeout(done, ms);
    signal.addEventListener("abort", done);
  });
}

/** Whether an attempt's error is its time limit running out. */
function isTimeout(error: unknown): boolean {
  try {
    return (error as { name?: unknown } | null)?.name === "TimeoutError";
  } catch {
    return false;
  }
}
