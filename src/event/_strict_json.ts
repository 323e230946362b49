// What JSON.parse forgives but the reference's serde rejects, found in a line
// that already parsed: a known field given twice (JSON.parse keeps the last,
// so two readers could disagree on an audit record), and a fraction, exponent
// or minus sign in an integer field (1.0, 1e2, -0). isPlainJson is the cheap
// test that clears nearly every line; strictJsonIssue is the exact scan for
// the rest.
import type { CallEventIssue } from "./errors.ts";
import { callEventSchema, capProvenanceSchema, outcomeSchema, provSourceSchema } from "./_schema.ts";

// Field names come from the schema itself, so a new field cannot be missed here.
const keysOf = (...objects: readonly { entries: object }[]): ReadonlySet<string> =>
  new Set(objects.flatMap((object) => Object.keys(object.entries)));

const KNOWN_KEYS: Record<string, ReadonlySet<string>> = {
  "": keysOf(callEventSchema),
  "outcome": keysOf(...outcomeSchema.options),
  "capability_provenance[]": keysOf(capProvenanceSchema),
  "capability_provenance[].source": keysOf(...provSourceSchema.options),
};

const INTEGER_FIELDS: ReadonlySet<string> = new Set([
  "duration_ms",
  "schema_version",
  "cursor_page",
  "outcome.retry_after_ms",
  "capability_provenance[].source.chain_depth",
]);

/** The first such problem in `text` (which must be valid JSON), or `undefined`. */
export function strictJsonIssue(text: string): CallEventIssue | undefined {
  let at = 0;

  const skipSpace = (): void => {
    for (let c = text.charCodeAt(at); c === 0x20 || c === 0x09 || c === 0x0a || c === 0x0d; c = text.charCodeAt(++at));
  };
  const skipString = (): void => {
    for (at++; text[at] !== '"'; at++) if (text[at] === "\\") at++;
    at++;
  };
  const join = (base: string, key: string): string => (base === "" ? key : `${base}.${key}`);

  // `shape` is the field's schema position (array indices as []), `path` the one reported.
  const value = (shape: string, path: string): CallEventIssue | undefined => {
    skipSpace();
    const c = text[at];
    if (c === "{") {
      const known = KNOWN_KEYS[shape];
      const seen = new Set<string>();
      at++;
      skipSpace();
      if (text[at] === "}") return void at++;
      for (;;) {
        skipSpace();
        const start = at;
        skipString();
        const key = JSON.parse(text.slice(start, at)) as string;
        skipSpace();
        at++; // the colon
        const isKnown = known?.has(key) ?? false;
        if (isKnown) {
          if (seen.has(key)) return { path: join(path, key), reason: "to appear once, got it twice" };
          seen.add(key);
        }
        const issue = value(isKnown ? join(shape, key) : "?", join(path, key));
        if (issue) return issue;
        skipSpace();
        if (text[at++] === "}") return undefined;
      }
    }
    if (c === "[") {
      at++;
      skipSpace();
      if (text[at] === "]") return void at++;
      for (let i = 0;; i++) {
        const issue = value(`${shape}[]`, `${path}[${i}]`);
        if (issue) return issue;
        skipSpace();
        if (text[at++] === "]") return undefined;
      }
    }
    if (c === '"') return void skipString();
    const start = at;
    while (at < text.length && !",]} \t\n\r".includes(text[at]!)) at++;
    const token = text.slice(start, at);
    if (INTEGER_FIELDS.has(shape) && /[.eE-]/.test(token)) {
      return { path, reason: `to be a non-negative integer, got ${token}` };
    }
    return undefined;
  };

  return value("", "");
}

// Any \u escape (lone surrogates hide there), whitespace before a colon (which
// would hide a key from the count below), or an integer field whose token
// starts with a minus or has a fraction or exponent.
const SUSPECT = /\\u|"\s+:|"(?:duration_ms|schema_version|cursor_page|retry_after_ms|chain_depth)":\s*(?:-|\d+[.eE])/;

/**
 * Whether `text`, which JSON.parse turned into `value`, surely holds nothing
 * it hid: no `\u` escape, no duplicated key, no non-integer token in an
 * integer field. `false` only means "scan it": then strictJsonIssue decides.
 */
export function isPlainJson(text: string, value: unknown): boolean {
  if (SUSPECT.test(text)) return false;
  // Every unescaped `":` ends a key; escaped ones only make the count too high
  // (and send the line to the exact scan). JSON.parse keeps one key per name,
  // so equal counts mean no key was given twice.
  let keys = 0;
  for (let at = text.indexOf('":'); at !== -1; at = text.indexOf('":', at + 2)) keys++;
  return keys === countKeys(value);
}

function countKeys(value: unknown): number {
  if (typeof value !== "object" || value === null) return 0;
  let count = 0;
  if (Array.isArray(value)) {
    for (const item of value) count += countKeys(item);
    return count;
  }
  for (const key in value as Record<string, unknown>) count += 1 + countKeys((value as Record<string, unknown>)[key]);
  return count;
}
