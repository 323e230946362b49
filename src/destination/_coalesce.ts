// What the sink may do for this library's own destinations. Which ones it
// gathers trickling lines for (a mark on them): a file or stdout
// pays a system call per write, so the sink holds a write back at most 2 ms
// to gather lines that trickle in. Any other destination (fetch, a user's
// stream) gets each line as soon as it is queued: it batches on its own, and
// a page's unload path must find every line already in the destination.

/** Set to `true` on a destination whose every write costs a system call. */
export const COALESCE_WRITES: unique symbol = Symbol("@atd/audit coalesce writes");

/** Whether `destination` asks the sink to gather trickling lines. Never throws. */
export function coalesces(destination: unknown): boolean {
  try {
    return (destination as { [COALESCE_WRITES]?: unknown } | null)?.[COALESCE_WRITES] === true;
  } catch {
    return false;
  }
}

/**
 * Destinations that are done with a chunk's bytes once they reported the
 * chunk's lines, and hand them to no one else: files. Their chunks may be
 * views of the sink's sealing buffers, which are reused (see
 * src/sink/_segment_bytes.ts). Kept by identity, not as a mark: a proxy
 * cannot claim it.
 */
const inPlace = new WeakSet<object>();

/** Marks `destination` as one that takes views of the sink's reused buffers (a file). */
export function markWritesInPlace(destination: object): void {
  inPlace.add(destination);
}

/** Whether `destination` takes chunks that are views of the sink's reused buffers. */
export function writesInPlace(destination: unknown): boolean {
  return typeof destination === "object" && destination !== null && inPlace.has(destination);
}
