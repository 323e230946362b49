// Hashes segments off the main thread where it can: a segment held in a
// SharedArrayBuffer (the sink's segment buffers are) goes to one background
// worker shared by every sealer of the process, which tags its lines and
// hashes it; the main thread only posts a message. Anything else (no
// SharedArrayBuffer, no worker, a small segment, a worker that failed) is
// hashed in place, by the same code.
import { type BackgroundWorker, startWorker } from "../runtime/worker.ts";
import { refTimer, unrefTimer } from "../runtime/timer.ts";
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

/**
 * The hashing worker's niceness on Linux: it yields to the process's other
 * threads, and still gets about a tenth of a core busy with one of them
 * (CFS weights 110 against 1024), where 19 would leave it 1.5% and the
 * watchdog would move hashing to the main thread (bench/README.md,
 * fourteenth session: 0 and 19 against 10).
 */
export const WORKER_NICE = 10;

/** Segments a worker keeps the head start of, the latest (a segment's is its tags, 4 bytes a line, and a SHA-256 state). */
export const MAX_STREAMS = 16;

// The worker: the same hashCore, from its source text, talking through the `host` src/runtime/worker.ts gives it.
// Where it can load `node:crypto` (Node, Deno, Bun), it hashes the shared segment in place (no copy; OpenSSL,
// BoringSSL or Rust, all faster than Web Crypto there); elsewhere it copies it out of shared memory for Web Crypto,
// which does not read it. It answers { id, hash } or { id, error }.
//
// A segment being filled is sent ahead a piece at a time ({ piece: stream, buffer, offset, from, to, ends, lines }:
// bytes [from, to) of the segment at `offset`, whole lines, `ends` their newlines' offsets in the piece, `lines` the
// segment's lines up to the piece's end): where it has `node:crypto`,
// the worker tags those lines and goes on with the segment's SHA-256 at once, while the bytes are fresh in the
// caches and the work comes in even amounts, rather than all of it once the segment is sealed. Pieces are
// only a head start: the job ({ id, buffer, …, stream }) carries the whole segment, and the worker uses what it
// did ahead only if it is exactly the segment's first lines (else, a piece missed or a restart, it starts over).
// It keeps the few latest streams, so that one never finished (a sink that stopped) is not kept for good.
//
// Hashing is background work, so the worker lowers its own thread's priority (WORKER_NICE, on Linux: see
// src/runtime/worker.ts): on a machine with few cores it then never holds up the threads the application waits for,
// its own or the runtime's file writes.
const SOURCE = `const cores = host.builtin("crypto").then((c) => {
  const incremental = c && typeof c.createHash === "function" ? () => c.createHash("sha256") : undefined;
  const fast = incremental ? (bytes) => new Uint8Array(incremental().update(bytes).digest()) : undefined;
  return { fast, incremental, core: (${hashCore.toString()})(fast) };
});
host.lowerPriority(${WORKER_NICE});
const streams = new Map();
const STREAMS = ${MAX_STREAMS};
host.onMessage(async (m) => {
  if (m.piece !== undefined) {
    const { incremental, core } = await cores;
    if (incremental === undefined) return;
    let part = streams.get(m.piece);
    if (part === undefined && m.from === 0) {
      if (streams.size >= STREAMS) streams.delete(streams.keys().next().value);
      streams.set(m.piece, part = { lines: 0, bytes: 0, tags: new Uint8Array(4 * m.lines), sha: incremental() });
    }
    if (part === undefined || part.bytes !== m.from || part.lines + m.ends.length !== m.lines) {
      streams.delete(m.piece);
      return;
    }
    const piece = new Uint8Array(m.buffer, m.offset + m.from, m.to - m.from);
    if (part.tags.length < 4 * m.lines) {
      const grown = new Uint8Array(Math.max(2 * part.tags.length, 4 * m.lines));
      grown.set(part.tags.subarray(0, 4 * part.lines));
      part.tags = grown;
    }
    core.tagLines(piece, m.ends, 0, m.ends.length, part.tags.subarray(4 * part.lines));
    part.sha.update(piece);
    part.lines = m.lines;
    part.bytes = m.to;
    return;
  }
  try {
    const { fast, core } = await cores;
    const done = m.stream === undefined ? undefined : streams.get(m.stream);
    streams.delete(m.stream);
    const shared = new Uint8Array(m.buffer, m.offset, m.length);
    const hash = await core.hashSegment(fast ? shared : shared.slice(), m.ends, m.digests, done);
    // Line ends the main thread gave are not sent back.
    host.post({ id: m.id, hash: m.ends ? { ...hash, ends: undefined } : hash });
  } catch (error) {
    host.post({ id: m.id, error: String(error && error.stack || error) });
  }
});
`;

/**
 * Segments hashed by the worker, and on this thread; pieces sent ahead, and
 * segments whose hashing went on from them (for tests and benchmarks).
 */
export const hashCounts: { offThread: number; inPlace: number; ahead: number; headStarts: number } = {
  offThread: 0,
  inPlace: 0,
  ahead: 0,
  headStarts: 0,
};

// The watchdog: a job the worker has not answered within its allowance is hashed in place, and the worker is
// dropped (a worker that stops answering, or one that ended without a word: a Web Worker that closed itself).
// Generous, because a false alarm only moves hashing to this thread for good, while a missed one would stall the
// checkpoints: starting the worker (a thread, a script, `node:crypto`) takes tens of milliseconds, hashing about
// a millisecond a megabyte; the allowance is seconds, and 10 MB/s.
/** Every job's allowance: the worker's start, and scheduling on a loaded machine. */
const WATCHDOG_MS = 5_000;
/** Plus hashing at 10 MB/s, a hundred times slower than the tags and SHA-256 on one core. */
const WATCHDOG_BYTES_PER_MS = 10_000;
/** Plus, with line digests, 100 µs a line (Web Crypto, a promise a line, takes 5 to 15 µs). */
const WATCHDOG_MS_PER_DIGEST = 0.1;
/** Lines assumed in a segment whose line ends are not known, a line per this many bytes (event lines are longer). */
const BYTES_PER_LINE_AT_LEAST = 32;

/** Milliseconds the worker gets to answer a job (after the jobs before it), for `bytes` and `digests` line digests. */
function watchdogAllowance(bytes: number, digests: number): number {
  return WATCHDOG_MS + bytes / WATCHDOG_BYTES_PER_MS + digests * WATCHDOG_MS_PER_DIGEST;
}

/** How a {@linkcode Hasher} starts its worker (tests give a worker that misbehaves, or a short watchdog). */
export interface HasherOptions {
  /** The worker's script (see src/runtime/worker.ts). @default {the hashing worker} */
  readonly source?: string;
  /** Milliseconds a job may wait for its answer. @default {watchdogAllowance} */
  readonly allowance?: (bytes: number, digests: number) => number;
  /** Milliseconds without a job after which a worker that cannot be unreferenced stops. @default {2000} */
  readonly idleMs?: number;
}

interface Job {
  readonly resolve: (hash: SegmentHash) => void;
  /** The line ends posted with the job (the worker does not send them back). */
  readonly ends: Uint32Array | undefined;
  readonly retry: () => void;
  /** When the watchdog gives up on the worker (`performance.now()` time). */
  readonly deadline: number;
}

/** Hashes segments for every sealer of the process. */
export class Hasher {
  readonly #source: string;
  readonly #allowance: (bytes: number, digests: number) => number;
  readonly #idleMs: number;
  #worker: BackgroundWorker | undefined;
  /** The worker failed once (or none can start): every segment is hashed in place from then on. */
  #disabled = typeof SharedArrayBuffer !== "function";
  /** Pending jobs, oldest first: the oldest has the earliest deadline. */
  readonly #jobs = new Map<number, Job>();
  #next = 0;
  /** The idle timer, one for many rests (a timer a segment cost Deno about 0.15 ms, measured): see `#rest`. */
  #idle: ReturnType<typeof setTimeout> | undefined;
  /** When the jobs last ran out (`performance.now()` time). */
  #restedAt = 0;
  /**
   * The last deadline given while jobs are pending: the worker takes jobs one at a time, so a job's allowance
   * starts after the one before's; pending jobs' deadlines thus come in order.
   */
  #horizon = 0;
  /** The watchdog: armed for the oldest pending job's deadline (or an answered one's), re-armed when it fires early. */
  #watchdog: ReturnType<typeof setTimeout> | undefined;
  /** The deadline the watchdog is armed for. */
  #watchdogAt = Infinity;
  #failure: unknown;
  /** Until when (`performance.now()` time) segments are hashed here, not by the worker: see `hurry`. */
  #hurriedUntil = 0;
  /** Segments being sent ahead, by their buffer: the stream the worker knows them by. */
  readonly #streams = new WeakMap<ArrayBufferLike, number>();
  #nextStream = 0;

  constructor(options: HasherOptions = {}) {
    this.#source = options.source ?? SOURCE;
    this.#allowance = options.allowance ?? watchdogAllowance;
    this.#idleMs = options.idleMs ?? IDLE_MS;
  }

  /** Whether a worker is running (started, and not stopped since). */
  get running(): boolean {
    return this.#worker !== undefined;
  }

  /** Why the worker was dropped, if it was (`undefined` while it is used, or none started). */
  get failure(): unknown {
    return this.#failure;
  }

  /**
   * Sends a piece of a segment being filled ahead to the worker, a head
   * start for {@linkcode Hasher.hash}: `bytes` are the segment so far (from
   * the start of its shared buffer), the piece its bytes from `from` on,
   * whole lines, `ends` their newlines' offsets in the piece, `lines` the
   * segment's lines so far. The first piece of a segment is sent `from` 0.
   *
   * @returns Whether it was sent; when not, send no more of this segment.
   */
  ahead(bytes: Uint8Array, from: number, lines: number, ends: Uint32Array): boolean {
    if (!isShared(bytes) || this.#disabled || bytes.byteOffset !== 0) return false;
    if (from === 0) this.#streams.set(bytes.buffer, this.#nextStream++);
    const stream = this.#streams.get(bytes.buffer);
    const worker = stream === undefined ? undefined : this.#start();
    if (worker === undefined) return false;
    this.#restedAt = performance.now(); // busy: the idle timer waits as for a job
    try {
      worker.post({ piece: stream, buffer: bytes.buffer, offset: 0, from, to: bytes.length, ends, lines });
    } catch (error) {
      this.#fail(error);
      return false;
    }
    hashCounts.ahead++;
    // A piece is not a job: the segment may never be sealed (a destination that never settles, a sink not closed),
    // so a worker it started rests as after a job (unreferenced, or stopped once idle), not holding the process.
    if (this.#jobs.size === 0) this.#rest();
    return true;
  }

  hash(bytes: Uint8Array, ends: Uint32Array | undefined, digests: boolean): Promise<SegmentHash> {
    const stream = bytes.byteOffset === 0 ? this.#streams.get(bytes.buffer) : undefined;
    this.#streams.delete(bytes.buffer);
    if (!isShared(bytes) || this.#disabled || bytes.length < MIN_OFF_THREAD_BYTES || this.#hurried()) {
      return inPlace(bytes, ends, digests);
    }
    const worker = this.#start();
    if (worker === undefined) return inPlace(bytes, ends, digests);
    const id = this.#next++;
    const lines = digests ? ends?.length ?? Math.ceil(bytes.length / BYTES_PER_LINE_AT_LEAST) : 0;
    const deadline = this.#horizon = Math.max(performance.now(), this.#horizon) + this.#allowance(bytes.length, lines);
    return new Promise<SegmentHash>((resolve) => {
      this.#jobs.set(id, { resolve, retry: () => resolve(inPlace(bytes, ends, digests)), ends, deadline });
      worker.ref(); // a pending job keeps the process alive, as an in-place hash would
      this.#watch(deadline);
      try {
        worker.post({
          id,
          buffer: bytes.buffer,
          offset: bytes.byteOffset,
          length: bytes.length,
          ends,
          digests,
          stream,
        });
      } catch (error) {
        this.#fail(error);
      }
    });
  }

  /**
   * A deadline passed, and sealing has `ms` to finish: the pending jobs are
   * hashed here now, and the segments that come within `ms` too. The worker
   * runs at a low priority (see the worker's script), so on a loaded machine
   * it may get little of a core: fine for throughput, not for a deadline.
   * The worker stays; what it answers for the jobs taken back is ignored.
   */
  hurry(ms: number): void {
    this.#hurriedUntil = Math.max(this.#hurriedUntil, performance.now() + ms);
    const jobs = [...this.#jobs.values()];
    this.#jobs.clear();
    for (const job of jobs) job.retry();
    if (jobs.length > 0) this.#rest();
  }

  #hurried(): boolean {
    return this.#hurriedUntil > 0 && performance.now() < this.#hurriedUntil;
  }

  #start(): BackgroundWorker | undefined {
    if (this.#worker !== undefined) return this.#worker;
    const worker = startWorker(this.#source, {
      message: (data) => this.#answer(data as { id: number; hash?: SegmentHash; error?: string }),
      // Only the worker in use: one terminated since (idle, or failed) is done with.
      error: (error) => {
        if (this.#worker === worker) this.#fail(error);
      },
    });
    this.#worker = worker;
    if (worker === undefined) this.#disabled = true;
    return worker;
  }

  /**
   * Arms the watchdog for `deadline`, unless it is armed for an earlier one: when that fires, it re-arms for the
   * oldest pending job. So it is one timer for many jobs, not one a job, left behind when they are answered: while a
   * job is pending it keeps the process alive, as the job does (`ref()`), also when the worker ended without a word;
   * otherwise never (see `#rest`).
   */
  #watch(deadline: number): void {
    if (deadline >= this.#watchdogAt) {
      refTimer(this.#watchdog!);
      return;
    }
    clearTimeout(this.#watchdog);
    this.#watchdogAt = deadline;
    this.#watchdog = setTimeout(() => {
      this.#watchdog = undefined;
      this.#watchdogAt = Infinity;
      const oldest = this.#jobs.values().next().value;
      if (oldest === undefined) return;
      if (performance.now() < oldest.deadline) this.#watch(oldest.deadline);
      else this.#fail(new Error("The hashing worker did not answer in time"));
    }, Math.max(0, deadline - performance.now()));
  }

  #answer(data: { id: number; hash?: SegmentHash; error?: string }): void {
    const job = this.#jobs.get(data?.id);
    if (job === undefined) return;
    this.#jobs.delete(data.id);
    if (data.hash === undefined) {
      // A worker that cannot hash (say, a bundler renamed what its source needs) is not used again.
      this.#fail(new Error(`The hashing worker failed: ${data.error}`));
      job.retry();
    } else {
      hashCounts.offThread++;
      if ((data.hash.ahead ?? 0) > 0) hashCounts.headStarts++;
      job.resolve(data.hash.ends === undefined ? { ...data.hash, ends: job.ends! } : data.hash);
    }
    if (this.#jobs.size === 0) this.#rest();
  }

  /** Idle: the process may exit; where the worker would prevent that, it stops after a while. */
  #rest(): void {
    if (this.#watchdog !== undefined) unrefTimer(this.#watchdog);
    this.#horizon = 0;
    this.#worker?.unref();
    if (this.#worker?.unrefs) return;
    this.#restedAt = performance.now();
    this.#idle ??= this.#stopWhenIdle(this.#idleMs);
  }

  /**
   * Stops the worker once it has had no job for `idleMs`: a timer armed at
   * the first rest and left running, which on firing looks again (jobs came
   * and went meanwhile: it waits out the rest of the time since the last).
   */
  #stopWhenIdle(ms: number): ReturnType<typeof setTimeout> {
    const timer = setTimeout(() => {
      this.#idle = undefined;
      if (this.#jobs.size > 0) return; // busy: the next rest arms it again
      const left = this.#restedAt + this.#idleMs - performance.now();
      if (left > 0) {
        this.#idle = this.#stopWhenIdle(left);
        return;
      }
      this.#worker?.terminate();
      this.#worker = undefined;
    }, ms);
    unrefTimer(timer);
    return timer;
  }

  #fail(error: unknown): void {
    this.#disabled = true;
    this.#failure ??= error;
    clearTimeout(this.#watchdog);
    this.#watchdog = undefined;
    this.#watchdogAt = Infinity;
    const worker = this.#worker;
    this.#worker = undefined;
    worker?.terminate();
    const jobs = [...this.#jobs.values()];
    this.#jobs.clear();
    for (const job of jobs) job.retry();
  }
}

/** Whether `bytes` are in shared memory (which the worker reads in place). */
function isShared(bytes: Uint8Array): boolean {
  return typeof SharedArrayBuffer === "function" && bytes.buffer instanceof SharedArrayBuffer;
}

/** Hashes on this thread; Web Crypto does not read shared memory, so a shared segment is copied first. */
function inPlace(bytes: Uint8Array, ends: Uint32Array | undefined, digests: boolean): Promise<SegmentHash> {
  hashCounts.inPlace++;
  const own = bytes.buffer instanceof ArrayBuffer ? bytes as Uint8Array<ArrayBuffer> : bytes.slice();
  return core.hashSegment(own, ends, digests);
}

let shared: Hasher | undefined;

/** The process's hasher, made at first use. */
function processHasher(): Hasher {
  return shared ??= new Hasher();
}

/**
 * Makes `hasher` the one {@linkcode hashSegment} uses (tests: a worker that misbehaves).
 *
 * @returns The one it used before, to put back.
 */
export function useHasher(hasher: Hasher | undefined): Hasher | undefined {
  const before = shared;
  shared = hasher;
  return before;
}

/**
 * Splits a segment into lines, tags them and hashes it (and each line, with
 * `digests`), off the main thread when the segment is in shared memory.
 * The bytes must not change until the promise settles.
 */
export function hashSegment(bytes: Uint8Array, ends: Uint32Array | undefined, digests: boolean): Promise<SegmentHash> {
  return processHasher().hash(bytes, ends, digests);
}

/** A deadline passed: hashes on this thread for the next `ms`, pending segments included (see {@linkcode Hasher.hurry}). */
export function hurryHashing(ms: number): void {
  shared?.hurry(ms);
}

/** Sends a piece of a segment being filled ahead to the hashing worker: see {@linkcode Hasher.ahead}. */
export function sendAhead(bytes: Uint8Array, from: number, lines: number, ends: Uint32Array): boolean {
  return processHasher().ahead(bytes, from, lines, ends);
}

/** The line tag, on this thread (FORMAT.md "Line tags"). */
export const lineTagOf: (bytes: Uint8Array, start: number, end: number, view: DataView) => number = core.lineTag;
