import { checkMaxLineBytes, LineSplitter } from "./_line_splitter.ts";

/**
 * One line of a JSON Lines source, as {@linkcode JsonLinesSplitStream} emits it.
 *
 * - `"line"`: a complete line, decoded as UTF-8.
 * - `"torn"`: the last line of the source, with no final newline (a writer
 *   stopped mid-line, or a file written without a trailing newline). Cut
 *   inside a multi-byte character, its `text` ends with U+FFFD.
 * - `"too_long"`: a line over `maxLineBytes`; `text` holds only its first bytes.
 * - `"invalid_utf8"`: a line whose bytes are not valid UTF-8 (other than a
 *   torn last line's cut character); `text` holds it decoded with U+FFFD
 *   replacement characters.
 *
 * Blank lines (empty or whitespace only) are never emitted, but count in line
 * numbers and offsets.
 */
export interface JsonLine {
  /** What kind of line this is (see above). */
  readonly kind: "line" | "torn" | "too_long" | "invalid_utf8";
  /** The line's text without its `\n` or `\r\n` (and without a leading BOM on line 1). */
  readonly text: string;
  /** 1-based line number. */
  readonly line: number;
  /** Byte offset of the line's first byte in the source. */
  readonly offset: number;
  /** Length of the line in bytes, without its terminator. */
  readonly bytes: number;
  /** Whether a newline ended the line (`false` only for the source's last line). */
  readonly complete: boolean;
}

/** Options for {@linkcode JsonLinesSplitStream}. */
export interface JsonLinesSplitStreamOptions {
  /**
   * Longest line kept, in bytes. A longer line is emitted as `"too_long"`
   * with its first bytes only; the rest of it is counted, never buffered.
   * @default {1048576}
   */
  readonly maxLineBytes?: number;
}

/**
 * Splits a byte stream into JSON Lines: handles lines split across chunks,
 * `\n` and `\r\n`, blank lines, a UTF-8 byte order mark, over-long lines
 * (skipped without buffering them) and a last line without a newline
 * (emitted as `"torn"`). Each line is decoded as strict UTF-8; a line that is
 * not valid UTF-8 is emitted as `"invalid_utf8"` rather than silently repaired.
 *
 * Memory is bounded by `maxLineBytes` plus one input chunk.
 *
 * @example
 * ```ts
 * import { JsonLinesSplitStream } from "@atd/audit";
 * import assert from "node:assert/strict";
 * const bytes = new TextEncoder().encode('{"a":1}\r\n\n{"a":2');
 * const lines = [];
 * const reader = new Blob([bytes]).stream().pipeThrough(new JsonLinesSplitStream()).getReader();
 * for (let r = await reader.read(); !r.done; r = await reader.read()) lines.push(r.value);
 * assert.deepEqual(lines.map((l) => [l.kind, l.text, l.line, l.offset]), [
 *   ["line", '{"a":1}', 1, 0],
 *   ["torn", '{"a":2', 3, 10],
 * ]);
 * ```
 */
export class JsonLinesSplitStream extends TransformStream<Uint8Array, JsonLine> {
  /**
   * Creates a line-splitting stream.
   *
   * @param options The longest line to keep.
   * @throws {RangeError} When `maxLineBytes` is not a positive integer.
   */
  constructor(options: JsonLinesSplitStreamOptions = {}) {
    const splitter = new LineSplitter(checkMaxLineBytes(options.maxLineBytes));
    super({
      transform(chunk, controller) {
        splitter.push(chunk, (line) => controller.enqueue(line));
      },
      flush(controller) {
        splitter.end((line) => controller.enqueue(line));
      },
    });
  }
}
