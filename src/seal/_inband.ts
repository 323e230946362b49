// Verifying a stream that carries its checkpoints in band: each checkpoint
// line seals the data lines between the previous checkpoint line and itself.
import { concatBytes, grownBuffer } from "../_bytes.ts";
import { isCutCheckpoint } from "./_cut_checkpoint.ts";
import { CHECKPOINT_PREFIX } from "./_encoding.ts";
import type { ByteSource } from "./_byte_source.ts";
import type { Entry, Judge } from "./_judge.ts";
import { checkSegment, type Segment, unsealed } from "./_segment.ts";
import type { AuditTrailFinding } from "./verify_audit_trail.ts";

const LF = 0x0a;
const PREFIX = new TextEncoder().encode(CHECKPOINT_PREFIX);
const HEAD = PREFIX.length;

type Piece = { readonly data: Uint8Array; readonly newlines: number } | { readonly checkpoint: Uint8Array };

function isPrefix(bytes: Uint8Array, at: number): boolean {
  if (bytes[at + 2] !== PREFIX[2]) return false; // data lines have "t" of "ts" here
  for (let i = 0; i < HEAD; i++) if (bytes[at + i] !== PREFIX[i]) return false;
  return true;
}

/** Cuts a byte stream into runs of data lines and checkpoint lines, without copying data (its caller copies it). */
class Splitter {
  /** 0: at a line start, deciding; 1: in a data line; 2: in a checkpoint line. */
  #mode = 0;
  readonly #head = new Uint8Array(HEAD);
  #headLength = 0;
  #checkpoint: Uint8Array[] = [];
  #checkpointLength = 0;
  readonly #maxCheckpoint: number;

  constructor(maxCheckpointBytes: number) {
    this.#maxCheckpoint = maxCheckpointBytes;
  }

  push(chunk: Uint8Array, out: Piece[]): void {
    const n = chunk.length;
    let i = 0;
    while (i < n) {
      if (this.#mode === 0) i = this.#decide(chunk, i, out);
      else if (this.#mode === 1) i = this.#data(chunk, i, out);
      else {
        const nl = chunk.indexOf(LF, i);
        this.#keep(chunk.subarray(i, nl === -1 ? n : nl));
        if (nl === -1) return;
        out.push({ checkpoint: concatBytes(this.#checkpoint, this.#checkpointLength) });
        this.#checkpoint = [];
        this.#checkpointLength = 0;
        this.#mode = 0;
        i = nl + 1;
      }
    }
  }

  /** At a line start: reads up to the 20 bytes that tell a checkpoint from a data line. */
  #decide(chunk: Uint8Array, i: number, out: Piece[]): number {
    if (this.#headLength === 0 && i + HEAD <= chunk.length) {
      this.#mode = isPrefix(chunk, i) ? 2 : 1;
      return i;
    }
    const nl = chunk.indexOf(LF, i);
    const end = Math.min(nl === -1 ? chunk.length : nl, i + HEAD - this.#headLength);
    this.#head.set(chunk.subarray(i, end), this.#headLength);
    this.#headLength += end - i;
    if (this.#headLength === HEAD && isPrefix(this.#head, 0)) {
      this.#mode = 2;
      this.#keep(this.#head.slice());
    } else if (this.#headLength === HEAD || end === nl) {
      this.#mode = 1;
      out.push({ data: this.#head.slice(0, this.#headLength), newlines: 0 });
    } else return end; // the chunk ended: more head bytes to come
    this.#headLength = 0;
    return end;
  }

  /** In a data line: runs to the next checkpoint line, or to the chunk's end. */
  #data(chunk: Uint8Array, start: number, out: Piece[]): number {
    let newlines = 0;
    for (let nl = chunk.indexOf(LF, start); nl !== -1; nl = chunk.indexOf(LF, nl + 1)) {
      newlines++;
      const next = nl + 1;
      if (next + HEAD > chunk.length || isPrefix(chunk, next)) {
        out.push({ data: chunk.subarray(start, next), newlines });
        this.#mode = 0;
        return next;
      }
    }
    out.push({ data: chunk.subarray(start), newlines });
    return chunk.length;
  }

  #keep(piece: Uint8Array): void {
    const room = this.#maxCheckpoint - this.#checkpointLength;
    if (room <= 0) return;
    const kept = piece.length > room ? piece.subarray(0, room) : piece;
    this.#checkpoint.push(kept.slice());
    this.#checkpointLength += kept.length;
  }

  /** At the end: whether the last data line lacks its newline, and a checkpoint line cut short, if any. */
  end(out: Piece[]): { tornData: boolean; tornCheckpoint: Uint8Array | undefined } {
    // A last line cut within its first 20 bytes is a checkpoint's if they are the start of the prefix.
    const head = this.#head.subarray(0, this.#mode === 0 ? this.#headLength : 0);
    const cutPrefix = head.length >= 3 && head.every((byte, i) => byte === PREFIX[i]); // {"a, not {"t
    if (head.length > 0 && !cutPrefix) out.push({ data: head.slice(), newlines: 0 });
    let tornCheckpoint: Uint8Array | undefined = cutPrefix ? head.slice() : undefined;
    if (this.#mode === 2) tornCheckpoint = concatBytes(this.#checkpoint, this.#checkpointLength);
    return { tornData: this.#mode === 1 || (head.length > 0 && !cutPrefix), tornCheckpoint };
  }
}

const decoder = new TextDecoder();

/**
 * Verifies `source`, whose checkpoints are in band. `unended`: its lines
 * (ascending) that end their file without a newline, in files read back to
 * back (see BackToBack), as they are known.
 */
export async function* verifyInBand(
  source: ByteSource,
  judge: Judge,
  maxSegmentBytes: number,
  maxCheckpointBytes: number,
  unended: readonly number[] = [],
): AsyncGenerator<AuditTrailFinding, void, undefined> {
  const splitter = new Splitter(maxCheckpointBytes);
  let segment: Segment = { bytes: 0, lines: 0, firstLine: 1, overflow: false, torn: false };
  // The segment's bytes, copied as they come: the source may reuse or transfer a chunk once the next is asked
  // for. One buffer, reused from segment to segment (each is checked before the next begins).
  let held = new Uint8Array(0);
  let line = 0; // lines of the source completed so far
  let nextUnended = 0; // the first of `unended` not yet past
  const onPiece = async (piece: Piece): Promise<void> => {
    if ("data" in piece) {
      const end = segment.bytes + piece.data.length;
      if (!segment.overflow && end <= maxSegmentBytes) {
        if (end > held.length) held = grownBuffer(held.subarray(0, segment.bytes), end, maxSegmentBytes);
        held.set(piece.data, segment.bytes);
      } else segment.overflow = true;
      segment.bytes += piece.data.length;
      segment.lines += piece.newlines;
      line += piece.newlines;
      judge.summary.lines += piece.newlines;
      return;
    }
    line++;
    let entry = await judge.admit(decoder.decode(piece.checkpoint).replace(/\r$/, ""), line);
    const ended: number[] = []; // the segment's lines that end their file without a newline
    while (nextUnended < unended.length && unended[nextUnended]! < line) {
      ended.push(unended[nextUnended++]! - segment.firstLine);
    }
    if (unended[nextUnended] === line) {
      nextUnended++;
      if (entry.trusted) entry = unendedCheckpoint(entry, line);
    }
    const bytes = segment.overflow ? undefined : held.subarray(0, segment.bytes);
    await checkSegment(judge, entry, { ...segment, unended: ended }, bytes);
    segment = { bytes: 0, lines: 0, firstLine: line + 1, overflow: false, torn: false };
  };
  for await (const chunk of source.rest()) {
    judge.summary.bytes += chunk.length;
    const pieces: Piece[] = [];
    splitter.push(chunk, pieces);
    for (const piece of pieces) await onPiece(piece);
    yield* judge.take();
  }
  const pieces: Piece[] = [];
  const { tornData, tornCheckpoint } = splitter.end(pieces);
  for (const piece of pieces) await onPiece(piece);
  if (tornData) {
    segment.lines++;
    segment.torn = true;
    judge.summary.lines++;
  }
  if (tornCheckpoint !== undefined && !isCutCheckpoint(decoder.decode(tornCheckpoint).replace(/\r$/, ""))) {
    // Whole but for its newline (it seals its segment), or no checkpoint at all (malformed).
    await onPiece({ checkpoint: tornCheckpoint });
  } else {
    // A checkpoint cut short is what a crash while it was written leaves: its lines are the unsealed tail.
    unsealed(judge, segment.firstLine, segment.lines, segment.torn);
    if (tornCheckpoint !== undefined) {
      judge.emit({
        kind: "torn_write",
        line: line + 1,
        lastLine: line + 1,
        count: 1,
        sealLine: line + 1,
        message: `line ${line + 1} is a torn write: the data ends inside it, a checkpoint cut short by a crash`,
      });
    }
  }
  yield* judge.finish();
}

/**
 * A checkpoint line that ends its file without a newline, in files read back
 * to back: read on its own, its file runs into the next one there (a reader
 * that skips checkpoints would take the next file's first line for part of
 * an invalid one). It proves nothing, as a checkpoint line not written as
 * FORMAT.md requires.
 */
function unendedCheckpoint(entry: Entry, line: number): Entry {
  const message = `line ${line} is a checkpoint that ends its file without a newline (the next file's first line ` +
    "runs into it where the files are read together)";
  return { ...entry, trusted: false, problems: [...entry.problems, { kind: "malformed", message }] };
}
