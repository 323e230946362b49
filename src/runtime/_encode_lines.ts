// Lines to UTF-8, each followed by "\n": how the sink's queue turns a write's
// lines into bytes, done the way each engine does fastest (the sink's ready
// loop, 50,000 events of about 550 bytes, bench/README.md):
// - JavaScriptCore (Bun): one join, one encode() (or one encodeInto, into a
//   buffer given). A call to encodeInto per line (and the view it needs) was
//   a third of the ready loop's samples. Line ends (for sealing) are found
//   afterwards by searching the bytes.
// - V8 (Deno, Node, browsers, Workers): encodeInto line by line into one
//   buffer. Joining a whole write first is up to 30x slower on Node 20, and
//   concatenating lines into groups made the ready loop 1.3x slower on Deno:
//   each line is a rope (a template literal's result) that the group's
//   concatenation makes deeper still.
// Sealing gives a buffer to encode into (a segment's, see src/sink/_segment_bytes.ts) so that it need not copy the
// bytes; lines that do not fit go to a new buffer, as without one.
// Web APIs only: this file loads in browsers and workerd too.
import { isBun } from "./engine.ts";

const encoder = new TextEncoder();

/**
 * The UTF-8 of `batches`' lines, each followed by "\n".
 *
 * @param batches The lines, in order, without their newlines (and none inside: JSON escapes them).
 * @param chars Their length in UTF-16 units, newlines included: the buffer's first guess.
 * @param ends When given, filled with the offset of each line's newline.
 * @param into Where to encode them, when they fit (from its start): the
 *   bytes returned are then a view of it; else they are a new buffer.
 * @returns The bytes.
 */
export function encodeLines(
  batches: readonly string[][],
  chars: number,
  ends?: Uint32Array,
  into?: Uint8Array,
): Uint8Array {
  if (isBun) {
    let text = "";
    for (const lines of batches) if (lines.length > 0) text += `${lines.join("\n")}\n`;
    const bytes = encodeWhole(text, into);
    if (ends !== undefined) {
      if (bytes.length === text.length) {
        // As many bytes as UTF-16 units: every unit was ASCII (any other takes 2 or more bytes a unit), so the
        // lines' lengths give their ends, no search needed (a call to indexOf a line cost 0.5 µs in Bun).
        let index = 0;
        let at = -1;
        for (const lines of batches) {
          for (let i = 0; i < lines.length && index < ends.length; i++) ends[index++] = at += lines[i]!.length + 1;
        }
      } else {
        // A line holds no raw newline (JSON escapes it), so its end is the next one.
        let index = 0;
        for (let at = bytes.indexOf(0x0a); at !== -1 && index < ends.length; at = bytes.indexOf(0x0a, at + 1)) {
          ends[index++] = at;
        }
      }
    }
    return bytes;
  }
  const out = new Output(chars, into);
  let index = 0;
  for (const lines of batches) {
    for (const line of lines) {
      out.append(line, 1);
      if (ends !== undefined) ends[index++] = out.length;
      out.newline();
    }
  }
  return out.bytes();
}

/** `text`'s UTF-8: in `into` when it fits (one call, not one a line: see above), else in a new buffer. */
function encodeWhole(text: string, into: Uint8Array | undefined): Uint8Array {
  if (into !== undefined && into.length >= text.length) {
    const { read, written } = encoder.encodeInto(text, into);
    if (read === text.length) return into.subarray(0, written);
  }
  return encoder.encode(text);
}

/** A buffer sized for ASCII (or `into`, when that is at least as large), grown on the first wider character. */
class Output {
  #bytes: Uint8Array;
  length = 0;

  constructor(chars: number, into: Uint8Array | undefined) {
    this.#bytes = into !== undefined && into.length >= chars ? into : new Uint8Array(chars);
  }

  /** Appends `text`'s UTF-8, leaving room for `spare` more bytes (a newline to come). */
  append(text: string, spare = 0): void {
    let read = 0;
    for (;;) {
      const done = encoder.encodeInto(read === 0 ? text : text.slice(read), this.#bytes.subarray(this.length));
      read += done.read;
      this.length += done.written;
      if (read === text.length && this.length + spare <= this.#bytes.length) return;
      // Out of room: at most 3 bytes per UTF-16 unit left, plus the spare.
      const grown = new Uint8Array(Math.max(this.#bytes.length * 2, this.length + (text.length - read) * 3 + spare));
      grown.set(this.#bytes.subarray(0, this.length));
      this.#bytes = grown;
      if (read === text.length) return;
    }
  }

  newline(): void {
    this.#bytes[this.length++] = 0x0a;
  }

  bytes(): Uint8Array {
    return this.#bytes.subarray(0, this.length);
  }
}
