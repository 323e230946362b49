// How a checkpoint line is written, beyond what JSON.parse checks: what
// other JSON readers of the trail (jq, a database, serde_json, Go) could read
// differently from the verifier. The signature covers the text form, not the
// line, so anything JSON.parse forgives is a spelling a forger may choose
// without breaking the signature.
// - A name given twice in the checkpoint or in a gap: JSON.parse keeps the
//   last, other readers the first, serde_json refuses the line. Names are
//   compared as readers compare them: unescaped (`"g\u0061ps"` is `gaps`)
//   and ignoring case (Go's encoding/json matches names that way, with
//   Unicode's simple folding, so `ſ` is `s` and the Kelvin sign is `k`).
// - An integer member written other than as plain digits (`1.0`, `1e0`,
//   `-0`, `0.99999999999999999999`): JSON.parse reads a number it rounds to an
//   integer, serde_json refuses a float where it wants an integer, and a
//   reader that keeps decimals exact (jq 1.7) or truncates them reads another.
// - A `ts` member: a data line's first member, which a CallEvent must have.
//   Readers of events (serde's, this package's parseCallEvent) ignore unknown
//   members, so a checkpoint that also holds an event's members is that event
//   to them, while a reader that skips checkpoints hides it.
// The line is JSON that JSON.parse accepted: the scan relies on that, reads
// only the checkpoint's and its gaps' names and integers, skips every other
// value with a counter (no recursion), and runs once per checkpoint line, never per event.

/** What ends a number, `true`, `false` or `null`: whitespace, `,`, `]`, `}`. */
const ENDS_TOKEN = new Set([0x20, 0x09, 0x0a, 0x0d, 0x2c, 0x5d, 0x7d]);

/** The counts of a checkpoint: the shape check reads them as non-negative integers, this scan as plain digits. */
export const CHECKPOINT_COUNTS = ["seq", "lines", "bytes", "offered", "seg_lines", "seg_bytes"] as const;
/** The integer members of a checkpoint, and of a gap. */
const INTEGERS = new Set<string>(["audit_checkpoint", ...CHECKPOINT_COUNTS, "adopted"]);
const GAP_INTEGERS = new Set(["count"]);
/** An integer as FORMAT.md writes it: decimal digits, no sign, fraction, exponent or leading zero. */
const PLAIN_INTEGER = /^(?:0|[1-9][0-9]*)$/;

/** The members of a checkpoint and of a gap (FORMAT.md), for messages: a name given twice is named only when it is one of them. */
const KNOWN = new Set([
  "audit_checkpoint",
  "origin",
  "key_id",
  "alg",
  "seq",
  "prev",
  "time",
  "lines",
  "bytes",
  "offered",
  "seg_lines",
  "seg_bytes",
  "seg_sha256",
  "seg_tags",
  "first_ts",
  "last_ts",
  "gaps",
  "line_digests",
  "adopted",
  "sig",
  "reason",
  "count",
  "in_segment",
]);

/**
 * What in the checkpoint line `text` (JSON that JSON.parse accepted) other
 * readers could read differently, or `undefined`.
 */
export function checkpointSpellingIssue(text: string): string | undefined {
  return new Scan(text).checkpoint();
}

/**
 * A name as readers that ignore case compare it: lower case, `ſ` as `s` (the Kelvin sign lowers to `k`). For the
 * names FORMAT.md defines, that is Go's EqualFold (Unicode simple folding); other names may differ at the edges.
 */
function fold(name: string): string {
  return name.toLowerCase().replaceAll("\u017f", "s");
}

class Scan {
  readonly #text: string;
  #at = 0;

  constructor(text: string) {
    this.#text = text;
  }

  checkpoint(): string | undefined {
    return this.#object((name) => {
      if (fold(name) === "ts") return "it has a ts member, so readers of events would read it as an event";
      if (INTEGERS.has(name)) return this.#integer(name);
      // The gaps are objects whose names and integers count too; no other value is read.
      return name === "gaps" && this.#peek() === "[" ? this.#gaps() : this.#skip();
    });
  }

  /** The gaps array: each element an object whose names are checked, anything else skipped. */
  #gaps(): string | undefined {
    this.#at++; // [
    if (this.#peek() === "]") return void this.#at++;
    for (;;) {
      const issue = this.#peek() === "{"
        ? this.#object((name) => GAP_INTEGERS.has(name) ? this.#integer(`a gap's ${name}`) : this.#skip(), "a gap")
        : this.#skip();
      if (issue !== undefined) return issue;
      if (this.#next() !== ",") return undefined;
    }
  }

  /**
   * One object: its names, each at most once, and each value read by
   * `value` (given the name, unescaped), which leaves the scan after it.
   */
  #object(value: (name: string) => string | undefined, what = "the checkpoint"): string | undefined {
    const seen = new Set<string>();
    this.#at++; // {
    if (this.#peek() === "}") return void this.#at++;
    for (;;) {
      this.#peek();
      const raw = this.#string();
      const name = raw.includes("\\") ? JSON.parse(`"${raw}"`) as string : raw;
      const folded = fold(name);
      if (seen.has(folded)) {
        // Only a name this format knows is echoed: the rest is a forger's text, and messages reach terminals.
        return KNOWN.has(folded) ? `${what} has ${folded} twice` : `${what} has a member twice`;
      }
      seen.add(folded);
      this.#peek();
      this.#at++; // :
      this.#peek();
      const issue = value(name);
      if (issue !== undefined) return issue;
      if (this.#next() !== ",") return undefined;
    }
  }

  /** The integer member `what` (its value is a number: the shape was checked), written as plain digits. */
  #integer(what: string): string | undefined {
    const start = this.#at;
    this.#token();
    return PLAIN_INTEGER.test(this.#text.slice(start, this.#at)) ? undefined : `${what} is not written as plain digits`;
  }

  /** Skips one value, however deep, with a counter. */
  #skip(): undefined {
    const text = this.#text;
    let level = 0;
    do {
      const c = this.#peek();
      if (c === '"') this.#string();
      else if (c === "{" || c === "[") level++, this.#at++;
      else if (c === "}" || c === "]") level--, this.#at++;
      else if (c === "," || c === ":") this.#at++;
      else this.#token();
    } while (level > 0 && this.#at < text.length);
    return undefined;
  }

  /** Skips a number, true, false or null: to the next delimiter. */
  #token(): void {
    const text = this.#text;
    while (this.#at < text.length && !ENDS_TOKEN.has(text.charCodeAt(this.#at))) this.#at++;
  }

  /** The string at the scan (its raw text between the quotes), leaving the scan after it. */
  #string(): string {
    const text = this.#text;
    const start = this.#at + 1;
    // From quote to quote (indexOf: seg_tags and line_digests run to megabytes), past those a backslash escapes.
    let end = text.indexOf('"', start);
    while (end !== -1 && escaped(text, start, end)) end = text.indexOf('"', end + 1);
    if (end === -1) end = text.length;
    this.#at = end + 1;
    return text.slice(start, end);
  }

  /** Skips whitespace; the character there. */
  #peek(): string | undefined {
    const text = this.#text;
    let c = text.charCodeAt(this.#at);
    while (c === 0x20 || c === 0x09 || c === 0x0a || c === 0x0d) c = text.charCodeAt(++this.#at);
    return text[this.#at];
  }

  /** The separator after a value (`,`, or the end of its container), leaving the scan after it. */
  #next(): string | undefined {
    const c = this.#peek();
    this.#at++;
    return c;
  }
}

/** Whether the quote at `at` is escaped: an odd number of backslashes before it, after `start`. */
function escaped(text: string, start: number, at: number): boolean {
  let before = at;
  while (before > start && text.charCodeAt(before - 1) === 0x5c) before--;
  return (at - before) % 2 === 1;
}
