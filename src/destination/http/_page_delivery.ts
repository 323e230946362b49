// Browsers: deliver when the page is hidden or left, within the page's
// keepalive allowance, through the runtime boundary's page functions.
import { concatBytes } from "../../_bytes.ts";
import { onPageEvent, type PageEvent, sendBeacon } from "../../runtime/page.ts";
import { attempt, newKey } from "./_attempt.ts";
import { chunkLines } from "./_batcher.ts";
import { Parcel } from "./_ledger.ts";
import { type Piece, rawPiece } from "./_pieces.ts";
import { sliceSpans } from "./_spans.ts";
import { decideRetry } from "./_retry_policy.ts";
import type { Scheduler } from "./_scheduler.ts";
import { type KeepaliveQuota, monotonicNow, type SendContext, sendPiece } from "./_send.ts";
import { settleResponse } from "./_settle.ts";

/** Body size of one keepalive request; browsers refuse more than 64 KiB in flight. */
export const UNLOAD_CHUNK_BYTES = 60 * 1024;
/**
 * Keepalive bodies (and beacons) a page may have in flight at once: Chromium's
 * limit, shared by every keepalive request and `sendBeacon` of the page, and
 * released only once a response is over.
 */
const KEEPALIVE_QUOTA_BYTES = 64 * 1024;
const UNLOAD_MAX_IN_FLIGHT = 9;

/** What the page delivery drives. */
export interface PageDeliveryTargets {
  readonly ctx: SendContext;
  readonly scheduler: Scheduler;
  /** Seals the open batch. */
  readonly seal: () => void;
}

/**
 * Listens to the page's lifecycle (from the first line on) and, while the
 * page is hidden, sends every batch at once with keepalive; when it is left,
 * sends everything buffered in keepalive requests of at most 60 KiB, then
 * beacons for what the browser refuses.
 */
export class PageDelivery implements KeepaliveQuota {
  readonly #targets: PageDeliveryTargets;
  /** The page is hidden: lines go out at once, with keepalive. */
  hidden = false;
  /** Keepalive body bytes in flight (released once each response is over). */
  #keepaliveBytes = 0;
  #stop: (() => void) | undefined;

  constructor(targets: PageDeliveryTargets) {
    this.#targets = targets;
  }

  /** Starts listening (once). */
  listen(): void {
    this.#stop ??= onPageEvent((event) => this.#on(event));
  }

  /** Stops listening. */
  unlisten(): void {
    this.#stop?.();
  }

  reserve(bytes: number, full: boolean): boolean {
    const fits = (this.hidden || full) && bytes <= UNLOAD_CHUNK_BYTES &&
      this.#keepaliveBytes + bytes <= KEEPALIVE_QUOTA_BYTES;
    if (fits) this.#keepaliveBytes += bytes;
    return fits;
  }

  release(bytes: number): void {
    this.#keepaliveBytes -= bytes;
  }

  #on(event: PageEvent): void {
    const { scheduler, seal } = this.#targets;
    if (event === "left") {
      this.hidden = true;
      this.#sendNow();
    } else if (event === "hidden") {
      // The page is still alive: send everything through the usual path, which
      // now uses keepalive requests, one after the other within the page's
      // allowance, and retries what the browser refuses.
      this.hidden = true;
      seal();
      scheduler.dispatch();
    } else this.hidden = false;
  }

  /**
   * The page is being left: sends every buffered line at once, in keepalive
   * requests of at most 60 KiB (at most 9), then `sendBeacon` for what the
   * browser refuses. Batches in flight in plain requests (which leaving the
   * page cancels) are sent again, under the same Idempotency-Key when they fit
   * one request; batches in keepalive requests are left alone (they outlive
   * the page, and sending them again would use up the allowance).
   */
  #sendNow(): void {
    const { scheduler, seal } = this.#targets;
    seal();
    const batches = scheduler.takeReady();
    const group = new Parcel();
    const jobs: { lines: Piece; key: string; counted: boolean }[] = [];
    for (const batch of scheduler.sending()) {
      if (batch.keepalive) continue;
      const copies = unloadPieces([...batch.pieces]);
      copies.forEach((lines, i) =>
        jobs.push({ lines, key: copies.length === 1 ? batch.key : `${batch.key}.${i}`, counted: false })
      );
    }
    const pieces: Piece[] = [];
    for (const batch of batches) {
      pieces.push(...batch.pieces);
      batch.pieces.clear();
      batch.successor = group;
    }
    for (const lines of unloadPieces(pieces)) {
      jobs.push({ lines, key: newKey(), counted: true });
      group.pieces.add(lines); // all of them before any send can settle one
    }
    if (jobs.length === 0) return;
    let slots = UNLOAD_MAX_IN_FLIGHT;
    const sends = jobs.map(({ lines, key, counted }) => {
      const fits = slots > 0 && this.#keepaliveBytes + lines.payload.length <= KEEPALIVE_QUOTA_BYTES;
      if (fits) slots--;
      return this.#sendKeepalive(group, lines, key, fits, counted);
    });
    scheduler.track(group, Promise.all(sends).then(() => {}));
  }

  /**
   * One request of the unload path: a keepalive fetch when `useFetch`, else
   * (or when the browser refuses it) a beacon. `counted` is false for a copy
   * of a batch whose own request still reports it.
   */
  async #sendKeepalive(group: Parcel, lines: Piece, key: string, useFetch: boolean, counted: boolean): Promise<void> {
    const { ctx } = this.#targets;
    const body = lines.payload;
    if (useFetch) {
      this.#keepaliveBytes += body.length;
      ctx.counters.requests++;
      if (counted) group.attempts++;
      const result = await attempt({
        fetch: ctx.fetch,
        url: ctx.url,
        headers: ctx.headers,
        body,
        gzipped: false,
        key,
        timeoutMs: ctx.timeoutMs,
        signal: group.controller.signal,
        keepalive: true,
        redactor: ctx.redactor,
        readOk: counted ? ctx.encoder.responseBytes(lines.events) : 0,
      });
      this.#keepaliveBytes -= body.length;
      if (group.controller.signal.aborted) return; // given up on: reported already
      // Keepalive refused (the allowance is used up) or the request failed: try a beacon.
      if (result.ok || result.status !== undefined) {
        if (!counted) return;
        if (result.ok) {
          const again = settleResponse(ctx, group, lines, result.status, result.read, 1);
          // Still running, and the response says some lines must go again: as usual.
          if (again !== undefined) {
            const next = again.piece === lines ? key : newKey();
            await sendPiece(ctx, group, again.piece, { key: next, deadline: monotonicNow() + ctx.retry.deadlineMs });
          }
          return;
        }
        const decision = decideRetry(ctx.retry, result, {
          events: lines.events,
          attempt: 1,
          msLeft: ctx.retry.deadlineMs,
          now: Date.now(),
          random: 0.5,
        });
        if (decision.action !== "give-up") {
          // Still running (the page stayed, or came back from the back/forward cache): retry as usual.
          await sendPiece(ctx, group, lines, { key, deadline: monotonicNow() + ctx.retry.deadlineMs });
        } else {
          const more = { status: result.status, body: result.excerpt };
          ctx.ledger.giveUp(group, lines, ctx.ledger.error(decision.reason, lines.events, 1, more));
        }
        return;
      }
    }
    let sent = false;
    let cause: unknown;
    try {
      sent = sendBeacon(ctx.url, body, ctx.headers.get("content-type") ?? "application/x-ndjson");
    } catch (error) {
      cause = error;
    }
    if (!counted) return;
    if (sent) ctx.ledger.deliver(group, lines);
    else if (!this.hidden) {
      // Refused, but the page is still running (shown again): the usual path retries.
      await sendPiece(ctx, group, lines, { key, deadline: monotonicNow() + ctx.retry.deadlineMs });
    } else {
      ctx.ledger.giveUp(group, lines, ctx.ledger.error("sendBeacon refused the request", lines.events, 1, { cause }));
    }
  }
}

/**
 * Pieces of at most 60 KiB each: NDJSON lines re-chunked; a format's pieces
 * as they are (built within that limit when the batch was sealed).
 */
function unloadPieces(pieces: readonly Piece[]): Piece[] {
  if (pieces.some((piece) => piece.items !== undefined)) return [...pieces];
  if (pieces.length === 0) return [];
  const spans = pieces.flatMap((p) => p.spans);
  let skip = 0;
  return chunkLines(concatBytes(pieces.map((p) => p.body)), UNLOAD_CHUNK_BYTES).map((lines) => {
    const piece = rawPiece(lines, sliceSpans(spans, skip, lines.events));
    skip += lines.events;
    return piece;
  });
}
