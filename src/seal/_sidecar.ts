// Verifying a data stream against a seal stream: each checkpoint seals the
// next `seg_bytes` bytes of data. When they do not match, the next segment
// that does is found by its tags (then its SHA-256), and the lines between
// are compared with the tags of the segments they stand for.
import { countLines } from "../_bytes.ts";
import { type ByteSource, type SealLine, sealLines } from "./_byte_source.ts";
import { sha256Hex } from "./_encoding.ts";
import { type Entry, type Judge, lineRange } from "./_judge.ts";
import { type Lines, splitLines } from "./_lines.ts";
import { compareTags } from "./_classify.ts";
import {
  compareRegion,
  lossyMatch,
  missingBefore,
  reportChange,
  reportGaps,
  reportProblems,
  unsealed,
} from "./_segment.ts";
import type { AuditTrailFinding } from "./verify_audit_trail.ts";

/** Checkpoints read ahead of the one being checked, where a lost alignment is looked for. */
const LOOKAHEAD = 8;

/** Verifies `data` against the checkpoints of `seal`. */
export async function* verifySidecar(
  data: ByteSource,
  seal: ByteSource,
  judge: Judge,
  maxSegmentBytes: number,
  maxCheckpointBytes: number,
): AsyncGenerator<AuditTrailFinding, void, undefined> {
  const sealed = sealLines(seal, maxCheckpointBytes);
  const queue: Entry[] = [];
  let sealDone = false;
  let tornSeal: number | undefined;
  let line = 1; // the next data line
  const fill = async (): Promise<void> => {
    while (queue.length <= LOOKAHEAD && !sealDone) {
      const next: IteratorResult<SealLine> = await sealed.next();
      if (next.done) sealDone = true;
      else if (next.value.torn) {
        sealDone = true;
        tornSeal = next.value.line;
      } else queue.push(await judge.admit(next.value.text, next.value.line));
    }
  };
  const advance = (bytes: number, lines: number, entries: number): void => {
    data.skip(bytes);
    line += lines;
    queue.splice(0, entries);
  };
  const sha = (bytes: Uint8Array<ArrayBuffer>, lines: Lines, from: number, count: number): Promise<string> =>
    sha256Hex(
      bytes.subarray(count === 0 ? 0 : lines.starts[from]!, count === 0 ? 0 : lines.ends[from + count - 1]! + 1),
    );

  await fill();
  while (queue.length > 0) {
    const entry = queue[0]!;
    const c = entry.parsed?.checkpoint;
    if (!entry.trusted || c === undefined) {
      // Proves nothing: skip the bytes it claims, to the end of a line.
      const claimed = Math.min(c?.seg_bytes ?? 0, maxSegmentBytes);
      await data.fill(claimed + (1 << 16));
      const end = claimed === 0 ? 0 : data.indexOf(0x0a, claimed - 1);
      const cut = end === -1 ? data.buffered : end + 1;
      const lines = countLines(data.peek(cut)) + (end === -1 && cut > 0 ? 1 : 0);
      reportProblems(judge, entry, line, lines);
      advance(cut, lines, 1);
    } else if (c.seg_bytes > maxSegmentBytes) {
      judge.emit({
        kind: "malformed",
        line,
        lastLine: line - 1,
        count: 0,
        seq: [c.seq, c.seq],
        sealLine: entry.sealLine,
        message: `checkpoint ${c.seq} seals ${c.seg_bytes} bytes, more than maxSegmentBytes (${maxSegmentBytes})`,
      });
      queue.shift();
    } else {
      await data.fill(c.seg_bytes);
      const head = data.peek(c.seg_bytes);
      if (head.length === c.seg_bytes && await sha256Hex(head) === c.seg_sha256) {
        reportProblems(judge, entry, line, 0);
        if (entry.missing > 0) missingBefore(judge, entry, line, 0, true);
        judge.verified(c.seg_lines);
        reportGaps(judge, entry, line);
        advance(c.seg_bytes, c.seg_lines, 1);
      } else {
        await resync();
      }
    }
    await fill();
    yield* judge.take();
  }
  if (tornSeal !== undefined) {
    judge.emit({
      kind: "truncated",
      line,
      lastLine: line - 1,
      count: 0,
      sealLine: tornSeal,
      message: `the seal stream ends inside its line ${tornSeal}: its last checkpoint is cut short`,
    });
  }
  let lines = 0;
  let last = 0x0a;
  for await (const chunk of data.rest()) {
    lines += countLines(chunk);
    last = chunk[chunk.length - 1]!;
  }
  const torn = last !== 0x0a;
  unsealed(judge, line, lines + (torn ? 1 : 0), torn);
  judge.summary.lines = line - 1 + lines + (torn ? 1 : 0);
  judge.summary.bytes = data.position;
  yield* judge.finish();

  /** The data at the current position does not match `queue[0]`: find where the seal lines up again. */
  async function resync(): Promise<void> {
    const claims = queue.reduce((sum, e) => sum + Math.min(e.parsed?.checkpoint.seg_bytes ?? 0, maxSegmentBytes), 0);
    await data.fill(Math.min(4 * maxSegmentBytes, 2 * claims + (1 << 20)));
    const bytes = data.peek(data.buffered);
    const atEnd = data.eof;
    const all = splitLines(bytes, 1024);
    const n = all.torn && !atEnd ? all.count - 1 : all.count; // a partial line may continue beyond the window
    const tags = all.tags.subarray(0, n);
    const entry = queue[0]!;
    // Candidate anchors: queue[0] itself further on, then the next trusted checkpoints, up to a break in the chain.
    let usable = 1;
    while (usable < queue.length && queue[usable]!.trusted && queue[usable]!.missing === 0) usable++;
    for (let j = 0; j < usable; j++) {
      const anchor = queue[j]!.parsed!;
      const length = anchor.tags.length;
      if (length === 0) continue;
      for (let s = j === 0 ? 1 : 0; s + length <= n; s++) {
        if (tags[s] !== anchor.tags[0] || !sameTags(tags, s, anchor.tags)) continue;
        if (await sha(bytes, all, s, length) !== anchor.checkpoint.seg_sha256) continue;
        await region(j, s, bytes, all);
        const a = anchor.checkpoint;
        reportProblems(judge, queue[j]!, line + s, 0);
        judge.verified(a.seg_lines);
        reportGaps(judge, queue[j]!, line + s);
        advance(all.ends[s + length - 1]! + 1, s + length, j + 1);
        return;
      }
    }
    if (atEnd && sealDone && usable === queue.length) return end(bytes, all);
    // No alignment within reach: this segment is the lines its bytes cover.
    const claimed = entry.parsed!.checkpoint.seg_bytes;
    let k = 0;
    while (k < n && all.ends[k]! + 1 < claimed) k++;
    k = Math.min(n, k + 1);
    await region(1, k, bytes, all, false);
    advance(k === 0 ? 0 : all.ends[k - 1]! + 1, k, 1);
  }

  /**
   * Reports the data lines `[0, s)` against `queue[0, j)` (for `j` = 0: lines
   * before `queue[0]`'s own), with their declared gaps. `anchored`: the lines
   * that follow are known to match.
   */
  async function region(
    j: number,
    s: number,
    bytes: Uint8Array<ArrayBuffer>,
    all: Lines,
    anchored = true,
  ): Promise<void> {
    const first = queue[0]!;
    if (j === 0 || (j === 1 && first.missing > 0)) {
      if (j === 1) reportProblems(judge, first, line, 0);
      if (first.missing > 0) missingBefore(judge, first, line, s, anchored);
      else if (s > 0) {
        const change = { kind: "inserted", dataFrom: 0, dataTo: s, sealedFrom: 0, sealedTo: 0, matched: 0 } as const;
        reportChange(judge, change, [first], line);
      }
      if (j === 1) reportGaps(judge, first, line);
      return;
    }
    const entries = queue.slice(0, j);
    for (const e of entries) reportProblems(judge, e, line, 0);
    const lines = { ...all, count: s, starts: all.starts.subarray(0, s), ends: all.ends.subarray(0, s) };
    if (j === 1 && await lossyMatch(first, bytes, lines)) judge.verified(s);
    else {
      await compareRegion(judge, entries, all.tags.subarray(0, s), line, async () => {
        const ok: boolean[] = [];
        let at = 0;
        for (const e of entries) {
          const c = e.parsed!.checkpoint;
          ok.push(await sha(bytes, all, at, c.seg_lines) === c.seg_sha256);
          at += c.seg_lines;
        }
        return ok;
      });
    }
    for (const e of entries) reportGaps(judge, e, line);
  }

  /** The data ends within reach and no segment lines up: tell damage, truncation and the unsealed tail apart. */
  async function end(bytes: Uint8Array<ArrayBuffer>, all: Lines): Promise<void> {
    const entries = queue.slice();
    const expected = new Uint32Array(entries.flatMap((e) => [...e.parsed!.tags]));
    const m = expected.length;
    const n = all.count;
    const complete = all.torn ? n - 1 : n;
    let pre = 0;
    while (pre < m && pre < complete && expected[pre] === all.tags[pre]) pre++;
    // Where the sealed lines end in the data: after the longest run that matches their last ones.
    let stop = pre === m ? m : -1;
    for (let e = pre + 1, best = 0; stop !== m && e <= complete; e++) {
      let common = 0;
      while (common < m - pre && common < e - pre && expected[m - 1 - common] === all.tags[e - 1 - common]) common++;
      if (common > best) (best = common, stop = e);
    }
    let lost = 0;
    if (stop === -1) {
      // Their last lines are nowhere: pair what data is left with them; what has no data is cut off.
      stop = pre + Math.min(complete - pre, m - pre);
      lost = m - stop;
    }
    if (lost === 0) await region(entries.length, stop, bytes, all, false);
    else {
      for (const e of entries) reportProblems(judge, e, line, 0);
      const change = compareTags(expected.subarray(0, stop), all.tags.subarray(0, stop));
      judge.compared(stop, change?.matched ?? stop);
      if (change !== undefined) reportChange(judge, change, entries, line);
      const first = entries[0]!.parsed!.checkpoint;
      const sealedLines: [number, number] = [
        first.lines - first.seg_lines + stop + 1,
        first.lines - first.seg_lines + m,
      ];
      judge.emit({
        kind: "truncated",
        line: line + stop,
        lastLine: line + n - 1, // the cut-off start of the next sealed line, if any
        count: lost,
        sealedLines,
        seq: [first.seq, entries[entries.length - 1]!.parsed!.checkpoint.seq],
        message: `the data ends before ${lineRange(sealedLines[0], sealedLines[1], "sealed line")}` +
          (all.torn ? ` (line ${line + n - 1} is cut short)` : ""),
      });
      for (const e of entries) reportGaps(judge, e, line);
    }
    const tail = lost > 0 ? 0 : n - stop;
    unsealed(judge, line + stop, tail, all.torn && tail > 0);
    advance(bytes.length, n, entries.length);
  }
}

function sameTags(data: Uint32Array, at: number, sealed: Uint32Array): boolean {
  for (let i = 0; i < sealed.length; i++) if (data[at + i] !== sealed[i]) return false;
  return true;
}
