// One request: headers, Idempotency-Key, timeout, gzip body, and what came
// back, without ever buffering a response body.
import { concatBytes } from "../../_bytes.ts";
import { BODY_EXCERPT_CHARS } from "./http_delivery_error.ts";
import type { Redactor } from "./_redact.ts";

/** Bytes this module allocated itself (so never a SharedArrayBuffer). */
export type Bytes = Uint8Array<ArrayBuffer>;

/** One request to make. */
export interface AttemptRequest {
  readonly fetch: typeof fetch;
  readonly url: string;
  /** The configured headers (content-type and content-encoding included). */
  readonly headers: Headers;
  readonly body: Bytes;
  /** `body` is gzip: keep `content-encoding`. */
  readonly gzipped: boolean;
  readonly key: string;
  /** Time limit of the request, response body excerpt included. */
  readonly timeoutMs: number;
  /** Aborts the request (the stream was aborted, a flush's deadline passed). */
  readonly signal: AbortSignal;
  readonly keepalive: boolean;
  readonly redactor: Redactor;
  /** Bytes of a 2xx body to read for the format's per-item results; 0 (the default) cancels it unread. */
  readonly readOk?: number;
}

/** A 2xx body, read as far as asked. */
export interface OkBody {
  readonly contentType: string | null;
  /** UTF-8, invalid bytes replaced. */
  readonly body: string;
  /** False when the body was longer than asked, broke off, or outlasted the request's time limit. */
  readonly complete: boolean;
}

/** How the request ended. */
export type AttemptResult =
  | { readonly ok: true; readonly status: number; readonly read?: OkBody }
  | {
    readonly ok: false;
    readonly status: number;
    readonly redirect: boolean;
    readonly excerpt: string;
    readonly retryAfter: string | null;
  }
  | { readonly ok: false; readonly status: undefined; readonly error: Error };

/** Bytes read at most from an error response, whatever its characters. */
const MAX_EXCERPT_BYTES = 64 * 1024;

/**
 * Makes one request and reports how it ended; never throws. A success body
 * is cancelled unread; an error body is read only up to its excerpt (secrets
 * scrubbed), then cancelled. A `fetch` that throws, rejects or resolves to
 * something that is not a `Response` counts as a network error.
 */
export async function attempt(request: AttemptRequest): Promise<AttemptResult> {
  const controller = new AbortController();
  const onAbort = (): void => controller.abort(request.signal.reason);
  if (request.signal.aborted) onAbort();
  else request.signal.addEventListener("abort", onAbort);
  const timer = setTimeout(() => controller.abort(new TimeoutError(request.timeoutMs)), request.timeoutMs);
  try {
    const headers = new Headers(request.headers);
    if (!request.gzipped) headers.delete("content-encoding");
    headers.set("idempotency-key", request.key);
    const init: RequestInit = {
      method: "POST",
      headers,
      // A copy: a custom (or patched) fetch may keep, reuse or transfer the bytes it is given, and `body` is sent
      // again on a retry, halved after a 413 and rerouted. A memory copy is nothing next to a request.
      body: request.body.slice(),
      signal: controller.signal,
      redirect: "manual",
    };
    if (request.keepalive) init.keepalive = true;
    // Raced with the signal: a fetch that ignores it (a custom one, or a runtime's own while the
    // upload is stuck behind a server that does not read) must not hold the destination.
    const answer = await orAbort(Promise.resolve(request.fetch(request.url, init)), controller.signal);
    if (answer === undefined && controller.signal.aborted) throw controller.signal.reason;
    const response = asResponse(answer);
    const status = response.status;
    if (response.ok) {
      const want = request.readOk ?? 0;
      if (want <= 0) {
        await orAbort(cancel(response), controller.signal);
        return { ok: true, status };
      }
      const read = await readBody(response, controller.signal, want);
      const body = new TextDecoder().decode(read.bytes);
      return {
        ok: true,
        status,
        read: { contentType: response.headers.get("content-type"), body, complete: read.complete },
      };
    }
    const retryAfter = response.headers.get("retry-after");
    const redirect = response.type === "opaqueredirect" || (status >= 300 && status < 400);
    const excerpt = await readExcerpt(response, controller.signal, request.redactor);
    return { ok: false, status, redirect, excerpt, retryAfter };
  } catch (error) {
    return { ok: false, status: undefined, error: request.redactor.error(error) };
  } finally {
    clearTimeout(timer);
    request.signal.removeEventListener("abort", onAbort);
  }
}

/** The gzip of `body`, or `undefined` if compression failed (then it goes out uncompressed). */
export async function gzip(body: Bytes): Promise<Bytes | undefined> {
  try {
    const stream = new Blob([body]).stream().pipeThrough(new CompressionStream("gzip"));
    return new Uint8Array(await new Response(stream).arrayBuffer());
  } catch {
    return undefined;
  }
}

/** A fresh Idempotency-Key (a UUID v4). */
export function newKey(): string {
  const c = globalThis.crypto;
  if (typeof c?.randomUUID === "function") return c.randomUUID();
  // randomUUID needs a secure context in browsers; getRandomValues does not.
  const b = c.getRandomValues(new Uint8Array(16));
  b[6] = (b[6]! & 0x0f) | 0x40;
  b[8] = (b[8]! & 0x3f) | 0x80;
  const hex = Array.from(b, (x) => x.toString(16).padStart(2, "0")).join("");
  return `${hex.slice(0, 8)}-${hex.slice(8, 12)}-${hex.slice(12, 16)}-${hex.slice(16, 20)}-${hex.slice(20)}`;
}

/** Characters of an error's causes kept in {@linkcode describe}. */
const MAX_CAUSE_CHARS = 300;

/**
 * `error` as a short phrase: its name (unless plain `Error`) and message,
 * then its causes' (Deno's and Node's fetch throw "TypeError: fetch failed"
 * and say what failed, a refused connection or an unknown host, only in the
 * cause). `error` is a scrubbed copy (`Redactor.error`): plain `Error`s.
 */
export function describe(error: Error): string {
  const phrase = (e: Error): string => (e.name === "Error" ? e.message : `${e.name}: ${e.message}`);
  let causes = "";
  for (let e = error.cause; e instanceof Error && causes.length < MAX_CAUSE_CHARS; e = e.cause) {
    causes += `: ${phrase(e)}`;
  }
  if (causes.length > MAX_CAUSE_CHARS) causes = `${causes.slice(0, MAX_CAUSE_CHARS)}…`;
  return phrase(error) + causes;
}

class TimeoutError extends Error {
  constructor(ms: number) {
    super(`Request timed out after ${ms} ms`);
    this.name = "TimeoutError";
  }
}

/**
 * The value a `fetch` resolved to, if it is a `Response` (or looks like one:
 * a custom `fetch` may use another realm's class); else throws, so that it
 * counts as a network error.
 */
function asResponse(value: unknown): Response {
  const r = value as Partial<Response> | null | undefined;
  if (
    typeof r === "object" && r !== null && typeof r.status === "number" && typeof r.ok === "boolean" &&
    typeof r.headers?.get === "function"
  ) return r as Response;
  throw new TypeError(`fetch resolved to ${value === null ? "null" : typeof value}, not a Response`);
}

/** Discards a body unread; a body that breaks off or will not cancel changes nothing. */
async function cancel(response: Response): Promise<void> {
  try {
    await response.body?.cancel();
  } catch {
    // The status is what counts.
  }
}

/**
 * The start of an error response's body, decoded as UTF-8, scrubbed and cut
 * to 500 characters: reads only as far as the excerpt needs, then cancels
 * the rest. A body that breaks off,
 * will not decode (a `content-encoding` lie) or outlasts the request's time
 * limit keeps what was read.
 */
async function readExcerpt(response: Response, signal: AbortSignal, redactor: Redactor): Promise<string> {
  // No look-ahead for a secret cut at the end: the redactor trims what could be the start of one.
  const want = BODY_EXCERPT_CHARS;
  let text = "";
  let truncated = true;
  let reader: ReadableStreamDefaultReader<Uint8Array> | undefined;
  try {
    reader = response.body?.getReader();
    if (reader === undefined) truncated = false;
    const decoder = new TextDecoder();
    for (let bytes = 0; reader !== undefined && text.length < want && bytes < MAX_EXCERPT_BYTES;) {
      const read = await orAbort(reader.read(), signal);
      if (read === undefined) break; // out of time
      if (read.done) {
        truncated = false;
        text += decoder.decode();
        break;
      }
      const chunk = read.value.subarray(0, MAX_EXCERPT_BYTES - bytes);
      bytes += chunk.length;
      text += decoder.decode(chunk, { stream: true });
    }
  } catch {
    // Broke off or would not decode: keep what was read.
  } finally {
    if (reader !== undefined) void reader.cancel().catch(() => {});
  }
  return redactor.text(text, BODY_EXCERPT_CHARS, truncated);
}

/**
 * At most `maxBytes` of a body: reads no further, then cancels the rest. A
 * body that is longer, breaks off or outlasts `signal` is not `complete`.
 */
async function readBody(
  response: Response,
  signal: AbortSignal,
  maxBytes: number,
): Promise<{ bytes: Uint8Array; complete: boolean }> {
  // Never `arrayBuffer()`, even for a short declared `content-length`: a response that also says
  // `transfer-encoding: chunked` is read to its (endless) end by Deno and Bun, whatever the length says.
  const chunks: Uint8Array[] = [];
  let bytes = 0;
  let complete = false;
  let reader: ReadableStreamDefaultReader<Uint8Array> | undefined;
  try {
    reader = response.body?.getReader();
    complete = reader === undefined;
    while (reader !== undefined && bytes <= maxBytes) {
      const read = await orAbort(reader.read(), signal);
      if (read === undefined) break; // out of time
      if (read.done) {
        complete = true;
        break;
      }
      // One byte past the cap is enough to know the body is longer.
      const chunk = read.value.subarray(0, maxBytes + 1 - bytes);
      chunks.push(chunk);
      bytes += chunk.length;
    }
  } catch {
    complete = false; // broke off, or would not decode
  } finally {
    if (reader !== undefined) void reader.cancel().catch(() => {});
  }
  if (bytes > maxBytes) complete = false;
  return { bytes: concatBytes(chunks, Math.min(bytes, maxBytes)), complete };
}

/** What `promise` resolves to, or `undefined` once `signal` aborts first. */
function orAbort<T>(promise: Promise<T>, signal: AbortSignal): Promise<T | undefined> {
  if (signal.aborted) {
    promise.catch(() => {});
    return Promise.resolve(undefined);
  }
  return new Promise<T | undefined>((resolve, reject) => {
    const done = (): void => resolve(undefined);
    signal.addEventListener("abort", done, { once: true });
    promise.then(resolve, reject).finally(() => signal.removeEventListener("abort", done));
  });
}
