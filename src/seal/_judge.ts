// What the verifier decides about each checkpoint (shape, key, signature,
// origin, chain, counters), the findings it emits and the summary it keeps.
import type { AuditCheckpoint } from "./audit_checkpoint.ts";
import type { AuditVerifyKey } from "./audit_seal_key.ts";
import { freezeCheckpoint, parseCheckpoint, type ParsedCheckpoint, parsedCheckpointText } from "./_checkpoint.ts";
import { isCutCheckpoint, restartsAfter } from "./_cut_checkpoint.ts";
import { sha256Hex } from "./_encoding.ts";
import type { AuditTrailFinding, AuditTrailFindingKind, AuditTrailSummary } from "./verify_audit_trail.ts";

/** A checkpoint as the judge admitted it. */
export interface Entry {
  readonly parsed: ParsedCheckpoint | undefined;
  readonly trusted: boolean;
  /**
   * Findings about the checkpoint itself, emitted once its segment's lines are
   * known (`sealLine`: about another line of the seal source).
   */
  readonly problems: { kind: AuditTrailFindingKind; message: string; sealLine?: number }[];
  /** Sealed lines between the previous checkpoint's end and this segment's start (covered by no checkpoint seen). */
  readonly missing: number;
  /** Their bytes. */
  readonly missingBytes: number;
  /** Checkpoints missing from the chain before this one, if any. */
  readonly missingSeqs: readonly [number, number] | undefined;
  /** The checkpoint's line in the seal source (or in the data, in band). */
  readonly sealLine: number;
  /**
   * The line, when it is a checkpoint line cut short (what a crash while it
   * was written leaves): `malformed`, unless it ends the seal stream or the
   * first checkpoint of the writer that restarted after the crash follows.
   */
  readonly cut?: string;
  /**
   * This is the first checkpoint of a writer that restarted after the crash
   * that cut the line before it short: it holds that line's `torn_write`, and
   * that line seals nothing.
   */
  readonly afterCut?: boolean;
}

type Mutable<T> = { -readonly [K in keyof T]: T[K] };
/** Kinds about checkpoints that run together when consecutive checkpoints share them. */
const RUNS: ReadonlySet<AuditTrailFindingKind> = new Set(["unknown_key", "bad_signature", "malformed", "foreign_seal"]);
/** Kinds that do not make a trail not intact: losses the writer declared, and lines not vouched for. */
const NOT_PROBLEMS: ReadonlySet<AuditTrailFindingKind> = new Set(["gap", "torn_write", "unsealed_tail", "adopted"]);
/** Findings held back, at most, while deciding whether a whole seal belongs to another log. */
const MAX_HELD = 10_000;
const encoder = new TextEncoder();

/** `lines a–b` (or `line a`), for messages. */
export function lineRange(first: number, last: number, noun = "line"): string {
  return first === last ? `${noun} ${first}` : `${noun}s ${first}–${last}`;
}

/** `one` when `first` = `last`, else `many`: the verb that agrees with {@linkcode lineRange}. */
export function agree(first: number, last: number, one: string, many: string): string {
  return first === last ? one : many;
}

/** The summary before anything is read. */
export function emptySummary(): Mutable<AuditTrailSummary> {
  return {
    origin: undefined,
    checkpoints: 0,
    trustedCheckpoints: 0,
    segments: 0,
    lines: 0,
    verifiedLines: 0,
    unsealedLines: 0,
    adoptedLines: 0,
    tornLines: 0,
    bytes: 0,
    gaps: 0,
    lost: 0,
    offered: 0,
    written: 0,
    problems: 0,
    intact: true,
    firstSeq: undefined,
    lastSeq: undefined,
    lastCheckpoint: undefined,
  };
}

export class Judge {
  readonly #keys: ReadonlyMap<string, readonly AuditVerifyKey[]>;
  #origin: string | undefined;
  /** The last trusted checkpoint (or the one the trail continues) and its hash: the chain is judged from it. */
  #last: { checkpoint: AuditCheckpoint; hash: string } | undefined;
  /**
   * Checkpoints read since the last trusted one that cannot be trusted (unreadable, an unknown key, a bad
   * signature, another origin): each takes a place in the chain, but what it says (its seq, its counters) is
   * anyone's word, so nothing is judged by it.
   */
  #untrusted = 0;
  readonly #continues: boolean;
  #sealedLines = 0;
  #sealedBytes = 0;
  /**
   * Findings are told in the order they were found, in the data's order: each
   * gets the next number when found, and none is told while a one-line edit
   * found before it waits for its mirror image.
   */
  #found = 0;
  #queue: Numbered[] = [];
  #run: Mutable<AuditTrailFinding> | undefined;
  #runNumber = 0;
  /**
   * The run is of lines whose line endings were converted (see emitConverted): `proven` while each segment's
   * lines hashed as sealed without their CR.
   */
  #conversion: "proven" | "seen" | undefined;
  readonly #sidecar: boolean;
  /** Sidecar only: findings held until some segment verifies (else the seal may be another log's). */
  #held: Numbered[] | undefined;
  #matched = 0;
  #compared = 0;
  /** Single-line edits waiting for their mirror image: two of them are one swap. */
  #edits: { finding: AuditTrailFinding; data: number; sealed: number; number: number }[] = [];
  readonly summary: Mutable<AuditTrailSummary> = emptySummary();

  constructor(
    keys: ReadonlyMap<string, readonly AuditVerifyKey[]>,
    origin: string | undefined,
    previous: { checkpoint: AuditCheckpoint; hash: string } | undefined,
    holdForeign: boolean,
    /** How messages name a checkpoint's line: "seal line" or, in band, "line". */
    readonly where: string,
    /** The trail may start after checkpoint 0 (it continues a stream not given). */
    continues = false,
  ) {
    this.#keys = keys;
    this.#origin = origin;
    this.#last = previous;
    this.#held = holdForeign ? [] : undefined;
    this.#sidecar = holdForeign;
    this.#continues = continues || previous !== undefined;
  }

  /**
   * Parses and checks one checkpoint line.
   *
   * @param before The line admitted just before, when it was cut short and its findings are not told yet (a seal
   *   stream is read ahead): if this is the first checkpoint of a writer that restarted after it, that line is a
   *   torn write (see {@linkcode restartsAfter}), this checkpoint holds its finding, and the chain goes on as if it
   *   were not there.
   */
  async admit(text: string, sealLine: number, before?: Entry): Promise<Entry> {
    this.summary.checkpoints++;
    const parsed = parseCheckpoint(text);
    if (typeof parsed === "string") {
      const message = `the checkpoint at ${this.where} ${sealLine} is malformed: ${parsed}`;
      const entry = this.#entry(undefined, false, [{ kind: "malformed", message }], sealLine);
      return isCutCheckpoint(text) ? { ...entry, cut: text } : entry;
    }
    const c = parsed.checkpoint;
    const keys = (this.#keys.get(c.key_id) ?? []).filter((key) => key.algorithm === c.alg);
    if (keys.length === 0) {
      const message =
        `checkpoint ${c.seq} is signed with key ${c.key_id} (${c.alg}), which is not among the keys given`;
      return this.#entry(parsed, false, [{ kind: "unknown_key", message }], sealLine);
    }
    const textBytes = encoder.encode(await parsedCheckpointText(parsed));
    let good = false;
    for (const key of keys) good ||= await key.verify(textBytes, parsed.sig).catch(() => false);
    if (!good) {
      const message = `the signature of checkpoint ${c.seq} does not verify with key ${c.key_id}`;
      return this.#entry(parsed, false, [{ kind: "bad_signature", message }], sealLine);
    }
    if (c.origin !== (this.#origin ??= c.origin)) {
      const message = `checkpoint ${c.seq} belongs to log ${c.origin}, not ${this.#origin}`;
      return this.#entry(parsed, false, [{ kind: "foreign_seal", message }], sealLine);
    }
    this.summary.origin = this.#origin;
    const cut = before?.cut !== undefined && this.#restarts(before.cut, c, text) ? before : undefined;
    if (cut !== undefined) this.#untrusted = 0; // the cut line took no place in the chain: this checkpoint took it
    const entry = this.#chain(parsed, await sha256Hex(textBytes), sealLine);
    if (cut === undefined) return entry;
    entry.problems.unshift({
      kind: "torn_write",
      sealLine: cut.sealLine,
      message: `${this.where} ${cut.sealLine} is a torn write: a checkpoint cut short by a crash; the writer ` +
        `restarted after it, and checkpoint ${c.seq} took its place in the chain`,
    });
    return { ...entry, afterCut: true };
  }

  /**
   * Whether `c`, after a line cut short (the only line since the last trusted
   * checkpoint), is the first checkpoint of a writer that restarted after the
   * crash that cut it: it follows the last checkpoint before that line as if
   * the line were not there, and {@linkcode restartsAfter} says it took that
   * line's place.
   */
  #restarts(cut: string, c: AuditCheckpoint, line: string): boolean {
    const last = this.#last;
    if (this.#untrusted !== 1) return false;
    const follows = last === undefined
      ? !this.#continues && c.seq === 0
      : c.seq === last.checkpoint.seq + 1 && c.prev === last.hash;
    return follows && restartsAfter(cut, c, line);
  }

  #chain(parsed: ParsedCheckpoint, hash: string, sealLine: number): Entry {
    const c = parsed.checkpoint;
    const last = this.#last;
    const problems: Entry["problems"] = [];
    let missingSeqs: [number, number] | undefined;
    // Checkpoints read in between that could not be trusted are reported on their own: only a gap beyond them is missing.
    const after = last === undefined
      ? (this.#continues ? undefined : this.#untrusted)
      : last.checkpoint.seq + 1 + this.#untrusted;
    const follows = last !== undefined && this.#untrusted === 0;
    if (after !== undefined && c.seq > after) missingSeqs = [after, c.seq - 1];
    else if (last !== undefined && (c.seq <= last.checkpoint.seq || (follows && c.prev !== last.hash))) {
      const message = `checkpoint ${c.seq} does not chain to checkpoint ${last.checkpoint.seq}`;
      problems.push({ kind: "broken_chain", message });
    }
    const start = c.lines - c.seg_lines;
    // Lines sealed by checkpoints never read (those of untrusted ones were reported with them, and where the lines
    // of untrusted ones end is not known).
    const missing = this.#untrusted > 0 ? 0 : start - this.#sealedLines;
    const out = c.gaps.reduce((sum, g) => sum + (g.in_segment ? 0 : g.count), 0);
    // Counters can be checked against the previous checkpoint when it was trusted, or at the trail's start.
    const comparable = missingSeqs === undefined && (follows || (last === undefined && this.#untrusted === 0));
    const within = follows && this.summary.trustedCheckpoints > 0;
    const offered = within ? last!.checkpoint.offered - last!.checkpoint.lines : 0;
    if (missing < 0) {
      problems.push({
        kind: "broken_chain",
        message: `checkpoint ${c.seq} counts from line ${start + 1}, before the end of the previous one`,
      });
    } else if (missing === 0 && missingSeqs !== undefined) {
      const [a, b] = missingSeqs;
      // Before a stream's first line, the counters cannot tell: those checkpoints may seal an earlier stream's lines.
      const what = this.#untrusted > 0
        ? `(after one that is not trusted, so the lines ${agree(a, b, "it", "they")} sealed cannot be counted)`
        : start === 0
        ? "(of a file missing before this one, or sealing no line)"
        : "(sealing no line)";
      problems.push({
        kind: "broken_chain",
        message: `${lineRange(a, b, "checkpoint")} ${agree(a, b, "is", "are")} missing ${what}`,
      });
    } else if (
      missing === 0 && comparable &&
      (c.bytes - c.seg_bytes !== this.#sealedBytes || c.offered - c.lines !== offered + out)
    ) {
      problems.push({
        kind: "broken_chain",
        message: `the counters of checkpoint ${c.seq} do not follow from the previous one`,
      });
    }
    this.#last = { checkpoint: c, hash };
    const s = this.summary;
    s.trustedCheckpoints++;
    s.firstSeq ??= c.seq;
    s.lastSeq = c.seq;
    s.lastCheckpoint = freezeCheckpoint(c); // handed out by `summary`, and what the next checkpoint is checked against
    s.offered = c.offered;
    s.gaps += c.gaps.length;
    s.lost += c.gaps.reduce((sum, g) => sum + g.count, 0);
    s.written += c.seg_lines - c.gaps.reduce((sum, g) => sum + (g.in_segment ? g.count : 0), 0);
    const bytes = c.bytes - c.seg_bytes - this.#sealedBytes;
    return this.#entry(parsed, true, problems, sealLine, missing, missingSeqs, bytes);
  }

  #entry(
    parsed: ParsedCheckpoint | undefined,
    trusted: boolean,
    problems: Entry["problems"],
    sealLine: number,
    missing = 0,
    missingSeqs?: readonly [number, number],
    missingBytes = 0,
  ): Entry {
    if (parsed !== undefined && trusted) {
      this.#sealedLines = parsed.checkpoint.lines;
      this.#sealedBytes = parsed.checkpoint.bytes;
      this.#untrusted = 0;
    } else this.#untrusted++;
    return {
      parsed,
      trusted,
      problems,
      missing: Math.max(0, missing),
      missingBytes: missing > 0 ? missingBytes : 0,
      missingSeqs,
      sealLine,
    };
  }

  /**
   * Emits a one-line edit: line tag `data` stands where `sealed` was. When an
   * earlier edit is its mirror image, the two are one swap: `reordered`.
   */
  emitEdit(finding: AuditTrailFinding, data: number, sealed: number): void {
    const i = this.#edits.findIndex((e) => e.data === sealed && e.sealed === data);
    if (i === -1) {
      this.#edits.push({ finding, data, sealed, number: this.#found++ });
      if (this.#edits.length > MAX_HELD) this.#settleEdit();
      return;
    }
    const { finding: first, number } = this.#edits.splice(i, 1)[0]!;
    this.emit({
      kind: "reordered",
      line: first.line,
      lastLine: finding.lastLine,
      count: 2,
      sealedLines: [first.sealedLines![0], finding.sealedLines![1]],
      seq: [first.seq![0], finding.seq![1]],
      // Told by the line tags alone: the two segments' SHA-256 do not match (that is why each was an edit), and
      // nothing holds both segments' bytes at once to check that the swap is all that changed.
      message: `lines ${first.line} and ${finding.line} are swapped, by their line tags (sealed lines ` +
        `${first.sealedLines![0]} and ${finding.sealedLines![0]}, checkpoints ${first.seq![0]} and ${finding.seq![0]})`,
    }, number);
  }

  /** Tells the oldest one-line edit still waiting for its mirror image as an edit. */
  #settleEdit(): void {
    const edit = this.#edits.shift()!;
    this.emit(edit.finding, edit.number);
  }

  /**
   * Emits a finding (held back while a sidecar seal may be another log's).
   *
   * @param number Its place in the order of findings (a one-line edit's, when it is told later).
   */
  emit(finding: AuditTrailFinding, number = this.#found++): void {
    const run = this.#run;
    if (
      run !== undefined && run.kind === finding.kind && RUNS.has(finding.kind) &&
      finding.line === run.lastLine + 1 && run.seq !== undefined && finding.seq?.[0] === run.seq[1] + 1
    ) {
      run.lastLine = finding.lastLine;
      run.count += finding.count;
      run.seq = [run.seq[0], finding.seq[1]];
      const lines = run.lastLine >= run.line
        ? `; ${lineRange(run.line, run.lastLine)} ${agree(run.line, run.lastLine, "is", "are")} not verified`
        : "";
      run.message = `${lineRange(run.seq[0], run.seq[1], "checkpoint")}: ${label(run.kind)}${lines}`;
      return;
    }
    this.#flushRun();
    if (RUNS.has(finding.kind)) {
      this.#run = { ...finding };
      this.#runNumber = number;
    } else this.#push(finding, number);
  }

  #flushRun(): void {
    if (this.#run !== undefined) this.#push(this.#run, this.#runNumber);
    this.#run = undefined;
    this.#conversion = undefined;
  }

  /**
   * Emits an `edited` finding for lines whose line endings were converted to
   * CRLF, run together with the lines of the segments just before when they
   * were too (in band, past the checkpoint lines between).
   *
   * @param proven Whether, without their CR, the lines hash to their segment's SHA-256.
   */
  emitConverted(
    finding: AuditTrailFinding & Pick<Required<AuditTrailFinding>, "seq" | "sealedLines">,
    proven: boolean,
  ): void {
    const run = this.#run;
    const between = this.#sidecar || run?.seq === undefined ? 0 : finding.seq[0] - run.seq[1];
    if (run !== undefined && this.#conversion !== undefined && finding.line === run.lastLine + 1 + between) {
      run.lastLine = finding.lastLine;
      run.count += finding.count;
      run.seq = [run.seq![0], finding.seq[1]];
      run.sealedLines = [run.sealedLines![0], finding.sealedLines[1]];
      if (!proven) this.#conversion = "seen";
    } else {
      this.#flushRun();
      this.#run = { ...finding };
      this.#runNumber = this.#found++;
      this.#conversion = proven ? "proven" : "seen";
    }
    const r = this.#run!;
    const of = r.seq![0] === r.seq![1] ? `checkpoint ${r.seq![0]}` : lineRange(r.seq![0], r.seq![1], "checkpoint");
    r.message = `${lineRange(r.line, r.lastLine)} ${agree(r.line, r.lastLine, "ends", "end")} in CRLF where ${of} ` +
      `sealed LF: the log's line endings were converted (each line is altered` +
      (this.#conversion === "proven" ? "; without their CR, they are the lines sealed)" : ")");
  }

  #push(finding: AuditTrailFinding, number: number): void {
    if (!NOT_PROBLEMS.has(finding.kind)) {
      this.summary.problems++;
      this.summary.intact = false;
    }
    if (this.#held === undefined) this.#queue.push({ finding, number });
    else if (this.#held.push({ finding, number }) > MAX_HELD) this.#release();
  }

  #release(): void {
    if (this.#held !== undefined) this.#queue.push(...this.#held);
    this.#held = undefined;
  }

  /** A trusted segment with lines matched its data: the seal is this log's. */
  verified(lines: number): void {
    this.summary.segments++;
    this.summary.verifiedLines += lines;
    this.#release();
  }

  /**
   * A trusted segment's lines are its sealed lines with their line endings
   * converted: none is verified, but the seal is this log's.
   */
  converted(): void {
    this.#release();
  }

  /** Tags compared, and how many agreed, for the other-log decision. */
  compared(sealed: number, matched: number): void {
    this.#compared += sealed;
    this.#matched += matched;
  }

  /**
   * The findings emitted since the last call, up to a one-line edit still
   * waiting for its mirror image, in the data's order: by line, then as found
   * (a segment's gaps, found after its lines were compared, go at its start).
   */
  take(): AuditTrailFinding[] {
    while (this.#edits.length > 0 && this.#queue.length > MAX_HELD) this.#settleEdit();
    const waiting = this.#edits[0]?.number ?? Infinity; // edits are held in the order found
    const ready = this.#queue.filter((entry) => entry.number < waiting);
    this.#queue = this.#queue.filter((entry) => entry.number >= waiting);
    return ready.sort((a, b) => a.finding.line - b.finding.line || a.number - b.number).map((entry) => entry.finding);
  }

  /** Ends the verification: settles held findings and returns the last ones. */
  finish(): AuditTrailFinding[] {
    while (this.#edits.length > 0) this.#settleEdit();
    this.#flushRun();
    const held = this.#held;
    if (held !== undefined && held.length > 0 && this.#matched === 0 && this.#compared >= 8) {
      // Nothing matched at all: one finding instead of one per segment.
      const lines = held.map((entry) => entry.finding).filter((f) => f.lastLine >= f.line);
      const first = Math.min(...lines.map((f) => f.line));
      const last = Math.max(...lines.map((f) => f.lastLine));
      this.#held = undefined;
      this.summary.problems = 0;
      this.#push({
        kind: "foreign_seal",
        line: lines.length > 0 ? first : 1,
        lastLine: lines.length > 0 ? last : 0,
        count: this.summary.trustedCheckpoints,
        message: `the seal matches none of the data: it seals another log (${this.#compared} sealed lines compared)`,
      }, Math.min(...held.map((entry) => entry.number)));
    }
    this.#release();
    // Lines without any trusted checkpoint: nothing vouches for them (a deleted or emptied seal).
    if (this.summary.lines > 0 && this.summary.trustedCheckpoints === 0) this.summary.intact = false;
    return this.take();
  }
}

/** A finding and its place in the order of findings. */
interface Numbered {
  readonly finding: AuditTrailFinding;
  readonly number: number;
}

function label(kind: AuditTrailFindingKind): string {
  return kind === "unknown_key"
    ? "signed with a key not among the keys given"
    : kind === "bad_signature"
    ? "signatures do not verify"
    : kind === "foreign_seal"
    ? "they belong to another log"
    : "malformed";
}
