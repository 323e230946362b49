// How many lines a chunk holds. The sink knows it for every chunk it hands a
// destination (its queue counted the lines as they came) and notes it here;
// this library's destinations look it up instead of counting the chunk's
// newlines again: V8's `indexOf` on bytes reads about a byte a cycle, and that
// second count was 2.5% of Deno's CPU samples in block mode and 4.3% with
// events trickling in (profiles, bench/README.md, ninth session). A chunk
// from anywhere else is counted.
//
// The count is taken before the chunk is written: a stream may zero, reuse or
// transfer a chunk it was given, and its lines must not then count as lost.
import { countLines } from "../_bytes.ts";

const noted = new WeakMap<Uint8Array, number>();

/** Notes that `chunk`, about to be written, holds `lines` whole lines. */
export function noteLines(chunk: Uint8Array, lines: number): void {
  noted.set(chunk, lines);
}

/** The lines of `chunk`: as noted (once), else counted. Call it before writing the chunk anywhere. */
export function linesOf(chunk: Uint8Array): number {
  const lines = noted.get(chunk);
  if (lines === undefined) return countLines(chunk);
  noted.delete(chunk);
  return lines;
}
