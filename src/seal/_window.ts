// The data the seal-stream verifier reads ahead when a segment does not match
// where expected: its lines, and where a sealed segment lies within them.
import type { ByteSource } from "./_byte_source.ts";
import type { ParsedCheckpoint } from "./_checkpoint.ts";
import { hashLines, type Lines, splitLines } from "./_lines.ts";

/** Data read ahead: its lines, and whether it is all that is left. */
export interface Window {
  readonly bytes: Uint8Array<ArrayBuffer>;
  readonly all: Lines;
  /** Lines usable: a partial last line is left out unless the data ends there. */
  readonly n: number;
  readonly atEnd: boolean;
}

/** Reads up to `size` bytes ahead of `data`'s position (not consuming them) and splits them into lines. */
export async function readWindow(data: ByteSource, size: number): Promise<Window> {
  await data.fill(size);
  const bytes = data.peek(data.buffered, true);
  const atEnd = data.eof;
  const all = splitLines(bytes, 1024);
  return { bytes, all, n: all.torn && !atEnd ? all.count - 1 : all.count, atEnd };
}

/** The first line `s` ≥ `from` where the checkpoint's segment starts in the window (tags, then SHA-256); -1 if none. */
export async function findSegment(w: Window, parsed: ParsedCheckpoint, from: number): Promise<number> {
  const { tags } = parsed;
  if (tags.length === 0) return -1;
  const lines = { bytes: w.bytes, starts: w.all.starts, ends: w.all.ends };
  for (let s = from; s + tags.length <= w.n; s++) {
    let k = 0;
    while (k < tags.length && w.all.tags[s + k] === tags[k]) k++;
    if (k === tags.length && await hashLines(lines, s, tags.length) === parsed.checkpoint.seg_sha256) return s;
  }
  return -1;
}
