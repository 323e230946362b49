import type { AuditDestination, DeliveryReport } from "./audit_destination.ts";
import { FetchDelivery } from "./http/_fetch_delivery.ts";
import type { FetchBodyFormat } from "./http/format/fetch_body_format.ts";
import type { HttpDeliveryError } from "./http/http_delivery_error.ts";

export { HttpDeliveryError, type HttpDeliveryErrorOptions } from "./http/http_delivery_error.ts";
export type {
  FetchBodyFormat,
  FormatItem,
  FormatLine,
  FormatResponse,
  FormatVerdict,
  ItemResult,
  LineTime,
} from "./http/format/fetch_body_format.ts";
export { ndjson } from "./http/format/ndjson.ts";
export { otlpLogs, type OtlpLogsOptions } from "./http/format/otlp_logs.ts";
export { type LokiLabelField, lokiPush, type LokiPushOptions } from "./http/format/loki_push.ts";
export { elasticsearchBulk, type ElasticsearchBulkOptions } from "./http/format/elasticsearch_bulk.ts";
export { splunkHec, type SplunkHecOptions } from "./http/format/splunk_hec.ts";
export { datadogLogs, type DatadogLogsOptions } from "./http/format/datadog_logs.ts";

/** When a batch goes out: {@linkcode FetchDestinationOptions.batch}. */
export interface FetchBatchOptions {
  /** Lines per request at most; not more than the format allows (Datadog: 1,000). @default {512} */
  readonly maxEvents?: number;
  /**
   * Uncompressed bytes of lines per request at most; a single line longer
   * than this is sent alone. At most 60 KiB with `unloadDelivery`; not more
   * than the format's request limit (Datadog: 5 MB). A batch whose body in
   * the format is over that limit goes as several requests.
   * @default {1_048_576}
   */
  readonly maxBytes?: number;
  /**
   * A batch goes out at the latest this long after its first line arrived.
   * The timer only runs while lines are waiting. @default {1000}
   */
  readonly maxDelayMs?: number;
}

/** How failed requests are retried: {@linkcode FetchDestinationOptions.retry}. */
export interface FetchRetryOptions {
  /**
   * Total time budget of one batch across all its attempts and waits (the
   * halves of a batch split after a 413 included); a retry that would start
   * after it is not made. @default {30_000}
   */
  readonly deadlineMs?: number;
  /**
   * First retry delay, at least 1 ms and shorter than `deadlineMs`; each
   * further one is 1.5× longer (at most `backoffLimitMs`), ±20% jitter. A
   * `Retry-After` header (delta-seconds or an HTTP date) can lengthen a
   * wait, never shorten it: a server answering `Retry-After: 0` cannot make
   * the destination retry in a tight loop. A `Retry-After` that ends past the
   * deadline gives the batch up at once; any other value is ignored.
   * @default {1000}
   */
  readonly delayMs?: number;
  /** Longest backoff between two attempts. @default {30_000} */
  readonly backoffLimitMs?: number;
}

/** Options for {@linkcode fetchDestination}. */
export interface FetchDestinationOptions {
  /**
   * The request body's format: {@linkcode ndjson} (the lines as they are),
   * {@linkcode otlpLogs}, {@linkcode lokiPush}, {@linkcode elasticsearchBulk},
   * {@linkcode splunkHec}, {@linkcode datadogLogs}, or a
   * {@linkcode FetchBodyFormat} of your own. It sets the `content-type` (unless
   * `headers` has one) and the limits per request, and reads 2xx responses
   * for per-item results. @default {ndjson()}
   */
  readonly format?: FetchBodyFormat;
  /** When a batch goes out. @default {{ maxEvents: 512, maxBytes: 1_048_576, maxDelayMs: 1000 }} */
  readonly batch?: FetchBatchOptions;
  /** How failed requests are retried. @default {{ deadlineMs: 30_000, delayMs: 1000, backoffLimitMs: 30_000 }} */
  readonly retry?: FetchRetryOptions;
  /**
   * Extra request headers, such as `authorization`. Their values (and the
   * URL's query and fragment) are scrubbed from every error. Not the
   * request's framing (`content-length`, `transfer-encoding`, `expect`,
   * `upgrade`, `keep-alive`): the destination refuses them. @default {{}}
   */
  readonly headers?: HeadersInit;
  /**
   * Compress bodies with `CompressionStream("gzip")` and send
   * `content-encoding: gzip`; runtimes without `CompressionStream` send
   * identity bodies. @default {false}
   */
  readonly gzip?: boolean;
  /** Time limit of one request (its error response's excerpt included), via `AbortSignal`. @default {10_000} */
  readonly timeoutMs?: number;
  /**
   * Requests in flight at once, 1 to 16. With 1 batches arrive in the order
   * they were written; with more, a retried batch may arrive after a later one.
   * Either way the sink hears of each line's fate in the order written.
   * @default {1}
   */
  readonly maxInFlight?: number;
  /**
   * The `fetch` to use (a wrapper, a test double, a service binding's). It is
   * called with `redirect: "manual"`; a call that throws, rejects or resolves
   * to something that is not a `Response` counts as a network error (retried).
   * @default {globalThis.fetch}
   */
  readonly fetch?: typeof fetch;
  /**
   * Where undeliverable batches go, byte for byte: a `WritableStream<Uint8Array>`
   * or an `AuditDestination` such as a file destination. Its lines count as
   * `rerouted` once it took them. The destination takes its writer and closes
   * it when it closes. @default {undefined}
   */
  readonly fallback?: WritableStream<Uint8Array>;
  /**
   * Told about each batch (or part of one) that could not be delivered (when
   * there is no `fallback`, or the fallback could not take it), and about
   * each 2xx whose per-item results could not be read, besides the sink that
   * writes here. Must not throw.
   * @default {none under a sink (the sink reports); else prints the message with console.error}
   */
  readonly onError?: (error: HttpDeliveryError) => void;
  /**
   * In browsers, send pending lines with `fetch(…, { keepalive: true })` (or
   * `navigator.sendBeacon`) when the page is hidden (`visibilitychange`) or
   * left (`pagehide`). Browsers allow only 64 KiB of keepalive bodies in flight
   * per page, so with this on a batch holds at most 60 KiB, a full batch goes
   * out with keepalive, and while the page is hidden every batch does, one
   * after the other. @default {true where `document` and `addEventListener` exist}
   */
  readonly unloadDelivery?: boolean;
}

/**
 * Counters of a {@linkcode FetchDestination}, in events unless said otherwise.
 * Every line written ends in exactly one of `delivered`, `failed`,
 * `rerouted`, or is still `pending` or `inFlight`.
 */
export interface FetchDestinationStats {
  /** Events acknowledged with a 2xx (or, on page unload, queued by `sendBeacon`). */
  readonly delivered: number;
  /** Events given up on, reported to the sink (or `onError`). */
  readonly failed: number;
  /** Events the `fallback` took. */
  readonly rerouted: number;
  /** Events buffered and not yet in a request. */
  readonly pending: number;
  /** Events in requests, in waits between retries, or with the fallback, not yet settled. */
  readonly inFlight: number;
  /** Batches formed so far (413 halves not counted). */
  readonly batches: number;
  /** HTTP requests made, retries and 413 halves included. */
  readonly requests: number;
  /** Requests that were retries of an earlier attempt. */
  readonly retried: number;
  /** Batches split in two after a 413 response. */
  readonly split: number;
}

/** An HTTP destination: an {@linkcode AuditDestination} with `stats()`. */
export interface FetchDestination extends AuditDestination {
  /**
   * Sends everything buffered now and resolves once each line written before
   * the call was acknowledged with a 2xx, rerouted or failed. When `signal`
   * aborts first, the requests still out are aborted, their lines handed to
   * the fallback (those it has not taken by then count as failed, though they
   * may still reach it) or failed, and the promise resolves. Never rejects
   * (but for a `signal` that is not an `AbortSignal`: a `TypeError`). A
   * last line not yet ended by "\n" stays buffered until its end arrives (or
   * the stream closes).
   *
   * @param signal A deadline, such as `AbortSignal.timeout(5_000)`.
   * @returns A promise that resolves when settled.
   */
  flush(signal?: AbortSignal): Promise<void>;
  /**
   * A snapshot of the counters.
   *
   * @returns The counts so far.
   */
  stats(): FetchDestinationStats;
}

/** Whether `value` is a real `AbortSignal` (a look-alike's getters may throw). */
function isAbortSignal(value: unknown): value is AbortSignal {
  try {
    return value instanceof AbortSignal && typeof value.aborted === "boolean";
  } catch {
    return false;
  }
}

/**
 * A destination that POSTs JSON lines to `url` in batches, for
 * `JsonLinesAuditSink` on servers, edge functions and in browsers.
 *
 * Each batch is one request of whole lines (`content-type: application/x-ndjson`),
 * or in another body `format` (OTLP logs, Loki, `_bulk`, Splunk HEC, Datadog:
 * more than one request when the API's size limit asks), with an
 * `Idempotency-Key` that stays the same across its retries.
 * Network errors, timeouts, 408, 429, 500, 502, 503 and 504 are retried with
 * exponential backoff and jitter, honouring `Retry-After`, within
 * `retry.deadlineMs`; a 413 splits the batch in halves (which share its
 * deadline); other statuses are final, redirects included: they are not
 * followed, since following a 301, 302 or 303 would turn the POST into a GET
 * without the batch. Response bodies are never buffered: a 2xx body is
 * cancelled unread (a format with per-item results reads at most a bounded
 * prefix of it: 64 KiB for OTLP, 64 KiB + 2 KiB per item for `_bulk`), an
 * error body read only as far as its 500-character excerpt. Each line is
 * reported to the sink exactly once: delivered, rerouted to `fallback`, or
 * failed; the stream itself never errors for it. With a format, item by
 * item: a 2xx that says some items failed reports exactly those failed (to
 * the fallback, byte for byte, when the API says which), sends again the ones
 * it asks to retry (under a new `Idempotency-Key`), and reports the rest
 * delivered; a line the format cannot carry (not UTF-8, not a JSON object,
 * over the API's size limit) is rerouted or failed at once.
 *
 * Backpressure: `write()` resolves once the chunk is buffered, unless a full
 * batch is already waiting behind the request(s) in flight, or a write to
 * the `fallback` has not settled; then it waits, so a slow endpoint (or
 * fallback) slows the sink (and `"block"` mode stays lossless) while memory
 * stays at about one batch in flight plus one buffered (and what the
 * fallback is writing).
 *
 * Nothing runs at import: the delay timer starts with a batch's first line,
 * and browser listeners are added when the first line arrives.
 *
 * @param url The endpoint to POST to: http: or https:, without credentials.
 * @param options Batching, retries, headers, compression, fallback, error handling.
 * @returns A destination for `JsonLinesAuditSink`.
 * @throws {TypeError} When `url` does not parse, is not http: or https:, or
 *   holds credentials, or an option has the wrong type.
 * @throws {RangeError} When a numeric option is out of range, or
 *   `retry.delayMs` does not fit within `retry.deadlineMs`.
 *
 * @example An edge function (Cloudflare Workers; the same shape on Deno Deploy, Vercel Edge, Supabase)
 * ```ts ignore
 * import { createCallEvent, fetchDestination, JsonLinesAuditSink } from "@atd/audit";
 * export default {
 *   fetch(request: Request, env: { AUDIT_TOKEN: string }, ctx: { waitUntil(p: Promise<unknown>): void }): Response {
 *     // One sink per request: Workers ties each fetch and timer to the request that
 *     // started it, so a sink shared across requests is not guaranteed to deliver.
 *     const sink = new JsonLinesAuditSink(
 *       fetchDestination("https://logs.example/ingest", { headers: { authorization: `Bearer ${env.AUDIT_TOKEN}` } }),
 *       { backpressure: "block" },
 *     );
 *     sink.onCall(createCallEvent({
 *       call_id: crypto.randomUUID(), tool_id: "ref:echo.say", duration_ms: 17, outcome: { kind: "success" }, tier: "warm",
 *     }));
 *     ctx.waitUntil(sink.flush()); // resolves once the endpoint answered 2xx
 *     return new Response("ok");
 *   },
 * };
 * ```
 */
export function fetchDestination(url: string | URL, options: FetchDestinationOptions = {}): FetchDestination {
  const delivery = new FetchDelivery(url, options);
  const stream = new WritableStream<Uint8Array>({
    // The controller's signal fires at abort() even while a write waits behind a
    // stalled request (the underlying abort() only runs after that write).
    start: (controller) => {
      const signal = (controller as { signal?: AbortSignal }).signal;
      signal?.addEventListener("abort", () => void delivery.abort(signal.reason));
    },
    write: (chunk) => delivery.write(chunk),
    close: () => delivery.close(),
    abort: (reason) => delivery.abort(reason),
  });
  return Object.assign(stream, {
    attach: (report: DeliveryReport): void => delivery.attach(report),
    flush: (signal?: AbortSignal): Promise<void> => {
      if (signal !== undefined && !isAbortSignal(signal)) {
        const got = signal === null ? "null" : typeof signal === "object" ? "an object" : typeof signal;
        return Promise.reject(
          new TypeError(`Cannot flush fetch destination: signal must be an AbortSignal, got ${got}`),
        );
      }
      return delivery.flush(signal);
    },
    stats: (): FetchDestinationStats => delivery.stats(),
  });
}
