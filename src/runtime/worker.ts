// A background thread running a script given as text: a Web Worker from a
// Blob URL where the runtime has `Worker` (Deno, Bun, browsers), a
// `worker_threads` Worker on Node (looked up at run time with
// `process.getBuiltinModule`, so that no bundler sees a `node:` import).
// workerd and pages whose policy forbids blob: workers get none. No imports:
// this file loads in browsers and workerd.

/** A started worker. Messages are structured-cloned; a SharedArrayBuffer is shared, not copied. */
export interface BackgroundWorker {
  /** Sends a message. */
  post(message: unknown): void;
  /** Lets the process exit while the worker is idle (Node, Bun; elsewhere nothing). */
  unref(): void;
  /** Whether `unref` does anything: else an idle worker keeps the process alive. */
  readonly unrefs: boolean;
  /** Keeps the process alive while a job is pending (Node, Bun; elsewhere nothing). */
  ref(): void;
  /** Stops the worker. */
  terminate(): void;
}

/** What the worker's messages and failures go to. */
export interface WorkerHandlers {
  message(data: unknown): void;
  /**
   * The worker failed: an uncaught error, a message that could not be
   * deserialized, or (Node, Bun) the worker ended without `terminate()`.
   * A worker that ends silently (a Web Worker calling `close()` in Deno or a
   * browser) is not reported: only a watchdog can tell.
   */
  error(error: unknown): void;
}

interface NodeWorker {
  postMessage(message: unknown): void;
  on(event: string, listener: (value: unknown) => void): void;
  ref(): void;
  unref(): void;
  terminate(): unknown;
}

interface WebWorker {
  postMessage(message: unknown): void;
  onmessage: ((event: { data: unknown }) => void) | null;
  onerror: ((event: unknown) => void) | null;
  onmessageerror: ((event: unknown) => void) | null;
  /** Bun: a `close` event when the worker ends. */
  addEventListener?: (type: string, listener: (event: unknown) => void) => void;
  ref?: () => void;
  unref?: () => void;
  terminate(): void;
}

// What a worker's script talks through, the same on every runtime: `host.post(message)`,
// `host.onMessage(listener)`, `host.builtin(name)`, a promise of the runtime's `node:` module
// of that name, or of undefined where there is none (browsers), and `host.lowerPriority(nice)`,
// which sets the worker's own thread to that niceness where a thread has a priority of its own
// (Linux; elsewhere `setPriority` would lower the whole process, so it does nothing), and in Deno
// only with the permission granted already (Deno would otherwise ask the user on a terminal).
const LOWER_PRIORITY = `(nice) => host.builtin("os").then((os) => {
  if (!os || os.platform() !== "linux") return;
  const permissions = globalThis.Deno && globalThis.Deno.permissions;
  if (permissions && permissions.querySync({ name: "sys", kind: "setPriority" }).state !== "granted") return;
  os.setPriority(0, nice);
}).catch(() => {})`;
const NODE_HOST = `"use strict";
const host = {
  post: (message) => require("node:worker_threads").parentPort.postMessage(message),
  onMessage: (listener) => require("node:worker_threads").parentPort.on("message", listener),
  builtin: (name) => Promise.resolve().then(() => require("node:" + name)),
};
host.lowerPriority = ${LOWER_PRIORITY};
`;
const WEB_HOST = `"use strict";
const host = {
  post: (message) => self.postMessage(message),
  onMessage: (listener) => { self.onmessage = (event) => listener(event.data); },
  builtin: (name) => import("node:" + name).catch(() => undefined),
};
host.lowerPriority = ${LOWER_PRIORITY};
`;

/**
 * Starts a worker running `source`, a script that talks through `host` (see above): a module in
 * a Web Worker, or a `worker_threads` script on Node.
 *
 * @returns The worker, or `undefined` where none can be started.
 */
export function startWorker(source: string, handlers: WorkerHandlers): BackgroundWorker | undefined {
  const g = globalThis as {
    Worker?: new (url: string, options?: { type?: string }) => WebWorker;
    process?: { getBuiltinModule?: (name: string) => unknown };
    Deno?: unknown;
    Bun?: unknown;
  };
  try {
    if (g.Deno === undefined && g.Bun === undefined && typeof g.process?.getBuiltinModule === "function") {
      const threads = g.process.getBuiltinModule("node:worker_threads") as {
        Worker: new (code: string, options: { eval: true }) => NodeWorker;
      };
      const worker = new threads.Worker(NODE_HOST + source, { eval: true });
      let stopped = false;
      worker.on("message", handlers.message);
      worker.on("error", handlers.error);
      worker.on("messageerror", handlers.error);
      // After an `error` too: the handler sees one failure or two, never none.
      worker.on("exit", (code) => {
        if (!stopped) handlers.error(new Error(`The worker exited with code ${code}`));
      });
      return {
        post: (message) => worker.postMessage(message),
        unref: () => worker.unref(),
        unrefs: true,
        ref: () => worker.ref(),
        terminate: () => {
          stopped = true;
          void worker.terminate();
        },
      };
    }
    if (typeof g.Worker !== "function" || typeof URL.createObjectURL !== "function") return undefined;
    const url = URL.createObjectURL(new Blob([WEB_HOST + source], { type: "text/javascript" }));
    const worker = new g.Worker(url, { type: "module" });
    let stopped = false;
    worker.onmessage = (event) => handlers.message(event.data);
    worker.onerror = (event) => handlers.error(event);
    worker.onmessageerror = (event) => handlers.error(event);
    worker.addEventListener?.("close", () => {
      if (!stopped) handlers.error(new Error("The worker ended"));
    });
    return {
      post: (message) => worker.postMessage(message),
      unref: () => worker.unref?.(),
      unrefs: typeof worker.unref === "function",
      ref: () => worker.ref?.(),
      terminate: () => {
        stopped = true;
        worker.terminate();
        URL.revokeObjectURL(url);
      },
    };
  } catch {
    return undefined;
  }
}
