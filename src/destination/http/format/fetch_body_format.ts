// The contract between fetchDestination and a body format: lines in, one
// request body out, and what a 2xx response says about each line.

/** `ts` of a line as a Unix time, when it is an RFC 3339 timestamp at or after 1970. */
export interface LineTime {
  /** Nanoseconds since the Unix epoch, as decimal digits (exact: built from the digits written, not a float). */
  readonly unixNano: string;
  /** Milliseconds since the Unix epoch, truncated. */
  readonly unixMs: number;
  /** Whole seconds since the Unix epoch. */
  readonly unixSeconds: number;
  /** The fraction of a second as written (0 to 9 digits, `""` when none). */
  readonly fraction: string;
}

/** One line, as a format sees it. */
export interface FormatLine {
  /** The line exactly as written, without its `"\n"`: what a format embeds unchanged. */
  readonly text: string;
  /** The line parsed: a JSON object whose fields may be missing or of any type (check before use). */
  readonly event: Readonly<Record<string, unknown>>;
  /** `ts` as a Unix time; `undefined` when it is not an RFC 3339 timestamp between 1970 and 2554. */
  readonly time: LineTime | undefined;
}

/** What one line becomes in a request body. */
export interface FormatItem {
  /** The item's text in the body. */
  readonly text: string;
  /** Items with the same group go together (Loki: a stream's labels); `""` when the format has no groups. */
  readonly group: string;
  /** The item's id as the API reports it in per-item results (`_bulk`: the `_id`); `""` when none. */
  readonly id: string;
}

/** A 2xx response, read as far as the format asked. */
export interface FormatResponse {
  /** The HTTP status (200 to 299). */
  readonly status: number;
  /** The `content-type` header, if any. */
  readonly contentType: string | null;
  /** The body as UTF-8 text (invalid bytes replaced), at most `responseBytes(items)` bytes of it. */
  readonly body: string;
  /** `false` when the body was longer than the format's cap, broke off, or outlasted the request's time limit. */
  readonly complete: boolean;
}

/** What became of one item, by the response. */
export interface ItemResult {
  /** `"delivered"` (stored, or already there), `"retry"` (send it again) or `"failed"` (final). */
  readonly outcome: "delivered" | "retry" | "failed";
  /** The item's own status, if the API gives one (`_bulk`: 201, 409, 429…). */
  readonly status?: number;
  /** Why it was not delivered, as the API says it (no secrets: scrubbed like an error body). */
  readonly reason?: string;
}

/**
 * What a 2xx response says about the request's items:
 *
 * - `all`: every item was delivered (`warning`, if any, reaches the sink's `onError`);
 * - `rejected`: `count` items were refused, without saying which (OTLP partial success): they count as failed and are
 *   not retried; the rest count as delivered;
 * - `items`: one result per item, in request order;
 * - `retry`: the response cannot be read; the same request goes again (only for APIs where that cannot duplicate).
 */
export type FormatVerdict =
  | { readonly kind: "all"; readonly warning?: string }
  | { readonly kind: "rejected"; readonly count: number; readonly message?: string }
  | { readonly kind: "items"; readonly results: readonly ItemResult[] }
  | { readonly kind: "retry"; readonly reason: string };

/**
 * A body format of {@linkcode fetchDestination}: how a batch of whole JSON
 * lines becomes one request body, and what a 2xx response says about each
 * line. The built-in ones are {@linkcode ndjson} (the default, byte-exact),
 * {@linkcode otlpLogs}, {@linkcode lokiPush}, {@linkcode elasticsearchBulk},
 * {@linkcode splunkHec} and {@linkcode datadogLogs}; any object with these
 * members is one too. The destination trusts none of it: an `item`, `body` or
 * `verdict` that throws, a verdict of the wrong shape or with too many
 * results, and a count out of range are each handled as the docs of
 * `fetchDestination` say.
 *
 * @example A custom format: a JSON array of the lines' objects
 * ```ts
 * import type { FetchBodyFormat } from "@atd/audit";
 * const jsonArray: FetchBodyFormat = {
 *   name: "json-array",
 *   contentType: "application/json",
 *   maxEvents: 1000,
 *   maxBodyBytes: 5_000_000,
 *   maxItemBytes: 1_000_000,
 *   responseBytes: () => 0,
 *   item: (line) => ({ text: line.text, group: "", id: "" }),
 *   body: (items) => `[${items.map((item) => item.text).join(",")}]`,
 *   verdict: () => ({ kind: "all" }),
 * };
 * console.log(jsonArray.body([{ text: "{}", group: "", id: "" }]));
 * ```
 */
export interface FetchBodyFormat {
  /** A short name for errors, such as `"otlp-logs"`. */
  readonly name: string;
  /** The request's `content-type` (a `content-type` in the destination's `headers` wins). */
  readonly contentType: string;
  /** Lines per request the API takes at most (`Infinity`: no limit); `batch.maxEvents` may not be larger. */
  readonly maxEvents: number;
  /** Bytes of an uncompressed request body the API takes at most; a larger batch is split before it goes. */
  readonly maxBodyBytes: number;
  /** Bytes one item may take; a line whose item is larger is not sent (rerouted to the fallback, or failed). */
  readonly maxItemBytes: number;
  /**
   * How many bytes of a 2xx response's body to read for `items` items; 0
   * cancels it unread (the status alone decides).
   */
  responseBytes(items: number): number;
  /**
   * The item for one line, or a sentence saying why the line cannot go in
   * this format (it is rerouted to the fallback, or failed).
   */
  item(line: FormatLine): FormatItem | string;
  /**
   * The request body for `items` (one or more, in order): a string, or its
   * parts in order, which the destination encodes one after the other into
   * one buffer (cheaper than joining a large body first).
   */
  body(items: readonly FormatItem[]): string | readonly string[];
  /** What a 2xx response says about `items` (only called when `responseBytes` is above 0). */
  verdict(response: FormatResponse, items: readonly FormatItem[]): FormatVerdict;
  /**
   * The error statuses the API asks clients to retry (network errors and
   * timeouts always are; a 413 splits the batch).
   * @default {[408, 429, 500, 502, 503, 504]}
   */
  readonly retryable?: readonly number[];
}
