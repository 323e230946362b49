// Hashes segments off the main thread where it can: a segment held in a
// SharedArrayBuffer (the sink's segment buffers are) goes to one background
// worker shared by every sealer of the process, which tags its lines and
// hashes it; the main thread only posts a message. Anything else (no
// SharedArrayBuffer, no worker, a small segment, a worker that failed) is
// hashed in place, by the same code.
import { type BackgroundWorker, startWorker } from "../runtime/worker.ts";
import { unrefTimer } from "../runtime/timer.ts";
import { hashCore, type SegmentHash } from "./_hash_core.ts";

/** Segments smaller than this are hashed in place: posting one costs more than it saves. */
const MIN_OFF_THREAD_BYTES = 64 * 1024;
/**
 * An idle worker stops after this long where it would keep the process alive
 * (Deno: no `unref`); elsewhere an idle worker is unreferenced and kept, so a
 * burst after a quiet spell does not pay for starting one again.
 */
const IDLE_MS = 2_000;

const core = hashCore();

// The worker: the same hashCore, from its source text, talking through the `host` src/runtime/worker.ts gives it.
// Where it can load `node:crypto` (Node, Deno, Bun), it hashes the shared segment in place (no copy; OpenSSL,
// BoringSSL or Rust, all faster than Web Crypto there); elsewhere it copies it out of shared memory for Web Crypto,
// which does not read it. It answers { id, hash } or { id, error }.
const SOURCE = `const cores = host.builtin("crypto").then((c) => {
  const fast = c && typeof c.createHash === "function"
    ? (bytes) => new Uint8Array(c.createHash("sha256").update(bytes).digest())
    : undefined;
  return { fast, core: (${hashCore.toString()})(fast) };
});
host.onMessage(async (m) => {
  try {
    const { fast, core } = await cores;
    const shared = new Uint8Array(m.buffer, m.offset, m.length);
    host.post({ id: m.id, hash: await core.hashSegment(fast ? shared : shared.slice(), m.ends, m.digests) });
  } catch (error) {
    host.post({ id: m.id, error: String(error && error.stack || error) });
  }
});
`;

/** Segments hashed by the worker, and on this thread (for tests and benchmarks). */
export const hashCounts: { offThread: number; inPlace: number } = { offThread: 0, inPlace: 0 };

interface Job {
  readonly resolve: (hash: SegmentHash) => void;
  readonly retry: () => void;
}

/** Hashes segments for every sealer of the process. */
class Hasher {
  #worker: BackgroundWorker | undefined;
  /** The worker failed once (or none can start): every segment is hashed in place from then on. */
  #disabled = typeof SharedArrayBuffer !== "function";
  readonly #jobs = new Map<number, Job>();
  #next = 0;
  #idle: ReturnType<typeof setTimeout> | undefined;

  hash(bytes: Uint8Array, ends: Uint32Array | undefined, digests: boolean): Promise<SegmentHash> {
    const shared = typeof SharedArrayBuffer === "function" && bytes.buffer instanceof SharedArrayBuffer;
    if (!shared || this.#disabled || bytes.length < MIN_OFF_THREAD_BYTES) return inPlace(bytes, ends, digests);
    const worker = this.#start();
    if (worker === undefined) return inPlace(bytes, ends, digests);
    const id = this.#next++;
    return new Promise<SegmentHash>((resolve) => {
      this.#jobs.set(id, { resolve, retry: () => resolve(inPlace(bytes, ends, digests)) });
      clearTimeout(this.#idle);
      worker.ref(); // a pending job keeps the process alive, as an in-place hash would
      try {
        worker.post({ id, buffer: bytes.buffer, offset: bytes.byteOffset, length: bytes.length, ends, digests });
      } catch {
        this.#fail();
      }
    });
  }

  #start(): BackgroundWorker | undefined {
    if (this.#worker !== undefined) return this.#worker;
    this.#worker = startWorker(SOURCE, {
      message: (data) => this.#answer(data as { id: number; hash?: SegmentHash; error?: string }),
      error: () => this.#fail(),
    });
    if (this.#worker === undefined) this.#disabled = true;
    return this.#worker;
  }

  #answer(data: { id: number; hash?: SegmentHash; error?: string }): void {
    const job = this.#jobs.get(data?.id);
    if (job === undefined) return;
    this.#jobs.delete(data.id);
    if (data.hash === undefined) {
      this.#fail(); // a worker that cannot hash (say, a bundler renamed what its source needs) is not used again
      job.retry();
    } else {
      hashCounts.offThread++;
      job.resolve(data.hash);
    }
    if (this.#jobs.size === 0) this.#rest();
  }

  /** Idle: the process may exit; where the worker would prevent that, it stops after a while. */
  #rest(): void {
    this.#worker?.unref();
    clearTimeout(this.#idle);
    if (this.#worker?.unrefs) return;
    this.#idle = setTimeout(() => {
      this.#worker?.terminate();
      this.#worker = undefined;
    }, IDLE_MS);
    unrefTimer(this.#idle);
  }

  #fail(): void {
    this.#disabled = true;
    const worker = this.#worker;
    this.#worker = undefined;
    worker?.terminate();
    const jobs = [...this.#jobs.values()];
    this.#jobs.clear();
    for (const job of jobs) job.retry();
  }
}

/** Hashes on this thread; Web Crypto does not read shared memory, so a shared segment is copied first. */
function inPlace(bytes: Uint8Array, ends: Uint32Array | undefined, digests: boolean): Promise<SegmentHash> {
  hashCounts.inPlace++;
  const own = bytes.buffer instanceof ArrayBuffer ? bytes as Uint8Array<ArrayBuffer> : bytes.slice();
  return core.hashSegment(own, ends, digests);
}

let shared: Hasher | undefined;

/**
 * Splits a segment into lines, tags them and hashes it (and each line, with
 * `digests`), off the main thread when the segment is in shared memory.
 * The bytes must not change until the promise settles.
 */
export function hashSegment(bytes: Uint8Array, ends: Uint32Array | undefined, digests: boolean): Promise<SegmentHash> {
  return (shared ??= new Hasher()).hash(bytes, ends, digests);
}

/** The line tag, on this thread (FORMAT.md "Line tags"). */
export const lineTagOf: (bytes: Uint8Array, start: number, end: number, view: DataView) => number = core.lineTag;
