// Describes how the data lines differ from the sealed ones, by their tags:
// what is left once the common head and tail are set aside.

/** A difference: `[dataFrom, dataTo)` of the data lines stand where `[sealedFrom, sealedTo)` of the sealed ones were. */
export interface Change {
  readonly kind: "edited" | "inserted" | "deleted" | "reordered";
  readonly dataFrom: number;
  readonly dataTo: number;
  readonly sealedFrom: number;
  readonly sealedTo: number;
  /** Lines whose tags agree at both ends. */
  readonly matched: number;
}

/**
 * Compares sealed tags with data tags. `undefined` when the sequences are the
 * same (a change the tags do not see: the caller falls back to SHA-256).
 */
export function compareTags(sealed: Uint32Array, data: Uint32Array): Change | undefined {
  const m = sealed.length;
  const n = data.length;
  let head = 0;
  while (head < m && head < n && sealed[head] === data[head]) head++;
  let tail = 0;
  while (tail < m - head && tail < n - head && sealed[m - 1 - tail] === data[n - 1 - tail]) tail++;
  const change = { dataFrom: head, dataTo: n - tail, sealedFrom: head, sealedTo: m - tail, matched: head + tail };
  if (change.dataFrom === change.dataTo && change.sealedFrom === change.sealedTo) return undefined;
  if (change.dataFrom === change.dataTo) return { kind: "deleted", ...change };
  if (change.sealedFrom === change.sealedTo) return { kind: "inserted", ...change };
  const moved = change.sealedTo - change.sealedFrom === change.dataTo - change.dataFrom &&
    sameMultiset(sealed.subarray(change.sealedFrom, change.sealedTo), data.subarray(change.dataFrom, change.dataTo));
  return { kind: moved ? "reordered" : "edited", ...change };
}

function sameMultiset(a: Uint32Array, b: Uint32Array): boolean {
  const x = a.slice().sort();
  const y = b.slice().sort();
  for (let i = 0; i < x.length; i++) if (x[i] !== y[i]) return false;
  return true;
}

/** Where the data lines of a segment with declared losses sit among its sealed lines. */
export interface LossyMatch {
  /** Indices of the sealed lines missing from the data, in order. */
  readonly missing: number[];
}

/**
 * Checks that every data line is, in order, one of the sealed lines (by their
 * 16-byte digests), the others being missing. `undefined` when a data line
 * is not a sealed line in that order.
 */
export function matchDigests(sealed: Uint8Array, data: Uint8Array): LossyMatch | undefined {
  const m = sealed.length / 16;
  const n = data.length / 16;
  const missing: number[] = [];
  let j = 0;
  for (let i = 0; i < n; i++) {
    while (j < m && !sameDigest(sealed, j, data, i)) missing.push(j++);
    if (j === m) return undefined;
    j++;
  }
  while (j < m) missing.push(j++);
  return { missing };
}

function sameDigest(a: Uint8Array, i: number, b: Uint8Array, j: number): boolean {
  for (let k = 0; k < 16; k++) if (a[16 * i + k] !== b[16 * j + k]) return false;
  return true;
}

/** How many lines two tag sequences share, in any order (counting repeats). */
export function commonLines(a: Uint32Array, b: Uint32Array): number {
  const counts = new Map<number, number>();
  for (const tag of a) counts.set(tag, (counts.get(tag) ?? 0) + 1);
  let common = 0;
  for (const tag of b) {
    const n = counts.get(tag) ?? 0;
    if (n > 0) (counts.set(tag, n - 1), common++);
  }
  return common;
}
