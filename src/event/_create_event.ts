// createCallEvent's fast path: the same checks as readEvent (_read_event.ts)
// on the fields createCallEvent copied, spelled out with named reads and
// object literals, which engines make fast where the table walk's keyed
// reads and keyed stores are not (1.2–8 µs per event, measured). It accepts
// exactly what readEvent accepts and builds the same canonical event; on any
// problem it returns FAILED and createCallEvent takes the slow path, which
// words the error. A test (tests/event/create_call_event_test.ts) holds the
// two paths together on valid and invalid events.
//
// `m` is createCallEvent's own copy of the caller's fields: reading it twice
// runs no caller code. Values inside it (arrays, outcome, provenance) are the
// caller's: each of their properties is read once here, inside try.
import type { CallEvent } from "./call_event.ts";
import { CALL_EVENT, OUTCOME, PROV_SOURCE, type Shape, type TaggedShape, U32_MAX, U64_MAX } from "./_fields.ts";

/** What the fast path returns when it finds a problem (or a shape it leaves to the table walk). */
export const FAILED: unique symbol = Symbol("failed");

/**
 * The canonical event of `m` with the fields createCallEvent defaults given
 * apart (so that `m` can be a plain copy: adding properties to a spread's
 * result costs Node 20 about 10 µs), or FAILED.
 */
export function createEvent(
  m: Record<string, unknown>,
  ts: unknown,
  capsIn: unknown,
  dryRun: unknown,
  secrets: unknown,
  version: unknown,
): CallEvent | typeof FAILED {
  const callId = m.call_id;
  const toolId = m.tool_id;
  const callerId = m.caller_id;
  const duration = m.duration_ms;
  const tier = m.tier;
  const page = m.cursor_page;
  const provenances = m.capability_provenance;
  if (
    typeof ts !== "string" || typeof callId !== "string" || typeof toolId !== "string" ||
    (callerId != null && typeof callerId !== "string") || !isInt(duration, 0, U64_MAX) || typeof tier !== "string" ||
    typeof dryRun !== "boolean" || !isInt(version, 1, 3) || typeof secrets !== "boolean" ||
    (page != null && !isInt(page, 0, U32_MAX))
  ) return FAILED;
  const caps = strings(capsIn);
  if (caps === FAILED) return FAILED;
  const outcome = tagged(m.outcome, OUTCOME);
  if (outcome === FAILED) return FAILED;
  let items: unknown[] | undefined;
  if (provenances != null) {
    const checked = list(provenances, provenanceItem);
    if (checked === FAILED) return FAILED;
    items = checked;
  }
  return new CanonicalEvent(
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
    items,
  );
}

/**
 * Gives a constructor function `Object.prototype`, so that `new` makes plain
 * objects, as a literal would.
 *
 * Why not literals: V8 tracks the objects of each literal (and `[]`) and, once
 * most of a literal's objects outlive a scavenge (a caller that keeps the
 * events it makes, as bench/_worker_oncall.ts does), allocates all its later
 * objects in the old generation, for the rest of the process. Every event then
 * cost 2–5 µs of collections instead of 0.3 µs (bench/README.md, 2026-12-02,
 * third session). Objects made by `new`, `new Array()` and spreads are not
 * tracked so.
 */
function plain<A extends unknown[], T>(ctor: (this: T, ...args: A) => void): new (...args: A) => T {
  ctor.prototype = Object.prototype;
  return ctor as unknown as new (...args: A) => T;
}

/**
 * The canonical event: keys in wire order, optional ones absent (`caller_id`
 * and `cursor_page` when null or undefined, `capability_provenance` when
 * undefined). Also how auditCall and the MCP adapter build theirs.
 */
export const CanonicalEvent = plain(function (
  this: Record<string, unknown>,
  ts: string,
  callId: string,
  toolId: string,
  callerId: unknown,
  caps: string[],
  duration: unknown,
  outcome: Record<string, unknown>,
  tier: string,
  dryRun: boolean,
  version: unknown,
  secrets: boolean,
  page: unknown,
  provenance: unknown[] | undefined,
) {
  this.ts = ts;
  this.call_id = callId;
  this.tool_id = toolId;
  if (callerId != null) this.caller_id = callerId;
  this.granted_capabilities = caps;
  this.duration_ms = duration;
  this.outcome = outcome;
  this.tier = tier;
  this.dry_run = dryRun;
  this.schema_version = version;
  this.secrets_resolved = secrets;
  if (page != null) this.cursor_page = page;
  if (provenance !== undefined) this.capability_provenance = provenance;
}) as unknown as new (...args: unknown[]) => CallEvent;

/** A tagged enum's value, `kind` first; the variant's fields are added after. */
const Tagged = plain(function (this: Record<string, unknown>, kind: unknown) {
  this.kind = kind;
});

/** One `{ cap, source }`. */
const Provenance = plain(function (this: Record<string, unknown>, cap: string, source: unknown) {
  this.cap = cap;
  this.source = source;
});

function isInt(v: unknown, min: number, max: number): boolean {
  return typeof v === "number" && Number.isInteger(v) && v >= min && v <= max;
}

/** A copy of an array, read as readEvent reads it (length once, each item once), each item through `item`. */
function list<T>(v: unknown, item: (value: unknown) => T | typeof FAILED): T[] | typeof FAILED {
  if (typeof v !== "object" || v === null) return FAILED;
  try {
    if (!Array.isArray(v)) return FAILED;
    const length: unknown = v.length;
    if (typeof length !== "number" || !Number.isSafeInteger(length) || length < 0) return FAILED;
    const out = new Array<T>();
    for (let i = 0; i < length; i++) {
      const checked = item(v[i]);
      if (checked === FAILED) return FAILED;
      out.push(checked);
    }
    return out;
  } catch {
    return FAILED;
  }
}

const aString = (v: unknown): string | typeof FAILED => typeof v === "string" ? v : FAILED;
const strings = (v: unknown): string[] | typeof FAILED => list(v, aString);

/** One `{ cap, source }` of the capability provenance list, each property read once. */
function provenanceItem(item: unknown): unknown {
  if (typeof item !== "object" || item === null || Array.isArray(item)) return FAILED;
  const cap: unknown = (item as { cap?: unknown }).cap;
  if (typeof cap !== "string") return FAILED;
  const source = tagged((item as { source?: unknown }).source, PROV_SOURCE);
  return source === FAILED ? FAILED : new Provenance(cap, source);
}

/** A string, bool, integer or array of strings in a variant, or FAILED (any other shape is left to the table walk). */
function leaf(item: unknown, s: Shape): unknown {
  switch (s.type) {
    case "string":
      return typeof item === "string" ? item : FAILED;
    case "bool":
      return typeof item === "boolean" ? item : FAILED;
    case "int":
      return isInt(item, s.min, s.max) ? item : FAILED;
    case "array":
      return s.of.type === "string" ? strings(item) : FAILED;
    default:
      return FAILED;
  }
}

/**
 * A tagged enum's value: `kind` read once, then the variant's fields in the
 * table's order, each once, into a new object with `kind` first.
 */
function tagged(v: unknown, shape: TaggedShape): Record<string, unknown> | typeof FAILED {
  if (typeof v !== "object" || v === null) return FAILED;
  try {
    if (Array.isArray(v)) return FAILED;
    const o = v as Record<string, unknown>;
    const kind: unknown = o.kind;
    const variants = shape.variants;
    for (let i = 0; i < variants.length; i++) {
      const variant = variants[i]!;
      if (variant.tag !== kind) continue;
      const fields = variant.fields;
      const out = new Tagged(kind);
      for (let j = 0; j < fields.length; j++) {
        const f = fields[j]!;
        const item = o[f.key];
        if (item == null) {
          if (f.presence !== "null") return FAILED;
          out[f.key] = null;
          continue;
        }
        const checked = leaf(item, f.shape);
        if (checked === FAILED) return FAILED;
        out[f.key] = checked;
      }
      return out;
    }
    return FAILED;
  } catch {
    return FAILED;
  }
}

// The shapes spelled out above must be the table's: a change there fails here at load.
if (
  CALL_EVENT.fields.map((f) => `${f.key}:${f.presence}`).join() !==
    "ts:required,call_id:required,tool_id:required,caller_id:omit,granted_capabilities:required," +
      "duration_ms:required,outcome:required,tier:required,dry_run:required,schema_version:required," +
      "secrets_resolved:default,cursor_page:omit,capability_provenance:omit" ||
  [...OUTCOME.variants, ...PROV_SOURCE.variants].some((v) =>
    v.fields.some((f) => f.presence !== "required" && f.presence !== "null")
  )
) throw new Error("createCallEvent's fast path no longer matches the field table");
