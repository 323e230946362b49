// A real HTTP server on 127.0.0.1 that records every request and fails on cue.
// node:http works under Deno, Bun and Node alike.
import { createServer, type IncomingMessage, type Server, type ServerResponse } from "node:http";
import type { AddressInfo } from "node:net";
import { gunzipSync } from "node:zlib";

/** One request as the server saw it. */
export interface ReceivedRequest {
  /** 0-based arrival index. */
  readonly index: number;
  readonly method: string;
  readonly path: string;
  /** Lower-cased header names. */
  readonly headers: Record<string, string | string[] | undefined>;
  /** Body bytes as sent (possibly gzip). */
  readonly raw: Uint8Array;
  /** Body text, gunzipped when `content-encoding: gzip`. */
  readonly text: string;
  /** Non-empty lines of the body. */
  readonly lines: string[];
  /** Status answered; `undefined` while pending or when the connection was reset. */
  status: number | undefined;
  /** Response body bytes the socket took (for a streamed reply: how far the client let it go). */
  sentBytes: number;
  /** Settles once the response is over: ended, reset, or the client went away. */
  readonly done: Promise<void>;
}

/**
 * A response body sent piece by piece, bounded: `head`, then `chunk` up to
 * `repeat` times, each once the socket took the one before, then `end`.
 */
export interface StreamedBody {
  readonly head?: string | Uint8Array;
  readonly chunk?: Uint8Array;
  /** Times `chunk` is sent at most. @default {0} */
  readonly repeat?: number;
  /** Pause before each chunk, in ms (a slow body). @default {0} */
  readonly pauseMs?: number;
  /** After the chunks: end the body, reset the connection, or stall until the client leaves. @default {"end"} */
  readonly then?: "end" | "reset" | "stall";
}

/** What to answer one request with. */
export type Reply =
  | {
    readonly status: number;
    readonly headers?: Record<string, string>;
    readonly body?: string | Uint8Array;
    readonly stream?: StreamedBody;
  }
  | "reset";

/** Decides the reply; may wait (a slow or stalled endpoint). Default: 200. */
export type Responder = (request: ReceivedRequest) => Reply | Promise<Reply>;

/** A local NDJSON receiver for tests and benchmarks. */
export class HttpReceiver {
  readonly requests: ReceivedRequest[] = [];
  respond: Responder;
  #server: Server | undefined;
  #port = 0;
  #waiters: { n: number; resolve: () => void }[] = [];

  private constructor(respond: Responder) {
    this.respond = respond;
  }

  /** Starts a receiver on 127.0.0.1 (a free port unless `port` is given). */
  static async start(respond: Responder = () => ({ status: 200 }), port = 0): Promise<HttpReceiver> {
    const receiver = new HttpReceiver(respond);
    await receiver.listen(port);
    return receiver;
  }

  get port(): number {
    return this.#port;
  }

  get url(): string {
    return `http://127.0.0.1:${this.#port}/ingest`;
  }

  /** (Re)opens the server, on the same port as before once it had one. */
  listen(port = this.#port): Promise<void> {
    const server = createServer((req, res) => void this.#handle(req, res));
    this.#server = server;
    return new Promise((resolve, reject) => {
      server.once("error", reject);
      server.listen(port, "127.0.0.1", () => {
        this.#port = (server.address() as AddressInfo).port;
        resolve();
      });
    });
  }

  /** Stops listening and drops every open connection. */
  close(): Promise<void> {
    const server = this.#server;
    this.#server = undefined;
    if (server === undefined) return Promise.resolve();
    return new Promise((resolve) => {
      server.close(() => resolve());
      (server as { closeAllConnections?: () => void }).closeAllConnections?.();
    });
  }

  /** Resolves once at least `n` requests have arrived (whole bodies read). */
  waitForRequests(n: number): Promise<void> {
    if (this.requests.length >= n) return Promise.resolve();
    return new Promise((resolve) => this.#waiters.push({ n, resolve }));
  }

  /** Requests answered with a 2xx. */
  accepted(): ReceivedRequest[] {
    return this.requests.filter((r) => r.status !== undefined && r.status >= 200 && r.status < 300);
  }

  /**
   * The `call_id` of every line the server took (answered 2xx, or answered
   * late after a client timeout), once per Idempotency-Key: what a receiver
   * that drops duplicates by key would store.
   */
  callIds(options: { includeUnanswered?: boolean } = {}): string[] {
    const seen = new Set<string>();
    const ids: string[] = [];
    for (const request of this.requests) {
      const ok = request.status !== undefined && request.status >= 200 && request.status < 300;
      if (!ok && !(options.includeUnanswered && request.status === undefined)) continue;
      const key = String(request.headers["idempotency-key"]);
      if (seen.has(key)) continue;
      seen.add(key);
      for (const line of request.lines) ids.push((JSON.parse(line) as { call_id: string }).call_id);
    }
    return ids;
  }

  async #handle(req: IncomingMessage, res: ServerResponse): Promise<void> {
    res.on("error", () => {});
    req.on("error", () => {});
    const chunks: Uint8Array[] = [];
    try {
      for await (const chunk of req) chunks.push(chunk as Uint8Array);
    } catch {
      return; // the client went away mid-body
    }
    const raw = concat(chunks);
    const gzip = req.headers["content-encoding"] === "gzip";
    const text = new TextDecoder().decode(gzip ? gunzipSync(raw) : raw);
    const over = gate();
    res.on("close", over.open);
    const request: ReceivedRequest = {
      index: this.requests.length,
      method: req.method ?? "",
      path: req.url ?? "",
      headers: { ...req.headers },
      raw,
      text,
      lines: text.split("\n").filter((line) => line !== ""),
      status: undefined,
      sentBytes: 0,
      done: over.promise,
    };
    this.requests.push(request);
    this.#waiters = this.#waiters.filter((w) => (this.requests.length >= w.n ? (w.resolve(), false) : true));
    let reply: Reply;
    try {
      reply = await this.respond(request);
    } catch {
      reply = { status: 500, body: "responder threw" };
    }
    if (reply === "reset") {
      req.socket.destroy();
      return;
    }
    if (res.destroyed || req.socket.destroyed) return; // the client gave up (timeout)
    request.status = reply.status;
    res.writeHead(reply.status, { "content-type": "text/plain", ...reply.headers });
    if (reply.stream === undefined) {
      const body = typeof reply.body === "string" ? new TextEncoder().encode(reply.body) : reply.body;
      res.end(body ?? "", () => void (request.sentBytes += body?.length ?? 0));
      return;
    }
    await streamBody(req, res, request, reply.stream, over.promise);
  }
}

/** Sends a streamed body as far as the client lets it; see {@linkcode StreamedBody}. */
async function streamBody(
  req: IncomingMessage,
  res: ServerResponse,
  request: ReceivedRequest,
  body: StreamedBody,
  over: Promise<void>,
): Promise<void> {
  let closed = false;
  void over.then(() => (closed = true));
  const write = (bytes: Uint8Array): Promise<boolean> =>
    new Promise((resolve) => {
      if (closed || res.destroyed) return resolve(false);
      res.write(bytes, (error) => {
        if (!error) request.sentBytes += bytes.length;
        resolve(!error);
      });
      void over.then(() => resolve(false));
    });
  const head = typeof body.head === "string" ? new TextEncoder().encode(body.head) : body.head;
  if (head !== undefined && !(await write(head))) return;
  for (let i = 0; i < (body.repeat ?? 0) && body.chunk !== undefined; i++) {
    if (body.pauseMs) await Promise.race([new Promise((resolve) => setTimeout(resolve, body.pauseMs)), over]);
    if (!(await write(body.chunk))) return;
  }
  if (body.then === "reset") req.socket.destroy();
  else if (body.then === "stall") await over;
  else res.end();
}

function concat(chunks: Uint8Array[]): Uint8Array {
  let size = 0;
  for (const c of chunks) size += c.length;
  const out = new Uint8Array(size);
  let at = 0;
  for (const c of chunks) {
    out.set(c, at);
    at += c.length;
  }
  return out;
}

/** A promise with its resolver, to stall a responder until a test releases it. */
export function gate(): { promise: Promise<void>; open: () => void } {
  let open!: () => void;
  const promise = new Promise<void>((resolve) => (open = resolve));
  return { promise, open };
}
