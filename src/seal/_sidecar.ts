// Verifying a data stream against a seal stream: each checkpoint seals the
// next `seg_bytes` bytes of data. When they do not match, the next segment
// that does is found by its tags (then its SHA-256), and the lines between
// are compared with the tags of the segments they stand for.
import { countLines } from "../_bytes.ts";
import { type ByteSource, type SealLine, sealLines } from "./_byte_source.ts";
import { type Anchor, changed, commonLines, compareTags, firstAnchor, sealedEnd } from "./_classify.ts";
import { sha256Hex } from "./_encoding.ts";
import { type Entry, type Judge, lineRange } from "./_judge.ts";
import { LineHashes, type Lines } from "./_lines.ts";
import {
  compareRegion,
  lossyFit,
  type LossyMatch,
  lossyMatch,
  missingBefore,
  reportChange,
  reportConverted,
  reportGaps,
  reportLossy,
  reportProblems,
  sealedWithoutCr,
  undeliveredCount,
  unsealed,
} from "./_segment.ts";
import type { AuditTrailFinding } from "./verify_audit_trail.ts";
import { findSegment, readWindow, type Window } from "./_window.ts";

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
  const verifier = new Sidecar(data, sealLines(seal, maxCheckpointBytes), judge, maxSegmentBytes);
  await verifier.fill();
  while (await verifier.step()) yield* judge.take();
  await verifier.tail();
  yield* judge.finish();
}

class Sidecar {
  readonly #data: ByteSource;
  readonly #sealed: AsyncGenerator<SealLine, void, undefined>;
  readonly #judge: Judge;
  readonly #max: number;
  readonly #queue: Entry[] = [];
  #sealDone = false;
  /** The seal stream's last line, when it is a checkpoint cut short: its line, and whether it was ended. */
  #cut: { line: number; ended: boolean } | undefined;
  /** The last seal line read lacked its newline. */
  #lastTorn = false;
  /** The next data line. */
  #line = 1;
  /** The hashes of the data lines from the next one on, as far as they were taken (every window starts there). */
  #hashes = new LineHashes();

  constructor(data: ByteSource, sealed: AsyncGenerator<SealLine, void, undefined>, judge: Judge, max: number) {
    this.#data = data;
    this.#sealed = sealed;
    this.#judge = judge;
    this.#max = max;
  }

  /**
   * Reads checkpoints until `LOOKAHEAD` are queued beyond the first. A line
   * cut short waits in the queue, its findings untold, until the next line
   * is read: the first checkpoint of a writer that restarted after the crash
   * takes its place (see Judge.admit), and at the seal stream's end it is
   * what the crash left.
   */
  async fill(): Promise<void> {
    const queue = this.#queue;
    while (queue.length <= LOOKAHEAD && !this.#sealDone) {
      const next = await this.#sealed.next();
      const last = queue.at(-1);
      if (next.done) {
        this.#sealDone = true;
        if (last?.cut !== undefined) {
          queue.pop();
          this.#cut = { line: last.sealLine, ended: !this.#lastTorn };
        }
      } else {
        const entry = await this.#judge.admit(
          next.value.text,
          next.value.line,
          last?.cut === undefined ? undefined : last,
        );
        if (entry.afterCut) queue.pop();
        queue.push(entry);
        this.#lastTorn = next.value.torn;
      }
    }
  }

  /** Checks the first queued checkpoint's segment; `false` when none is left. */
  async step(): Promise<boolean> {
    const entry = this.#queue[0];
    if (entry === undefined) return false;
    const c = entry.parsed?.checkpoint;
    if (!entry.trusted || c === undefined) await this.#untrusted();
    else if (c.seg_bytes > this.#max) {
      this.#judge.emit({
        kind: "malformed",
        line: this.#line,
        lastLine: this.#line - 1,
        count: 0,
        seq: [c.seq, c.seq],
        sealLine: entry.sealLine,
        message: `checkpoint ${c.seq} seals ${c.seg_bytes} bytes, more than maxSegmentBytes (${this.#max})`,
      });
      this.#queue.shift();
    } else if (entry.missing > 0) {
      await this.#missing();
    } else {
      await this.#data.fill(c.seg_bytes);
      const head = this.#data.peek(c.seg_bytes, true);
      // Read the next checkpoint while the segment hashes (off the main thread where the runtime can).
      const hash = sha256Hex(head);
      await this.fill();
      if (head.length === c.seg_bytes && await hash === c.seg_sha256) {
        reportProblems(this.#judge, entry, this.#line, 0);
        this.#judge.verified(c.seg_lines);
        reportGaps(this.#judge, entry, this.#line);
        this.#advance(c.seg_bytes, c.seg_lines, 1);
      } else if (!await this.#lossyHead(entry) && !await this.#converted(entry)) await this.#resync();
    }
    await this.fill();
    return true;
  }

  /**
   * A segment that declares lost lines is, where they are missing, shorter
   * than it was sealed (no later segment can be found whole to realign on):
   * the lines here must be its lines in order, less at most the declared ones.
   */
  async #lossyHead(entry: Entry): Promise<boolean> {
    const { checkpoint: c, digests } = entry.parsed!;
    if (undeliveredCount(entry) === 0 || digests === undefined) return false;
    const w = await readWindow(this.#data, Math.min(c.seg_bytes, this.#max));
    // Where its last lines were lost without a trace, the window runs on into the next segment's lines.
    const next = this.#queue[this.#withLines(1)];
    const after = next?.trusted === true && next.missing === 0 ? next.parsed!.tags[0] : undefined;
    const match = await this.#lossy([entry], Math.min(c.seg_lines, w.n), w, { next: after });
    if (match === undefined) return false;
    reportProblems(this.#judge, entry, this.#line, 0);
    reportLossy(this.#judge, match, this.#line);
    reportGaps(this.#judge, entry, this.#line);
    this.#advance(match.lines === 0 ? 0 : w.all.ends[match.lines - 1]! + 1, match.lines, 1);
    return true;
  }

  /** A segment whose line endings were converted to CRLF: a byte longer a line, as sealed without the CRs. */
  async #converted(entry: Entry): Promise<boolean> {
    const c = entry.parsed!.checkpoint;
    const size = c.seg_bytes + c.seg_lines;
    await this.#data.fill(size);
    if (!await sealedWithoutCr(c, this.#data.peek(size, true))) return false;
    reportProblems(this.#judge, entry, this.#line, 0);
    reportConverted(this.#judge, entry, this.#line);
    reportGaps(this.#judge, entry, this.#line);
    this.#advance(size, c.seg_lines, 1);
    return true;
  }

  #advance(bytes: number, lines: number, entries: number): void {
    this.#data.skip(bytes);
    if (bytes > 0) this.#hashes = new LineHashes();
    this.#line += lines;
    this.#queue.splice(0, entries);
  }

  /** Reads ahead enough for the queued segments' claims, twice over, within bounds. */
  #window(): Promise<Window> {
    const claims = this.#queue.reduce((sum, e) => sum + Math.min(e.parsed?.checkpoint.seg_bytes ?? 0, this.#max), 0);
    return readWindow(this.#data, Math.min(4 * this.#max, 2 * claims + (1 << 20)));
  }

  /** The first queued checkpoint from `from` on that is not a trusted one sealing no line (a heartbeat). */
  #withLines(from: number): number {
    const queue = this.#queue;
    let j = from;
    while (j < queue.length && queue[j]!.trusted && queue[j]!.parsed!.tags.length === 0) j++;
    return j;
  }

  /** The first `s` ≥ `from` where `queue[j]`'s lines start in the window; -1 if none. */
  #anchor(j: number, from: number, w: Window): Promise<number> {
    return findSegment(w, this.#queue[j]!.parsed!, from);
  }

  /** Checkpoints that prove nothing: their lines run to where the next trusted one's start, else as they claim. */
  async #untrusted(): Promise<void> {
    const queue = this.#queue;
    let k = 0;
    while (k < queue.length && !queue[k]!.trusted) k++;
    const w = await this.#window();
    const j = this.#withLines(k);
    const s = j < queue.length && queue[j]!.trusted ? await this.#anchor(j, 0, w) : -1;
    let lines: number[];
    if (s === -1) {
      // Only the first: the bytes it claims, to the end of a line.
      const claimed = Math.min(queue[0]!.parsed?.checkpoint.seg_bytes ?? 0, w.bytes.length);
      let count = 0;
      while (count < w.all.count && claimed > 0 && w.all.starts[count]! < claimed) count++;
      lines = [count];
    } else {
      // Shared out as the checkpoints claim, the last taking the rest.
      lines = queue.slice(0, k).map((e) => e.parsed?.checkpoint.seg_lines ?? 0);
      let left = s;
      lines = lines.map((claimed, i) => {
        const take = i === lines.length - 1 ? left : Math.min(left, claimed);
        left -= take;
        return take;
      });
    }
    let line = this.#line;
    lines.forEach((count, i) => {
      reportProblems(this.#judge, queue[i]!, line, count);
      line += count;
    });
    const total = line - this.#line;
    this.#advance(total === 0 ? 0 : Math.min(w.all.ends[total - 1]! + 1, w.bytes.length), total, lines.length);
  }

  /**
   * Checkpoints are missing before `queue[0]`: their lines are either gone
   * with them, or still here, sealed by nothing. The next segment with lines
   * tells which.
   */
  async #missing(): Promise<void> {
    const queue = this.#queue;
    const entry = queue[0]!;
    const w = await this.#window();
    const j = this.#withLines(0);
    const next = j < queue.length && queue[j]!.trusted && (j === 0 || queue[j]!.missing === 0) ? j : -1;
    let s = next === -1 ? -1 : await this.#anchor(next, 0, w);
    if (s === -1 && next === -1 && this.#sealDone && j === queue.length) {
      // Nothing sealed follows: the missing lines are here only if the next ones have their exact size.
      const count = entry.missing;
      s = count <= w.n && w.all.ends[count - 1]! + 1 === entry.missingBytes ? count : 0;
    }
    if (s === -1) {
      // Not found: say so, and let the lines be compared with this segment's.
      missingBefore(this.#judge, entry, this.#line, 0, false);
      s = 0;
    } else missingBefore(this.#judge, entry, this.#line, s, true);
    queue[0] = { ...entry, missing: 0 };
    this.#advance(s === 0 ? 0 : Math.min(w.all.ends[s - 1]! + 1, w.bytes.length), s, 0);
  }

  /** The data at the current position does not match `queue[0]`: find where the seal lines up again. */
  async #resync(): Promise<void> {
    const queue = this.#queue;
    const w = await this.#window();
    // Candidate anchors: queue[0] itself further on, then the next trusted checkpoints, up to a break in the chain.
    let usable = 1;
    while (usable < queue.length && queue[usable]!.trusted && queue[usable]!.missing === 0) usable++;
    const found: Anchor[] = [];
    for (let j = 0; j < usable; j++) {
      for (let s = j === 0 ? 1 : 0; found.length < 4 * usable && (s = await this.#anchor(j, s, w)) !== -1; s++) {
        found.push({ j, s });
      }
    }
    // Lines of later segments that are not where they were sealed moved: lines before queue[0] that are
    // such lines were moved there, not inserted.
    const anchored = new Set(found.map((a) => a.j));
    const moved = new Set(queue.slice(1, usable).flatMap((e, i) => anchored.has(i + 1) ? [] : [...e.parsed!.tags]));
    // The anchor that leaves the fewest lines changed; at the end of the data, "all that is left" is a candidate too.
    const segments = queue.slice(0, usable).map((e) => e.parsed!.tags);
    const data = w.all.tags.subarray(0, w.n);
    const best = firstAnchor(
      segments,
      data,
      found,
      ({ j, s }) => j > 0 || !data.subarray(0, s).some((t) => moved.has(t)),
    );
    if (w.atEnd && this.#sealDone && usable === queue.length) {
      // As many lines as are sealed (what follows may be the unsealed tail).
      const sealed = new Uint32Array(segments.flatMap((tags) => [...tags]));
      if (best === undefined || changed(sealed, data.subarray(0, sealed.length)) < best.cost) return this.#end(w);
    }
    if (best !== undefined) {
      const { j, s } = best.anchor;
      await this.#region(j, s, w);
      const length = queue[j]!.parsed!.tags.length;
      reportProblems(this.#judge, queue[j]!, this.#line + s, 0);
      this.#judge.verified(length);
      reportGaps(this.#judge, queue[j]!, this.#line + s);
      this.#advance(w.all.ends[s + length - 1]! + 1, s + length, j + 1);
      return;
    }
    // No alignment within reach: this segment is the lines its bytes cover.
    const claimed = queue[0]!.parsed!.checkpoint.seg_bytes;
    let k = 0;
    while (k < w.n && w.all.ends[k]! + 1 < claimed) k++;
    k = Math.min(w.n, k + 1);
    await this.#region(1, k, w);
    this.#advance(k === 0 ? 0 : w.all.ends[k - 1]! + 1, k, 1);
  }

  /**
   * Reports the data lines `[0, s)` against `queue[0, j)` (for `j` = 0: lines
   * before `queue[0]`'s own), with their declared gaps.
   */
  async #region(j: number, s: number, w: Window): Promise<void> {
    const judge = this.#judge;
    const first = this.#queue[0]!;
    if (j === 0) {
      if (s > 0) {
        const change = { kind: "inserted", dataFrom: 0, dataTo: s, sealedFrom: 0, sealedTo: 0, matched: 0 } as const;
        reportChange(judge, change, [first], this.#line);
      }
      return;
    }
    const entries = this.#queue.slice(0, j);
    for (const e of entries) reportProblems(judge, e, this.#line, 0);
    const { all } = w;
    const lossy = await this.#lossy(entries, s, w);
    if (lossy !== undefined) reportLossy(judge, lossy, this.#line);
    else {
      await compareRegion(judge, entries, all.tags.subarray(0, s), this.#line, {
        bytes: w.bytes,
        starts: all.starts,
        ends: all.ends,
      });
    }
    reportGapsOf(judge, entries, this.#line);
  }

  /**
   * Whether the lines `[0, s)` are the entries' lines less the in-segment
   * losses they declare (with `more`, the first of them: see lossyMatch).
   */
  #lossy(
    entries: readonly Entry[],
    s: number,
    w: Window,
    more?: { readonly next: number | undefined },
  ): Promise<LossyMatch | undefined> {
    return lossyMatch(entries, w.bytes, firstLines(w, s), { more, hashes: this.#hashes });
  }

  /** The data ends within reach and no segment lines up: tell damage, truncation and the unsealed tail apart. */
  async #end(w: Window): Promise<void> {
    const judge = this.#judge;
    const entries = this.#queue.slice();
    const expected = new Uint32Array(entries.flatMap((e) => [...e.parsed!.tags]));
    const { all } = w;
    const m = expected.length;
    const n = all.count;
    const complete = all.torn ? n - 1 : n;
    // Lines the destination lost at the end: the sealed lines, less at most those, then the unsealed tail. Each count
    // tried that fails says which smaller ones would fail the same way: those are not tried (lossyFit).
    const undelivered = entries.reduce((sum, e) => sum + undeliveredCount(e), 0);
    for (let e = Math.min(m, complete); undelivered > 0 && e >= Math.max(0, m - undelivered);) {
      const lossy = await lossyFit(entries, w.bytes, firstLines(w, e), { hashes: this.#hashes });
      if (typeof lossy === "number") {
        e = Math.min(e - 1, lossy);
        continue;
      }
      for (const entry of entries) reportProblems(judge, entry, this.#line, 0);
      reportLossy(judge, lossy, this.#line);
      reportGapsOf(judge, entries, this.#line);
      unsealed(judge, this.#line + e, n - e, all.torn && n > e);
      return this.#advance(w.bytes.length, n, entries.length);
    }
    const { stop, lost } = sealedEnd(expected, all.tags.subarray(0, complete));
    if (lost === 0) await this.#region(entries.length, stop, w);
    else {
      for (const e of entries) reportProblems(judge, e, this.#line, 0);
      const change = compareTags(expected.subarray(0, stop), all.tags.subarray(0, stop));
      judge.compared(stop, commonLines(expected.subarray(0, stop), all.tags.subarray(0, stop)));
      if (change !== undefined) reportChange(judge, change, entries, this.#line);
      const first = entries[0]!.parsed!.checkpoint;
      const base = first.lines - first.seg_lines;
      const sealedLines: [number, number] = [base + stop + 1, base + m];
      judge.emit({
        kind: "truncated",
        line: this.#line + stop,
        lastLine: this.#line + n - 1, // the cut-off start of the next sealed line, if any
        count: lost,
        sealedLines,
        seq: [first.seq, entries[entries.length - 1]!.parsed!.checkpoint.seq],
        message: `the data ends before ${lineRange(sealedLines[0], sealedLines[1], "sealed line")}` +
          (all.torn ? ` (line ${this.#line + n - 1} is cut short)` : ""),
      });
      reportGapsOf(judge, entries, this.#line);
    }
    const tail = lost > 0 ? 0 : n - stop;
    unsealed(judge, this.#line + stop, tail, all.torn && tail > 0);
    this.#advance(w.bytes.length, n, entries.length);
  }

  /** After the last checkpoint: a checkpoint a crash cut short, and the lines no checkpoint covers. */
  async tail(): Promise<void> {
    const judge = this.#judge;
    const cut = this.#cut;
    if (cut !== undefined) {
      // Where the unsealed tail starts (reported already when the end was reached while checking a segment).
      const line = this.#line - judge.summary.unsealedLines;
      judge.emit({
        kind: "torn_write",
        line,
        lastLine: line - 1,
        count: 0,
        sealLine: cut.line,
        message: `seal line ${cut.line} is a torn write: ` +
          (cut.ended
            ? "a checkpoint cut short by a crash, the seal stream's last line"
            : "the seal stream ends inside it, a checkpoint cut short by a crash"),
      });
    }
    let lines = 0;
    let last = 0x0a;
    for await (const chunk of this.#data.rest()) {
      lines += countLines(chunk);
      if (chunk.length > 0) last = chunk[chunk.length - 1]!; // an empty chunk ends no line
    }
    const torn = last !== 0x0a;
    // An unsealed tail was already reported when the end was reached while checking a segment.
    if (judge.summary.unsealedLines === 0) unsealed(judge, this.#line, lines + (torn ? 1 : 0), torn);
    judge.summary.lines = this.#line - 1 + lines + (torn ? 1 : 0);
    judge.summary.bytes = this.#data.position;
  }
}

/** The first `s` lines of the window, as lossyMatch reads them (a last line cut short only where the data ends). */
function firstLines(w: Window, s: number): Lines {
  const { all } = w;
  return {
    count: s,
    starts: all.starts.subarray(0, s),
    ends: all.ends.subarray(0, s),
    tags: all.tags,
    torn: all.torn && s === all.count,
  };
}

/** The gaps of consecutive entries from data line `line`, each at its own segment's first line (as sealed). */
function reportGapsOf(judge: Judge, entries: readonly Entry[], line: number): void {
  for (const entry of entries) {
    reportGaps(judge, entry, line);
    line += entry.parsed?.checkpoint.seg_lines ?? 0;
  }
}
