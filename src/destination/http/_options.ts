// Construction: every argument of fetchDestination checked once, with a
// TypeError or RangeError that says what was expected, and no secret in it.
import { inPage, pageHref } from "../../runtime/page.ts";
import type { FetchDestinationOptions } from "../fetch_destination.ts";
import type { BatchLimits } from "./_batcher.ts";
import { UNLOAD_CHUNK_BYTES } from "./_page_delivery.ts";
import { BodyEncoder } from "./_pieces.ts";
import type { FetchBodyFormat } from "./format/fetch_body_format.ts";
import { NDJSON } from "./format/ndjson.ts";
import { isBuiltIn } from "./format/_common.ts";
import { describeUnparsedUrl, endpointText, Redactor } from "./_redact.ts";
import type { RetryPolicy } from "./_retry_policy.ts";
import type { HttpDeliveryError } from "./http_delivery_error.ts";

/** The longest delay `setTimeout` keeps (longer ones fire at once). */
const MAX_MS = 2_147_483_647;
const PREFIX = "Cannot create fetch destination";
/** Option names of earlier versions, and where they went. */
const MOVED: Record<string, string> = {
  maxBatchEvents: "batch.maxEvents",
  maxBatchBytes: "batch.maxBytes",
  maxDelayMs: "batch.maxDelayMs",
  deadlineMs: "retry.deadlineMs",
  retryDelayMs: "retry.delayMs",
};

/** The options, checked and with their defaults. */
export interface ResolvedOptions {
  readonly url: string;
  /** The endpoint's origin and path: what errors name. */
  readonly where: string;
  readonly batch: BatchLimits;
  readonly retry: RetryPolicy;
  readonly headers: Headers;
  readonly gzip: boolean;
  readonly timeoutMs: number;
  readonly maxInFlight: number;
  readonly fetch: typeof fetch;
  readonly fallback: WritableStream<Uint8Array> | undefined;
  readonly onError: ((error: HttpDeliveryError) => void) | undefined;
  readonly unloadDelivery: boolean;
  readonly redactor: Redactor;
  /** The body format, guarded, with the request size limit it packs within. */
  readonly encoder: BodyEncoder;
}

/**
 * Checks `url` and `options`.
 *
 * @throws {TypeError} For a wrong shape: a URL that does not parse, is not
 *   http: or https:, or holds credentials; headers that are not valid, or
 *   that set the request's framing (content-length, transfer-encoding…); a
 *   `fetch`, `onError` or `fallback` of the wrong kind; an option moved into a group.
 * @throws {RangeError} For a number out of range, or retry bounds that cannot fit the deadline.
 */
export function resolveOptions(url: string | URL, options: FetchDestinationOptions | undefined): ResolvedOptions {
  const parsed = parseUrl(url);
  const o = group(options, "options");
  for (const name of Object.keys(MOVED)) {
    if (name in o) throw new TypeError(`${PREFIX}: ${name} is now ${MOVED[name]}`);
  }
  const b = group(o.batch, "batch");
  const r = group(o.retry, "retry");
  const unloadDelivery = flag(o.unloadDelivery, "unloadDelivery") ?? inPage();
  const format = formatOf(o.format);
  const maxEvents = integer("batch.maxEvents", b.maxEvents, Math.min(512, format.maxEvents), 1);
  const maxBytes = integer("batch.maxBytes", b.maxBytes, Math.min(1_048_576, format.maxBodyBytes), 1);
  for (
    const [name, value, limit, unit] of [
      ["batch.maxEvents", maxEvents, format.maxEvents, "lines"],
      ["batch.maxBytes", maxBytes, format.maxBodyBytes, "bytes"],
    ] as const
  ) {
    if (value > limit) {
      throw new RangeError(
        `${PREFIX}: ${name} (${value}) is over the ${format.name} format's ${limit} ${unit} per request`,
      );
    }
  }
  const retry: RetryPolicy = {
    deadlineMs: integer("retry.deadlineMs", r.deadlineMs, 30_000, 1),
    delayMs: integer("retry.delayMs", r.delayMs, 1000, 1),
    backoffLimitMs: integer("retry.backoffLimitMs", r.backoffLimitMs, 30_000, 1),
    ...(format.retryable === undefined ? {} : { retryable: new Set(format.retryable) }),
  };
  if (retry.delayMs >= retry.deadlineMs) {
    throw new RangeError(
      `${PREFIX}: retry.delayMs (${retry.delayMs}) must be shorter than retry.deadlineMs (${retry.deadlineMs}), or no retry fits the deadline`,
    );
  }
  if (retry.backoffLimitMs < retry.delayMs) {
    throw new RangeError(
      `${PREFIX}: retry.backoffLimitMs (${retry.backoffLimitMs}) must be at least retry.delayMs (${retry.delayMs})`,
    );
  }
  const given = parseHeaders(o.headers);
  const headers = new Headers(given);
  if (!headers.has("content-type")) {
    try {
      headers.set("content-type", format.contentType);
    } catch {
      throw new TypeError(`${PREFIX}: the ${format.name} format's contentType is not a valid header value`);
    }
  }
  const gzip = (flag(o.gzip, "gzip") ?? false) && typeof CompressionStream === "function";
  if (gzip) headers.set("content-encoding", "gzip");
  const fetchFn = callable<typeof fetch>(o.fetch, "fetch") ??
    ((input: RequestInfo | URL, init?: RequestInit) => globalThis.fetch(input, init));
  return {
    url: parsed.href,
    where: endpointText(parsed),
    batch: {
      maxEvents,
      // What is buffered when the page is left must fit in one keepalive request.
      maxBytes: unloadDelivery ? Math.min(maxBytes, UNLOAD_CHUNK_BYTES) : maxBytes,
      maxDelayMs: integer("batch.maxDelayMs", b.maxDelayMs, 1000, 0),
    },
    retry,
    headers,
    gzip,
    timeoutMs: integer("timeoutMs", o.timeoutMs, 10_000, 1),
    maxInFlight: integer("maxInFlight", o.maxInFlight, 1, 1, 16),
    fetch: fetchFn,
    fallback: fallbackOf(o.fallback),
    onError: callable<(error: HttpDeliveryError) => void>(o.onError, "onError"),
    unloadDelivery,
    // The secrets are the headers as given: content-type and content-encoding added above are not.
    redactor: Redactor.forEndpoint(parsed, given),
    // A page may be left at any moment: every request must then fit one keepalive request.
    encoder: new BodyEncoder(format, Math.min(format.maxBodyBytes, unloadDelivery ? UNLOAD_CHUNK_BYTES : Infinity)),
  };
}

/**
 * The `format` option, its members read once (a getter cannot change them
 * later) and checked; its functions called with the format as `this`.
 */
function formatOf(value: unknown): FetchBodyFormat {
  if (value === undefined) return NDJSON;
  if (isBuiltIn(value as object)) return value as FetchBodyFormat; // frozen: nothing to copy
  const f = value as Partial<Record<keyof FetchBodyFormat, unknown>> | null;
  if (typeof f !== "object" || f === null) {
    throw new TypeError(
      `${PREFIX}: format must be a body format such as otlpLogs(), got ${f === null ? "null" : typeof f}`,
    );
  }
  const { name, contentType, maxEvents, maxBodyBytes, maxItemBytes, responseBytes, item, body, verdict, retryable } = f;
  if (typeof name !== "string" || name === "" || typeof contentType !== "string") {
    throw new TypeError(`${PREFIX}: format must have a name and a contentType (strings)`);
  }
  for (const [field, fn] of [["responseBytes", responseBytes], ["item", item], ["body", body], ["verdict", verdict]]) {
    if (typeof fn !== "function") {
      throw new TypeError(`${PREFIX}: format.${field} must be a function, got ${typeof fn}`);
    }
  }
  for (
    const [field, limit] of [["maxEvents", maxEvents], ["maxBodyBytes", maxBodyBytes], ["maxItemBytes", maxItemBytes]]
  ) {
    if (typeof limit !== "number") {
      throw new TypeError(`${PREFIX}: format.${field} must be a number, got ${typeof limit}`);
    }
    if (!(limit >= 1) || (limit !== Infinity && !Number.isSafeInteger(limit))) {
      throw new RangeError(`${PREFIX}: format.${field} must be a positive integer or Infinity, got ${limit}`);
    }
  }
  const statuses = Array.isArray(retryable) ? [...retryable] : retryable;
  if (
    statuses !== undefined &&
    (!Array.isArray(statuses) || !statuses.every((x) => Number.isInteger(x) && x >= 100 && x <= 599))
  ) {
    throw new TypeError(`${PREFIX}: format.retryable must be a list of HTTP statuses (100–599)`);
  }
  const call = (fn: unknown) => (...args: unknown[]): never => (fn as (...a: unknown[]) => never).apply(value, args);
  return Object.freeze({
    name,
    contentType,
    maxEvents: maxEvents as number,
    maxBodyBytes: maxBodyBytes as number,
    maxItemBytes: maxItemBytes as number,
    responseBytes: call(responseBytes),
    item: call(item),
    body: call(body),
    verdict: call(verdict),
    ...(statuses === undefined ? {} : { retryable: Object.freeze(statuses as number[]) }),
  });
}

function parseUrl(url: string | URL): URL {
  if (typeof url !== "string" && !(url instanceof URL)) {
    throw new TypeError(`${PREFIX}: url must be a string or a URL, got ${url === null ? "null" : typeof url}`);
  }
  const text = String(url);
  let parsed: URL;
  try {
    parsed = new URL(text, pageHref());
  } catch {
    throw new TypeError(`${PREFIX}: url must be an absolute http: or https: URL, got ${describeUnparsedUrl(text)}`);
  }
  if (parsed.protocol !== "http:" && parsed.protocol !== "https:") {
    throw new TypeError(`${PREFIX}: url must be an http: or https: URL, got ${parsed.protocol}`);
  }
  // Runtimes disagree on what credentials in the URL do (Deno turns them into an authorization header that replaces the configured one).
  if (parsed.username !== "" || parsed.password !== "") {
    throw new TypeError(
      `${PREFIX}: url must not hold credentials (user:password@); send them in the authorization header instead`,
    );
  }
  return parsed;
}

/**
 * Headers about the request's framing and connection: the destination (its
 * runtime's fetch) sets them, and Node's fetch refuses every request that
 * has one set by hand (a wrong content-length hangs it), on every attempt.
 */
const FRAMING_HEADERS = ["content-length", "transfer-encoding", "expect", "upgrade", "keep-alive"];

function parseHeaders(init: unknown): Headers {
  let headers: Headers;
  try {
    headers = new Headers(init as HeadersInit | undefined);
  } catch {
    // The runtime's message may quote the value, which may be a secret.
    throw new TypeError(`${PREFIX}: headers must be valid HTTP header names and values`);
  }
  for (const name of FRAMING_HEADERS) {
    if (headers.has(name)) {
      throw new TypeError(`${PREFIX}: headers must not set ${name}: the destination frames its requests itself`);
    }
  }
  return headers;
}

function fallbackOf(value: unknown): WritableStream<Uint8Array> | undefined {
  if (value === undefined) return undefined;
  const stream = value as Partial<WritableStream<Uint8Array>> | null;
  if (typeof stream?.getWriter !== "function" || stream.locked === true) {
    throw new TypeError(
      `${PREFIX}: fallback must be an unlocked WritableStream<Uint8Array> such as a file destination`,
    );
  }
  return stream as WritableStream<Uint8Array>;
}

function group(value: unknown, name: string): Record<string, unknown> {
  if (value === undefined) return {};
  if (typeof value !== "object" || value === null || Array.isArray(value)) {
    throw new TypeError(`${PREFIX}: ${name} must be an object, got ${value === null ? "null" : typeof value}`);
  }
  return value as Record<string, unknown>;
}

function flag(value: unknown, name: string): boolean | undefined {
  if (value === undefined || typeof value === "boolean") return value;
  throw new TypeError(`${PREFIX}: ${name} must be a boolean, got ${typeof value}`);
}

function callable<F>(value: unknown, name: string): F | undefined {
  if (value === undefined || typeof value === "function") return value as F | undefined;
  throw new TypeError(`${PREFIX}: ${name} must be a function, got ${value === null ? "null" : typeof value}`);
}

/** `value`, or `fallback` when it is undefined (null is a wrong type, not a default). */
function integer(name: string, given: unknown, fallback: number, min: number, max = MAX_MS): number {
  const value = given === undefined ? fallback : given;
  if (typeof value !== "number") throw new TypeError(`${PREFIX}: ${name} must be a number, got ${typeof value}`);
  if (!Number.isSafeInteger(value) || value < min || value > max) {
    throw new RangeError(`${PREFIX}: ${name} must be an integer from ${min} to ${max}, got ${value}`);
  }
  return value;
}
