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
  // Keys in wire order, optional ones absent: one literal per caller_id case, the trailing options appended.
  const event: Record<string, unknown> = callerId == null
    ? {
      ts,
      call_id: callId,
      tool_id: toolId,
      granted_capabilities: caps,
      duration_ms: duration,
      outcome,
      tier,
      dry_run: dryRun,
      schema_version: version,
      secrets_resolved: secrets,
    }
    : {
      ts,
      call_id: callId,
      tool_id: toolId,
      caller_id: callerId,
      granted_capabilities: caps,
      duration_ms: duration,
      outcome,
      tier,
      dry_run: dryRun,
      schema_version: version,
      secrets_resolved: secrets,
    };
  if (page != null) event.cursor_page = page;
  if (provenances != null) {
    const items = list(provenances, provenanceItem);
    if (items === FAILED) return FAILED;
    event.capability_provenance = items;
  }
  return event as unknown as CallEvent;
}

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
    const out: T[] = [];
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
  return source === FAILED ? FAILED : { cap, source };
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
      if (fields.length === 0) return { kind };
      const out: Record<string, unknown> = { kind };
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
