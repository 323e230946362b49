// The valibot schema behind parseCallEvent and createCallEvent. Private: JSR's
// slow-types rule wants hand-written interfaces on the public surface.
import * as v from "valibot";
import type { CallEventIssue } from "./errors.ts";
import { U32_MAX, U8_MAX } from "./_limits.ts";

const text = v.string();
const strings = v.array(v.string());
const u64 = v.pipe(v.number(), v.safeInteger(), v.minValue(0));
const u32 = v.pipe(v.number(), v.integer(), v.minValue(0), v.maxValue(U32_MAX));
const u8 = v.pipe(v.number(), v.integer(), v.minValue(0), v.maxValue(U8_MAX));
// Absent and null both mean "none", as serde reads an Option.
const optional = <T extends v.GenericSchema>(schema: T) => v.nullish(schema);

export const outcomeSchema = v.variant("kind", [
  v.object({ kind: v.literal("success") }),
  v.object({ kind: v.literal("execution_failed"), code: text, retryable: v.boolean() }),
  v.object({ kind: v.literal("invalid_args"), message: text }),
  v.object({ kind: v.literal("capability_denied"), missing: strings }),
  v.object({ kind: v.literal("rate_limited"), retry_after_ms: optional(u64) }),
  v.object({ kind: v.literal("tool_not_found") }),
]);

export const provSourceSchema = v.variant("kind", [
  v.object({ kind: v.literal("string_allow_list") }),
  v.object({ kind: v.literal("ucan_chain"), issuer_did: text, chain_depth: u8 }),
]);

export const capProvenanceSchema = v.object({ cap: text, source: provSourceSchema });

/** Every schema version's line: later fields are optional, as serde's defaults make them. */
export const callEventSchema = v.object({
  ts: text,
  call_id: text,
  tool_id: text,
  caller_id: optional(text),
  granted_capabilities: strings,
  duration_ms: u64,
  outcome: outcomeSchema,
  tier: text,
  dry_run: v.boolean(),
  schema_version: v.pipe(v.number(), v.integer(), v.minValue(1), v.maxValue(3)),
  secrets_resolved: v.optional(v.boolean()),
  cursor_page: optional(u32),
  capability_provenance: optional(v.array(capProvenanceSchema)),
});

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
  const got = `got ${issue.received}`;
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
    case "integer":
    case "min_value":
      return issue.path?.at(-1)?.key === "schema_version"
        ? `to be 1, 2 or 3, ${got}`
        : `to be a non-negative integer, ${got}`;
    case "max_value":
      return issue.path?.at(-1)?.key === "schema_version"
        ? `to be 1, 2 or 3 (newer versions are not supported), ${got}`
        : `to be at most ${issue.requirement}, ${got}`;
    default:
      return `to be valid (${issue.message})`;
  }
}
