// The only place that looks for a process's stdout and stderr. It imports
// no runtime's module (only types, and files that import none): this file
// must load in browsers and Workers, where it finds nothing.
import type { DenoWriter } from "./_deno_types.ts";
import { denoWriter } from "./_deno_stdio.ts";
import { linePieces, PIPE_BUF } from "./_line_pieces.ts";
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
/** Per stream written in parts (Deno, Bun), its one writer, whichever sink asks. */
const writers = new WeakMap<object, WriteAll>();
/** Errors that reached the callback of one of our writes: the 'error' event that repeats them is ours to silence. */
const ours = new WeakSet<object>();

/** The writer for a standard stream, or `undefined` where the runtime has none. */
export function standardStreamWriter(which: "stdout" | "stderr"): WriteAll | undefined {
  const g = globalThis as Globals;
  const deno = g.Deno?.[which];
  if (deno) return inTurn(deno, () => denoWriter(deno)); // what it learns of the pipe holds for every sink
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
    return inTurn(node, () => async (bytes) => {
      for (const piece of linePieces(bytes, PIPE_BUF)) await write(piece);
    });
  }
  return undefined;
}

/**
 * The one writer of `stream` (made by `make` the first time), whose writes
 * run one at a time, whichever sink makes them: a write that goes in parts
 * is not cut by another sink's.
 */
function inTurn(stream: object, make: () => WriteAll): WriteAll {
  let writer = writers.get(stream);
  if (writer !== undefined) return writer;
  const write = make();
  let last: Promise<unknown> = Promise.resolve();
  writer = (bytes) => {
    const done = last.then(() => write(bytes));
    last = done.catch(() => {});
    return done;
  };
  writers.set(stream, writer);
  return writer;
}
