// Reads an event the way serde does, walking the field table: schema 1, 2
// and 3 shapes, absent or null options as none, a missing secrets_resolved
// as false, unknown keys ignored. Builds a new event with its keys in wire
// order and its optional fields absent (never undefined or null), so that
// JSON.stringify(event) === encodeCallEvent(event). Each property is read
// once. Exactly as strict as the valibot schema in _schema.ts (both come
// from the table; a property test holds them together), which is only
// consulted to word the errors.
import type { CallEvent } from "./call_event.ts";
import type { CallEventIssue } from "./errors.ts";
import { CALL_EVENT, type Field, type Shape, type TaggedShape } from "./_fields.ts";
import { under } from "./_encode.ts";
import { arrayCheck, notRecord, read, readFailure, UNREADABLE } from "./_safe_read.ts";

/** The event `value` holds, in canonical form, or the first problem found. */
export function readEvent(value: unknown): CallEvent | CallEventIssue {
  const out = struct(value, CALL_EVENT.fields);
  return out === FAILED ? issue : out as unknown as CallEvent;
}

/**
 * `value` read as the event's field `key` is (a copy, each property read
 * once), or the first problem, its path under `key`: for a caller that
 * takes one field from elsewhere (the MCP adapter's capabilities callback).
 */
export function readField(key: string, value: unknown): { value: unknown } | CallEventIssue {
  const f = CALL_EVENT.fields.find((field) => field.key === key);
  if (f === undefined) throw new TypeError(`No event field ${key}`);
  const out = valueOf(value, f.shape);
  return out === FAILED ? under(key, issue) : { value: out };
}

/**
 * The number of keys in `value` (a JSON.parse result: no getters) when it is
 * a valid event already in canonical form (keys in wire order, no unknown
 * key, no null option, no default left out), or -1. Such a value is its own
 * canonical event: the reader's fast path hands it out as it is. `for…in`
 * and `o[key]` inside it are fast in every engine, where a keyed read of
 * each table key would be a slow look-up.
 */
export function canonicalKeys(value: unknown): number {
  defaultsLeftOut = false;
  return structKeys(value, CALL_EVENT.fields);
}

/**
 * The canonical event of a value canonicalKeys accepted: the value itself,
 * or (a schema 1 or 2 line) a copy with the defaults it left out last.
 */
export function canonicalOf(value: unknown): CallEvent {
  if (!defaultsLeftOut) return value as CallEvent;
  const event: Record<string, unknown> = { ...value as object };
  for (const f of DEFAULTS) if (event[f.key] === undefined) event[f.key] = false;
  return event as unknown as CallEvent;
}

const DEFAULTS = CALL_EVENT.fields.filter((f) => f.presence === "default");
// Set by canonicalKeys: a default field was left out, with nothing after it.
let defaultsLeftOut = false;

function structKeys(v: unknown, fields: readonly Field[]): number {
  if (typeof v !== "object" || v === null || Array.isArray(v)) return -1;
  const o = v as Record<string, unknown>;
  let i = 0;
  let keys = 0;
  let skipped = false;
  for (const key in o) {
    let f = fields[i];
    while (f !== undefined && f.key !== key && f.presence !== "required" && f.presence !== "null") {
      skipped ||= f.presence === "default";
      f = fields[++i];
    }
    // A field after a left-out default would not stay in wire order once the default is added.
    if (f === undefined || f.key !== key || skipped) return -1;
    const inner = valueKeys(o[key], f.shape, f.presence);
    if (inner < 0) return -1;
    keys += 1 + inner;
    i++;
  }
  for (; i < fields.length; i++) {
    const presence = fields[i]!.presence;
    if (presence === "default") defaultsLeftOut = true;
    else if (presence !== "omit") return -1;
  }
  return keys;
}

function valueKeys(v: unknown, shape: Shape, presence: Field["presence"]): number {
  switch (shape.type) {
    case "string":
      return typeof v === "string" ? 0 : -1;
    case "bool":
      return typeof v === "boolean" ? 0 : -1;
    case "int":
      return (typeof v === "number" && Number.isInteger(v) && v >= shape.min && v <= shape.max) ||
          (v === null && presence === "null")
        ? 0
        : -1;
    case "array": {
      if (!Array.isArray(v)) return -1;
      let keys = 0;
      for (let i = 0; i < v.length; i++) {
        const inner = valueKeys(v[i], shape.of, "required");
        if (inner < 0) return -1;
        keys += inner;
      }
      return keys;
    }
    case "struct":
      return structKeys(v, shape.fields);
    case "tagged": {
      if (typeof v !== "object" || v === null) return -1;
      const kind = (v as { kind?: unknown }).kind;
      const variants = shape.variants;
      for (let i = 0; i < variants.length; i++) {
        if (variants[i]!.tag === kind) return structKeys(v, variants[i]!.wire);
      }
      return -1;
    }
  }
}

/** Whether `result` is an issue rather than an event. */
export function isIssue(result: CallEvent | CallEventIssue): result is CallEventIssue {
  return typeof (result as CallEventIssue).reason === "string";
}

const FAILED: unique symbol = Symbol("failed");
// The failure being reported, its path growing as the walk unwinds.
let issue: CallEventIssue = { path: "", reason: "" };

function fail(path: string, reason: string): typeof FAILED {
  issue = { path, reason };
  return FAILED;
}

function struct(v: unknown, fields: readonly Field[], into: Record<string, unknown> = {}): unknown {
  const problem = notRecord(v);
  if (problem !== undefined) return fail(problem.path, problem.reason);
  const o = v as object;
  for (let i = 0; i < fields.length; i++) {
    const f = fields[i]!;
    const item = read(o, f.key);
    if (item === UNREADABLE) return fail(f.key, readFailure());
    if (item == null && f.presence !== "required") {
      if (f.presence === "null") into[f.key] = null;
      else if (f.presence === "default" && item === undefined) into[f.key] = false;
      else if (f.presence === "default") return fail(f.key, "to be a boolean, got null");
      continue;
    }
    const out = valueOf(item, f.shape);
    if (out === FAILED) {
      issue = under(f.key, issue);
      return FAILED;
    }
    into[f.key] = out;
  }
  return into;
}

function valueOf(v: unknown, shape: Shape): unknown {
  switch (shape.type) {
    case "string":
      return typeof v === "string" ? v : wrongType("to be a string", v);
    case "bool":
      return typeof v === "boolean" ? v : wrongType("to be a boolean", v);
    case "int":
      return typeof v === "number" && Number.isInteger(v) && v >= shape.min && v <= shape.max
        ? v
        : wrongType(`to be ${shape.expected ?? "a non-negative integer"} up to ${shape.max}`, v);
    case "array":
      return array(v, shape.of);
    case "struct":
      return struct(v, shape.fields);
    case "tagged":
      return tagged(v, shape);
  }
}

function array(v: unknown, of: Shape): unknown {
  if (typeof v !== "object" || v === null) return wrongType("to be an array", v);
  const isArray = arrayCheck(v);
  if (isArray !== true) return isArray === false ? wrongType("to be an array", v) : fail("", isArray.reason);
  const length = read(v, "length");
  if (length === UNREADABLE) return fail("", readFailure());
  if (typeof length !== "number" || !Number.isSafeInteger(length) || length < 0) return wrongType("to be an array", v);
  const out: unknown[] = [];
  for (let i = 0; i < length; i++) {
    const item = read(v, i);
    if (item === UNREADABLE) return fail(`[${i}]`, readFailure());
    const element = valueOf(item, of);
    if (element === FAILED) {
      issue = under(i, issue);
      return FAILED;
    }
    out.push(element);
  }
  return out;
}

function tagged(v: unknown, shape: TaggedShape): unknown {
  const problem = notRecord(v);
  if (problem !== undefined) return fail(problem.path, problem.reason);
  const kind = read(v as object, "kind");
  if (kind === UNREADABLE) return fail("kind", readFailure());
  const variants = shape.variants;
  for (let i = 0; i < variants.length; i++) {
    const variant = variants[i]!;
    if (variant.tag === kind) return struct(v, variant.fields, { kind });
  }
  return fail("kind", `to be a known ${shape.name} kind`);
}

// The walk only needs to know that it failed; _schema.ts words the reason.
function wrongType(expected: string, _got: unknown): typeof FAILED {
  return fail("", expected);
}
