// Byte helpers shared by the readers, the verifier and the destinations.

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

/**
 * A fresh buffer for at least `size` bytes (twice that, at least 64 KiB, at
 * most `max`) that starts with a copy of `keep`: how a buffer that bytes are
 * appended to grows.
 */
export function grownBuffer(keep: Uint8Array, size: number, max = Infinity): Uint8Array<ArrayBuffer> {
  const grown = new Uint8Array(Math.max(size, Math.min(max, Math.max(64 * 1024, 2 * size))));
  grown.set(keep);
  return grown;
}
