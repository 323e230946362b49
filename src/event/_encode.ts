// The encoder behind encodeCallEvent, walking the field table. It reads each
// property exactly once into a local, checks that local and writes it, so a
// getter or Proxy that answers differently on a second read has nothing to
// forge. It never throws: a problem comes back as an issue (path relative to
// the value handed in), so the reader can try it on every line for free.
// Describing a bad value never calls user code (no String(object), no
// template literal on an object): toString and Symbol.toPrimitive are the
// caller's code.
import type { CallEventIssue } from "./errors.ts";
import { CALL_EVENT, type Field, type IntShape, type Shape, type TaggedShape } from "./_fields.ts";
import { arrayCheck, notRecord, read, readFailed, readFailure, show, UNREADABLE } from "./_safe_read.ts";

/** The line, or why there is none. */
export type Encoded = string | CallEventIssue;

/** `event` as its JSON line, or the first problem found. */
export function encodeEvent(event: unknown): Encoded {
  const issue = notRecord(event);
  if (issue !== undefined) return issue;
  const values = readTop(event as Record<string, unknown>);
  if (values === UNREADABLE) return { path: TOP[readAt]!.key, reason: readFailure() };
  let s = "{";
  for (let i = 0; i < TOP.length; i++) {
    const f = TOP[i]!;
    const v = values[i];
    let out: Encoded;
    if (typeof v === "string" && f.shape.type === "string" && !NEEDS_CARE.test(v)) out = `"${v}"`;
    else if (v == null && f.presence === "omit") continue;
    else {
      out = v == null && f.presence === "null" ? "null" : value(v, f.shape);
      if (typeof out !== "string") return under(f.key, out);
    }
    s += i === 0 ? f.label + out : "," + f.label + out;
  }
  return s + "}";
}

const TOP = CALL_EVENT.fields;
// The event's own fields are read at one site each, with a constant key:
// engines then read them as fast as `event.ts`, where one shared site
// (`event[key]` in a loop) would look each name up. The keys come from the
// table, by position; fields past the thirteenth, if the table grows, are
// read in the loop at the end.
const [K0, K1, K2, K3, K4, K5, K6, K7, K8, K9, K10, K11, K12] = TOP.map((f) => f.key) as (string | number)[];
let readAt = 0;

function readTop(e: Record<string | number, unknown>): unknown[] | typeof UNREADABLE {
  let at = 0;
  try {
    const v0 = e[K0!];
    at = 1;
    const v1 = e[K1!];
    at = 2;
    const v2 = e[K2!];
    at = 3;
    const v3 = e[K3!];
    at = 4;
    const v4 = e[K4!];
    at = 5;
    const v5 = e[K5!];
    at = 6;
    const v6 = e[K6!];
    at = 7;
    const v7 = e[K7!];
    at = 8;
    const v8 = e[K8!];
    at = 9;
    const v9 = e[K9!];
    at = 10;
    const v10 = e[K10!];
    at = 11;
    const v11 = e[K11!];
    at = 12;
    const v12 = e[K12!];
    const values = [v0, v1, v2, v3, v4, v5, v6, v7, v8, v9, v10, v11, v12];
    for (at = 13; at < TOP.length; at++) values.push(e[TOP[at]!.key]);
    return values;
  } catch (error) {
    readAt = at;
    readFailed(error);
    return UNREADABLE;
  }
}

function fields(o: object, list: readonly Field[], start: string): Encoded {
  let s = start;
  for (let i = 0; i < list.length; i++) {
    const f = list[i]!;
    const v = read(o, f.key);
    if (v === UNREADABLE) return { path: f.key, reason: readFailure() };
    if (v == null && f.presence === "omit") continue;
    const out = v == null && f.presence === "null" ? "null" : value(v, f.shape);
    if (typeof out !== "string") return under(f.key, out);
    s += s.length === 1 ? f.label + out : "," + f.label + out;
  }
  return s + "}";
}

function value(v: unknown, shape: Shape): Encoded {
  switch (shape.type) {
    case "string":
      return typeof v === "string" ? text(v) : bad("to be a string", v);
    case "bool":
      return v === true ? "true" : v === false ? "false" : bad("to be a boolean", v);
    case "int":
      return int(v, shape);
    case "array":
      return array(v, shape.of);
    case "struct":
      return notRecord(v) ?? fields(v as object, shape.fields, "{");
    case "tagged":
      return notRecord(v) ?? tagged(v as object, shape);
  }
}

// Characters JSON must escape, and surrogates (which need a well-formedness check).
// deno-lint-ignore no-control-regex
const NEEDS_CARE = /["\\\u0000-\u001f\ud800-\udfff]/;

function text(v: string): Encoded {
  if (!NEEDS_CARE.test(v)) return `"${v}"`;
  if (!v.isWellFormed()) return bad("to be well-formed text (it holds a lone surrogate)", v);
  return JSON.stringify(v);
}

function int(v: unknown, shape: IntShape): Encoded {
  if (typeof v === "number" && Number.isInteger(v) && v >= shape.min && v <= shape.max) return String(v);
  if (shape.expected !== undefined) return bad(`to be ${shape.expected}`, v);
  const tooLarge = typeof v === "number" && Number.isInteger(v) && v > shape.max;
  return bad(tooLarge ? `to be at most ${shape.max}` : "to be a non-negative integer", v);
}

function array(v: unknown, of: Shape): Encoded {
  if (typeof v !== "object" || v === null) return bad("to be an array", v);
  const isArray = arrayCheck(v);
  if (isArray !== true) return isArray === false ? bad("to be an array", v) : isArray;
  const length = read(v, "length");
  if (length === UNREADABLE) return { path: "", reason: readFailure() };
  // Only a Proxy can lie about its length.
  if (typeof length !== "number" || !Number.isSafeInteger(length) || length < 0) {
    return { path: "", reason: `to be an array, got a length of ${show(length)}` };
  }
  let s = "[";
  for (let i = 0; i < length; i++) {
    const item = read(v, i);
    if (item === UNREADABLE) return { path: `[${i}]`, reason: readFailure() };
    const out = value(item, of);
    if (typeof out !== "string") return under(i, out);
    s += i === 0 ? out : "," + out;
  }
  return s + "]";
}

function tagged(o: object, shape: TaggedShape): Encoded {
  const kind = read(o, "kind");
  if (kind === UNREADABLE) return { path: "kind", reason: readFailure() };
  const variants = shape.variants;
  for (let i = 0; i < variants.length; i++) {
    const variant = variants[i]!;
    if (variant.tag === kind) return variant.whole ?? fields(o, variant.fields, variant.head);
  }
  return { path: "kind", reason: `to be a known ${shape.name} kind, got ${show(kind)}` };
}

export function under(key: string | number, issue: CallEventIssue): CallEventIssue {
  const rest = issue.path;
  const head = typeof key === "number" ? `[${key}]` : key;
  return {
    path: rest === "" ? head : rest.charCodeAt(0) === 0x5b ? head + rest : `${head}.${rest}`,
    reason: issue.reason,
  };
}

function bad(expected: string, got: unknown): CallEventIssue {
  return { path: "", reason: `${expected}, got ${show(got)}` };
}
