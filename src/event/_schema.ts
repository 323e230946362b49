// The valibot schema behind the error messages of parseCallEvent and
// createCallEvent, built from the field table. Private: JSR's slow-types rule
// wants hand-written interfaces on the public surface.
import * as v from "valibot";
import type { CallEventIssue } from "./errors.ts";
import { CALL_EVENT, type Field, type Shape, U64_MAX } from "./_fields.ts";

function schemaOf(shape: Shape): v.GenericSchema {
  switch (shape.type) {
    case "string":
      return v.string();
    case "bool":
      return v.boolean();
    case "int": {
      const { min, max, expected, tooLarge } = shape;
      if (max === U64_MAX) return v.pipe(v.number(), v.safeInteger(), v.minValue(min));
      const reason = expected === undefined ? undefined : `to be ${expected}`;
      const above = tooLarge === undefined ? reason : `to be ${tooLarge}`;
      return v.pipe(v.number(), v.integer(reason), v.minValue(min, reason), v.maxValue(max, above));
    }
    case "array":
      return v.array(schemaOf(shape.of));
    case "struct":
      return objectOf(shape.fields, {});
    case "tagged":
      return v.variant(
        "kind",
        shape.variants.map((variant) => objectOf(variant.fields, { kind: v.literal(variant.tag) })) as v.VariantOptions<
          "kind"
        >,
      );
  }
}

function objectOf(fields: readonly Field[], entries: v.ObjectEntries): v.ObjectSchema<v.ObjectEntries, undefined> {
  const all: Record<string, v.GenericSchema> = { ...entries };
  for (const f of fields) {
    const schema = schemaOf(f.shape);
    // Absent and null both mean "none", as serde reads an Option; a default field may only be absent.
    all[f.key] = f.presence === "required" ? schema : f.presence === "default" ? v.optional(schema) : v.nullish(schema);
  }
  return v.object(all);
}

/** Every schema version's line: later fields are optional, as serde's defaults make them. */
export const callEventSchema: v.GenericSchema = schemaOf(CALL_EVENT);

/** Turns valibot's issues into field paths and readable reasons. */
export function issuesOf(issues: readonly v.BaseIssue<unknown>[]): CallEventIssue[] {
  return issues.map((issue) => ({ path: pathOf(issue), reason: reasonOf(issue) }));
}

function pathOf(issue: v.BaseIssue<unknown>): string {
  let path = "";
  for (const item of issue.path ?? []) {
    const key = item.key;
    path += typeof key === "number" ? `[${key}]` : path === "" ? String(key) : `.${String(key)}`;
  }
  return path;
}

function reasonOf(issue: v.BaseIssue<unknown>): string {
  const got = `got ${inexact(issue.input) ? `a number beyond 2^53-1 (read as ${issue.received})` : issue.received}`;
  switch (issue.type) {
    case "object":
      return issue.received === "undefined" ? "to be present" : `to be an object, ${got}`;
    case "variant":
      return issue.expected === "Object"
        ? `to be an object, ${got}`
        : `to be one of ${issue.expected?.replace(/^\(|\)$/g, "").split(" | ").join(", ")}, ${got}`;
    case "literal":
      return `to be ${issue.expected}, ${got}`;
    case "string":
    case "boolean":
    case "number":
    case "array":
      return issue.received === "undefined"
        ? "to be present"
        : `to be ${issue.type === "array" ? "an" : "a"} ${issue.type}, ${got}`;
    case "safe_integer":
      return `to be an integer from 0 to 9007199254740991 (2^53-1), ${got}`;
    // The table's own wording, where it has one, starts with "to be".
    case "integer":
    case "min_value":
      return issue.message.startsWith("to be ") ? `${issue.message}, ${got}` : `to be a non-negative integer, ${got}`;
    case "max_value":
      return issue.message.startsWith("to be ")
        ? `${issue.message}, ${got}`
        : `to be at most ${issue.requirement}, ${got}`;
    default:
      return `to be valid (${issue.message})`;
  }
}

/**
 * Whether `input` is an integer too large for a double to hold exactly: the
 * number JSON.parse made of it may not be the one the line holds
 * (9007199254740993 reads as 9007199254740992), so it is not quoted as such.
 */
function inexact(input: unknown): boolean {
  return typeof input === "number" && Number.isFinite(input) && Math.abs(input) > Number.MAX_SAFE_INTEGER;
}
