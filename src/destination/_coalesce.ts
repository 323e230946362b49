// Which destinations the sink gathers trickling lines for. A file or stdout
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
