// A local stand-in for a log API on 127.0.0.1 (the APIs themselves are in
// api_receivers.ts): it checks each request against the API's shape, stores
// what the real service would store, answers as it does, and fails on cue.
import { HttpReceiver, type ReceivedRequest, type Reply } from "./http_receiver.ts";

/** What to do to one request instead of answering it normally. */
export type Fault =
  /** Answer this status (and headers, body) and store nothing. */
  | {
    readonly kind: "status";
    readonly status: number;
    readonly headers?: Record<string, string>;
    readonly body?: string;
  }
  /** Reset the connection without storing. */
  | { readonly kind: "reset" }
  /** OTLP: store all but `reject` records and say so in partialSuccess (as a string count when `asString`). */
  | { readonly kind: "partial"; readonly reject: number; readonly asString?: boolean }
  /** `_bulk`: `retry` items answer 429 and `fail` items 400 (not stored); the rest are stored. */
  | { readonly kind: "items"; readonly retry: number; readonly fail: number }
  /** Store everything, then reset the connection: the client never hears it (a lost response). */
  | { readonly kind: "lost" };

/** A static response served on GET. */
export interface StaticRoute {
  readonly type: string;
  readonly body: string;
}

/** One entry as the receiver took it. */
export interface Entry {
  readonly callId: string;
  /** The audit line as it arrived, embedded in the API's body. */
  readonly line: string;
}

/** What an API makes of one request body: its entries, or why it refuses it (answered 400). */
export type Parsed = { readonly entries: Entry[] } | { readonly problem: string };

/** One log API: where it listens, what it accepts, how it answers. */
export interface Api {
  readonly path: string;
  readonly contentType: RegExp;
  /** Header that must be present, and the reply when it is not. */
  readonly auth?: { readonly header: string; readonly reply: Reply };
  parse(request: ReceivedRequest): Parsed;
  /** The success reply once `stored` (and for `_bulk`, per-item) has been decided. */
  answer(
    entries: readonly Entry[],
    results: readonly ("stored" | "exists" | "retry" | "failed")[],
    fault?: Fault,
  ): Reply;
}

/** A local stand-in for one log API. */
export class ApiReceiver {
  readonly http: HttpReceiver;
  /** call_id → the lines stored under it, in order (more than one: a duplicate). */
  readonly stored: Map<string, string[]> = new Map();
  /** call_ids the API refused for good (partial success, a final item error), each time it did. */
  readonly refused: string[] = [];
  /** Every way a request departed from the API's published shape. */
  readonly violations: string[] = [];
  /** Faults on cue, by request index (0-based). */
  plan: (index: number) => Fault | undefined = () => undefined;
  readonly #api: Api;
  readonly #routes: Readonly<Record<string, StaticRoute>>;

  private constructor(api: Api, http: HttpReceiver, routes: Readonly<Record<string, StaticRoute>>) {
    this.#api = api;
    this.http = http;
    this.#routes = routes;
  }

  /** Starts a stand-in for `api` on 127.0.0.1, also serving `routes` on GET (a page that posts to it). */
  static async start(api: Api, routes: Readonly<Record<string, StaticRoute>> = {}): Promise<ApiReceiver> {
    const http = await HttpReceiver.start();
    const self = new ApiReceiver(api, http, routes);
    http.respond = (request) => self.#respond(request);
    return self;
  }

  /** `http://127.0.0.1:PORT`. */
  get origin(): string {
    return `http://127.0.0.1:${this.http.port}`;
  }

  /** The endpoint's URL. */
  get url(): string {
    return `${this.origin}${this.#api.path}`;
  }

  /** Whether every id in `expected` has been stored. */
  hasAll(expected: readonly string[]): boolean {
    return expected.every((id) => this.stored.has(id));
  }

  /** call_ids stored more than once. */
  duplicates(): string[] {
    return [...this.stored].filter(([, lines]) => lines.length > 1).map(([id]) => id);
  }

  close(): Promise<void> {
    return this.http.close();
  }

  #respond(request: ReceivedRequest): Reply {
    const api = this.#api;
    const route = request.method === "GET" ? this.#routes[new URL(request.path, "http://x").pathname] : undefined;
    if (route !== undefined) {
      return { status: 200, headers: { "content-type": route.type, "cache-control": "no-store" }, body: route.body };
    }
    if (request.method === "GET") return { status: 404, body: "not found" }; // a browser's favicon.ico
    const fault = this.plan(request.index);
    if (api.auth !== undefined && request.headers[api.auth.header] === undefined) return api.auth.reply;
    const parsed = this.#check(request);
    if ("problem" in parsed) {
      this.violations.push(`request ${request.index}: ${parsed.problem}`);
      return { status: 400, body: parsed.problem };
    }
    if (fault?.kind === "status") return { status: fault.status, headers: fault.headers ?? {}, body: fault.body ?? "" };
    if (fault?.kind === "reset") return "reset";
    const entries = parsed.entries;
    const results = entries.map((entry, i) => this.#take(entry, i, entries.length, fault));
    return fault?.kind === "lost" ? "reset" : api.answer(entries, results, fault);
  }

  #check(request: ReceivedRequest): Parsed {
    const api = this.#api;
    if (request.method !== "POST") return { problem: `method ${request.method}` };
    if (new URL(request.path, "http://x").pathname !== api.path) return { problem: `path ${request.path}` };
    if (!api.contentType.test(String(request.headers["content-type"]))) {
      return { problem: `content-type ${request.headers["content-type"]}` };
    }
    return api.parse(request);
  }

  #take(entry: Entry, i: number, n: number, fault: Fault | undefined): "stored" | "exists" | "retry" | "failed" {
    const lines = this.stored.get(entry.callId);
    if (lines !== undefined && this.#api.path === "/_bulk") return "exists"; // create on an existing _id
    if (fault?.kind === "partial" && i >= n - fault.reject) {
      this.refused.push(entry.callId);
      return "failed";
    }
    if (fault?.kind === "items") {
      // The first `retry` items are busy, the next `fail` ones are refused.
      if (i < fault.retry) return "retry";
      if (i < fault.retry + fault.fail) {
        this.refused.push(entry.callId);
        return "failed";
      }
    }
    if (lines === undefined) this.stored.set(entry.callId, [entry.line]);
    else lines.push(entry.line);
    return "stored";
  }
}
