// The CallEvent wire shape, written once: the reference's serde types as a
// table. The encoder (field order, what is omitted), the reader (defaults,
// validation, canonical key order), the valibot schema (error messages) and
// the strict scan (known keys, integer fields, where serde buffers values)
// all walk it; nothing else spells the wire shape out. call_event.ts keeps
// hand-written interfaces because JSR's slow-types rule wants them.

/** Largest `u32`: `cursor_page`. */
export const U32_MAX = 4_294_967_295;
/** Largest `u8`: `chain_depth`. */
export const U8_MAX = 255;
/** A `u64` is bounded by what a JS number holds exactly. */
export const U64_MAX = Number.MAX_SAFE_INTEGER;

/** How a value is written and read. */
export type Shape = StringShape | BoolShape | IntShape | ArrayShape | StructShape | TaggedShape;

/** A JSON string (well-formed: no lone surrogate). */
export interface StringShape {
  readonly type: "string";
}
/** `true` or `false`. */
export interface BoolShape {
  readonly type: "bool";
}
/** An integer token from `min` to `max`. */
export interface IntShape {
  readonly type: "int";
  readonly min: number;
  readonly max: number;
  /** What an error says was expected instead (after "to be "), when not the range's default. */
  readonly expected?: string;
  /** The same, for a value above `max`. */
  readonly tooLarge?: string;
}
/** A JSON array of one shape. */
export interface ArrayShape {
  readonly type: "array";
  readonly of: Shape;
}
/** A struct: a JSON object with these fields, in wire order. */
export interface StructShape {
  readonly type: "struct";
  readonly fields: readonly Field[];
  /** Its keys in wire order, each undefined (see {@linkcode blank}). */
  readonly blank: Blank;
}
/**
 * A serde internally tagged enum (`#[serde(tag = "kind")]`): an object whose
 * `kind` names the variant. serde buffers the whole value before reading it,
 * so every string and number inside is parsed and its nesting counts.
 */
export interface TaggedShape {
  readonly type: "tagged";
  /** Used in messages: "to be a known outcome kind". */
  readonly name: string;
  readonly variants: readonly Variant[];
}
/** One variant of a tagged enum. */
export interface Variant {
  readonly tag: string;
  readonly fields: readonly Field[];
  /** The start of its JSON: `{"kind":"success"`. */
  readonly head: string;
  /** Its whole JSON when it has no fields: `{"kind":"success"}`. */
  readonly whole: string | undefined;
  /** Its fields as written, `kind` first. */
  readonly wire: readonly Field[];
  /** `kind` (the tag), then its keys in wire order, each undefined (see {@linkcode blank}). */
  readonly blank: Blank;
}

/** An object of the keys of a struct or variant, frozen (see {@linkcode blank}). */
export type Blank = Readonly<Record<string, unknown>>;

/**
 * `{ kind, ...keys }` with every key undefined, in wire order: spread into a
 * new object (`{ ...blank }`), it gives that object the keys as its own data
 * properties in that order, so that filling them in assigns to own
 * properties and never consults a prototype (which other code may have
 * changed), as the Bun encoder's copy needs.
 */
function blank(fields: readonly Field[], kind?: string): Blank {
  const o: Record<string, unknown> = kind === undefined ? {} : { kind };
  // Defined, not assigned, by a descriptor that inherits nothing: what some code put on Object.prototype before this
  // module loaded (a setter for a key, a `get`) must not keep a key out or make it an accessor.
  const data = { __proto__: null, value: undefined, writable: true, enumerable: true };
  for (const f of fields) Object.defineProperty(o, f.key, data);
  return Object.freeze(o);
}

/**
 * - `required`: present on read and on write.
 * - `default`: may be absent on read (then `false`, as `#[serde(default)]`); always written.
 * - `omit`: absent or `null` both mean none; none is left out on write (`skip_serializing_if`).
 * - `null`: absent or `null` both mean none; none is written as `null`.
 */
export type Presence = "required" | "default" | "omit" | "null";

/** One field of a struct or variant. */
export interface Field {
  readonly key: string;
  readonly shape: Shape;
  readonly presence: Presence;
  /** The key as written, with its colon: `"tool_id":`. */
  readonly label: string;
}

const string: StringShape = { type: "string" };
const strings: ArrayShape = { type: "array", of: string };
const bool: BoolShape = { type: "bool" };
const u64: IntShape = { type: "int", min: 0, max: U64_MAX };
const u32: IntShape = { type: "int", min: 0, max: U32_MAX };
const u8: IntShape = { type: "int", min: 0, max: U8_MAX };
const field = (key: string, shape: Shape, presence: Presence = "required"): Field => ({
  key,
  shape,
  presence,
  label: `${JSON.stringify(key)}:`,
});
const variant = (tag: string, ...fields: Field[]): Variant => {
  const head = `{"kind":${JSON.stringify(tag)}`;
  const wire = [field("kind", string), ...fields];
  return { tag, fields, head, whole: fields.length === 0 ? `${head}}` : undefined, wire, blank: blank(fields, tag) };
};
const struct = (...fields: Field[]): StructShape => ({ type: "struct", fields, blank: blank(fields) });

/** `Outcome`, in the reference's declaration order. */
export const OUTCOME: TaggedShape = {
  type: "tagged",
  name: "outcome",
  variants: [
    variant("success"),
    variant("execution_failed", field("code", string), field("retryable", bool)),
    variant("invalid_args", field("message", string)),
    variant("capability_denied", field("missing", strings)),
    variant("rate_limited", field("retry_after_ms", u64, "null")),
    variant("tool_not_found"),
  ],
};

/** `ProvSource`. */
export const PROV_SOURCE: TaggedShape = {
  type: "tagged",
  name: "provenance",
  variants: [
    variant("string_allow_list"),
    variant("ucan_chain", field("issuer_did", string), field("chain_depth", u8)),
  ],
};

/** `CapProvenance`. */
const CAP_PROVENANCE: StructShape = struct(field("cap", string), field("source", PROV_SOURCE));

/** `CallEvent`, fields in struct (wire) order. Schema 1 and 2 lines lack the later fields. */
export const CALL_EVENT: StructShape = struct(
  field("ts", string),
  field("call_id", string),
  field("tool_id", string),
  field("caller_id", string, "omit"),
  field("granted_capabilities", strings),
  field("duration_ms", u64),
  field("outcome", OUTCOME),
  field("tier", string),
  field("dry_run", bool),
  field("schema_version", {
    type: "int",
    min: 1,
    max: 3,
    expected: "1, 2 or 3",
    tooLarge: "1, 2 or 3 (newer versions are not supported)",
  }),
  field("secrets_resolved", bool, "default"),
  field("cursor_page", u32, "omit"),
  field("capability_provenance", { type: "array", of: CAP_PROVENANCE }, "omit"),
);

/** Every field of a struct or of any variant of a tagged enum. */
function fieldsOf(shape: StructShape | TaggedShape): readonly Field[] {
  return shape.type === "struct" ? shape.fields : shape.variants.flatMap((variant) => variant.fields);
}

/** The names of every integer field, wherever it sits (for the strict scan's cheap test). */
export const INTEGER_KEYS: readonly string[] = (() => {
  const keys = new Set<string>();
  const visit = (shape: Shape): void => {
    if (shape.type === "array") visit(shape.of);
    if (shape.type !== "struct" && shape.type !== "tagged") return;
    for (const f of fieldsOf(shape)) {
      if (f.shape.type === "int") keys.add(f.key);
      visit(f.shape);
    }
  };
  visit(CALL_EVENT);
  return [...keys];
})();
