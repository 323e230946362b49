// The only place that looks for a process's stdout and stderr. It imports
// types only (erased when compiled): this file must load in browsers and
// Workers, where it finds nothing.
import type { DenoWriter } from "./_deno_types.ts";
import { isBun } from "./engine.ts";

/** Writes all of `bytes`; resolves when the runtime has taken them. */
export type WriteAll = (bytes: Uint8Array) => Promise<void>;

interface NodeStream {
  write(bytes: Uint8Array, callback: (error?: Error | null) => void): boolean;
  on?(event: "error", listener: (error: Error) => void): unknown;
  listenerCount?(event: "error"): number;
}
interface Globals {
  Deno?: { stdout?: DenoWriter; stderr?: DenoWriter };
  process?: { stdout?: NodeStream; stderr?: NodeStream };
}

const guarded = new WeakSet<object>();
/** Per stream (Deno), its writer: what it learnt of the pipe holds for every sink writing to it. */
const denoWriters = new WeakMap<object, WriteAll>();
/** Per stream (Bun), the end of the writes cut in pieces so far. */
const pieceQueues = new WeakMap<object, Promise<void>>();
/** Errors that reached the callback of one of our writes: the 'error' event that repeats them is ours to silence. */
const ours = new WeakSet<object>();

/** The writer for a standard stream, or `undefined` where the runtime has none. */
export function standardStreamWriter(which: "stdout" | "stderr"): WriteAll | undefined {
  const g = globalThis as Globals;
  const deno = g.Deno?.[which];
  if (deno) {
    let writer = denoWriters.get(deno);
    if (writer === undefined) denoWriters.set(deno, writer = denoWriter(deno));
    return writer;
  }
  const node = g.process?.[which];
  if (node && typeof node.write === "function") {
    // A closed pipe (EPIPE) is also emitted as 'error'; unheard, that would
    // crash the process. The write callback below still reports it. An error
    // of someone else's write (console.log) is not ours to silence: with no
    // other listener it is thrown, ending the process as it would without us.
    if (!guarded.has(node)) {
      guarded.add(node);
      node.on?.("error", (error) => {
        if (ours.has(error) || (node.listenerCount?.("error") ?? 1) > 1) return;
        throw error;
      });
    }
    const write = (bytes: Uint8Array) =>
      new Promise<void>((resolve, reject) =>
        node.write(bytes, (error) => {
          if (!error) return resolve();
          if (typeof error === "object") ours.add(error);
          reject(error);
        })
      );
    if (!isBun) return write;
    // Bun's console.log writes straight to the descriptor, past what
    // process.stdout still holds of a write the pipe took only in part: that
    // tears the line. A pipe takes a write of at most PIPE_BUF (4 KiB) whole
    // or not at all, so write whole lines in pieces of at most that. The
    // pieces of one write go out before those of the next, whichever sink
    // makes it: two sinks on stdout do not interleave their lines.
    return (bytes) => {
      const done = (pieceQueues.get(node) ?? Promise.resolve()).then(async () => {
        for (const piece of linePieces(bytes, PIPE_BUF)) await write(piece);
      });
      pieceQueues.set(node, done.catch(() => {}));
      return done;
    };
  }
  return undefined;
}

/** The smallest PIPE_BUF POSIX allows, and Linux's: a pipe takes a write of at most this many bytes whole. */
const PIPE_BUF = 4096;
/** Longest wait (ms) before writing again to a full non-blocking pipe; waits double from 1 ms. */
const MAX_RETRY_WAIT_MS = 50;
/**
 * Rust's stdout line buffer (`LineWriter`, 1 KiB), which Deno writes through:
 * a write of at least this many bytes with no newline in it, made while the
 * buffer is empty, goes straight to the pipe, and the count it returns is what
 * the pipe took (a shorter one is buffered, and Deno's flush after it may fail
 * with it taken).
 */
const LINE_BUFFER = 1024;
const NEWLINE = new Uint8Array([0x0a]);

/**
 * Deno's stdout or stderr. A pipe someone set non-blocking (O_NONBLOCK
 * belongs to the pipe: a parent that set it on its own stdout, as libuv does,
 * passes it on) fails a write with WouldBlock once it is full, and Deno may by
 * then have taken part of the bytes (its write goes through Rust's line
 * buffer, which keeps what the pipe refused): the write is failed, and writing
 * it again would duplicate that part. So the first WouldBlock fails the write,
 * and from then on lines go in pieces of at most PIPE_BUF bytes, cut after a
 * newline: the pipe takes such a piece whole or not at all, so a piece it
 * refused is written again once the reader has made room, as a blocking pipe
 * would make it wait. A longer line is written in parts whose counts are
 * exact (see `patientLine`). A write that failed part way leaves a torn line:
 * the next write ends it with a newline first, so the next line is not glued
 * to it. Writes run one at a time, whichever sink makes them, so that a line
 * written in parts is not cut by another sink's.
 */
function denoWriter(stream: DenoWriter): WriteAll {
  let careful = false;
  let torn = false;
  const writeAll = async (bytes: Uint8Array): Promise<void> => {
    for (let done = 0; done < bytes.length;) done += await stream.write(bytes.subarray(done));
  };
  /** Makes a write again while the pipe is full (WouldBlock: it took none of the bytes). */
  const patiently = async <T>(attempt: () => Promise<T>): Promise<T> => {
    for (let wait = 1;; wait = Math.min(2 * wait, MAX_RETRY_WAIT_MS)) {
      try {
        return await attempt();
      } catch (error) {
        if (!wouldBlock(error)) throw error;
      }
      await new Promise((resolve) => setTimeout(resolve, wait));
    }
  };
  /**
   * A line longer than PIPE_BUF, waiting while the pipe is full: all but its
   * last 2 KiB in writes of at least LINE_BUFFER bytes with no newline (each
   * count exact), then the rest, newline included, in one write the pipe takes
   * whole or not at all (at most PIPE_BUF bytes). A failure part way tears it.
   */
  const patientLine = async (line: Uint8Array): Promise<void> => {
    const body = line.length - PIPE_BUF / 2;
    let done = 0;
    try {
      while (body - done >= LINE_BUFFER) {
        done += await patiently(() => stream.write(line.subarray(done, body)));
      }
      await patiently(() => writeAll(line.subarray(done)));
    } catch (error) {
      torn = true;
      throw error;
    }
  };
  const write = async (bytes: Uint8Array): Promise<void> => {
    if (torn) {
      await (careful ? patiently(() => writeAll(NEWLINE)) : writeAll(NEWLINE));
      torn = false;
    }
    if (!careful) {
      try {
        return await writeAll(bytes);
      } catch (error) {
        torn = true; // how much of it was taken is not known
        careful = wouldBlock(error);
        throw error;
      }
    }
    for (const piece of linePieces(bytes, PIPE_BUF, true)) {
      await (piece.length <= PIPE_BUF ? patiently(() => writeAll(piece)) : patientLine(piece));
    }
  };
  let last: Promise<unknown> = Promise.resolve();
  return (bytes) => {
    const done = last.then(() => write(bytes));
    last = done.catch(() => {});
    return done;
  };
}

function wouldBlock(error: unknown): boolean {
  return (error as { name?: unknown } | null)?.name === "WouldBlock";
}

/**
 * `bytes` cut after a newline into pieces of at most `max` bytes. A longer
 * line is cut where it must be, or with `wholeLines` is a piece of its own.
 */
export function* linePieces(bytes: Uint8Array, max: number, wholeLines = false): Generator<Uint8Array> {
  let start = 0;
  while (bytes.length - start > max) {
    const cut = bytes.lastIndexOf(10, start + max - 1);
    const end = cut >= start ? cut + 1 : wholeLines ? nextLineEnd(bytes, start) : start + max;
    yield bytes.subarray(start, end);
    start = end;
  }
  if (start < bytes.length) yield bytes.subarray(start);
}

/** Where the line starting at `start` ends, its newline included (the end of `bytes` if none). */
function nextLineEnd(bytes: Uint8Array, start: number): number {
  const newline = bytes.indexOf(10, start);
  return newline === -1 ? bytes.length : newline + 1;
}
