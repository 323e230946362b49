// A 2xx response, item by item: what the format's verdict says became of
// each line of a piece, reported to the ledger, and what must go again.
import type { OkBody } from "./_attempt.ts";
import { concatBytes } from "../../_bytes.ts";
import { auditEvents, type Parcel, type Settlement } from "./_ledger.ts";
import type { Piece, PreparedLine } from "./_pieces.ts";
import { sliceSpans, spansOf } from "./_spans.ts";
import type { SendContext } from "./_send.ts";
import type { ItemResult } from "./format/fetch_body_format.ts";
import { HttpDeliveryError } from "./http_delivery_error.ts";

/** Longest reason from a response kept in a message. */
const MAX_REASON_CHARS = 300;

/** Lines of a piece to send again, and why (for the retry policy and the error if time runs out). */
export interface Again {
  /** The piece to send: the same one (the response could not be read) or its lines to retry. */
  readonly piece: Piece;
  readonly what: string;
}

/**
 * Reports what a 2xx response `read` says about `piece` (all of it delivered
 * unless the format's verdict says otherwise) and returns what must be sent
 * again, if anything. Nothing is reported when the piece was given up on
 * while the response was read.
 */
export function settleResponse(
  ctx: SendContext,
  parcel: Parcel,
  piece: Piece,
  status: number,
  read: OkBody | undefined,
  attempts: number,
): Again | undefined {
  if (!parcel.pieces.has(piece)) return undefined;
  if (read === undefined || piece.items === undefined) {
    ctx.ledger.deliver(parcel, piece);
    return undefined;
  }
  const verdict = ctx.encoder.verdict({ status, ...read }, piece);
  const events = piece.events;
  switch (verdict.kind) {
    case "all":
      ctx.ledger.deliver(parcel, piece);
      if (verdict.warning !== undefined) {
        const message = `Cannot read the per-item results of ${auditEvents(events)} delivered to ${ctx.where} ` +
          `(HTTP ${status}): ${reason(ctx, verdict.warning)}; they count as delivered, as the status says`;
        ctx.ledger.warn(new HttpDeliveryError(message, { status, events, attempts }));
      }
      return undefined;
    case "rejected": {
      const rejected = Math.min(verdict.count, events);
      const claim = verdict.count > events ? ` (it claimed ${verdict.count})` : "";
      const text = verdict.message === undefined ? undefined : reason(ctx, verdict.message);
      const what = `the endpoint rejected ${rejected} of ${events} (partial success, HTTP ${status})${claim}` +
        (text === undefined ? "" : `: ${text}`);
      const error = ctx.ledger.error(what, rejected, attempts, { status, body: text });
      // The response does not say which: the last ones count as rejected.
      const delivered = sliceSpans(piece.spans, 0, events - rejected);
      const spans = sliceSpans(piece.spans, events - rejected, rejected);
      ctx.ledger.settle(parcel, piece, { delivered, rejected: { spans, events: rejected, error } });
      return undefined;
    }
    case "retry":
      return { piece, what: `HTTP ${status} whose results could not be read (${reason(ctx, verdict.reason)})` };
    case "items":
      return byItem(ctx, parcel, piece, piece.items, verdict.results, status, attempts);
  }
}

function byItem(
  ctx: SendContext,
  parcel: Parcel,
  piece: Piece,
  items: readonly PreparedLine[],
  results: readonly ItemResult[],
  status: number,
  attempts: number,
): Again | undefined {
  const delivered: PreparedLine[] = [];
  const failed: PreparedLine[] = [];
  const again: PreparedLine[] = [];
  let firstFailed: ItemResult | undefined;
  let firstAgain: ItemResult | undefined;
  results.forEach((result, i) => {
    if (result.outcome === "failed") {
      failed.push(items[i]!);
      firstFailed ??= result;
    } else if (result.outcome === "retry") {
      again.push(items[i]!);
      firstAgain ??= result;
    } else delivered.push(items[i]!);
  });
  if (again.length === items.length) {
    // Every item must go again: the same request, under the same Idempotency-Key.
    return { piece, what: `HTTP ${status}, but ${itemsWhat(ctx, again.length, items.length, firstAgain!)}` };
  }
  let why = firstFailed === undefined ? "" : itemsWhat(ctx, failed.length, items.length, firstFailed);
  let rest: Piece | undefined;
  if (again.length > 0) {
    const built = ctx.encoder.pieceOf(again);
    if (typeof built === "string") {
      // A custom format that cannot build the body of the lines to retry: they cannot go again.
      why = [why, `${again.length} more to send again, but ${reason(ctx, built)}`].filter((s) => s !== "").join("; ");
      failed.push(...again);
      again.length = 0;
    } else rest = built;
  }
  const settlement: Settlement = { delivered: spansOf(delivered.map((p) => p.pos)) };
  if (rest !== undefined) settlement.rest = rest;
  if (failed.length > 0) {
    settlement.failed = {
      body: concatBytes(failed.map((p) => p.line)),
      spans: spansOf(failed.map((p) => p.pos)),
      events: failed.length,
      error: ctx.ledger.error(`HTTP ${status}, but ${why}`, failed.length, attempts, {
        status: firstFailed?.status ?? status,
        body: firstFailed?.reason === undefined ? undefined : reason(ctx, firstFailed.reason),
      }),
    };
  }
  ctx.ledger.settle(parcel, piece, settlement);
  if (rest === undefined || firstAgain === undefined) return undefined;
  return { piece: rest, what: `HTTP ${status}, but ${itemsWhat(ctx, again.length, items.length, firstAgain)}` };
}

/** "3 of 512 items answered HTTP 429 (es_rejected_execution_exception: …)". */
function itemsWhat(ctx: SendContext, n: number, of: number, first: ItemResult): string {
  const status = first.status === undefined ? "" : ` HTTP ${first.status}`;
  const why = first.reason === undefined ? "" : ` (${reason(ctx, first.reason)})`;
  return `${n} of ${of} items ${first.outcome === "retry" ? "must be sent again" : "were refused"}:${status}${why}`;
}

/** Text from a response or a format, scrubbed of secrets and cut short. */
function reason(ctx: SendContext, text: string): string {
  return ctx.redactor.text(text, MAX_REASON_CHARS);
}
