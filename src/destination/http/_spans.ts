// Where lines sit in the stream the destination was given: each line has a
// position (0 for the first line ever written to it), and a piece's lines are
// runs of consecutive positions. The ledger reports lines by position, so
// that the sink hears of them in stream order whatever order they settle in.

/** A run of `count` consecutive positions from `first`. */
export type Span = readonly [first: number, count: number];

/** The runs of `positions`, in their order (consecutive positions join one run). */
export function spansOf(positions: Iterable<number>): Span[] {
  const spans: Span[] = [];
  let first = -1;
  let count = 0;
  for (const pos of positions) {
    if (count > 0 && pos === first + count) {
      count++;
      continue;
    }
    if (count > 0) spans.push([first, count]);
    first = pos;
    count = 1;
  }
  if (count > 0) spans.push([first, count]);
  return spans;
}

/** The `count` positions of `spans` after the first `skip`, as runs. */
export function sliceSpans(spans: readonly Span[], skip: number, count: number): Span[] {
  const out: Span[] = [];
  for (const [first, n] of spans) {
    if (count <= 0) break;
    if (skip >= n) {
      skip -= n;
      continue;
    }
    const take = Math.min(n - skip, count);
    out.push([first + skip, take]);
    count -= take;
    skip = 0;
  }
  return out;
}
