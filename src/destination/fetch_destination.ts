import type { AuditSink } from "../sink/audit_sink.ts";
import { parseCallEvent } from "../event/parse_call_event.ts";
import { concatBytes } from "../_bytes.ts";
import type { AuditDestination, DeliveryReport } from "./audit_destination.ts";
import { untilAborted } from "../_abort.ts";

/** Options for {@linkcode fetchDestination}. */
export interface FetchDestinationOptions {
  /** Lines per request at most. @default {512} */
  readonly maxBatchEvents?: number;
  /**
   * Uncompressed bytes per request at most; a single line longer than this is
   * sent alone. @default {1_048_576}
   */
  readonly maxBatchBytes?: number;
  /**
   * A batch goes out at the latest this long after its first line arrived.
   * The timer only runs while lines are waiting. @default {1000}
   */
  readonly maxDelayMs?: number;
  /** Extra request headers, such as `authorization`. Never logged, never put in errors. @default {{}} */
  readonly headers?: HeadersInit;
  /**
   * Compress bodies with `CompressionStream("gzip")` and send
   * `content-encoding: gzip`; runtimes without `CompressionStream` send
   * identity bodies. @default {false}
   */
  readonly gzip?: boolean;
  /** Time limit of one request (until its response body is read), via `AbortSignal`. @default {10_000} */
  readonly timeoutMs?: number;
  /**
   * Total time budget of one batch across all its attempts and waits (the
   * halves of a batch split after a 413 included); a retry that would start
   * after it is not made. @default {30_000}
   */
  readonly deadlineMs?: number;
  /**
   * First retry delay; each further one is 1.5× longer (at most 30 s), ±20%
   * jitter. A `Retry-After` header (delta-seconds or an IMF-fixdate HTTP date,
   * at most 60 s) can lengthen a wait, never shorten it: a server answering
   * `Retry-After: 0` cannot make the destination retry in a tight loop. Any
   * other `Retry-After` value is ignored. @default {1000}
   */
  readonly retryDelayMs?: number;
  /**
   * Requests in flight at once, 1 to 16. With 1 batches arrive in the order
   * they were written; with more, a retried batch may arrive after a later one.
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
   * Told about each batch that could not be delivered (when there is no
   * `fallback`, or the fallback could not take its lines). Must not throw.
   * @default {prints the error's message (not its cause chain) with console.error}
   */
  readonly onError?: (error: HttpDeliveryError) => void;
  /**
   * Receives the events of undeliverable batches instead of `onError`: each
   * line is read back with `parseCallEvent` and given to `fallback.onCall`.
   * @default {undefined}
   */
  readonly fallback?: AuditSink;
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
 * `fallback`, or is still `pending` or `inFlight`.
 */
export interface FetchDestinationStats {
  /** Events acknowledged with a 2xx (or, on page unload, queued by `sendBeacon`). */
  readonly delivered: number;
  /** Events given up on and reported to `onError`. */
  readonly failed: number;
  /** Events handed to the `fallback` sink. */
  readonly fallback: number;
  /** Events buffered and not yet in a request. */
  readonly pending: number;
  /** Events in requests (or waits between retries) not yet settled. */
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

/**
 * An HTTP destination: a byte stream of JSON lines, plus `flush()` (which
 * `JsonLinesAuditSink.flush` calls) and `stats()`.
 */
export interface FetchDestination extends AuditDestination {
  /**
   * Sends everything buffered now and resolves once each batch written before
   * the call was acknowledged with a 2xx, or finally failed (and went to
   * `onError` or `fallback`). Never rejects. A last line not yet ended by
   * "\n" stays buffered until its end arrives (or the stream closes).
   *
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

/** Fields of an {@linkcode HttpDeliveryError}. */
export interface HttpDeliveryErrorOptions extends ErrorOptions {
  /** Status of the last response, if there was one. */
  readonly status?: number | undefined;
  /** Start of the last response's body. */
  readonly body?: string | undefined;
  /** Events in the batch. */
  readonly events: number;
  /** Requests made for the batch. */
  readonly attempts: number;
}

/** Longest response body excerpt kept in an {@linkcode HttpDeliveryError}. */
const BODY_EXCERPT_CHARS = 500;

/**
 * A batch of audit events could not be delivered: it got a response that is
 * not retried (redirects included: they are never followed), or retries ran
 * out of time. `cause` holds the last network error, if any, rebuilt as plain
 * `Error`s whose messages have every URL cut to its origin and path. The
 * message names the endpoint's origin and path only (no query string, no
 * user info, no headers).
 *
 * @example Reporting failures
 * ```ts ignore
 * import { fetchDestination, HttpDeliveryError } from "@atd/audit";
 * const destination = fetchDestination("https://logs.example/ingest", {
 *   onError: (error: HttpDeliveryError) => console.warn(error.status, error.events, error.body),
 * });
 * ```
 */
export class HttpDeliveryError extends Error {
  /**
   * Status of the last response; `undefined` when the last attempt got none
   * (network error, timeout); `0` for a redirect a browser hides
   * (`opaqueredirect`).
   */
  readonly status: number | undefined;
  /** The first 500 characters of the last response's body, if any. */
  readonly body: string | undefined;
  /** Events in the undelivered batch. */
  readonly events: number;
  /** Requests made for the batch. */
  readonly attempts: number;

  /**
   * Creates the error; `body` is cut to 500 characters.
   *
   * @param message What failed.
   * @param options Status, body excerpt, event and attempt counts, `cause`.
   */
  constructor(message: string, options: HttpDeliveryErrorOptions) {
    super(message, options.cause === undefined ? undefined : { cause: options.cause });
    this.name = "HttpDeliveryError";
    this.status = options.status;
    this.body = options.body === undefined ? undefined : options.body.slice(0, BODY_EXCERPT_CHARS);
    this.events = options.events;
    this.attempts = options.attempts;
  }
}

const NEWLINE = 0x0a;
/** Bytes this module allocated itself (so never a SharedArrayBuffer). */
type Bytes = Uint8Array<ArrayBuffer>;
const RETRYABLE = new Set([408, 429, 500, 502, 503, 504]);
const BACKOFF_FACTOR = 1.5;
const MAX_BACKOFF_MS = 30_000;
const MAX_RETRY_AFTER_MS = 60_000;
/** Causes kept below an {@linkcode HttpDeliveryError}, after sanitizing. */
const MAX_CAUSE_DEPTH = 5;
const JITTER = 0.2;
/** Body size of one keepalive request; browsers refuse more than 64 KiB in flight. */
const UNLOAD_CHUNK_BYTES = 60 * 1024;
/**
 * Keepalive bodies (and beacons) a page may have in flight at once: Chromium's
 * limit, shared by every keepalive request and `sendBeacon` of the page, and
 * released only once a response has been read to its end.
 */
const KEEPALIVE_QUOTA_BYTES = 64 * 1024;
const UNLOAD_MAX_IN_FLIGHT = 9;
const encoder = new TextEncoder();

/** Lines gathered for the next request. */
interface OpenBatch {
  parts: Bytes[];
  events: number;
  bytes: number;
}

/** Something a flush waits for: a batch, or the requests sent for a hidden page. */
interface Tracked {
  settled: boolean;
}

/** A batch waiting for, or in, a request. */
interface Batch extends Tracked {
  readonly parts: Bytes[];
  readonly events: number;
  readonly key: string;
  /** Order of sealing; a flush starts only batches sealed before it was called. */
  readonly seq: number;
  /** Sealed because it was full: in browsers it goes with keepalive, to outlive the page. */
  readonly full: boolean;
  /** The gzip body, started when the batch was sealed so that compression overlaps the request in flight. */
  readonly compressed: Promise<Bytes | undefined> | undefined;
  /** Whether the current request is a keepalive one (it survives the page being left). */
  keepalive: boolean;
}

/**
 * A `flush()` or `write()` waiting for batches to settle. Each waiter owns its
 * promise (created in the caller's context) and, once woken, starts the next
 * batches itself: on Cloudflare Workers, I/O started from another request's
 * continuation would die with that request.
 */
interface Waiter {
  readonly wake: () => void;
  /** The last batch (by `seq`) this waiter will start itself. */
  readonly limit: number;
}

interface DocumentLike {
  readonly visibilityState?: string;
  addEventListener(type: string, listener: (event: { type: string }) => void): void;
  removeEventListener(type: string, listener: (event: { type: string }) => void): void;
}

interface BrowserGlobals {
  document?: DocumentLike;
  addEventListener?: (type: string, listener: (event: { type: string }) => void) => void;
  removeEventListener?: (type: string, listener: (event: { type: string }) => void) => void;
  navigator?: { sendBeacon?: (url: string, data: Blob) => boolean };
  location?: { href?: string };
}

/**
 * A destination that POSTs JSON lines to `url` in batches, for
 * `JsonLinesAuditSink` on servers, edge functions and in browsers.
 *
 * Each batch is one request (`content-type: application/x-ndjson`) of whole
 * lines, with an `Idempotency-Key` that stays the same across its retries.
 * Network errors, timeouts, 408, 429, 500, 502, 503 and 504 are retried with
 * exponential backoff and jitter, honouring `Retry-After`, within `deadlineMs`;
 * a 413 splits the batch in halves (which share its deadline); other statuses
 * are final, redirects included: they are not followed, since following a
 * 301, 302 or 303 would turn the POST into a GET without the batch. A batch that
 * cannot be delivered goes to `onError` (or to `fallback`): nothing is lost
 * silently, and the stream itself never errors for it.
 *
 * Backpressure: `write()` resolves once the chunk is buffered, unless a full
 * batch is already waiting behind the request(s) in flight; then it waits,
 * so a slow endpoint slows the sink (and `"block"` mode stays lossless)
 * while memory stays at about one batch in flight plus one buffered.
 *
 * Nothing runs at import: the delay timer starts with a batch's first line,
 * and browser listeners are added when the first line arrives.
 *
 * @param url The endpoint to POST to.
 * @param options Batching, retries, headers, compression, error handling.
 * @returns A destination for `JsonLinesAuditSink`.
 * @throws {TypeError} When `url` is not a valid URL or `fetch` is not a function.
 * @throws {RangeError} When a numeric option is out of range.
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
    flush: (signal?: AbortSignal): Promise<void> => untilAborted(delivery.flush(), signal),
    stats: (): FetchDestinationStats => delivery.stats(),
  });
}

class FetchDelivery {
  readonly #url: string;
  readonly #where: string;
  /** Parts of the URL that must never appear in an error: query, fragment, user info. */
  readonly #secrets: string[];
  readonly #maxEvents: number;
  #maxBytes: number;
  readonly #maxDelayMs: number;
  readonly #headers: Headers;
  readonly #gzip: boolean;
  readonly #timeoutMs: number;
  readonly #deadlineMs: number;
  readonly #retryDelayMs: number;
  readonly #maxInFlight: number;
  readonly #fetch: typeof fetch;
  readonly #onError: (error: HttpDeliveryError) => void;
  readonly #fallback: AuditSink | undefined;
  readonly #unloadDelivery: boolean;

  #open: OpenBatch = { parts: [], events: 0, bytes: 0 };
  /** Bytes of a line not yet ended by "\n". */
  #tail: Bytes | undefined;
  /** Sealed batches waiting for a free request slot. */
  #ready: Batch[] = [];
  /** Batches in a request or between retries. */
  #sending = new Set<Batch>();
  /** Requests sent when the page was left, not yet settled. */
  #unloading = new Set<Tracked>();
  #waiters: Waiter[] = [];
  #seq = 0;
  #timer: ReturnType<typeof setTimeout> | undefined;
  /** Identifies the current delay timer, so that a timer another request could not clear does nothing. */
  #timerToken: object | undefined;
  #listening = false;
  /** The page is hidden: lines go out at once, with keepalive. */
  #hidden = false;
  /** Keepalive body bytes in flight (released once each response was read). */
  #keepaliveBytes = 0;
  #stop = new AbortController();
  #stopped = false;
  #aborting: Promise<void> | undefined;

  /** The sink this destination reports to, once attached. */
  #sink: DeliveryReport | undefined;
  #delivered = 0;
  #failed = 0;
  #fallbackCount = 0;
  #pending = 0;
  #inFlight = 0;
  #batches = 0;
  #requests = 0;
  #retried = 0;
  #split = 0;

  constructor(url: string | URL, options: FetchDestinationOptions) {
    const g = globalThis as BrowserGlobals;
    let parsed: URL;
    try {
      parsed = new URL(url, g.location?.href);
    } catch (cause) {
      throw new TypeError(`Cannot create fetch destination: invalid URL ${JSON.stringify(String(url))}`, { cause });
    }
    this.#url = parsed.href;
    this.#where = `${parsed.origin}${parsed.pathname}`;
    const userInfo = parsed.username === ""
      ? ""
      : `${parsed.username}${parsed.password === "" ? "" : `:${parsed.password}`}@`;
    this.#secrets = [parsed.search, parsed.hash, userInfo]
      .flatMap((part) => [part, safeDecode(part)])
      .filter((part) => part.length > 1);
    this.#maxEvents = integer("maxBatchEvents", options.maxBatchEvents ?? 512, 1);
    this.#maxBytes = integer("maxBatchBytes", options.maxBatchBytes ?? 1_048_576, 1);
    this.#maxDelayMs = integer("maxDelayMs", options.maxDelayMs ?? 1000, 0);
    this.#timeoutMs = integer("timeoutMs", options.timeoutMs ?? 10_000, 1);
    this.#deadlineMs = integer("deadlineMs", options.deadlineMs ?? 30_000, 1);
    this.#retryDelayMs = integer("retryDelayMs", options.retryDelayMs ?? 1000, 0);
    this.#maxInFlight = integer("maxInFlight", options.maxInFlight ?? 1, 1, 16);
    const fetchFn = options.fetch ?? ((input: RequestInfo | URL, init?: RequestInit) => globalThis.fetch(input, init));
    if (typeof fetchFn !== "function") throw new TypeError("Cannot create fetch destination: fetch must be a function");
    this.#fetch = fetchFn as typeof fetch;
    this.#headers = new Headers(options.headers);
    if (!this.#headers.has("content-type")) this.#headers.set("content-type", "application/x-ndjson");
    this.#gzip = (options.gzip ?? false) && typeof CompressionStream === "function";
    if (this.#gzip) this.#headers.set("content-encoding", "gzip");
    this.#onError = options.onError ?? reportToConsole;
    this.#fallback = options.fallback;
    if (this.#fallback !== undefined && typeof this.#fallback.onCall !== "function") {
      throw new TypeError("Cannot create fetch destination: fallback must be an AuditSink");
    }
    this.#unloadDelivery = options.unloadDelivery ??
      (typeof g.document === "object" && g.document !== null && typeof g.addEventListener === "function");
    // What is buffered when the page is left must fit in one keepalive request.
    if (this.#unloadDelivery) this.#maxBytes = Math.min(this.#maxBytes, UNLOAD_CHUNK_BYTES);
  }

  write(chunk: Uint8Array): Promise<void> | undefined {
    if (!(chunk instanceof Uint8Array)) {
      throw new TypeError("Cannot write to fetch destination: chunks must be Uint8Array");
    }
    if (chunk.length === 0) return undefined;
    if (!this.#listening) this.#listen();
    this.#take(chunk.slice());
    if (this.#hidden) this.#seal(); // a hidden page may be discarded at any moment
    this.#dispatch();
    if (this.#ready.length === 0) return undefined;
    return this.#waitForRoom();
  }

  /** Backpressure: waits until no sealed batch is left waiting for a request slot. */
  async #waitForRoom(): Promise<void> {
    while (this.#ready.length > 0 && !this.#stopped) {
      await this.#wait(Number.POSITIVE_INFINITY);
      this.#dispatch();
    }
  }

  flush(): Promise<void> {
    this.#seal();
    this.#dispatch();
    const targets: Tracked[] = [...this.#ready, ...this.#sending, ...this.#unloading];
    if (targets.every((t) => t.settled)) return Promise.resolve();
    return this.#waitFor(targets, this.#seq);
  }

  /**
   * Waits until every target settled, starting batches up to `limit` from
   * this call's own continuations (never awaiting a promise another flush or
   * request created: Workers cannot settle those across requests).
   */
  async #waitFor(targets: Tracked[], limit: number): Promise<void> {
    while (targets.some((t) => !t.settled)) {
      await this.#wait(limit);
      this.#dispatch(limit);
    }
  }

  /**
   * A promise of the caller's own, resolved when a batch settles or the ready
   * queue changes, or after `timeoutMs` at the latest (then the caller checks
   * again). The timer also keeps the caller's request alive on Workers, which
   * cancels a request as hung when it waits only on another request's I/O.
   */
  #wait(limit: number): Promise<void> {
    return new Promise((resolve) => {
      const waiter: Waiter = {
        wake: () => {
          clearTimeout(timer);
          resolve();
        },
        limit,
      };
      const timer = setTimeout(() => {
        this.#waiters = this.#waiters.filter((w) => w !== waiter);
        resolve();
      }, this.#timeoutMs);
      this.#waiters.push(waiter);
    });
  }

  /** Wakes every waiter; starts the batches none of them will start. */
  #wake(): void {
    const waiters = this.#waiters;
    if (waiters.length === 0) return this.#dispatch();
    this.#waiters = [];
    let covered = -1;
    for (const waiter of waiters) {
      covered = Math.max(covered, waiter.limit);
      waiter.wake();
    }
    const head = this.#ready[0];
    if (head !== undefined && head.seq > covered) this.#dispatch();
  }

  async close(): Promise<void> {
    this.#endTail();
    await this.flush();
    this.#unlisten();
  }

  abort(reason: unknown): Promise<void> {
    this.#aborting ??= this.#abort(reason);
    return this.#aborting;
  }

  async #abort(reason: unknown): Promise<void> {
    this.#stopped = true;
    this.#stop.abort(reason);
    this.#endTail();
    this.#seal();
    this.#dispatch(); // starts nothing: each ready batch gives up at once
    await this.flush();
    this.#unlisten();
  }

  attach(report: DeliveryReport): void {
    this.#sink = report;
  }

  stats(): FetchDestinationStats {
    return {
      delivered: this.#delivered,
      failed: this.#failed,
      fallback: this.#fallbackCount,
      pending: this.#pending,
      inFlight: this.#inFlight,
      batches: this.#batches,
      requests: this.#requests,
      retried: this.#retried,
      split: this.#split,
    };
  }

  /** Splits a chunk into lines and adds them to the open batch, sealing it when full. */
  #take(chunk: Bytes): void {
    let pos = 0;
    if (this.#tail !== undefined) {
      const nl = chunk.indexOf(NEWLINE);
      if (nl === -1) {
        this.#tail = concatBytes([this.#tail, chunk]);
        return;
      }
      const line = concatBytes([this.#tail, chunk.subarray(0, nl + 1)]);
      this.#tail = undefined;
      this.#take(line);
      pos = nl + 1;
    }
    const open = () => this.#open;
    let runStart = pos;
    let runEvents = 0;
    let runBytes = 0;
    while (pos < chunk.length) {
      const nl = chunk.indexOf(NEWLINE, pos);
      if (nl === -1) {
        this.#tail = chunk.subarray(pos);
        break;
      }
      const size = nl + 1 - pos;
      if (open().events + runEvents > 0 && open().bytes + runBytes + size > this.#maxBytes) {
        this.#addRun(chunk, runStart, pos, runEvents);
        this.#seal(true);
        runStart = pos;
        runEvents = 0;
        runBytes = 0;
      }
      runEvents++;
      runBytes += size;
      pos = nl + 1;
      if (open().events + runEvents >= this.#maxEvents) {
        this.#addRun(chunk, runStart, pos, runEvents);
        this.#seal(true);
        runStart = pos;
        runEvents = 0;
        runBytes = 0;
      }
    }
    if (runEvents > 0) this.#addRun(chunk, runStart, runStart + runBytes, runEvents);
  }

  #addRun(bytes: Bytes, start: number, end: number, events: number): void {
    if (events === 0) return;
    const open = this.#open;
    if (open.events === 0 && this.#maxDelayMs >= 0) {
      const token = {};
      this.#timerToken = token;
      this.#timer = setTimeout(() => this.#onTimer(token), this.#maxDelayMs);
    }
    open.parts.push(bytes.subarray(start, end));
    open.events += events;
    open.bytes += end - start;
    this.#pending += events;
  }

  #onTimer(token: object): void {
    if (token !== this.#timerToken) return; // cleared, but from a context that could not cancel it
    this.#timer = undefined;
    this.#timerToken = undefined;
    this.#seal();
    this.#dispatch();
  }

  /** Ends a torn last line with "\n" so that it goes out (on close or abort only). */
  #endTail(): void {
    const tail = this.#tail;
    if (tail === undefined) return;
    this.#tail = undefined;
    const line = concatBytes([tail, encoder.encode("\n")]);
    this.#addRun(line, 0, line.length, 1);
  }

  /** Turns the open batch into a batch waiting to be sent; `full` when a size limit sealed it. */
  #seal(full = false): void {
    if (this.#timer !== undefined) {
      clearTimeout(this.#timer);
      this.#timer = undefined;
      this.#timerToken = undefined;
    }
    const open = this.#open;
    if (open.events === 0) return;
    this.#open = { parts: [], events: 0, bytes: 0 };
    let parts = open.parts;
    let compressed: Promise<Bytes | undefined> | undefined;
    if (this.#gzip) {
      parts = [concatBytes(parts)];
      compressed = gzip(parts[0]!);
    }
    const seq = ++this.#seq;
    this.#ready.push({
      parts,
      events: open.events,
      key: newKey(),
      seq,
      full,
      compressed,
      keepalive: false,
      settled: false,
    });
    this.#batches++;
  }

  /** Starts waiting batches (sealed up to `limit`) while request slots are free. */
  #dispatch(limit = Number.POSITIVE_INFINITY): void {
    let started = false;
    while (
      this.#ready.length > 0 && this.#ready[0]!.seq <= limit &&
      (this.#stopped || this.#sending.size < this.#maxInFlight)
    ) {
      const batch = this.#ready.shift()!;
      started = true;
      this.#pending -= batch.events;
      this.#inFlight += batch.events;
      this.#sending.add(batch);
      void this.#deliver(batch).finally(() => {
        this.#inFlight -= batch.events;
        this.#sending.delete(batch);
        batch.settled = true;
        this.#wake();
      });
    }
    // Writers blocked on a full ready queue may go on.
    if (started && this.#ready.length === 0) this.#wakeWriters();
  }

  #wakeWriters(): void {
    const waiters = this.#waiters;
    this.#waiters = waiters.filter((waiter) => waiter.limit !== Number.POSITIVE_INFINITY);
    for (const waiter of waiters) if (waiter.limit === Number.POSITIVE_INFINITY) waiter.wake();
  }

  async #deliver(batch: Batch): Promise<void> {
    try {
      await this.#send(concatBytes(batch.parts), batch.events, batch.key, batch.compressed, batch);
    } catch (error) {
      // #send does not throw; this is a last guard so that no batch vanishes.
      this.#giveUp(
        concatBytes(batch.parts),
        batch.events,
        this.#error("an internal error", batch.events, 0, { cause: this.#sanitize(error) }),
      );
    }
  }

  /**
   * Sends one batch until it is acknowledged, split, or given up on. In
   * browsers, a full batch (or any batch while the page is hidden) goes with
   * `keepalive` when it fits the page's keepalive allowance, so that leaving
   * the page does not cancel it; `batch.keepalive` tells the unload path so.
   */
  async #send(
    body: Bytes,
    events: number,
    key: string,
    compressed?: Promise<Bytes | undefined>,
    batch?: Batch,
    deadline: number = Date.now() + this.#deadlineMs,
  ): Promise<void> {
    const gzipped = this.#gzip ? await (compressed ?? gzip(body)) : undefined;
    const payload = gzipped ?? body;
    const headers = new Headers(this.#headers);
    if (gzipped === undefined) headers.delete("content-encoding");
    headers.set("idempotency-key", key);
    let attempts = 0;
    for (;;) {
      if (this.#stopped) {
        return this.#giveUp(
          body,
          events,
          this.#error("the stream was aborted", events, attempts, { cause: this.#stop.signal.reason }),
        );
      }
      if (attempts === 0 && Date.now() >= deadline) {
        // A 413 half shares its batch's deadline, which may have passed.
        return this.#giveUp(
          body,
          events,
          this.#error(`its ${this.#deadlineMs} ms deadline passed`, events, attempts, {}),
        );
      }
      attempts++;
      this.#requests++;
      if (attempts > 1) this.#retried++;
      const controller = new AbortController();
      const onStop = () => controller.abort(this.#stop.signal.reason);
      this.#stop.signal.addEventListener("abort", onStop);
      const budget = Math.max(1, Math.min(this.#timeoutMs, deadline - Date.now()));
      const timer = setTimeout(() => controller.abort(new TimeoutError(budget)), budget);
      const keepalive = this.#unloadDelivery && (this.#hidden || batch?.full === true) &&
        payload.length <= UNLOAD_CHUNK_BYTES && this.#keepaliveBytes + payload.length <= KEEPALIVE_QUOTA_BYTES;
      if (keepalive) this.#keepaliveBytes += payload.length;
      if (batch !== undefined) batch.keepalive = keepalive;
      let status: number | undefined;
      let excerpt: string | undefined;
      let cause: unknown;
      let wait: number | undefined;
      try {
        const init: RequestInit = {
          method: "POST",
          headers,
          body: payload,
          signal: controller.signal,
          redirect: "manual",
        };
        if (keepalive) init.keepalive = true;
        const response = asResponse(await this.#fetch(this.#url, init));
        status = response.status;
        if (response.ok) {
          await discard(response);
          this.#delivered += events;
          this.#sink?.delivered(events);
          return;
        }
        excerpt = await readExcerpt(response);
        if (isRedirect(response) || (!RETRYABLE.has(status) && !(status === 413 && events > 1))) {
          return this.#giveUp(
            body,
            events,
            this.#error(describeStatus(response), events, attempts, { status, body: excerpt }),
          );
        }
        wait = retryAfter(response.headers.get("retry-after"));
      } catch (error) {
        cause = this.#sanitize(error);
      } finally {
        // The response was read to its end (or failed): the browser has released its allowance.
        if (keepalive) this.#keepaliveBytes -= payload.length;
        if (batch !== undefined) batch.keepalive = false;
        clearTimeout(timer);
        this.#stop.signal.removeEventListener("abort", onStop);
      }
      if (status === 413 && events > 1) {
        this.#split++;
        const [first, second] = halves(body, events);
        // The halves share what is left of this batch's deadline.
        await this.#send(first.body, first.events, newKey(), undefined, batch, deadline);
        await this.#send(second.body, second.events, newKey(), undefined, batch, deadline);
        return;
      }
      // Retry-After may lengthen the backoff, never shorten it (no tight loop on "0" or a past date).
      wait = Math.max(wait ?? 0, backoff(this.#retryDelayMs, attempts));
      if (this.#stopped || Date.now() + wait >= deadline) {
        const what = status === undefined ? `network error (${describe(cause)})` : `HTTP ${status}`;
        return this.#giveUp(body, events, this.#error(what, events, attempts, { status, body: excerpt, cause }));
      }
      await sleep(wait, this.#stop.signal);
    }
  }

  #error(what: string, events: number, attempts: number, more: Partial<HttpDeliveryErrorOptions>): HttpDeliveryError {
    const tries = attempts === 1 ? "1 attempt" : `${attempts} attempts`;
    return new HttpDeliveryError(`Cannot deliver ${events} audit events to ${this.#where} after ${tries}: ${what}`, {
      ...more,
      events,
      attempts,
    });
  }

  /** Hands an undeliverable batch to the fallback, or reports it. */
  #giveUp(body: Bytes, events: number, error: HttpDeliveryError): void {
    const fallback = this.#fallback;
    if (fallback === undefined) {
      this.#failed += events;
      this.#sink?.failed(events, error);
      this.#report(error);
      return;
    }
    const lines = new TextDecoder().decode(body).split("\n");
    let lost = 0;
    let firstCause: unknown;
    for (const line of lines) {
      if (line === "") continue;
      try {
        fallback.onCall(parseCallEvent(line));
        this.#fallbackCount++;
        this.#sink?.rerouted(1);
      } catch (cause) {
        lost++;
        firstCause ??= cause;
      }
    }
    if (lost > 0) {
      this.#failed += lost;
      this.#sink?.failed(lost, error);
      this.#report(
        new HttpDeliveryError(`${error.message}; the fallback sink could not take ${lost} of them`, {
          status: error.status,
          body: error.body,
          events: lost,
          attempts: error.attempts,
          cause: firstCause,
        }),
      );
    }
  }

  /**
   * A copy of a thrown value that is safe to keep and print: runtimes put the
   * request URL, query string included, in their network errors' messages
   * (Deno in the cause of its `TypeError`), and the query may hold a token.
   * Each level of the `cause` chain (at most 5) becomes a plain `Error` with
   * the same name and a message in which every URL is cut to its origin and
   * path; stacks and other fields are dropped.
   */
  #sanitize(error: unknown, depth = 0): Error {
    const source = typeof error === "object" && error !== null ? error as { name?: unknown; message?: unknown } : {};
    const message = typeof source.message === "string" ? source.message : String(error);
    const inner = (error as { cause?: unknown } | null | undefined)?.cause;
    const options = inner !== undefined && depth + 1 < MAX_CAUSE_DEPTH
      ? { cause: this.#sanitize(inner, depth + 1) }
      : undefined;
    const copy = new Error(this.#redact(message), options);
    if (typeof source.name === "string" && source.name !== "") copy.name = source.name;
    return copy;
  }

  /** `text` without this endpoint's query, fragment and user info, and with every URL cut to origin and path. */
  #redact(text: string): string {
    let out = text;
    for (const secret of this.#secrets) out = out.split(secret).join("");
    return out.replace(/[a-z][a-z0-9+.-]*:\/\/[^\s()<>"'`]+/gi, (found) => {
      try {
        const url = new URL(found);
        return url.origin === "null" ? `${url.protocol}${url.pathname}` : `${url.origin}${url.pathname}`;
      } catch {
        return "[url]";
      }
    });
  }

  #report(error: HttpDeliveryError): void {
    try {
      this.#onError(error);
    } catch {
      // onError must not throw; nothing is left to tell.
    }
  }

  // ---- Browsers: deliver on hide and unload ----

  #listen(): void {
    this.#listening = true;
    if (!this.#unloadDelivery) return;
    const g = globalThis as BrowserGlobals;
    g.document?.addEventListener?.("visibilitychange", this.#onLifecycle);
    g.addEventListener?.("pagehide", this.#onLifecycle);
    g.addEventListener?.("pageshow", this.#onLifecycle);
  }

  #unlisten(): void {
    if (!this.#listening || !this.#unloadDelivery) return;
    const g = globalThis as BrowserGlobals;
    g.document?.removeEventListener?.("visibilitychange", this.#onLifecycle);
    g.removeEventListener?.("pagehide", this.#onLifecycle);
    g.removeEventListener?.("pageshow", this.#onLifecycle);
  }

  #onLifecycle = (event: { type: string }): void => {
    try {
      if (event.type === "pagehide") {
        this.#hidden = true;
        this.#sendNow();
      } else if (event.type === "pageshow") {
        this.#hidden = false;
      } else if ((globalThis as BrowserGlobals).document?.visibilityState === "hidden") {
        // The page is still alive: send everything through the usual path,
        // which now uses keepalive requests, one after the other within the
        // page's allowance, and retries what the browser refuses.
        this.#hidden = true;
        this.#seal();
        this.#dispatch();
      } else {
        this.#hidden = false;
      }
    } catch {
      // A listener must not throw; the send paths report their own failures.
    }
  };

  /**
   * The page is being left: sends every buffered line at once, in keepalive
   * requests of at most 60 KiB (at most 9), then `sendBeacon` for what the
   * browser refuses. Batches in flight in plain requests (which leaving the
   * page cancels) are sent again, under the same Idempotency-Key when they fit
   * one request; batches in keepalive requests are left alone (they outlive
   * the page, and sending them again would use up the allowance).
   */
  #sendNow(): void {
    this.#seal();
    const batches = this.#ready;
    this.#ready = [];
    const parts: Bytes[] = [];
    let events = 0;
    for (const batch of batches) {
      parts.push(...batch.parts);
      events += batch.events;
    }
    this.#pending -= events;
    this.#inFlight += events;
    this.#wakeWriters(); // the buffer is empty
    const sends: Promise<void>[] = [];
    let slots = UNLOAD_MAX_IN_FLIGHT;
    const send = (chunk: { body: Bytes; events: number }, key: string, counted: boolean): void => {
      const fits = slots > 0 && this.#keepaliveBytes + chunk.body.length <= KEEPALIVE_QUOTA_BYTES;
      if (fits) slots--;
      sends.push(this.#sendKeepalive(chunk.body, chunk.events, key, fits, counted));
    };
    for (const batch of this.#sending) {
      if (batch.keepalive) continue;
      const chunks = chunkLines(concatBytes(batch.parts), UNLOAD_CHUNK_BYTES);
      chunks.forEach((chunk, i) => send(chunk, chunks.length === 1 ? batch.key : `${batch.key}.${i}`, false));
    }
    if (events > 0) {
      for (const chunk of chunkLines(concatBytes(parts), UNLOAD_CHUNK_BYTES)) send(chunk, newKey(), true);
    }
    if (sends.length === 0) return;
    const tracked: Tracked = { settled: false };
    this.#unloading.add(tracked);
    void Promise.all(sends).then(() => {
      this.#inFlight -= events;
      for (const batch of batches) batch.settled = true;
      tracked.settled = true;
      this.#unloading.delete(tracked);
      this.#wake();
    });
  }

  /**
   * One request of the unload path: a keepalive fetch when `useFetch`, else
   * (or when the browser refuses it) a beacon. The response is read to its
   * end before the allowance is counted free. `counted` is false for a copy
   * of a batch whose own request still counts it.
   */
  async #sendKeepalive(body: Bytes, events: number, key: string, useFetch: boolean, counted: boolean): Promise<void> {
    if (useFetch) {
      const headers = new Headers(this.#headers);
      headers.delete("content-encoding");
      headers.set("idempotency-key", key);
      this.#keepaliveBytes += body.length;
      let response: Response | undefined;
      let excerpt: string | undefined;
      try {
        this.#requests++;
        response = asResponse(
          await this.#fetch(this.#url, { method: "POST", headers, body, keepalive: true, redirect: "manual" }),
        );
        if (response.ok) await discard(response);
        else excerpt = await readExcerpt(response);
      } catch {
        response = undefined;
        // Keepalive refused (the allowance is used up) or the request failed: try a beacon.
      } finally {
        this.#keepaliveBytes -= body.length;
      }
      if (response !== undefined) {
        if (!counted) return;
        if (response.ok) {
          this.#delivered += events;
          this.#sink?.delivered(events);
        } else if (!isRedirect(response) && (RETRYABLE.has(response.status) || response.status === 413)) {
          // Still running (the page stayed, or came back from the back/forward cache): retry as usual.
          await this.#send(body, events, key);
        } else {
          this.#giveUp(
            body,
            events,
            this.#error(describeStatus(response), events, 1, { status: response.status, body: excerpt }),
          );
        }
        return;
      }
    }
    let sent = false;
    let cause: unknown;
    try {
      const beacon = (globalThis as BrowserGlobals).navigator?.sendBeacon;
      sent = beacon !== undefined &&
        beacon.call(
          (globalThis as BrowserGlobals).navigator,
          this.#url,
          new Blob([body], { type: "application/x-ndjson" }),
        );
    } catch (error) {
      cause = this.#sanitize(error);
    }
    if (!counted) return;
    if (sent) {
      this.#delivered += events;
      this.#sink?.delivered(events);
    } else if (!this.#hidden) {
      // Refused, but the page is still running (shown again): the usual path retries.
      await this.#send(body, events, key);
    } else this.#giveUp(body, events, this.#error("sendBeacon refused the request", events, 1, { cause }));
  }
}

class TimeoutError extends Error {
  constructor(ms: number) {
    super(`Request timed out after ${ms} ms`);
    this.name = "TimeoutError";
  }
}

function integer(name: string, value: number, min: number, max = Number.MAX_SAFE_INTEGER): number {
  if (!Number.isSafeInteger(value) || value < min || value > max) {
    const range = max === Number.MAX_SAFE_INTEGER ? `an integer ≥ ${min}` : `an integer from ${min} to ${max}`;
    throw new RangeError(`Cannot create fetch destination: ${name} must be ${range}, got ${value}`);
  }
  return value;
}

/** Splits whole lines into pieces of at most `maxBytes` (a longer line goes alone). */
function chunkLines(body: Bytes, maxBytes: number): { body: Bytes; events: number }[] {
  const out: { body: Bytes; events: number }[] = [];
  let start = 0;
  let events = 0;
  let pos = 0;
  while (pos < body.length) {
    let nl = body.indexOf(NEWLINE, pos);
    if (nl === -1) nl = body.length - 1;
    if (events > 0 && nl + 1 - start > maxBytes) {
      out.push({ body: body.subarray(start, pos), events });
      start = pos;
      events = 0;
    }
    events++;
    pos = nl + 1;
  }
  if (events > 0) out.push({ body: body.subarray(start, pos), events });
  return out;
}

/** The first half (by lines) and the rest of a batch. */
function halves(body: Bytes, events: number): [{ body: Bytes; events: number }, { body: Bytes; events: number }] {
  const half = Math.floor(events / 2);
  let pos = 0;
  for (let i = 0; i < half; i++) pos = body.indexOf(NEWLINE, pos) + 1;
  return [{ body: body.subarray(0, pos), events: half }, { body: body.subarray(pos), events: events - half }];
}

/** The gzip of `body`, or `undefined` if compression failed (then it goes out uncompressed). */
async function gzip(body: Bytes): Promise<Bytes | undefined> {
  try {
    const stream = new Blob([body]).stream().pipeThrough(new CompressionStream("gzip"));
    return new Uint8Array(await new Response(stream).arrayBuffer());
  } catch {
    return undefined;
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

/**
 * A redirect, which is never followed: following would turn a 301/302/303
 * into a GET without the batch. Browsers hide a manual redirect as an
 * `opaqueredirect` response with status 0.
 */
function isRedirect(response: Response): boolean {
  return response.type === "opaqueredirect" || (response.status >= 300 && response.status < 400);
}

function describeStatus(response: Response): string {
  if (response.type === "opaqueredirect") return "redirect (not followed)";
  return isRedirect(response) ? `HTTP ${response.status} redirect (not followed)` : `HTTP ${response.status}`;
}

function safeDecode(text: string): string {
  try {
    return decodeURIComponent(text);
  } catch {
    return text;
  }
}

async function discard(response: Response): Promise<void> {
  try {
    await response.arrayBuffer();
  } catch {
    // The endpoint answered 2xx: the batch is delivered even if its body broke off.
  }
}

async function readExcerpt(response: Response): Promise<string> {
  try {
    return (await response.text()).slice(0, BODY_EXCERPT_CHARS);
  } catch {
    return "";
  }
}

/** `Retry-After` as an IMF-fixdate, the only HTTP date form senders may generate (RFC 9110 §5.6.7). */
const IMF_FIXDATE = /^(?:Mon|Tue|Wed|Thu|Fri|Sat|Sun), \d{2} [A-Z][a-z]{2} \d{4} \d{2}:\d{2}:\d{2} GMT$/;

/**
 * Milliseconds a `Retry-After` value asks for, at most 60 s: delta-seconds or
 * an IMF-fixdate only (`Date.parse` alone takes junk such as "1.5" or "x 1");
 * `undefined` for anything else, which is then ignored.
 */
function retryAfter(value: string | null): number | undefined {
  if (value === null) return undefined;
  const text = value.trim();
  let ms: number;
  if (/^\d+$/.test(text)) ms = Number(text) * 1000;
  else if (IMF_FIXDATE.test(text)) {
    const at = Date.parse(text);
    if (Number.isNaN(at)) return undefined;
    ms = at - Date.now();
  } else return undefined;
  return Math.min(Math.max(0, ms), MAX_RETRY_AFTER_MS);
}

function backoff(baseMs: number, attempt: number): number {
  const ms = Math.min(baseMs * BACKOFF_FACTOR ** (attempt - 1), MAX_BACKOFF_MS);
  return Math.round(ms * (1 - JITTER + 2 * JITTER * Math.random()));
}

function sleep(ms: number, signal: AbortSignal): Promise<void> {
  return new Promise((resolve) => {
    if (signal.aborted) return resolve();
    const done = () => {
      clearTimeout(timer);
      signal.removeEventListener("abort", done);
      resolve();
    };
    const timer = setTimeout(done, ms);
    signal.addEventListener("abort", done);
  });
}

function newKey(): string {
  const c = globalThis.crypto;
  if (typeof c?.randomUUID === "function") return c.randomUUID();
  // randomUUID needs a secure context in browsers; getRandomValues does not.
  const b = c.getRandomValues(new Uint8Array(16));
  b[6] = (b[6]! & 0x0f) | 0x40;
  b[8] = (b[8]! & 0x3f) | 0x80;
  const hex = Array.from(b, (x) => x.toString(16).padStart(2, "0")).join("");
  return `${hex.slice(0, 8)}-${hex.slice(8, 12)}-${hex.slice(12, 16)}-${hex.slice(16, 20)}-${hex.slice(20)}`;
}

function describe(error: unknown): string {
  if (error instanceof Error) return error.name === "Error" ? error.message : `${error.name}: ${error.message}`;
  return String(error);
}

/** The default `onError`: the message (which names the status) only, not the cause chain or stack. */
function reportToConsole(error: HttpDeliveryError): void {
  console.error(`@atd/audit: ${error.name}: ${error.message}`);
}
