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

/**
 * Walks the sealed digests in order, taking each data line (from the start)
 * that is the next sealed line: how many data lines were taken, and how many
 * sealed lines had no data line.
 */
export function matchDigests(
  sealed: Uint8Array,
  data: Uint8Array,
  count: number,
): { matched: number; missing: number } {
  const n = data.length / 16;
  let matched = 0;
  for (let j = 0; j < count; j++) if (matched < n && sameDigest(sealed, j, data, matched)) matched++;
  return { matched, missing: count - matched };
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

/** Lines that differ between two tag sequences: those in one and not the other, plus a half for another order. */
export function changed(sealed: Uint32Array, data: Uint32Array): number {
  const differ = sealed.length + data.length - 2 * commonLines(sealed, data);
  return differ + (differ === 0 && compareTags(sealed, data) !== undefined ? 0.5 : 0);
}

/**
 * Where the last sealed lines end among the data's complete lines, when the
 * data ends: `stop` lines stand for the sealed ones (what follows is the
 * unsealed tail), and the last `lost` sealed lines have no data at all.
 */
export function sealedEnd(sealed: Uint32Array, data: Uint32Array): { stop: number; lost: number } {
  const m = sealed.length;
  const n = data.length;
  let pre = 0;
  while (pre < m && pre < n && sealed[pre] === data[pre]) pre++;
  if (pre === m) return { stop: m, lost: 0 };
  // After the longest run that matches the last sealed lines...
  let stop = -1;
  let best = 0;
  for (let e = pre + 1; e <= n; e++) {
    let common = 0;
    while (common < m - pre && common < e - pre && sealed[m - 1 - common] === data[e - 1 - common]) common++;
    if (common > best) (best = common, stop = e);
  }
  // ...unless as many lines as were sealed are the sealed ones in another order, which explains more of them.
  if (pre + best < m && m <= n && commonLines(sealed, data.subarray(0, m)) === m) return { stop: m, lost: 0 };
  if (stop !== -1) return { stop, lost: 0 };
  // The last sealed lines are nowhere: what data is left stands for the first of them; the rest is cut off.
  const paired = pre + Math.min(n - pre, m - pre);
  return { stop: paired, lost: m - paired };
}
