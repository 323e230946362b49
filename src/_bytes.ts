// Byte helpers shared by the reader's line splitter and the fetch destination.

/**
 * `parts` joined into one array, cut at `length` bytes (default: all of them).
 * A single part that is already the whole is returned as it is.
 */
export function concatBytes<B extends ArrayBufferLike>(
  parts: readonly Uint8Array<B>[],
  length: number = parts.reduce((sum, part) => sum + part.length, 0),
): Uint8Array<B | ArrayBuffer> {
  if (parts.length === 1 && parts[0]!.length === length) return parts[0]!;
  const out = new Uint8Array(length);
  let at = 0;
  for (const part of parts) {
    const take = Math.min(part.length, length - at);
    out.set(take === part.length ? part : part.subarray(0, take), at);
    at += take;
    if (at === length) break;
  }
  return out.subarray(0, at);
}

/** The number of `"\n"` bytes in `bytes`: the lines of a chunk of whole JSON lines. */
export function countLines(bytes: Uint8Array): number {
  let lines = 0;
  for (let at = bytes.indexOf(0x0a); at !== -1; at = bytes.indexOf(0x0a, at + 1)) lines++;
  return lines;
}
