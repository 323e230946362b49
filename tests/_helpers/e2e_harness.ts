// Shared machinery of the end-to-end tests (tests/e2e/*_e2e.ts, Node leg only):
// a local NDJSON receiver, child processes that are always killed, esbuild
// bundles built at test time, and loud skips when a tool is not installed.
import { type ChildProcess, spawn } from "node:child_process";
import { accessSync, constants, existsSync, rmSync } from "node:fs";
import { createServer, type IncomingHttpHeaders, type Server } from "node:http";
import { createServer as createNetServer } from "node:net";
import { delimiter, dirname, join } from "node:path";
import { fileURLToPath } from "node:url";
import { gunzipSync } from "node:zlib";
import { build } from "esbuild";
import { tempDir } from "./temp_dir.ts";

/** The repository root: the nearest folder up from this file (or its bundle under .build/) holding mod.ts. */
export const REPO_ROOT: string = findRepoRoot(dirname(fileURLToPath(import.meta.url)));

function findRepoRoot(start: string): string {
  for (let dir = start;; dir = dirname(dir)) {
    if (existsSync(join(dir, "mod.ts")) && existsSync(join(dir, "deno.json"))) return dir;
    if (dirname(dir) === dir) return process.cwd();
  }
}

/**
 * The absolute path of an executable, looked up on PATH, the sbin folders
 * (clickhouse-server lives in /usr/sbin) and `extra`; undefined when absent.
 */
export function findExecutable(name: string, extra: readonly string[] = []): string | undefined {
  const dirs = [...extra, ...(process.env.PATH ?? "").split(delimiter), "/usr/local/sbin", "/usr/sbin", "/sbin"];
  for (const dir of dirs) {
    if (dir === "") continue;
    const path = join(dir, name);
    try {
      accessSync(path, constants.X_OK);
      return path;
    } catch {
      // not here
    }
  }
  return undefined;
}

/**
 * The skip reason for a missing tool (printed with console.warn so that a
 * skipped e2e suite never goes unnoticed), or false when the tool is there.
 */
export function skipUnless(path: string | undefined, reason: string): string | false {
  if (path !== undefined) return false;
  console.warn(`\n!!! SKIPPING END-TO-END TESTS: ${reason}\n`);
  return reason;
}

/** A fresh temporary folder, removed when the process ends (see tempDir), or earlier with {@linkcode removeDir}. */
export function makeTempDir(prefix: string): string {
  return tempDir(`audit-${prefix}`);
}

/** Removes a folder tree, ignoring errors (a child may still hold a file open). */
export function removeDir(dir: string | undefined): void {
  if (dir !== undefined) rmSync(dir, { recursive: true, force: true, maxRetries: 3 });
}

/** A TCP port that was free on 127.0.0.1 a moment ago. */
export function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const server = createNetServer();
    server.once("error", reject);
    server.listen(0, "127.0.0.1", () => {
      const address = server.address();
      const port = typeof address === "object" && address !== null ? address.port : 0;
      server.close(() => resolve(port));
    });
  });
}

/** Polls `check` until it returns true; rejects with `what` and the last detail after `timeoutMs`. */
export async function waitFor(
  what: string,
  check: () => boolean | Promise<boolean>,
  options: { timeoutMs?: number; intervalMs?: number; detail?: () => string } = {},
): Promise<void> {
  const deadline = Date.now() + (options.timeoutMs ?? 10_000);
  for (;;) {
    if (await check()) return;
    if (Date.now() > deadline) {
      throw new Error(`Timed out waiting for ${what}${options.detail ? `: ${options.detail()}` : ""}`);
    }
    await new Promise((resolve) => setTimeout(resolve, options.intervalMs ?? 25));
  }
}

/**
 * Bundles one entry (TypeScript, importing from src/) into a single ESM
 * file's text, as a user's bundler would. Nothing is written to disk.
 */
export async function bundleModule(
  entry: string,
  options: { platform: "browser" | "neutral"; define?: Record<string, string> },
): Promise<string> {
  const result = await build({
    entryPoints: [entry],
    bundle: true,
    write: false,
    format: "esm",
    platform: options.platform,
    target: "es2022",
    mainFields: ["browser", "module", "main"],
    conditions: ["worker", "browser"],
    define: options.define ?? {},
    logLevel: "silent",
  });
  const file = result.outputFiles[0];
  if (file === undefined) throw new Error(`esbuild produced no output for ${entry}`);
  return file.text;
}

/** One request the receiver took. */
export interface ReceivedRequest {
  readonly method: string;
  readonly path: string;
  readonly headers: IncomingHttpHeaders;
  /** The body after gzip decoding. */
  readonly body: string;
}

/** A static response the receiver serves on GET. */
export interface StaticRoute {
  readonly type: string;
  readonly body: string;
}

/**
 * A local HTTP server on 127.0.0.1 that serves static routes on GET and
 * collects the NDJSON lines POSTed to `/ingest` (gzip bodies decoded). It
 * records a request's lines before answering 200, so a client's "delivered"
 * implies the lines are here.
 */
export class NdjsonReceiver {
  readonly requests: ReceivedRequest[] = [];
  /** Every line received, in arrival order, duplicates included. */
  readonly lines: string[] = [];
  /** Bodies that did not end in a newline or held a line that is not JSON (a line split across requests). */
  readonly tornBodies: string[] = [];
  readonly #server: Server;
  readonly #routes: Map<string, StaticRoute>;
  #origin = "";

  private constructor(routes: Map<string, StaticRoute>) {
    this.#routes = routes;
    this.#server = createServer((req, res) => {
      const chunks: Buffer[] = [];
      req.on("data", (chunk: Buffer) => chunks.push(chunk));
      req.on("end", () => {
        const path = new URL(req.url ?? "/", "http://x").pathname;
        if (req.method === "POST" && path === "/ingest") {
          let raw = Buffer.concat(chunks);
          if (req.headers["content-encoding"] === "gzip") raw = gunzipSync(raw);
          const body = raw.toString("utf8");
          this.requests.push({ method: req.method, path, headers: req.headers, body });
          this.#take(body);
          res.writeHead(200, { "content-type": "text/plain" }).end("ok");
          return;
        }
        const route = this.#routes.get(path);
        if (req.method === "GET" && route !== undefined) {
          res.writeHead(200, { "content-type": route.type, "cache-control": "no-store" }).end(route.body);
          return;
        }
        res.writeHead(404).end("not found");
      });
    });
  }

  /** Starts a receiver on a free port of 127.0.0.1. */
  static async start(routes: Record<string, StaticRoute> = {}): Promise<NdjsonReceiver> {
    const receiver = new NdjsonReceiver(new Map(Object.entries(routes)));
    await new Promise<void>((resolve, reject) => {
      receiver.#server.once("error", reject);
      receiver.#server.listen(0, "127.0.0.1", () => resolve());
    });
    const address = receiver.#server.address();
    if (typeof address !== "object" || address === null) throw new Error("receiver has no address");
    receiver.#origin = `http://127.0.0.1:${address.port}`;
    return receiver;
  }

  /** `http://127.0.0.1:PORT`. */
  get origin(): string {
    return this.#origin;
  }

  /** Where to POST lines. */
  get ingestUrl(): string {
    return `${this.#origin}/ingest`;
  }

  /** Adds or replaces a static GET route. */
  route(path: string, route: StaticRoute): void {
    this.#routes.set(path, route);
  }

  /** The call_id of every line received (parsed), duplicates included. */
  callIds(): string[] {
    return this.lines.map((line) => (JSON.parse(line) as { call_id: string }).call_id);
  }

  /** Whether every id in `expected` has arrived. */
  hasAll(expected: readonly string[]): boolean {
    const got = new Set(this.callIds());
    return expected.every((id) => got.has(id));
  }

  /** "k of n arrived, first missing: …", for failure messages. */
  progress(expected: readonly string[]): string {
    const got = new Set(this.callIds());
    const missing = expected.filter((id) => !got.has(id));
    return `${expected.length - missing.length} of ${expected.length} arrived in ${this.requests.length} requests` +
      (missing.length > 0 ? `, first missing: ${missing.slice(0, 5).join(", ")}` : "");
  }

  /** Closes the server and every open connection. */
  close(): Promise<void> {
    return new Promise((resolve) => {
      this.#server.close(() => resolve());
      this.#server.closeAllConnections();
    });
  }

  #take(body: string): void {
    if (body.length > 0 && !body.endsWith("\n")) this.tornBodies.push(body);
    for (const line of body.split("\n")) {
      if (line === "") continue;
      try {
        JSON.parse(line);
      } catch {
        this.tornBodies.push(body);
        continue;
      }
      this.lines.push(line);
    }
  }
}

/**
 * A child process whose output is kept for failure messages. `stop()` sends
 * SIGTERM, then SIGKILL if it has not exited after `graceMs`; it is safe to
 * call twice and after the child died on its own.
 */
export class ChildServer {
  readonly #child: ChildProcess;
  readonly #exited: Promise<void>;
  #output = "";
  #exitCode: number | null | undefined;

  private constructor(child: ChildProcess) {
    this.#child = child;
    const keep = (chunk: Buffer) => {
      this.#output = (this.#output + chunk.toString("utf8")).slice(-20_000);
    };
    child.stdout?.on("data", keep);
    child.stderr?.on("data", keep);
    this.#exited = new Promise((resolve) => {
      child.once("exit", (code, signal) => {
        this.#exitCode = code ?? (signal === null ? null : -1);
        resolve();
      });
      child.once("error", (error) => {
        this.#output += `\nspawn error: ${error.message}`;
        this.#exitCode = -1;
        resolve();
      });
    });
  }

  /** Spawns `command args` in `cwd` (not detached: it dies with the test process's group). */
  static start(command: string, args: readonly string[], options: { cwd: string }): ChildServer {
    return new ChildServer(spawn(command, args, { cwd: options.cwd, stdio: ["ignore", "pipe", "pipe"] }));
  }

  /** The last 20,000 characters of stdout and stderr. */
  get output(): string {
    return this.#output;
  }

  /** Whether the process has exited. */
  get exited(): boolean {
    return this.#exitCode !== undefined;
  }

  /** Stops the process and waits for it to exit. */
  async stop(graceMs = 3_000): Promise<void> {
    if (this.exited) return;
    this.#child.kill("SIGTERM");
    let timer: ReturnType<typeof setTimeout> | undefined;
    const timedOut = new Promise<boolean>((resolve) => {
      timer = setTimeout(() => resolve(true), graceMs);
    });
    const late = await Promise.race([this.#exited.then(() => false), timedOut]);
    clearTimeout(timer);
    if (late && !this.exited) {
      this.#child.kill("SIGKILL");
      await this.#exited;
    }
  }
}
