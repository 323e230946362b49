// The encoder behind encodeCallEvent, from the field table. It reads each
// property exactly once into a local, checks that local and writes it, so a
// getter or Proxy that answers differently on a second read has nothing to
// forge. It never throws: a problem comes back as an issue (path relative to
// the value handed in), which costs the reader no exception per line.
// Describing a bad value never calls user code (no String(object), no
// template literal on an object): toString and Symbol.toPrimitive are the
// caller's code.
import type { CallEventIssue } from "./errors.ts";
import { CALL_EVENT, type Field, type IntShape, type Shape, type TaggedShape } from "./_fields.ts";
import { notRecord, read, readFailure, show, threw, UNREADABLE } from "./_safe_read.ts";
import { isBun } from "../runtime/engine.ts";

/** The line, or why there is none. */
export type Encoded = string | CallEventIssue;

/**
 * `event` as its JSON line, or the first problem found. The event's own
 * fields are spelled out here, in wire order, rather than walked from the
 * table: named reads and one template literal are what engines make fast
 * (a walk costs 1.2x in V8 and up to 1.9x in JavaScriptCore, measured).
 * Everything else about them (types, ranges, what is left out or written
 * null) comes from the table, and tests/event/encode_call_event_test.ts
 * holds this order equal to the table's (encodeWalk, below, walks it).
 * With `byCopy` (the default in Bun), the checked values go through
 * JSON.stringify instead: see {@linkcode encodeCopy}.
 */
export function encodeEvent(event: unknown, byCopy: boolean = BY_COPY): Encoded {
  const issue = notRecord(event);
  if (issue !== undefined) return issue;
  const e = event as Record<string, unknown>;
  let at = 0;
  let ts, callId, toolId, callerId, caps, duration, outcome, tier, dryRun, version, secrets, page, provenance: unknown;
  try {
    ts = e.ts;
    at = 1;
    callId = e.call_id;
    at = 2;
    toolId = e.tool_id;
    at = 3;
    callerId = e.caller_id;
    at = 4;
    caps = e.granted_capabilities;
    at = 5;
    duration = e.duration_ms;
    at = 6;
    outcome = e.outcome;
    at = 7;
    tier = e.tier;
    at = 8;
    dryRun = e.dry_run;
    at = 9;
    version = e.schema_version;
    at = 10;
    secrets = e.secrets_resolved;
    at = 11;
    page = e.cursor_page;
    at = 12;
    provenance = e.capability_provenance;
  } catch (error) {
    // The walk checks each field before it reads the next: a wrong field before this one is its first issue.
    const before = [ts, callId, toolId, callerId, caps, duration, outcome, tier, dryRun, version, secrets, page];
    return issueBefore(at, before) ?? { path: TOP[at]!.key, reason: threw(error) };
  }
  if (byCopy) {
    return encodeCopy(
      ts,
      callId,
      toolId,
      callerId,
      caps,
      duration,
      outcome,
      tier,
      dryRun,
      version,
      secrets,
      page,
      provenance,
    );
  }
  // put() keeps the first problem in `p` (a local: a getter may call the encoder again).
  const p: Problem = { issue: undefined };
  const line = `{"ts":${str(p, 0, ts)},"call_id":${str(p, 1, callId)},"tool_id":${str(p, 2, toolId)}${
    callerId == null ? "" : `,"caller_id":${str(p, 3, callerId)}`
  },"granted_capabilities":${put(p, 4, caps)},"duration_ms":${count(p, 5, duration)},"outcome":${
    put(p, 6, outcome)
  },"tier":${str(p, 7, tier)},"dry_run":${flag(p, 8, dryRun)},"schema_version":${
    count(p, 9, version)
  },"secrets_resolved":${flag(p, 10, secrets)}${page == null ? "" : `,"cursor_page":${count(p, 11, page)}`}${
    provenance == null ? "" : `,"capability_provenance":${put(p, 12, provenance)}`
  }}`;
  return p.issue ?? line;
}

const TOP = CALL_EVENT.fields;

/** The first issue among the top-level values read before field `at`, checked as the walk checks them; if any. */
function issueBefore(at: number, values: readonly unknown[]): CallEventIssue | undefined {
  for (let i = 0; i < at; i++) {
    const out = fieldValue(TOP[i]!, values[i]);
    if (typeof out === "object") return under(TOP[i]!.key, out);
  }
  return undefined;
}

/**
 * Whether lines are written by {@linkcode encodeCopy}: in JavaScriptCore
 * (Bun), where a line concatenated from its ~45 pieces is a rope that costs
 * more to flatten, when the sink joins a write's lines, than to build (1 to
 * 2 µs a line, against about 0.1 for JSON.stringify's flat string).
 */
const BY_COPY = isBun;
// Taken at load, these and the text checks below (both paths rely on them being the built-ins): a getter of the
// event is the caller's code, and may replace JSON.stringify, String or RegExp.prototype.exec (which test() calls)
// while the line is written; a check that found nothing to escape would let a quote or a newline through raw.
const stringify = JSON.stringify;
const isInteger = Number.isInteger;
const defineProperty = Object.defineProperty;
const hasOwn = Object.hasOwn;
const getPrototypeOf = Object.getPrototypeOf;
const OBJECT_PROTOTYPE = Object.prototype;
const ARRAY_PROTOTYPE = Array.prototype;

interface Problem {
  issue: CallEventIssue | undefined;
}

// put() for a string, integer or boolean field: small enough for engines to
// inline their common case. Anything else goes to put(), so a helper used on
// the wrong field can only be slower, never accept what the table refuses.
function str(p: Problem, i: number, v: unknown): string {
  return typeof v === "string" && careIn(v) === null ? `"${v}"` : put(p, i, v);
}

function count(p: Problem, i: number, v: unknown): string {
  const shape = TOP[i]!.shape;
  return shape.type === "int" && typeof v === "number" && isInteger(v) && v >= shape.min && v <= shape.max
    ? "" + v
    : put(p, i, v);
}

function flag(p: Problem, i: number, v: unknown): string {
  return TOP[i]!.shape.type !== "bool" ? put(p, i, v) : v === true ? "true" : v === false ? "false" : put(p, i, v);
}

/** The value of the event's field `i`; "" when it is wrong (then in `p`). */
function put(p: Problem, i: number, v: unknown): string {
  const f = TOP[i]!;
  const out = v == null && f.presence === "null" ? "null" : value(v, f.shape);
  if (typeof out === "string") return out;
  p.issue ??= under(f.key, out);
  return "";
}

/**
 * The line, written by JSON.stringify from a plain copy of the values once
 * checked (the top-level ones as read, in wire order), or the first problem
 * found: the same checks, reads and messages as the walk below, which stops
 * at the first problem too. The copy holds only checked strings, numbers and
 * booleans, in objects and arrays of this module's own, and JSON.stringify
 * writes them as the reference does (the strings being well-formed).
 *
 * Those objects and arrays inherit from Object.prototype and Array.prototype
 * (engines stringify such objects fastest), which other code can change, even
 * a getter of the event while it is copied. So no value is assigned to a
 * property they do not already own (it is an object literal, a spread of a
 * shape's `blank`, an array literal or {@linkcode define}): an inherited
 * setter or read-only property is never consulted. And right before
 * JSON.stringify, when no code of the caller's runs any more, {@linkcode noToJSON}
 * makes sure it will call none; if it would, or if JSON.stringify throws (a
 * line longer than the engine's longest string), the copy is written by the
 * walk instead, which reads nothing but the copy's own data properties and
 * so gives what the template gives.
 */
function encodeCopy(
  ts: unknown,
  callId: unknown,
  toolId: unknown,
  callerId: unknown,
  caps: unknown,
  duration: unknown,
  outcome: unknown,
  tier: unknown,
  dryRun: unknown,
  version: unknown,
  secrets: unknown,
  page: unknown,
  provenance: unknown,
): Encoded {
  if (!isText(ts)) return issueAt(0, ts);
  if (!isText(callId)) return issueAt(1, callId);
  if (!isText(toolId)) return issueAt(2, toolId);
  if (callerId != null && !isText(callerId)) return issueAt(3, callerId);
  const granted = copy(caps, TOP[4]!.shape);
  if (granted === FAILED) return under(TOP[4]!.key, failure!);
  if (!isInt(duration, TOP[5]!.shape)) return issueAt(5, duration);
  const outcomeCopy = copy(outcome, TOP[6]!.shape);
  if (outcomeCopy === FAILED) return under(TOP[6]!.key, failure!);
  if (!isText(tier)) return issueAt(7, tier);
  if (typeof dryRun !== "boolean") return issueAt(8, dryRun);
  if (!isInt(version, TOP[9]!.shape)) return issueAt(9, version);
  if (typeof secrets !== "boolean") return issueAt(10, secrets);
  if (page != null && !isInt(page, TOP[11]!.shape)) return issueAt(11, page);
  const provenanceCopy = provenance == null ? undefined : copy(provenance, TOP[12]!.shape);
  if (provenanceCopy === FAILED) return under(TOP[12]!.key, failure!);
  // Keys in wire order; an absent optional one holds undefined, which JSON.stringify (and the walk) leave out.
  const line = {
    ts,
    call_id: callId,
    tool_id: toolId,
    caller_id: callerId ?? undefined,
    granted_capabilities: granted,
    duration_ms: duration,
    outcome: outcomeCopy,
    tier,
    dry_run: dryRun,
    schema_version: version,
    secrets_resolved: secrets,
    cursor_page: page ?? undefined,
    capability_provenance: provenanceCopy,
  };
  if (noToJSON()) {
    try {
      return stringify(line);
    } catch {
      // Longer than a string can be: the walk says where, as the template does.
    }
  }
  return encodeWalk(line);
}

/**
 * Whether JSON.stringify finds no `toJSON` on this module's objects and
 * arrays: none on Object.prototype or Array.prototype, and nothing else
 * between them. Reading these runs no code (neither can be a Proxy, and the
 * prototype of Object.prototype is always null).
 */
function noToJSON(): boolean {
  return !hasOwn(OBJECT_PROTOTYPE, "toJSON") && !hasOwn(ARRAY_PROTOTYPE, "toJSON") &&
    getPrototypeOf(ARRAY_PROTOTYPE) === OBJECT_PROTOTYPE;
}

/**
 * A data property for {@linkcode define}, reused: with no prototype, so that
 * Object.defineProperty reading it reads nothing inherited.
 */
const DATA: PropertyDescriptor = Object.setPrototypeOf(
  { value: undefined, writable: true, enumerable: true, configurable: true },
  null,
);

/** `o[key] = value`, but defined: no setter or read-only property up the prototype chain is consulted. */
function define(o: object, key: string | number, value: unknown): void {
  DATA.value = value;
  defineProperty(o, key, DATA);
}

/** What copy() returns when a check failed; why is in `failure`, relative to the value copied. */
const FAILED: unique symbol = Symbol("failed");
let failure: CallEventIssue | undefined;

function fail(issue: CallEventIssue): typeof FAILED {
  failure = issue;
  return FAILED;
}

/** Why top-level field `i` is wrong, for a scalar that failed its check (value() reads nothing of it). */
function issueAt(i: number, v: unknown): CallEventIssue {
  return under(TOP[i]!.key, value(v, TOP[i]!.shape) as CallEventIssue);
}

function isText(v: unknown): boolean {
  return typeof v === "string" && (careIn(v) === null || isWellFormed(v));
}

function isInt(v: unknown, shape: Shape): boolean {
  return shape.type === "int" && typeof v === "number" && isInteger(v) && v >= shape.min && v <= shape.max;
}

/** `v`, checked against `shape` as value() checks it, copied; FAILED when a check fails. */
function copy(v: unknown, shape: Shape): unknown {
  switch (shape.type) {
    case "string":
      return isText(v) ? v : fail(value(v, shape) as CallEventIssue);
    case "bool":
      return v === true || v === false ? v : fail(value(v, shape) as CallEventIssue);
    case "int":
      return isInt(v, shape) ? v : fail(value(v, shape) as CallEventIssue);
    case "array":
      return arrayCopy(v, shape.of);
    case "struct": {
      const issue = notRecord(v);
      return issue !== undefined ? fail(issue) : fieldsCopy(v as object, shape.fields, { ...shape.blank });
    }
    case "tagged":
      return taggedCopy(v, shape);
  }
}

/**
 * Copies `list`'s fields of `o` into `out`, which already holds each of them
 * as its own data property (a spread of the shape's `blank`): assigning one
 * consults no prototype. An omitted field stays undefined, which
 * JSON.stringify leaves out.
 */
function fieldsCopy(o: object, list: readonly Field[], out: Record<string, unknown>): unknown {
  for (let i = 0; i < list.length; i++) {
    const f = list[i]!;
    const v = read(o, f.key);
    if (v === UNREADABLE) return fail({ path: f.key, reason: readFailure() });
    if (v == null && f.presence === "omit") continue;
    const c = v == null && f.presence === "null" ? null : copy(v, f.shape);
    if (c === FAILED) return fail(under(f.key, failure!));
    out[f.key] = c;
  }
  return out;
}

// Read for read as array() and tagged() below.
function arrayCopy(v: unknown, of: Shape): unknown {
  if (typeof v !== "object" || v === null) return fail(bad("to be an array", v));
  const items = v as unknown[];
  let i = -1;
  try {
    if (!Array.isArray(items)) return fail(bad("to be an array", v));
    const length: unknown = items.length;
    if (typeof length !== "number" || !Number.isSafeInteger(length) || length < 0) {
      return fail({ path: "", reason: `to be an array, got a length of ${show(length)}` });
    }
    if (length <= 4) {
      // Held in locals and made into an array literal, which defines its items: the common short lists cost no
      // defineProperty call each.
      let a, b, c, d: unknown;
      for (i = 0; i < length; i++) {
        const x = copy(items[i], of);
        if (x === FAILED) return fail(under(i, failure!));
        if (i === 0) a = x;
        else if (i === 1) b = x;
        else if (i === 2) c = x;
        else d = x;
      }
      return length === 0 ? [] : length === 1 ? [a] : length === 2 ? [a, b] : length === 3 ? [a, b, c] : [a, b, c, d];
    }
    const out: unknown[] = [];
    for (i = 0; i < length; i++) {
      const x = copy(items[i], of);
      if (x === FAILED) return fail(under(i, failure!));
      define(out, i, x);
    }
    return out;
  } catch (error) {
    return fail({ path: i < 0 ? "" : `[${i}]`, reason: threw(error) });
  }
}

function taggedCopy(v: unknown, shape: TaggedShape): unknown {
  if (typeof v !== "object" || v === null) return fail(bad("to be an object", v));
  const o = v as { kind?: unknown };
  let kind: unknown;
  let path = "";
  try {
    if (Array.isArray(o)) return fail(bad("to be an object", v));
    path = "kind";
    kind = o.kind;
  } catch (error) {
    return fail({ path, reason: threw(error) });
  }
  const variants = shape.variants;
  for (let i = 0; i < variants.length; i++) {
    const variant = variants[i]!;
    if (variant.tag === kind) return fieldsCopy(o, variant.fields, { ...variant.blank });
  }
  return fail({ path: "kind", reason: `to be a known ${shape.name} kind, got ${show(kind)}` });
}

/** The line as a plain walk of the table: what encodeEvent must equal (a test holds them together). */
export function encodeWalk(event: unknown): Encoded {
  return value(event, CALL_EVENT);
}

function fields(o: object, list: readonly Field[], start: string): Encoded {
  let s = start;
  for (let i = 0; i < list.length; i++) {
    const f = list[i]!;
    const v = read(o, f.key);
    if (v === UNREADABLE) return { path: f.key, reason: readFailure() };
    const out = fieldValue(f, v);
    if (out === undefined) continue;
    if (typeof out !== "string") return under(f.key, out);
    s += s.length === 1 ? f.label + out : "," + f.label + out;
  }
  return s + "}";
}

/** Field `f`'s JSON for value `v` (read), its issue, or undefined when it is left out (an absent option). */
function fieldValue(f: Field, v: unknown): Encoded | undefined {
  if (v == null && f.presence === "omit") return undefined;
  return v == null && f.presence === "null" ? "null" : value(v, f.shape);
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
      return tagged(v, shape);
  }
}

// Characters JSON must escape, and surrogates (which need a well-formedness check).
// deno-lint-ignore no-control-regex
const NEEDS_CARE = /["\\\u0000-\u001f\ud800-\udfff]/;
/**
 * Where `text` first needs care, or null: RegExp.prototype.exec bound at load, which reads no `exec` property
 * (test() would call whatever RegExp.prototype.exec is at the time).
 */
const careIn: (text: string) => RegExpExecArray | null = RegExp.prototype.exec.bind(NEEDS_CARE);
/** `text.isWellFormed()`, with String.prototype.isWellFormed as it was at load. */
const isWellFormed: (text: string) => boolean = Function.prototype.call.bind(String.prototype.isWellFormed);

function text(v: string): Encoded {
  if (careIn(v) === null) return `"${v}"`;
  if (!isWellFormed(v)) return bad("to be well-formed text (it holds a lone surrogate)", v);
  return stringify(v);
}

function int(v: unknown, shape: IntShape): Encoded {
  if (typeof v === "number" && isInteger(v) && v >= shape.min && v <= shape.max) return "" + v;
  if (shape.expected !== undefined) return bad(`to be ${shape.expected}`, v);
  const tooLarge = typeof v === "number" && isInteger(v) && v > shape.max;
  return bad(tooLarge ? `to be at most ${shape.max}` : "to be a non-negative integer", v);
}

// Arrays and tags are read at their own sites, not through read(): one site
// that sees every key is a slow look-up in every engine.
function array(v: unknown, of: Shape): Encoded {
  if (typeof v !== "object" || v === null) return bad("to be an array", v);
  const items = v as unknown[];
  let i = -1;
  try {
    // Array.isArray throws on a revoked Proxy.
    if (!Array.isArray(items)) return bad("to be an array", v);
    const length: unknown = items.length;
    // Only a Proxy can lie about its length.
    if (typeof length !== "number" || !Number.isSafeInteger(length) || length < 0) {
      return { path: "", reason: `to be an array, got a length of ${show(length)}` };
    }
    const strings = of.type === "string";
    let s = "[";
    for (i = 0; i < length; i++) {
      const item = items[i];
      const out = strings && typeof item === "string" && careIn(item) === null ? `"${item}"` : value(item, of);
      if (typeof out !== "string") return under(i, out);
      s += i === 0 ? out : "," + out;
    }
    return s + "]";
  } catch (error) {
    return { path: i < 0 ? "" : `[${i}]`, reason: threw(error) };
  }
}

function tagged(v: unknown, shape: TaggedShape): Encoded {
  if (typeof v !== "object" || v === null) return bad("to be an object", v);
  const o = v as { kind?: unknown };
  let kind: unknown;
  let path = "";
  try {
    // Array.isArray throws on a revoked Proxy.
    if (Array.isArray(o)) return bad("to be an object", v);
    path = "kind";
    kind = o.kind;
  } catch (error) {
    return { path, reason: threw(error) };
  }
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
