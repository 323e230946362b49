// Deno's stdout and stderr, written so that a pipe someone set non-blocking
// loses nothing more than it must and writes nothing twice (see denoWriter).
// It imports no runtime's module: stdio.ts, which loads everywhere, uses it.
import type { DenoWriter } from "./_deno_types.ts";
import { linePieces, PIPE_BUF } from "./_line_pieces.ts";
import type { WriteAll } from "./stdio.ts";

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
 * to it. Its writes must run one at a time (stdio.ts runs them so).
 */
export function denoWriter(stream: DenoWriter): WriteAll {
  let careful = false;
  let torn = false;
  const writeAll = (bytes: Uint8Array): Promise<void> => writeAllTo(stream, bytes);
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
  return async (bytes) => {
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
}

/** Writes all of `bytes` to `stream`, in as many writes as it takes. */
async function writeAllTo(stream: DenoWriter, bytes: Uint8Array): Promise<void> {
  for (let done = 0; done < bytes.length;) done += await stream.write(bytes.subarray(done));
}

/** Makes a write again while the pipe is full (WouldBlock: it took none of the bytes), waiting longer each time. */
async function patiently<T>(attempt: () => Promise<T>): Promise<T> {
  for (let wait = 1;; wait = Math.min(2 * wait, MAX_RETRY_WAIT_MS)) {
    try {
      return await attempt();
    } catch (error) {
      if (!wouldBlock(error)) throw error;
    }
    await new Promise((resolve) => setTimeout(resolve, wait));
  }
}

/** Whether `error` is Deno's for a full non-blocking pipe (EAGAIN). */
function wouldBlock(error: unknown): boolean {
  return (error as { name?: unknown } | null)?.name === "WouldBlock";
}
