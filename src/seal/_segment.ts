// Checking the data lines a checkpoint seals, and the findings that describe
// a mismatch: shared by the in-band and the seal-stream verifiers.
import type { AuditCheckpoint } from "./audit_checkpoint.ts";
import { type Change, commonLines, compareTags, matchDigests } from "./_classify.ts";
import type { ParsedCheckpoint } from "./_checkpoint.ts";
import { lineTag, sha256Hex } from "./_encoding.ts";
import { agree, type Entry, type Judge, lineRange } from "./_judge.ts";
import { hashLines, type LineBytes, LineHashes, type Lines, splitLines } from "./_lines.ts";

/** Data lines gathered for one checkpoint (their bytes are kept by the caller). */
export interface Segment {
  bytes: number;
  /** Lines, a torn last one included. */
  lines: number;
  /** Line number, in the data source, of the first of them. */
  readonly firstLine: number;
  /** Too large to keep: only counted. */
  overflow: boolean;
  torn: boolean;
  /** Its lines (indices) that end their file without a newline, in files read back to back (see BackToBack). */
  readonly unended?: readonly number[];
}

/** Lines lost in the segment itself that the checkpoint declares. */
export function undeliveredCount(entry: Entry): number {
  return entry.parsed?.checkpoint.gaps.reduce((sum, g) => sum + (g.in_segment ? g.count : 0), 0) ?? 0;
}

/**
 * The in-segment losses whose write may have been under way, and so may have
 * stopped part way (a full disk) leaving the start of its line, and how a
 * message says each: the destination failed the write, or a flush or close
 * deadline gave up on it while it was under way. A rerouted line was not
 * lost to a failure but delivered elsewhere (the destination's fallback): it
 * allows none.
 */
const CUT_SHORT_BY: ReadonlyMap<string, string> = new Map([
  ["destination", "failed at the destination"],
  ["deadline", "failed at a flush or close deadline"],
]);

/** Lines of the segment that the checkpoint declares failed while their write may have been under way, by reason. */
function failedByReason(entry: Entry): [reason: string, count: number][] {
  const gaps = entry.parsed!.checkpoint.gaps.filter((g) => g.in_segment);
  return [...CUT_SHORT_BY.keys()]
    .map((reason): [string, number] => [reason, gaps.reduce((sum, g) => sum + (g.reason === reason ? g.count : 0), 0)])
    .filter(([, count]) => count > 0);
}

/** Lines of the segment that the checkpoint declares failed while their write may have been under way. */
function failedCount(entry: Entry): number {
  return failedByReason(entry).reduce((sum, [, count]) => sum + count, 0);
}

/** Checks the data lines of an in-band segment, `data` (`undefined` when too large to keep), against its checkpoint. */
export async function checkSegment(
  judge: Judge,
  entry: Entry,
  segment: Segment,
  data: Uint8Array | undefined,
): Promise<void> {
  const { firstLine, lines: n, unended = [] } = segment;
  reportProblems(judge, entry, firstLine, n);
  if (!entry.trusted) return;
  const c = entry.parsed!.checkpoint;
  const bytes = data as Uint8Array<ArrayBuffer> | undefined;
  // The bytes hold a newline after each line its file's end ended, which the files do not: no SHA-256 over it counts.
  if (entry.missing > 0) {
    let own = false;
    if (bytes !== undefined && n >= c.seg_lines && unended.every((i) => i < n - c.seg_lines)) {
      const from = c.seg_lines === 0 ? bytes.length : splitLines(bytes, n).starts[n - c.seg_lines]!;
      own = bytes.length - from === c.seg_bytes && await sha256Hex(bytes.subarray(from)) === c.seg_sha256;
    }
    missingBefore(judge, entry, firstLine, own ? n - c.seg_lines : n, own);
    if (own) judge.verified(c.seg_lines);
  } else if (
    bytes !== undefined && n === c.seg_lines && unended.length === 0 && await sha256Hex(bytes) === c.seg_sha256
  ) {
    judge.verified(n);
  } else if (bytes === undefined) {
    const kind = n > c.seg_lines ? "inserted" : n < c.seg_lines ? "deleted" : "edited";
    const message = `${lineRange(firstLine, firstLine + n - 1)} (more than the largest segment) do not match ` +
      `the ${c.seg_lines} lines of checkpoint ${c.seq}`;
    judge.emit({ kind, line: firstLine, lastLine: firstLine + n - 1, count: n, seq: [c.seq, c.seq], message });
  } else if (n === c.seg_lines && await sealedWithoutCr(c, bytes)) {
    reportConverted(judge, entry, firstLine);
  } else {
    const lines = { ...splitLines(bytes, n), unended };
    const lossy = await lossyMatch([entry], bytes, lines);
    if (lossy === undefined) {
      // A line its file's end ended is not the sealed line, whose newline it lacks: its tag says so.
      const tags = lines.tags.slice();
      for (const i of unended) tags[i] = (tags[i]! ^ 1) >>> 0;
      await compareRegion(judge, [entry], tags, firstLine, { bytes, starts: lines.starts, ends: lines.ends });
    } else reportLossy(judge, lossy, firstLine);
  }
  reportGaps(judge, entry, firstLine);
}

/** A data line that stands where a sealed line its entry declares lost was. */
interface StandIn {
  /** Its index among the lines matched. */
  readonly at: number;
  readonly entry: Entry;
}

/** How data lines are the sealed lines of entries less the in-segment losses they declare (see lossyMatch). */
export interface LossyMatch {
  /** Data lines that are the entries' (from the first): the rest follow them. */
  readonly lines: number;
  /** Lines the entries seal. */
  readonly sealed: number;
  /** Data lines that are sealed lines: each matched by its digest, or its segment by its SHA-256. */
  readonly verified: number;
  /** Lines cut short where a line the entry declares failed was: what a write that stopped part way left. */
  readonly torn: readonly StandIn[];
  /** Complete lines where a line the entry declares lost was: not written by the writer. */
  readonly inserted: readonly StandIn[];
}

/** How every event line starts (`ts` is the first field on the wire). */
const EVENT_START = new TextEncoder().encode('{"ts":"');

/**
 * Whether line `i` is cut short: ended by its newline (a last line without
 * one is the unsealed tail's), shorter than `within` bytes (the segment it
 * would be the start of a line of), and the start of an event line that
 * stops before its object closes: it begins as every event line does, and
 * (outside strings) no `}` or `]` brings it back to the top level, so that no
 * reader (a lenient one included, that reads a first value and ignores the
 * rest) takes it for an event. Not JSON, then, either.
 */
function cutShort(bytes: Uint8Array, lines: Lines, i: number, within: number): boolean {
  if (lines.torn && i === lines.count - 1) return false;
  const start = lines.starts[i]!;
  const end = lines.ends[i]!;
  if (end <= start || end - start >= within) return false;
  for (let k = 0; k < EVENT_START.length && start + k < end; k++) if (bytes[start + k] !== EVENT_START[k]) return false;
  let depth = 0;
  let inString = false;
  for (let at = start; at < end; at++) {
    const byte = bytes[at]!;
    if (inString) {
      if (byte === 0x5c) at++; // a backslash: the next byte is escaped
      else if (byte === 0x22) inString = false;
    } else if (byte === 0x22) inString = true;
    else if (byte === 0x7b || byte === 0x5b) depth++;
    else if ((byte === 0x7d || byte === 0x5d) && --depth <= 0) return false;
  }
  return true;
}

/** How {@linkcode lossyMatch} reads the lines. */
export interface LossyMatchOptions {
  /**
   * The lines may go on past the entries' (a window read ahead; `next`: the
   * tag of the first line sealed after them, when known); else they must
   * all be theirs.
   */
  readonly more?: { readonly next: number | undefined } | undefined;
  /** The hashes of these lines, kept from an earlier call on the same data. */
  readonly hashes?: LineHashes;
}

/**
 * Whether `lines` of `bytes` are the entries' sealed lines, in order, less
 * the in-segment losses they declare: each line of an entry with losses is
 * checked against its digest, every other entry by its tags, then its
 * SHA-256. Where a lost line was, a line cut short stands for one the entry
 * declares failed (a torn write); any other line there is inserted; but
 * never the first line sealed after the entry's (the next entry's first, or
 * for the last one `more.next`): where an entry's last lines were lost
 * without a trace, its lines end before it. `undefined` when they are not.
 */
export async function lossyMatch(
  entries: readonly Entry[],
  bytes: Uint8Array<ArrayBuffer>,
  lines: Lines,
  options?: LossyMatchOptions,
): Promise<LossyMatch | undefined> {
  const fit = await lossyFit(entries, bytes, lines, options);
  return typeof fit === "number" ? undefined : fit;
}

/**
 * {@linkcode lossyMatch}, or, where the lines are not the entries', a count
 * `b` such that for no `e` with `b` < `e` ≤ `lines.count` are the first `e`
 * lines the entries' either (without `more`, and for lines neither torn nor
 * ended by their file's end): a try on fewer lines takes the same steps as
 * this one until it stops earlier, missing as many sealed lines or more. A
 * search for how many of a window's lines are the entries' (Sidecar#end)
 * goes on below `b`.
 *
 * A line without its newline is never a sealed line as it was written (each
 * had one): a last line the data's end cut short is none of the entries'
 * (it is what follows them), and a line its file's end ended (`unended`)
 * stands for a line whose write failed, as a torn write does, even whole
 * (the write stopped right before its newline), or the lines are not theirs.
 */
export async function lossyFit(
  entries: readonly Entry[],
  bytes: Uint8Array<ArrayBuffer>,
  lines: Lines,
  { more, hashes = new LineHashes() }: LossyMatchOptions = {},
): Promise<LossyMatch | number> {
  if (entries.every((e) => e.parsed!.digests === undefined)) return -1;
  const count = lines.torn ? lines.count - 1 : lines.count;
  const data = await hashes.digests(bytes, lines, count);
  const torn: StandIn[] = [];
  const inserted: StandIn[] = [];
  let at = 0;
  let sealed = 0;
  for (const [k, entry] of entries.entries()) {
    const { checkpoint: c, digests, tags } = entry.parsed!;
    sealed += c.seg_lines;
    if (digests === undefined) {
      // Lines whose tags differ cannot hash to the segment's SHA-256: a search that tries many places hashes few.
      const end = at + c.seg_lines;
      if (end > count || unendedIn(lines, at, end).length > 0 || tags.some((tag, j) => lines.tags[at + j] !== tag)) {
        return at;
      }
      if (await hashes.run({ bytes, starts: lines.starts, ends: lines.ends }, at, c.seg_lines) !== c.seg_sha256) {
        return at;
      }
      at = end;
      continue;
    }
    // The data lines must be a subsequence of the sealed ones, missing at most what was declared.
    const from = at;
    const later = entries.slice(k + 1).find((e) => e.parsed!.tags.length > 0);
    const next = later === undefined ? more?.next : later.parsed!.tags[0];
    const match = matchDigests(digests, data.subarray(16 * at), c.seg_lines, {
      failed: failedCount(entry),
      cutShort: (i) => cutShort(bytes, lines, from + i, c.seg_bytes),
      sealedAfter: (i) => lines.tags[from + i] === next,
    });
    // Lines their file's end ended that are sealed lines whole: each a write that failed right before its newline.
    const whole = unendedIn(lines, from, from + match.taken).filter((i) =>
      !match.torn.includes(i - from) && !match.inserted.includes(i - from)
    );
    if (match.missing + whole.length > undeliveredCount(entry)) return at;
    if (match.torn.length + whole.length > failedCount(entry)) return at;
    const stoppedShort = [...match.torn.map((i) => from + i), ...whole].sort((a, b) => a - b);
    torn.push(...stoppedShort.map((i) => ({ at: i, entry })));
    inserted.push(...match.inserted.map((i) => ({ at: from + i, entry })));
    at += match.taken;
  }
  if (more === undefined && at !== lines.count) return at;
  return { lines: at, sealed, verified: at - torn.length - inserted.length, torn, inserted };
}

/** The lines in `[from, to)` that end their file without a newline. */
function unendedIn(lines: Lines, from: number, to: number): number[] {
  return (lines.unended ?? []).filter((i) => from <= i && i < to);
}

/**
 * How many bytes a seal-stream verifier takes for the segment of a checkpoint
 * that declares lines lost in it, from `bytes` (the data from where the
 * segment starts, at least its `seg_bytes` where the data has them): all of
 * `seg_bytes` when they hash whole, else the lines lossyMatch finds there
 * (the first of them: what follows is not the segment's). A partial last line
 * is left out, as the verifier leaves it out unless the data ends there. No
 * segment sealed after it is known: where its last lines were lost without a
 * trace, it takes a torn line that follows, as the verifier does unless that
 * line is the first of the next segment with lines (then this one ends before
 * it: whatever is sealed next from where it ends, the two agree).
 *
 * @returns The byte count, or `undefined` when the data there is not the segment's lines.
 */
export async function lossySegmentLength(
  parsed: ParsedCheckpoint,
  bytes: Uint8Array<ArrayBuffer>,
): Promise<number | undefined> {
  const c = parsed.checkpoint;
  if (bytes.length >= c.seg_bytes && await sha256Hex(bytes.subarray(0, c.seg_bytes)) === c.seg_sha256) {
    return c.seg_bytes;
  }
  const all = splitLines(bytes);
  const n = Math.min(c.seg_lines, all.torn ? all.count - 1 : all.count);
  const lines = { ...all, count: n, starts: all.starts.subarray(0, n), ends: all.ends.subarray(0, n), torn: false };
  const entry = {
    parsed,
    trusted: true,
    problems: [],
    missing: 0,
    missingBytes: 0,
    missingSeqs: undefined,
    sealLine: 0,
  };
  const match = await lossyMatch([entry], bytes, lines, { more: { next: undefined } });
  return match === undefined ? undefined : match.lines === 0 ? 0 : all.ends[match.lines - 1]! + 1;
}

/**
 * Reports what lossyMatch found, from data line `firstLine`: each torn line,
 * each run of inserted lines; the lines verified when nothing was inserted
 * (as for any segment a line was inserted into).
 */
export function reportLossy(judge: Judge, match: LossyMatch, firstLine: number): void {
  for (const { at, entry } of match.torn) {
    const c = entry.parsed!.checkpoint;
    const line = firstLine + at;
    judge.summary.tornLines++;
    judge.emit({
      kind: "torn_write",
      line,
      lastLine: line,
      count: 1,
      seq: [c.seq, c.seq],
      message: `line ${line} is a torn write: part of a line whose write failed (checkpoint ${c.seq} declares ` +
        `${failedByReason(entry).map(([reason, count]) => `${count} ${CUT_SHORT_BY.get(reason)}`).join(" and ")})`,
    });
  }
  const { inserted } = match;
  for (let i = 0; i < inserted.length;) {
    const { at: from, entry } = inserted[i]!;
    let to = from + 1;
    while (++i < inserted.length && inserted[i]!.at === to && inserted[i]!.entry === entry) to++;
    const change = { kind: "inserted", dataFrom: from, dataTo: to, sealedFrom: 0, sealedTo: 0, matched: 0 } as const;
    reportChange(judge, change, [entry], firstLine);
  }
  if (inserted.length === 0) judge.verified(match.verified);
  else judge.compared(match.sealed, match.verified);
}

/**
 * Compares data tags with the tags of the trusted entries they stand for, and
 * reports the difference. Tags are 32 bits, which a forger can keep while
 * changing a line: what the tags say is proven by the segments' SHA-256 where
 * it can be. Lines that hold the sealed tags in another order are `reordered`
 * only if, put back in the sealed order, every segment's SHA-256 matches;
 * tags that agree are checked by SHA-256 too (a segment that fails is
 * reported edited whole).
 */
export async function compareRegion(
  judge: Judge,
  entries: readonly Entry[],
  data: Uint32Array,
  firstLine: number,
  lines: LineBytes,
): Promise<void> {
  const sealed = concatTags(entries);
  if (convertedEndings(judge, entries, sealed, data, firstLine, lines)) return;
  let change = compareTags(sealed, data);
  judge.compared(sealed.length, commonLines(sealed, data));
  if (change?.kind === "reordered" && !await inSealedOrder(entries, sealed, data, lines, change)) {
    change = { ...change, kind: "edited" };
  }
  if (change !== undefined && change.kind === "edited" && entries.length > 1 && data.length === sealed.length) {
    // As many lines as sealed, edited in more than one segment: each segment's own change.
    return segmentBySegment(judge, parts(entries, data), data, firstLine, lines);
  }
  if (change?.kind === "inserted") {
    // Without the inserted lines, the rest must be what was sealed: a line forged to keep its tag would hide there.
    const { dataFrom, dataTo } = change;
    const order = new Uint32Array(sealed.length).map((_, p) => (p < dataFrom ? p : p + dataTo - dataFrom));
    const ok = await segmentsMatch(entries, lines, order);
    reportChange(judge, change, entries, firstLine);
    return reportSegments(judge, entries, firstLine, ok, false);
  }
  if (change !== undefined) {
    const tags = { data: data[change.dataFrom]!, sealed: sealed[change.sealedFrom]! };
    return reportChange(judge, change, entries, firstLine, tags);
  }
  reportSegments(judge, entries, firstLine, await segmentsMatch(entries, lines), true);
}

/**
 * Reports the data lines (`data`: their tags) from `firstLine` as edited by a
 * conversion of their line endings, and says whether they were: every one
 * ends in CRLF (a torn last line aside), which no sealed line does (an event
 * line ends in `}`), and without the CR some of them are sealed lines, by
 * their tags. A Windows editor or git's autocrlf does that; it alters each
 * line, so none is verified, but the seal is this log's (not another log's).
 * What differs besides, by the tags without the CR, is reported too.
 */
function convertedEndings(
  judge: Judge,
  entries: readonly Entry[],
  sealed: Uint32Array,
  data: Uint32Array,
  firstLine: number,
  lines: LineBytes,
): boolean {
  const { bytes, starts, ends } = lines;
  const count = data.length;
  const stripped = data.slice();
  const view = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  let crlf = 0;
  for (let i = 0; i < count; i++) {
    const [start, end] = [starts[i]!, ends[i]!];
    if (end >= bytes.length) continue; // a torn last line: no line ending at all
    if (end === start || bytes[end - 1] !== 0x0d) return false;
    stripped[i] = lineTag(bytes, start, end - 1, view);
    crlf++;
  }
  const matched = crlf === 0 ? 0 : commonLines(sealed, stripped);
  if (matched === 0) return false;
  judge.compared(sealed.length, matched);
  const first = entries[0]!.parsed!.checkpoint;
  const last = entries[entries.length - 1]!.parsed!.checkpoint;
  const sealedLines = [first.lines - first.seg_lines + 1, last.lines] as const;
  const seq = [first.seq, last.seq] as const;
  const finding = {
    kind: "edited",
    line: firstLine,
    lastLine: firstLine + count - 1,
    count,
    seq,
    sealedLines,
  } as const;
  judge.emitConverted({ ...finding, message: "" }, false);
  const change = compareTags(sealed, stripped);
  if (change !== undefined) reportChange(judge, change, entries, firstLine);
  return true;
}

/**
 * Whether `bytes` are the lines checkpoint `c` sealed with their line endings
 * converted to CRLF: its `seg_lines` lines, each ending in CR LF, that hash to
 * its SHA-256 without their CR.
 */
export async function sealedWithoutCr(c: AuditCheckpoint, bytes: Uint8Array): Promise<boolean> {
  if (c.seg_lines === 0 || bytes.length !== c.seg_bytes + c.seg_lines) return false;
  const lf = new Uint8Array(c.seg_bytes);
  let at = 0;
  let start = 0;
  let lines = 0;
  for (let nl = bytes.indexOf(0x0a); nl !== -1; nl = bytes.indexOf(0x0a, start)) {
    if (nl === start || bytes[nl - 1] !== 0x0d || ++lines > c.seg_lines) return false;
    lf.set(bytes.subarray(start, nl - 1), at);
    at += nl - 1 - start;
    lf[at++] = 0x0a;
    start = nl + 1;
  }
  return start === bytes.length && await sha256Hex(lf) === c.seg_sha256;
}

/** Reports a segment's lines, from data line `line`, as its sealed lines with their line endings converted. */
export function reportConverted(judge: Judge, entry: Entry, line: number): void {
  const c = entry.parsed!.checkpoint;
  judge.converted();
  const sealedLines = [c.lines - c.seg_lines + 1, c.lines] as const;
  const lastLine = line + c.seg_lines - 1;
  const finding = { kind: "edited", line, lastLine, count: c.seg_lines, seq: [c.seq, c.seq], sealedLines } as const;
  judge.emitConverted({ ...finding, message: "" }, true);
}

/**
 * Reports each segment whose SHA-256 did not match (`ok`) as edited whole,
 * and, with `verified`, counts those that did as verified.
 */
function reportSegments(
  judge: Judge,
  entries: readonly Entry[],
  firstLine: number,
  ok: readonly boolean[],
  verified: boolean,
): void {
  let line = firstLine;
  entries.forEach((entry, i) => {
    const c = entry.parsed!.checkpoint;
    if (!ok[i]) editedSegment(judge, entry, line);
    else if (verified) judge.verified(c.seg_lines);
    line += c.seg_lines;
  });
}

/** A segment of a region whose data lines stand one for one for the sealed ones. */
interface Part {
  readonly entry: Entry;
  /** Where its lines start in the region. */
  readonly at: number;
  readonly tags: Uint32Array;
  /** How its data lines differ from its sealed ones, by tags. */
  readonly own: Change | undefined;
}

function parts(entries: readonly Entry[], data: Uint32Array): Part[] {
  let at = 0;
  return entries.map((entry) => {
    const tags = entry.parsed!.tags;
    const part = { entry, at, tags, own: compareTags(tags, data.subarray(at, at + tags.length)) };
    at += tags.length;
    return part;
  });
}

/** Where a part's one-line edit is in the region, if that is its change. */
function oneLineEdit(part: Part): number | undefined {
  const own = part.own;
  return own?.kind === "edited" && own.dataTo - own.dataFrom === 1 && own.sealedTo - own.sealedFrom === 1
    ? part.at + own.dataFrom
    : undefined;
}

/**
 * compareRegion, segment by segment. One-line edits in two segments that
 * mirror each other are a swap if, put back, both segments match their
 * SHA-256 (a line forged to keep its tag does not); else two edits, which the
 * judge does not pair by tags later.
 */
async function segmentBySegment(
  judge: Judge,
  region: readonly Part[],
  data: Uint32Array,
  firstLine: number,
  lines: LineBytes,
): Promise<void> {
  const pairs = new Map<Part, { readonly other: Part; readonly swapped: boolean }>();
  const edits = region.filter((part) => oneLineEdit(part) !== undefined);
  for (const [i, first] of edits.entries()) {
    if (pairs.has(first)) continue;
    const a = oneLineEdit(first)!;
    const second = edits.slice(i + 1).find((part) => {
      const b = oneLineEdit(part)!;
      return !pairs.has(part) && data[a] === sealedAt(part, b) && data[b] === sealedAt(first, a);
    });
    if (second === undefined) continue;
    const b = oneLineEdit(second)!;
    const order = new Uint32Array(data.length).map((_, p) => (p === a ? b : p === b ? a : p));
    const swapped = await partMatches(first, lines, order) && await partMatches(second, lines, order);
    pairs.set(first, { other: second, swapped }).set(second, { other: first, swapped });
  }
  for (const part of region) {
    const { entry, at, tags } = part;
    let own = part.own;
    const pair = pairs.get(part);
    if (own === undefined) {
      if (await partMatches(part, lines)) judge.verified(tags.length);
      else editedSegment(judge, entry, firstLine + at);
    } else if (pair === undefined) {
      const mine = { bytes: lines.bytes, starts: lines.starts.subarray(at), ends: lines.ends.subarray(at) };
      if (own.kind === "reordered" && !await inSealedOrder([entry], tags, data.subarray(at), mine, own)) {
        own = { ...own, kind: "edited" };
      }
      reportChange(judge, own, [entry], firstLine + at, {
        data: data[at + own.dataFrom]!,
        sealed: tags[own.sealedFrom]!,
      });
    } else if (!pair.swapped) reportChange(judge, own, [entry], firstLine + at); // no tags: not paired later
    else if (pair.other.at > at) reportSwap(judge, part, pair.other, firstLine);
  }
}

/** The tag sealed at `at` (a position in the region) of `part`'s segment. */
function sealedAt(part: Part, at: number): number {
  return part.tags[at - part.at]!;
}

/** Whether `part`'s data lines (in `order`: data line indices by sealed position) hash to its segment's SHA-256. */
async function partMatches(part: Part, lines: LineBytes, order?: Uint32Array): Promise<boolean> {
  const c = part.entry.parsed!.checkpoint;
  return await hashLines(lines, part.at, c.seg_lines, order) === c.seg_sha256;
}

/** Reports the one-line edits of `first` and `second` as the swap their segments' SHA-256 proved. */
function reportSwap(judge: Judge, first: Part, second: Part, firstLine: number): void {
  const [a, b] = [oneLineEdit(first)!, oneLineEdit(second)!];
  const c = first.entry.parsed!.checkpoint;
  const d = second.entry.parsed!.checkpoint;
  const sealedA = c.lines - c.seg_lines + 1 + a - first.at;
  const sealedB = d.lines - d.seg_lines + 1 + b - second.at;
  judge.emit({
    kind: "reordered",
    line: firstLine + a,
    lastLine: firstLine + b,
    count: 2,
    sealedLines: [sealedA, sealedB],
    seq: [c.seq, d.seq],
    message: `lines ${firstLine + a} and ${firstLine + b} are swapped (sealed lines ${sealedA} and ${sealedB}, ` +
      `checkpoints ${c.seq} and ${d.seq})`,
  });
}

/**
 * Whether the data lines, put back in the sealed order (`change` is a
 * reordering of the tags), hash to every segment's SHA-256.
 */
async function inSealedOrder(
  entries: readonly Entry[],
  sealed: Uint32Array,
  data: Uint32Array,
  lines: LineBytes,
  change: Change,
): Promise<boolean> {
  // For each sealed position, the data line that holds its tag (the first one not yet taken).
  const byTag = new Map<number, number[]>();
  for (let i = change.dataTo - 1; i >= change.dataFrom; i--) {
    const list = byTag.get(data[i]!);
    if (list === undefined) byTag.set(data[i]!, [i]);
    else list.push(i);
  }
  const order = new Uint32Array(sealed.length);
  for (let p = 0; p < sealed.length; p++) {
    order[p] = p < change.sealedFrom || p >= change.sealedTo ? p : byTag.get(sealed[p]!)!.pop()!;
  }
  return (await segmentsMatch(entries, lines, order)).every((ok) => ok);
}

/**
 * Whether each entry's lines hash to its SHA-256: the data lines from the
 * region's start, one entry after another, in `order` (data line indices by
 * sealed position; `undefined`: as they stand).
 */
async function segmentsMatch(entries: readonly Entry[], lines: LineBytes, order?: Uint32Array): Promise<boolean[]> {
  const ok: boolean[] = [];
  let at = 0;
  for (const entry of entries) {
    const c = entry.parsed!.checkpoint;
    ok.push(await hashLines(lines, at, c.seg_lines, order) === c.seg_sha256);
    at += c.seg_lines;
  }
  return ok;
}

/** Reports a segment's lines, from data line `line`, as edited: their tags agree, their SHA-256 does not. */
function editedSegment(judge: Judge, entry: Entry, line: number): void {
  const c = entry.parsed!.checkpoint;
  judge.emit({
    kind: "edited",
    line,
    lastLine: line + c.seg_lines - 1,
    count: c.seg_lines,
    seq: [c.seq, c.seq],
    sealedLines: [c.lines - c.seg_lines + 1, c.lines],
    message: `${lineRange(line, line + c.seg_lines - 1)} ${agree(1, c.seg_lines, "differs", "differ")} ` +
      `from what checkpoint ${c.seq} sealed`,
  });
}

function concatTags(entries: readonly Entry[]): Uint32Array {
  const out = new Uint32Array(entries.reduce((sum, e) => sum + e.parsed!.tags.length, 0));
  let at = 0;
  for (const e of entries) {
    out.set(e.parsed!.tags, at);
    at += e.parsed!.tags.length;
  }
  return out;
}

/**
 * Reports one difference; sealed line numbers come from the entries its sealed
 * range falls in. `tags`: the first data and sealed tags of the difference
 * (a one-line edit may be half of a swap).
 */
export function reportChange(
  judge: Judge,
  change: Change,
  entries: readonly Entry[],
  firstLine: number,
  tags?: { readonly data: number; readonly sealed: number },
): void {
  const first = entries[0]!.parsed!.checkpoint;
  const last = entries[entries.length - 1]!.parsed!.checkpoint;
  const sealedStart = first.lines - first.seg_lines;
  const seq: [number, number] = [first.seq, last.seq];
  const of = first.seq === last.seq ? `checkpoint ${first.seq}` : lineRange(first.seq, last.seq, "checkpoint");
  const line = firstLine + change.dataFrom;
  const lastLine = firstLine + change.dataTo - 1;
  const sealedLines: [number, number] = [sealedStart + change.sealedFrom + 1, sealedStart + change.sealedTo];
  const sealed = lineRange(sealedLines[0], sealedLines[1], "sealed line");
  const count = change.kind === "deleted" ? sealedLines[1] - sealedLines[0] + 1 : lastLine - line + 1;
  const one = (a: number, b: number, singular: string, plural: string): string => agree(a, b, singular, plural);
  const range = lineRange(line, lastLine);
  const message = change.kind === "deleted"
    ? `${sealed} of ${of} ${one(...sealedLines, "is", "are")} missing before line ${line}`
    : change.kind === "inserted"
    ? `${range} ${one(line, lastLine, "was", "were")} not sealed by ${of}`
    : change.kind === "reordered"
    ? `${range} hold ${sealed} of ${of} in another order`
    : `${range} ${one(line, lastLine, "differs", "differ")} from ${sealed} of ${of}`;
  const finding = {
    kind: change.kind,
    line,
    lastLine,
    count,
    seq,
    ...(change.kind === "inserted" ? {} : { sealedLines }),
    message,
  };
  const single = change.kind === "edited" && count === 1 && sealedLines[0] === sealedLines[1];
  if (single && tags !== undefined) judge.emitEdit(finding, tags.data, tags.sealed);
  else judge.emit(finding);
}

/** Reports the lines sealed by checkpoints that are missing from the chain before `entry`. */
export function missingBefore(judge: Judge, entry: Entry, line: number, orphans: number, own: boolean): void {
  const c = entry.parsed!.checkpoint;
  const end = c.lines - c.seg_lines;
  const sealedLines: [number, number] = [end - entry.missing + 1, end];
  const seq: [number, number] = entry.missingSeqs === undefined ? [c.seq, c.seq] : [...entry.missingSeqs];
  const which = entry.missingSeqs === undefined
    ? "the checkpoints before it"
    : lineRange(entry.missingSeqs[0], entry.missingSeqs[1], "checkpoint");
  const sealed = lineRange(sealedLines[0], sealedLines[1], "sealed line");
  if (own && orphans === 0) {
    const message = `${sealed} ${agree(...sealedLines, "is", "are")} missing before line ${line}, with ${which}`;
    judge.emit({ kind: "deleted", line, lastLine: line - 1, count: entry.missing, seq, sealedLines, message });
    return;
  }
  const lines = lineRange(line, line + orphans - 1);
  const are = agree(...(entry.missingSeqs ?? [0, 1]), "is", "are");
  const message = `${which} (${sealed}) ${are} missing` +
    (orphans === 0
      ? ""
      : own
      ? ` from the seal: ${lines} ${agree(1, orphans, "is", "are")} not verified`
      : `, and ${lines} ${agree(1, orphans, "does", "do")} not match checkpoint ${c.seq}: not verified`);
  judge.emit({ kind: "broken_chain", line, lastLine: line + orphans - 1, count: orphans, seq, sealedLines, message });
}

/** Reports the problems found with a checkpoint itself; for an untrusted one, its lines are not verified. */
export function reportProblems(judge: Judge, entry: Entry, firstLine: number, lines: number): void {
  const c = entry.parsed?.checkpoint;
  for (const problem of entry.problems) {
    const concerned = entry.trusted ? 0 : lines;
    const last = firstLine + concerned - 1;
    const suffix = concerned > 0
      ? `; ${lineRange(firstLine, last)} ${agree(firstLine, last, "is", "are")} not verified`
      : "";
    judge.emit({
      kind: problem.kind,
      line: firstLine,
      lastLine: firstLine + concerned - 1,
      count: concerned,
      ...(c === undefined ? {} : { seq: [c.seq, c.seq] as const }),
      sealLine: problem.sealLine ?? entry.sealLine,
      message: problem.message + suffix,
    });
  }
}

/** Reports the losses a trusted checkpoint declares. */
export function reportGaps(judge: Judge, entry: Entry, line: number): void {
  const c = entry.parsed!.checkpoint;
  if (c.adopted !== undefined) {
    const first = c.lines - c.seg_lines + 1;
    judge.summary.adoptedLines += c.adopted;
    judge.emit({
      kind: "adopted",
      line,
      lastLine: line + c.adopted - 1,
      count: c.adopted,
      sealedLines: [first, first + c.adopted - 1],
      seq: [c.seq, c.seq],
      message: `${lineRange(line, line + c.adopted - 1)} ${agree(1, c.adopted, "was", "were")} sealed after a ` +
        `restart, not as ${agree(1, c.adopted, "it was", "they were")} written (checkpoint ${c.seq})`,
    });
  }
  for (const g of c.gaps) {
    const where = g.in_segment ? ", handed to the stream but not delivered" : "";
    judge.emit({
      kind: "gap",
      line,
      lastLine: line - 1,
      count: g.count,
      seq: [c.seq, c.seq],
      reason: g.reason,
      firstTs: g.first_ts,
      lastTs: g.last_ts,
      message: `${g.count} event${g.count === 1 ? "" : "s"} lost between ${g.first_ts} and ${g.last_ts} ` +
        `because ${g.reason}${where} (checkpoint ${c.seq})`,
    });
  }
}

/** Reports the lines after the last checkpoint. */
export function unsealed(judge: Judge, firstLine: number, lines: number, torn: boolean): void {
  judge.summary.unsealedLines = lines;
  if (lines === 0) return;
  judge.emit({
    kind: "unsealed_tail",
    line: firstLine,
    lastLine: firstLine + lines - 1,
    count: lines,
    message:
      `${lineRange(firstLine, firstLine + lines - 1)} ${agree(1, lines, "comes", "come")} after the last checkpoint` +
      (torn ? " (the last one is cut short)" : ""),
  });
}
