// Sends one piece of a parcel until it is acknowledged, split or given up
// on: attempts, the retry policy's answers, and the waits between them.
import { attempt, type Bytes, describe, gzip, newKey } from "./_attempt.ts";
import { halves } from "./_batcher.ts";
import type { Ledger, Parcel, Piece } from "./_ledger.ts";
import type { Redactor } from "./_redact.ts";
import { decideRetry, type RetryPolicy } from "./_retry_policy.ts";

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
  /** Epoch ms after which no retry starts (413 halves share their batch's). */
  readonly deadline: number;
  /** The gzip body, if it was started when the batch was sealed. */
  readonly compressed?: Promise<Bytes | undefined> | undefined;
  /** Sealed because it was full: in browsers it goes with keepalive, to outlive the page. */
  readonly full?: boolean;
}

/**
 * Sends `piece` of `parcel` until a 2xx, a final answer, or the deadline,
 * and reports its fate to the ledger. Returns early, reporting nothing, once
 * the parcel is given up on (its controller aborts). Never throws.
 */
export async function sendPiece(ctx: SendContext, parcel: Parcel, piece: Piece, options: SendOptions): Promise<void> {
  const signal = parcel.controller.signal;
  const gzipped = ctx.gzip ? await (options.compressed ?? gzip(piece.body)) : undefined;
  const payload = gzipped ?? piece.body;
  const full = options.full ?? false;
  let attempts = 0;
  for (;;) {
    if (signal.aborted || !parcel.pieces.has(piece)) return;
    if (attempts === 0 && Date.now() >= options.deadline) {
      // A 413 half shares its batch's deadline, which may have passed.
      const what = `its ${ctx.retry.deadlineMs} ms deadline passed`;
      ctx.ledger.giveUp(parcel, piece, ctx.ledger.error(what, piece.events, 0, {}));
      return;
    }
    attempts++;
    parcel.attempts++;
    ctx.counters.requests++;
    if (attempts > 1) ctx.counters.retried++;
    const keepalive = ctx.keepalive?.reserve(payload.length, full) ?? false;
    parcel.keepalive = keepalive;
    let result;
    try {
      result = await attempt({
        fetch: ctx.fetch,
        url: ctx.url,
        headers: ctx.headers,
        body: payload,
        gzipped: gzipped !== undefined,
        key: options.key,
        timeoutMs: Math.max(1, Math.min(ctx.timeoutMs, options.deadline - Date.now())),
        signal,
        keepalive,
        redactor: ctx.redactor,
      });
    } finally {
      // The response was read or cancelled (or failed): the browser has released its allowance.
      if (keepalive) ctx.keepalive?.release(payload.length);
      parcel.keepalive = false;
    }
    if (result.ok) {
      ctx.ledger.deliver(parcel, piece);
      return;
    }
    if (signal.aborted) return;
    const now = Date.now();
    const decision = decideRetry(ctx.retry, {
      status: result.status,
      ...(result.status === undefined
        ? { error: describe(result.error) }
        : { redirect: result.redirect, retryAfter: result.retryAfter }),
    }, { events: piece.events, attempt: attempts, msLeft: options.deadline - now, now, random: Math.random() });
    if (decision.action === "split") {
      ctx.counters.split++;
      const [first, second] = halves(piece.body, piece.events);
      parcel.pieces.delete(piece);
      parcel.pieces.add(first).add(second);
      // The halves share what is left of this batch's deadline.
      await sendPiece(ctx, parcel, first, { key: newKey(), deadline: options.deadline, full });
      await sendPiece(ctx, parcel, second, { key: newKey(), deadline: options.deadline, full });
      return;
    }
    if (decision.action === "give-up") {
      const more = result.status === undefined
        ? { cause: result.error }
        : { status: result.status, body: result.excerpt };
      ctx.ledger.giveUp(parcel, piece, ctx.ledger.error(decision.reason, piece.events, attempts, more));
      return;
    }
    await sleep(decision.delayMs, signal);
  }
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
