// The byte-level line splitter behind JsonLinesSplitStream and readCallEvents.
// Synchronous and callback-based so that readCallEvents can split a whole chunk
// without a stream hop per line.
import { concatBytes } from "../_bytes.ts";
import { isBytes, notBytes } from "./_byte_stream.ts";
import type { JsonLine } from "./json_lines_split_stream.ts";

const LF = 10;
const CR = 13;
/** Bytes of an over-long line kept for its excerpt. */
const HEAD_BYTES = 256;
/** The default longest line, in bytes: 1 MiB. */
const DEFAULT_MAX_LINE_BYTES = 1 << 20;

const strict = new TextDecoder("utf-8", { fatal: true, ignoreBOM: true });
const lenient = new TextDecoder("utf-8", { ignoreBOM: true });

/**
 * Whether `bytes` are valid UTF-8 but for a character cut short at the end.
 * A fresh decoder in streaming mode holds back an incomplete last sequence
 * and throws at any invalid byte before it.
 */
function isCutShort(bytes: Uint8Array): boolean {
  try {
    new TextDecoder("utf-8", { fatal: true, ignoreBOM: true }).decode(bytes, { stream: true });
    return true;
  } catch {
    return false;
  }
}

/** Validates a `maxLineBytes` option. */
export function checkMaxLineBytes(value: number | undefined): number {
  const max = value ?? DEFAULT_MAX_LINE_BYTES;
  if (!Number.isSafeInteger(max) || max < 1) {
    throw new RangeError(`Cannot read lines: maxLineBytes must be a positive integer, got ${value}`);
  }
  return max;
}

/**
 * A look at a line's bytes (`start` to `end` of `bytes`) that the splitter
 * passes on with the line: readCallEvents counts JSON keys there
 * (plainKeysOfBytes), on bytes it already holds.
 */
export type LineScan = (bytes: Uint8Array, start: number, end: number) => number;

/** What a splitter calls for each line: `scan` is its LineScan's result, or -1 without one. */
export type LineEmit = (line: JsonLine, scan: number) => void;

/** Splits bytes into lines; memory is bounded by `maxLineBytes` plus one chunk. */
export class LineSplitter {
  readonly #max: number;
  readonly #scan: LineScan | undefined;
  /** Number of the line being assembled (1-based). */
  #line = 1;
  /** Byte offset of the start of the line being assembled. */
  #offset = 0;
  /** Byte offset of the start of the chunk being split. */
  #base = 0;
  /** Pieces of the current line carried over from earlier chunks. */
  #parts: Uint8Array[] = [];
  #partsLength = 0;
  /** The current line passed `maxLineBytes`: only its head and length are kept. */
  #head: Uint8Array | undefined;
  #tooLongBytes = 0;
  /** The input ended without a newline after its last line. */
  #trailing = false;

  constructor(maxLineBytes: number, scan?: LineScan) {
    this.#max = maxLineBytes;
    this.#scan = scan;
  }

  /** Lines seen so far: complete ones, plus an unterminated last one once ended. */
  lineCount(ended: boolean): number {
    return this.#line - 1 + (ended && this.#trailing ? 1 : 0);
  }

  /**
   * Splits `chunk`, calling `emit` for each line it completes.
   *
   * @throws {TypeError} When `chunk` is not a Uint8Array (a text stream's string, say).
   */
  push(chunk: Uint8Array, emit: LineEmit): void {
    if (!isBytes(chunk)) throw notBytes(chunk, "Cannot read lines");
    let start = 0;
    if (this.#partsLength > 0 || this.#head !== undefined) {
      const nl = chunk.indexOf(LF);
      if (nl === -1) {
        this.#carry(chunk);
        this.#base += chunk.length;
        return;
      }
      this.#carry(chunk.subarray(0, nl));
      this.#finishCarried(true, emit);
      this.#next(nl);
      start = nl + 1;
    }
    const last = chunk.lastIndexOf(LF);
    if (last >= start) {
      // Common case first: decode every complete line of the chunk at once;
      // when it is all ASCII, characters and bytes line up for the offsets.
      const block = chunk.subarray(start, last + 1);
      let text: string | undefined;
      try {
        text = strict.decode(block);
      } catch {
        text = undefined;
      }
      if (text !== undefined && text.length === block.length) this.#splitAscii(text, chunk, start, emit);
      else this.#splitBytes(chunk, start, last, emit);
      start = last + 1;
    }
    if (start < chunk.length) this.#carry(chunk.subarray(start));
    this.#base += chunk.length;
  }

  /** Ends the input: a last line without a newline is emitted as torn. */
  end(emit: LineEmit): void {
    if (this.#partsLength === 0 && this.#head === undefined) return;
    this.#trailing = true;
    this.#finishCarried(false, emit);
  }

  /** Moves past the newline at `nl` (an index into the current chunk). */
  #next(nl: number): void {
    this.#offset = this.#base + nl + 1;
    this.#line++;
  }

  /** Splits ASCII `text`, the decoded bytes from `start` of the chunk to its last newline. */
  #splitAscii(text: string, chunk: Uint8Array, start: number, emit: LineEmit): void {
    let from = 0;
    for (let nl = text.indexOf("\n"); nl !== -1; nl = text.indexOf("\n", from)) {
      const length = nl - from;
      if (length > this.#max) {
        const head = text.slice(from, from + HEAD_BYTES);
        emit(
          { kind: "too_long", text: head, line: this.#line, offset: this.#offset, bytes: length, complete: true },
          -1,
        );
      } else if (length > 0) {
        const end = text.charCodeAt(nl - 1) === CR ? nl - 1 : nl;
        if (end > from) this.#emitText(text.slice(from, end), chunk, start + from, start + end, true, emit);
      }
      this.#next(start + nl);
      from = nl + 1;
    }
  }

  /** Splits the chunk's bytes from `start` to the newline at `last`, decoding line by line. */
  #splitBytes(chunk: Uint8Array, start: number, last: number, emit: LineEmit): void {
    while (start <= last) {
      const nl = chunk.indexOf(LF, start);
      const bytes = chunk.subarray(start, nl);
      if (bytes.length > this.#max) this.#emitTooLong(bytes.subarray(0, HEAD_BYTES), bytes.length, true, emit);
      else this.#emitBytes(bytes, true, emit);
      this.#next(nl);
      start = nl + 1;
    }
  }

  #carry(piece: Uint8Array): void {
    if (this.#head !== undefined) {
      this.#tooLongBytes += piece.length;
      return;
    }
    if (this.#partsLength + piece.length > this.#max) {
      this.#tooLongBytes = this.#partsLength + piece.length;
      this.#head = concatBytes([...this.#parts, piece.subarray(0, HEAD_BYTES)], HEAD_BYTES);
      this.#parts = [];
      this.#partsLength = 0;
      return;
    }
    // Copy: the source may reuse its buffer for the next chunk.
    this.#parts.push(piece.slice());
    this.#partsLength += piece.length;
  }

  #finishCarried(complete: boolean, emit: LineEmit): void {
    if (this.#head !== undefined) {
      const head = this.#head;
      this.#head = undefined;
      this.#emitTooLong(head, this.#tooLongBytes, complete, emit);
      return;
    }
    const bytes = concatBytes(this.#parts, this.#partsLength);
    this.#parts = [];
    this.#partsLength = 0;
    this.#emitBytes(bytes, complete, emit);
  }

  #emitTooLong(head: Uint8Array, bytes: number, complete: boolean, emit: LineEmit): void {
    // The size of an over-long line counts a CR before its newline: its tail is never kept.
    emit({ kind: "too_long", text: lenient.decode(head), line: this.#line, offset: this.#offset, bytes, complete }, -1);
  }

  #emitBytes(bytes: Uint8Array, complete: boolean, emit: LineEmit): void {
    let end = bytes.length;
    if (end > 0 && bytes[end - 1] === CR) end--;
    let start = 0;
    if (this.#line === 1 && end >= 3 && bytes[0] === 0xef && bytes[1] === 0xbb && bytes[2] === 0xbf) start = 3;
    if (start === end) return; // blank line
    const body = bytes.subarray(start, end);
    let text: string;
    try {
      text = strict.decode(body);
    } catch {
      const line = { text: lenient.decode(body), line: this.#line, offset: this.#offset, bytes: end - start };
      // A last line cut inside a character is torn like one cut anywhere else.
      emit({ kind: !complete && isCutShort(body) ? "torn" : "invalid_utf8", ...line, complete }, -1);
      return;
    }
    this.#emitText(text, bytes, start, end, complete, emit);
  }

  /** Emits `text`, decoded from `bytes` from `start` to `end`. */
  #emitText(text: string, bytes: Uint8Array, start: number, end: number, complete: boolean, emit: LineEmit): void {
    const first = text.charCodeAt(0);
    if ((first === 32 || first === 9 || first === CR) && text.trim() === "") return; // whitespace only
    const kind = complete ? "line" : "torn";
    const scan = this.#scan === undefined ? -1 : this.#scan(bytes, start, end);
    emit({ kind, text, line: this.#line, offset: this.#offset, bytes: end - start, complete }, scan);
  }
}
