import * as v from "valibot";
import type { CallEvent } from "./call_event.ts";
import { type CallEventIssue, CallEventSyntaxError } from "./errors.ts";
import { excerptOf } from "./_excerpt.ts";
import { encodeEvent } from "./_encode.ts";
import { canonicalKeys, canonicalOf, isIssue, readEvent } from "./_read_event.ts";
import { isPlainJson, isPlainText, strictJsonIssue } from "./_strict_json.ts";
import { show } from "./_safe_read.ts";
import { callEventSchema, issuesOf } from "./_schema.ts";

/** Options for {@linkcode parseCallEvent}. */
export interface ParseCallEventOptions {
  /** 1-based line number to put in errors. @default {undefined} */
  readonly line?: number;
  /** Byte offset of the line in its source, to put in errors. @default {undefined} */
  readonly offset?: number;
}

/**
 * Reads one `CallEvent` from a JSON line or an already parsed value, the way
 * the reference's serde reads it: schema 1, 2 and 3 are accepted, a missing
 * `secrets_resolved` becomes `false`, absent or `null` optional fields become
 * absent, unknown keys are ignored. The result has its keys in wire order.
 *
 * @param input A JSON line (without its newline) or a parsed JSON value.
 * @param options Where the line came from, for error messages.
 * @returns The validated event.
 * @throws {CallEventSyntaxError} When the text is not JSON or does not match the
 *   schema; `path` names the first failing field.
 *
 * @example Reading a schema 2 line
 * ```ts
 * import { parseCallEvent } from "@atd/audit";
 * import assert from "node:assert/strict";
 * const event = parseCallEvent(
 *   '{"ts":"2026-05-29T00:00:00+00:00","call_id":"01J","tool_id":"x","granted_capabilities":[],' +
 *     '"duration_ms":1,"outcome":{"kind":"success"},"tier":"warm","dry_run":false,"schema_version":2}',
 * );
 * assert.deepEqual(event.secrets_resolved, false);
 * assert.deepEqual(event.capability_provenance, undefined);
 * ```
 */
export function parseCallEvent(input: string | unknown, options: ParseCallEventOptions = {}): CallEvent {
  if (typeof input !== "string") {
    const event = readEvent(input);
    if (isIssue(event)) throw syntaxError(schemaIssues(input, event), input, options);
    const line = encodeEvent(event); // a lone surrogate
    if (typeof line !== "string") throw syntaxError([line], input, options);
    return event;
  }
  let value: unknown;
  try {
    value = JSON.parse(input);
  } catch (cause) {
    const reason = `not valid JSON (${(cause as Error).message})`;
    throw syntaxError([{ path: undefined, reason }], input, options, cause);
  }
  // The common case: a line that parses to a canonical event, in which
  // JSON.parse hid nothing (no key given twice, no escape, no odd number),
  // is that event. A lone surrogate can only hide in an escape, or in a
  // string that no UTF-8 source could have produced.
  if (isPlainText(input, canonicalKeys(value)) && input.isWellFormed()) return canonicalOf(value);
  const event = readEvent(value);
  if (isIssue(event)) {
    // What serde stops at while it parses (nesting, a field given twice)
    // comes before what it finds when it checks types.
    const issue = isPlainJson(input, value) ? undefined : strictJsonIssue(input, value);
    throw syntaxError(issue ? [issue] : schemaIssues(value, event), input, options);
  }
  const line = encodeEvent(event);
  if (typeof line !== "string") throw syntaxError([line], input, options);
  if (line === input || isPlainJson(input, value)) return event;
  const issue = strictJsonIssue(input, value);
  if (issue) throw syntaxError([issue], input, options);
  return event;
}

/** Every problem valibot finds, worded for people; `first` (from the table walk) when it reads no further. */
function schemaIssues(value: unknown, first: CallEventIssue): readonly CallEventIssue[] {
  // The walk's own words when the value is not an object, or could not be read.
  if (first.path === "" || first.reason.includes("reading it threw")) return [first];
  try {
    const result = v.safeParse(callEventSchema, value);
    if (!result.success) return issuesOf(result.issues);
  } catch {
    // A getter that threw on this second look: the first look's finding stands.
  }
  return [first];
}

function syntaxError(
  issues: readonly { path: string | undefined; reason: string }[],
  input: unknown,
  options: ParseCallEventOptions,
  cause?: unknown,
): CallEventSyntaxError {
  const first = issues[0]!;
  return new CallEventSyntaxError({
    path: first.path,
    reason: first.reason,
    issues: first.path === undefined ? [] : issues as readonly CallEventIssue[],
    line: options.line,
    offset: options.offset,
    excerpt: excerptOf(typeof input === "string" ? input : show(input)),
  }, cause === undefined ? undefined : { cause });
}
