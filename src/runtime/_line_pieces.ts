// Whole lines cut into pieces a pipe takes whole or not at all: how the
// standard streams are written where a write could otherwise be cut (Bun's
// console.log beside the sink; a full non-blocking pipe on Deno).

/** The smallest PIPE_BUF POSIX allows, and Linux's: a pipe takes a write of at most this many bytes whole. */
export const PIPE_BUF = 4096;

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
