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

/** How a segment's data lines stand for its sealed lines, by their digests (see {@linkcode matchDigests}). */
export interface DigestMatch {
  /** Data lines taken, from the start: the segment's (the rest follow it). */
  readonly taken: number;
  /** Sealed lines no data line matches: lost, or stood in for by a torn or an inserted line. */
  readonly missing: number;
  /** Data lines (indices) that stand where a missing sealed line was and are cut short: torn writes. */
  readonly torn: readonly number[];
  /** Complete data lines (indices) that stand where a missing sealed line was. */
  readonly inserted: readonly number[];
}

/** What may stand where a sealed line is missing. */
export interface StandIns {
  /** Torn lines at most: the lines the checkpoint declares failed while their write may have been under way. */
  readonly failed: number;
  /** Whether data line `i` is cut short (a failed write's start, never an event). */
  readonly cutShort: (i: number) => boolean;
  /**
   * Whether data line `i` is the first line a later segment seals: the
   * segment's lines end before it, whatever it looks like (by default, none
   * is known).
   */
  readonly sealedAfter?: (i: number) => boolean;
}

/**
 * Walks the sealed digests in order, taking each data line (from the start)
 * that is the next sealed line (greedily, the first one from there on). A data
 * line that is no sealed line from there on stands where the missing sealed
 * line is: as a torn write when it is cut short (while `failed` lasts), or, as
 * an inserted line, when a later data line is a later sealed line with room
 * before it for the lines between. Otherwise, or when it is the first line a
 * later segment seals, the segment's lines end there: the rest of the data is
 * what follows the segment.
 */
export function matchDigests(sealed: Uint8Array, data: Uint8Array, count: number, standIns: StandIns): DigestMatch {
  const n = data.length / 16;
  const torn: number[] = [];
  const inserted: number[] = [];
  let byPrefix: Map<number, number[]> | undefined;
  /** The first sealed line from `from` that is data line `i`; -1 if none (a binary search among its prefix's). */
  const find = (i: number, from: number): number => {
    byPrefix ??= digestPrefixes(sealed, count);
    const candidates = byPrefix.get(prefixOf(data, i));
    if (candidates === undefined) return -1;
    let low = 0;
    let high = candidates.length;
    while (low < high) {
      const mid = (low + high) >>> 1;
      if (candidates[mid]! < from) low = mid + 1;
      else high = mid;
    }
    for (let k = low; k < candidates.length; k++) {
      if (sameDigest(sealed, candidates[k]!, data, i)) return candidates[k]!;
    }
    return -1;
  };
  const tornHere = (i: number): boolean => torn.length < standIns.failed && standIns.cutShort(i);
  let i = 0;
  let j = 0;
  let equal = 0;
  while (i < n && j < count) {
    if (sameDigest(sealed, j, data, i)) {
      (i++, j++, equal++);
      continue;
    }
    const later = find(i, j + 1);
    if (later !== -1) {
      j = later; // the sealed lines before it are missing
      continue;
    }
    // The sealed lines left were lost without a trace: this line is the next segment's, not one in their place.
    if (standIns.sealedAfter?.(i) === true) break;
    if (tornHere(i)) {
      (torn.push(i++), j++);
      continue;
    }
    // A complete line: it stands in the segment only where a later data line closes the gap, leaving room for it.
    let k = i + 1;
    let closing = -1;
    while (k < n && (closing = find(k, j)) === -1) k++;
    if (closing === -1 || k - i > closing - j) break;
    for (; i < k; i++, j++) (tornHere(i) ? torn : inserted).push(i);
  }
  return { taken: i, missing: count - equal, torn, inserted };
}

/**
 * The sealed lines by the first 4 bytes of their digests, ascending: a data
 * line whose prefix is not among them is no sealed line.
 */
function digestPrefixes(sealed: Uint8Array, count: number): Map<number, number[]> {
  const byPrefix = new Map<number, number[]>();
  for (let j = 0; j < count; j++) {
    const prefix = prefixOf(sealed, j);
    const lines = byPrefix.get(prefix);
    if (lines === undefined) byPrefix.set(prefix, [j]);
    else lines.push(j);
  }
  return byPrefix;
}

function prefixOf(digests: Uint8Array, i: number): number {
  const at = 16 * i;
  return ((digests[at]! << 24) | (digests[at + 1]! << 16) | (digests[at + 2]! << 8) | digests[at + 3]!) >>> 0;
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

/** Sealed segment `j` found whole in the data, from data line `s`. */
export interface Anchor {
  readonly j: number;
  readonly s: number;
}

/**
 * The anchor to realign on first: the first of the chain of anchors (segments
 * in order, their data lines in order) that leaves the fewest lines changed
 * before it, between its anchors and after its last one (the segments left,
 * against as many data lines as follow), and that cost. The whole chain
 * counts, not only the lines before its first anchor: a copy of a segment's
 * lines ahead of the original would otherwise be taken for it, and the
 * original, out of place for the segments after, reported inserted.
 * `segments`: the tags of the segments anchors refer to; `first`: whether an
 * anchor may start a chain. On a tie, a chain through more anchors.
 */
export function firstAnchor(
  segments: readonly Uint32Array[],
  data: Uint32Array,
  anchors: readonly Anchor[],
  first: (anchor: Anchor) => boolean,
): { anchor: Anchor; cost: number } | undefined {
  const offsets = [0];
  for (const tags of segments) offsets.push(offsets.at(-1)! + tags.length);
  const sealed = new Uint32Array(offsets.at(-1)!);
  segments.forEach((tags, j) => sealed.set(tags, offsets[j]));
  const between = (j: number, k: number, from: number, to: number): number =>
    changed(sealed.subarray(offsets[j], offsets[k]), data.subarray(from, to));
  const end = (a: Anchor): number => a.s + segments[a.j]!.length;
  const sorted = anchors.toSorted((a, b) => a.j - b.j || a.s - b.s);
  // The cheapest chain ending at each anchor: its cost and its first anchor.
  const chains: ({ cost: number; start: Anchor } | undefined)[] = [];
  let best: { anchor: Anchor; cost: number } | undefined;
  sorted.forEach((a, i) => {
    let chain = first(a) ? { cost: between(0, a.j, 0, a.s), start: a } : undefined;
    for (let k = 0; k < i; k++) {
      const b = sorted[k]!;
      const before = chains[k];
      if (before === undefined || b.j === a.j || end(b) > a.s) continue;
      const cost = before.cost + between(b.j + 1, a.j, end(b), a.s);
      if (chain === undefined || cost <= chain.cost) chain = { cost, start: before.start };
    }
    chains.push(chain);
    if (chain === undefined) return;
    const left = offsets.at(-1)! - offsets[a.j + 1]!;
    const cost = chain.cost + between(a.j + 1, segments.length, end(a), Math.min(data.length, end(a) + left));
    if (best === undefined || cost < best.cost) best = { anchor: chain.start, cost };
  });
  return best;
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
