// What JSON.parse forgives but the reference's serde rejects, in a line that
// already parsed and validated. Checked against serde_json itself (the oracle
// that tests/testdata/make_golden.sh builds):
// - a known field given twice (JSON.parse keeps the last, so two readers
//   could disagree on an audit record); for a tagged enum, known means a
//   field of the variant its `kind` names;
// - a fraction, exponent or minus sign in an integer field (1.0, 1e2, -0);
// - a key holding a lone surrogate where serde reads keys: in the event, in
//   a provenance entry, and anywhere inside `outcome` or a provenance
//   `source`;
// - inside `outcome` and `source` (serde buffers a tagged enum whole before
//   reading it): a string holding a lone surrogate, a number serde_json
//   reads as out of range (beyond a double's range, or within an ulp or two
//   of its end: its float parsing is not correctly rounded, see outOfRange),
//   and nesting past serde_json's recursion limit (the 128th level fails).
//   An unknown field of the event or of a provenance entry is skipped unread
//   by serde: its strings and numbers are not checked here either.
// - One deliberate difference: serde skips an unknown field at any depth,
//   but a line nested past the same limit anywhere is rejected here. No
//   writer of CallEvents makes such a line, and a reader that accepts
//   unbounded nesting is one that a hostile line can stall.
// isPlainJson is the cheap test that clears nearly every line; strictJsonIssue
// is the exact scan for the rest. Neither recurses over the input: the scan
// recurses only along the field table (four levels), and skips everything
// else with a counter.
import type { CallEventIssue } from "./errors.ts";
import { CALL_EVENT, type Field, INTEGER_KEYS, type Shape, type StructShape, type TaggedShape } from "./_fields.ts";

/** The deepest nesting read (serde_json's, inside a buffered value: its 128th level fails). */
const MAX_DEPTH = 127;

// Any \u escape (lone surrogates hide there), whitespace before a colon (which
// would hide a key from the count below), or an integer field whose token
// starts with a minus or has a fraction or exponent.
const SUSPECT = new RegExp(`\\\\u|"\\s+:|"(?:${INTEGER_KEYS.join("|")})":\\s*(?:-|\\d+[.eE])`);

/**
 * Whether `text`, which JSON.parse turned into `value`, surely holds nothing
 * it hid: no `\u` escape, no duplicated key, no non-integer token in an
 * integer field, no nesting or number serde could refuse. `false` only means
 * "scan it": then strictJsonIssue decides.
 */
export function isPlainJson(text: string, value: unknown): boolean {
  return isPlainText(text, plainKeys(value));
}

/**
 * isPlainJson, for a value known to hold `keys` keys and nothing deep or
 * infinite (-1: not known).
 */
export function isPlainText(text: string, keys: number): boolean {
  if (keys < 0 || SUSPECT.test(text)) return false;
  // Every unescaped `":` ends a key; escaped ones only make the count too high
  // (and send the line to the exact scan). JSON.parse keeps one key per name,
  // so equal counts mean no key was given twice.
  let found = 0;
  for (let at = text.indexOf('":'); at !== -1; at = text.indexOf('":', at + 2)) found++;
  return found === keys;
}

// What a byte outside a string is to plainKeysOfBytes (a table: one load
// and a compare per byte, on every engine).
const OTHER = 0; // a letter of true, false or null, or punctuation
const STRING = 1; // `"`
const DIGIT = 2;
const NOT_PLAIN = 3; // whitespace, `-`, `.`, `+`, `E`
const E = 4; // `e`: of true or false after a letter, an exponent after a digit
const OUTSIDE = new Uint8Array(256);
for (let c = 0; c <= 0x20; c++) OUTSIDE[c] = NOT_PLAIN;
for (const c of "-.+E") OUTSIDE[c.charCodeAt(0)] = NOT_PLAIN;
for (let c = 0x30; c <= 0x39; c++) OUTSIDE[c] = DIGIT;
OUTSIDE[0x22] = STRING;
OUTSIDE[0x65] = E;

/**
 * The number of keys in the JSON text that is `bytes` from `start` to `end`
 * (UTF-8 that a fatal decoder and JSON.parse both accepted), when it is
 * written the plain way this package's encoder and serde_json write it; -1
 * otherwise. Plain: no whitespace between tokens, no `\u` escape, no number
 * with a sign, a fraction or an exponent. Then every key is a string followed
 * by a colon, so the count is exact, and equal to the parsed value's count only
 * when no key was given twice; every number is an integer token; every string
 * is well formed (strict UTF-8 cannot encode a lone surrogate). The reader's
 * cheap test: one pass over bytes it already holds, where isPlainText is a
 * regular expression and a search over the decoded text. -1 only means "test
 * the text instead".
 */
export function plainKeysOfBytes(bytes: Uint8Array, start: number, end: number): number {
  let keys = 0;
  let digit = false;
  for (let i = start; i < end; i++) {
    const type = OUTSIDE[bytes[i]!]!;
    if (type === OTHER) {
      digit = false;
    } else if (type === DIGIT) {
      digit = true;
    } else if (type === STRING) {
      // To the closing quote; bytes of a multi-byte character are all >= 0x80.
      for (let c = bytes[++i]; c !== 0x22 && i < end; c = bytes[++i]) {
        if (c === 0x5c && bytes[++i] === 0x75) return -1; // \u
      }
      if (i + 1 < end && bytes[i + 1] === 0x3a) keys++;
      digit = false;
    } else if (type === NOT_PLAIN || digit) {
      return -1;
    }
  }
  return keys;
}

/**
 * Numbers this large (or infinite) are read exactly: serde_json may reject
 * some that JSON.parse reads (see outOfRange), all of them 2^64 or more.
 */
const EXACT_ABOVE = 2 ** 64;

/** The keys in `value`, or -1 when it holds too many containers to rule out deep nesting, or a number that large. */
function plainKeys(value: unknown): number {
  const stack: unknown[] = [value];
  let keys = 0;
  let containers = 0;
  while (stack.length > 0) {
    const item = stack.pop();
    if (++containers > MAX_DEPTH) return -1;
    if (Array.isArray(item)) {
      for (let i = 0; i < item.length; i++) {
        const child = item[i];
        if (typeof child === "object" && child !== null) stack.push(child);
        else if (typeof child === "number" && !(Math.abs(child) < EXACT_ABOVE)) return -1;
      }
      continue;
    }
    const record = item as Record<string, unknown>;
    for (const key in record) {
      keys++;
      const child = record[key];
      if (typeof child === "object" && child !== null) stack.push(child);
      else if (typeof child === "number" && !(Math.abs(child) < EXACT_ABOVE)) return -1;
    }
  }
  return keys;
}

/**
 * The first such problem in `text` (valid JSON, which parses to `value`), or
 * `undefined`.
 */
export function strictJsonIssue(text: string, value: unknown = JSON.parse(text)): CallEventIssue | undefined {
  return new Scan(text).known(CALL_EVENT, value, "", 0, false);
}

const join = (base: string, key: string): string => (base === "" ? key : `${base}.${key}`);
// A path stops growing past this length: a deep value is named by where it starts.
const PATH_LENGTH = 120;

class Scan {
  readonly #text: string;
  #at = 0;

  constructor(text: string) {
    this.#text = text;
  }

  /** A value at a position the table knows, in a container `depth` levels deep. */
  known(shape: Shape, value: unknown, path: string, depth: number, buffered: boolean): CallEventIssue | undefined {
    this.#space();
    const c = this.#text[this.#at];
    if (c === "{" && (shape.type === "struct" || shape.type === "tagged")) {
      return this.#object(shape, value, path, depth + 1, buffered || shape.type === "tagged");
    }
    if (c === "[" && shape.type === "array") return this.#array(shape.of, value, path, depth + 1, buffered);
    if (shape.type === "int" && (c === "-" || (c! >= "0" && c! <= "9"))) {
      const token = this.#token();
      return /[.eE-]/.test(token) ? { path, reason: `to be a non-negative integer, got ${token}` } : undefined;
    }
    return this.#skip(path, depth, buffered || shape.type === "tagged");
  }

  #object(
    shape: StructShape | TaggedShape,
    value: unknown,
    path: string,
    depth: number,
    buffered: boolean,
  ): CallEventIssue | undefined {
    const record = (typeof value === "object" && value !== null ? value : {}) as Record<string, unknown>;
    const fields: readonly Field[] = shape.type === "struct"
      ? shape.fields
      : shape.variants.find((variant) => variant.tag === record.kind)?.fields ?? [];
    const seen = new Set<string>();
    this.#at++;
    this.#space();
    if (this.#text[this.#at] === "}") return void this.#at++;
    for (;;) {
      this.#space();
      const start = this.#at;
      this.#skipString();
      const raw = this.#text.slice(start + 1, this.#at - 1);
      const key = raw.includes("\\") ? JSON.parse(`"${raw}"`) as string : raw;
      // serde reads every key here: of the event and of a provenance entry as
      // field names, and all of a tagged enum's.
      if (!key.isWellFormed()) return { path, reason: "to have well-formed keys (one holds a lone surrogate)" };
      this.#space();
      this.#at++; // the colon
      const field = shape.type === "tagged" && key === "kind" ? KIND : fields.find((f) => f.key === key);
      const at = path.length > PATH_LENGTH ? path : join(path, key);
      if (field !== undefined) {
        if (seen.has(key)) return { path: at, reason: "to appear once, got it twice" };
        seen.add(key);
      }
      const issue = field === undefined
        ? this.#skip(at, depth, buffered)
        : this.known(field.shape, record[key], at, depth, buffered);
      if (issue) return issue;
      this.#space();
      if (this.#text[this.#at++] === "}" || this.#at >= this.#text.length) return undefined;
    }
  }

  #array(of: Shape, value: unknown, path: string, depth: number, buffered: boolean): CallEventIssue | undefined {
    const items = Array.isArray(value) ? value : [];
    this.#at++;
    this.#space();
    if (this.#text[this.#at] === "]") return void this.#at++;
    for (let i = 0;; i++) {
      const issue = this.known(of, items[i], path.length > PATH_LENGTH ? path : `${path}[${i}]`, depth, buffered);
      if (issue) return issue;
      this.#space();
      if (this.#text[this.#at++] === "]" || this.#at >= this.#text.length) return undefined;
    }
  }

  /**
   * Skips one value of no known shape, in a container `depth` deep. In a
   * buffered value serde parses it all: its strings, numbers and nesting.
   * Elsewhere serde skips it unread.
   */
  #skip(path: string, depth: number, buffered: boolean): CallEventIssue | undefined {
    const text = this.#text;
    let level = 0;
    do {
      this.#space();
      const c = text[this.#at];
      if (c === "{" || c === "[") {
        level++;
        this.#at++;
        if (depth + level > MAX_DEPTH) {
          return { path, reason: `to nest at most ${MAX_DEPTH} levels deep, as serde_json reads it, got more` };
        }
      } else if (c === "}" || c === "]") {
        level--;
        this.#at++;
      } else if (c === "," || c === ":") {
        this.#at++;
      } else if (c === '"') {
        const start = this.#at;
        this.#skipString();
        if (buffered && !stringIsWellFormed(text.slice(start, this.#at))) {
          return { path, reason: "to be well-formed text (it holds a lone surrogate)" };
        }
      } else if (this.#at >= text.length) {
        return undefined; // unreachable on text JSON.parse accepted: a guard, not a verdict
      } else {
        const token = this.#token();
        if (buffered && (c === "-" || (c! >= "0" && c! <= "9")) && outOfRange(token)) {
          return {
            path,
            reason: `to be a number serde_json reads (in the range of a double), got ${token.slice(0, 40)}`,
          };
        }
      }
    } while (level > 0);
    return undefined;
  }

  #space(): void {
    const text = this.#text;
    let c = text.charCodeAt(this.#at);
    while (c === 0x20 || c === 0x09 || c === 0x0a || c === 0x0d) c = text.charCodeAt(++this.#at);
  }

  #skipString(): void {
    const text = this.#text;
    let at = this.#at + 1;
    for (let c = text.charCodeAt(at); c !== 0x22 && at < text.length; c = text.charCodeAt(++at)) if (c === 0x5c) at++;
    this.#at = at + 1;
  }

  #token(): string {
    const text = this.#text;
    const start = this.#at;
    let c = text.charCodeAt(this.#at);
    while (
      this.#at < text.length && c !== 0x2c && c !== 0x5d && c !== 0x7d && c !== 0x20 && c !== 0x09 && c !== 0x0a &&
      c !== 0x0d
    ) c = text.charCodeAt(++this.#at);
    return text.slice(start, this.#at);
  }
}

const KIND: Field = { key: "kind", shape: { type: "string" }, presence: "required", label: '"kind":' };

function stringIsWellFormed(token: string): boolean {
  return !token.includes("\\u") || (JSON.parse(token) as string).isWellFormed();
}

const U64_MAX = (1n << 64n) - 1n;
const I32_MAX = 2 ** 31 - 1;

/**
 * Whether serde_json (its default features) reads the JSON number `token` as
 * out of range. Its float parsing is not correctly rounded: it takes up to a
 * u64's worth of significant digits and multiplies by a power of ten, so
 * some finite doubles near the largest one overflow (`1.7976931348623158e308`,
 * which JavaScript reads as `Number.MAX_VALUE`); an integer that fits a u64 is
 * never out of range. A port of serde_json 1.0's `parse_integer`,
 * `parse_decimal`, `parse_exponent` and `f64_from_parts` (without
 * `float_roundtrip`), for the verdict only.
 */
export function outOfRange(token: string): boolean {
  let at = token.charCodeAt(0) === 0x2d ? 1 : 0;
  const digit = (): number => {
    const c = token.charCodeAt(at) - 0x30;
    return c >= 0 && c <= 9 ? c : -1;
  };
  let significand = 0n;
  let exponent = 0;
  let float = false;
  // Integer digits; past a u64's worth, each further digit only raises the exponent.
  for (let d = digit(), full = false; d !== -1; at++, d = digit()) {
    if (full || significand * 10n + BigInt(d) > U64_MAX) {
      full = float = true;
      exponent++;
    } else significand = significand * 10n + BigInt(d);
  }
  if (token[at] === ".") {
    float = true;
    at++;
    // Fraction digits, until one would overflow the significand: the rest are ignored.
    let full = false;
    for (let d = digit(); d !== -1; at++, d = digit()) {
      if (full || significand * 10n + BigInt(d) > U64_MAX) full = true;
      else {
        significand = significand * 10n + BigInt(d);
        exponent--;
      }
    }
    // serde's check for a digit after the point looks at the exponent: after a long integer part it can be 0
    // with digits read ("invalid number").
    if (!full && exponent === 0) return true;
  }
  if (token[at] === "e" || token[at] === "E") {
    float = true;
    at++;
    const positive = token[at] !== "-";
    if (token[at] === "+" || token[at] === "-") at++;
    let exp = 0;
    for (let d = digit(); d !== -1; at++, d = digit()) {
      if (exp * 10 + d > I32_MAX) return significand !== 0n && positive; // infinity is an error, zero is not
      exp = exp * 10 + d;
    }
    exponent = Math.max(-(2 ** 31), Math.min(I32_MAX, positive ? exponent + exp : exponent - exp));
  }
  if (!float) return false;
  // f64_from_parts: the significand as a double, times or divided by 10^|exponent| (POW10 holds 1e0 to 1e308).
  let f = Number(significand);
  for (;;) {
    const index = Math.abs(exponent);
    if (index <= 308) {
      if (exponent < 0) return false;
      return !Number.isFinite(f * Number(`1e${index}`));
    }
    if (f === 0) return false;
    if (exponent >= 0) return true;
    f /= 1e308;
    exponent += 308;
  }
}
