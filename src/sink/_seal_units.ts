// The units the sink's sealing tracks: runs of line positions (a segment's
// lines, an in-band checkpoint line, a stream boundary), and how a stream
// boundary is put among them.
import type { SegmentBytes } from "./_segment_bytes.ts";

/** Losses of one reason since the previous checkpoint. */
export interface Tally {
  count: number;
  first: number;
  last: number;
}

/** Lines handed to the destination between two cuts. */
export interface Segment {
  /** Its bytes, copied in (none for a segment without lines). */
  data: SegmentBytes | undefined;
  /** Lines of it the destination did not deliver, by gap reason. */
  readonly undelivered: Map<string, Tally>;
  open: boolean;
  /** In band: resolves once its checkpoint line is in the stream (or will never be). */
  written: (() => void) | undefined;
}

/** A run of positions: a segment's lines, or an in-band checkpoint line (`segment` undefined). */
export interface Unit {
  readonly start: number;
  end: number;
  readonly segment: Segment | undefined;
  /** An empty unit where one stream ends and the next begins (a file rotation). */
  readonly boundary?: Boundary;
}

/** Where the destination switches streams: runs once the old stream's checkpoints are all written. */
export interface Boundary {
  readonly switchStreams: () => Promise<void>;
  readonly done: (error?: unknown) => void;
  started: boolean;
}

/** A new open segment, without lines yet. */
export function newSegment(): Segment {
  return { data: undefined, undelivered: new Map(), open: true, written: undefined };
}

/** Adds losses to a reason's tally. */
export function tally(map: Map<string, Tally>, reason: string, count: number, first: number, last: number): void {
  const t = map.get(reason);
  if (t === undefined) map.set(reason, { count, first, last });
  else (t.count += count, t.last = last);
}

/**
 * Ends the stream at position `at`: every segment before it is closed, the
 * one that straddles it is split there (its lines after `at` go to a new
 * segment, open if it was), and `boundary` goes in between.
 *
 * @returns The open segment afterwards.
 */
export function insertBoundary(
  units: Unit[],
  at: number,
  boundary: Boundary,
  open: Segment | undefined,
  take: () => SegmentBytes,
): Segment | undefined {
  let i = units.findIndex((unit) => unit.end > at);
  if (i === -1) i = units.length;
  const straddling = units[i];
  if (straddling?.segment !== undefined && straddling.start < at) {
    const old = straddling.segment;
    const rest: Segment = { ...newSegment(), open: old.open, data: take() };
    old.data!.splitInto(at - straddling.start, rest.data!);
    units.splice(i + 1, 0, { start: at, end: straddling.end, segment: rest });
    straddling.end = at;
    if (open === old) open = rest;
    old.open = false;
    i++;
  }
  for (let k = 0; k < i; k++) {
    const segment = units[k]!.segment;
    if (segment?.open) {
      segment.open = false;
      if (open === segment) open = undefined;
    }
  }
  units.splice(i, 0, { start: at, end: at, segment: undefined, boundary });
  return open;
}
