// The text half of parseCallEvent, with a way in for the reader, which has
// already counted a line's keys on its bytes (plainKeysOfBytes).
import * as v from "valibot";
import type { CallEvent } from "./call_event.ts";
import { type CallEventIssue, CallEventSyntaxError } from "./errors.ts";
import { excerptOf } from "./_excerpt.ts";
import { encodeEvent } from "./_encode.ts";
import { canonicalKeys, canonicalOf, isIssue, readEvent } from "./_read_event.ts";
import { isPlainJson, isPlainText, strictJsonIssue } from "./_strict_json.ts";
import { show } from "./_safe_read.ts";
import { callEventSchema, issuesOf } from "./_schema.ts";

/** Where a line came from, for errors. */
export interface LinePlace {
  readonly line?: number | undefined;
  readonly offset?: number | undefined;
}

const NOWHERE: LinePlace = {};

/**
 * The event on the JSON line `input`, read as parseCallEvent reads it.
 * `plainKeys` is what plainKeysOfBytes found on the bytes `input` was
 * strictly decoded from (-1: not plain), or `undefined` when they were not
 * scanned; it only decides how cheaply a line is accepted, never whether.
 *
 * @throws {CallEventSyntaxError} As parseCallEvent.
 */
export function parseText(input: string, plainKeys?: number, place: LinePlace = NOWHERE): CallEvent {
  let value: unknown;
  try {
    value = JSON.parse(input);
  } catch (cause) {
    const reason = `not valid JSON (${(cause as Error).message})`;
    throw syntaxError([{ path: undefined, reason }], input, place, cause);
  }
  // The common case: a line that parses to a canonical event, in which
  // JSON.parse hid nothing (no key given twice, no escape, no odd number),
  // is that event. A lone surrogate can only hide in an escape, or in a
  // string that no UTF-8 source could have produced.
  if (plainKeys === undefined) {
    if (isPlainText(input, canonicalKeys(value)) && input.isWellFormed()) return canonicalOf(value);
  } else if (plainKeys >= 0 && canonicalKeys(value) === plainKeys) {
    return canonicalOf(value);
  }
  const event = readEvent(value);
  if (isIssue(event)) {
    // What serde stops at while it parses (nesting, a field given twice)
    // comes before what it finds when it checks types.
    const issue = isPlainJson(input, value) ? undefined : strictJsonIssue(input, value);
    throw syntaxError(issue ? [issue] : schemaIssues(value, event), input, place);
  }
  const line = encodeEvent(event);
  if (typeof line !== "string") throw syntaxError([line], input, place);
  if (line === input || isPlainJson(input, value)) return event;
  const issue = strictJsonIssue(input, value);
  if (issue) throw syntaxError([issue], input, place);
  return event;
}

/** Every problem valibot finds, worded for people; `first` (from the table walk) when it reads no further. */
export function schemaIssues(value: unknown, first: CallEventIssue): readonly CallEventIssue[] {
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

/** The error for `issues` (the first names it) found in `input`. */
export function syntaxError(
  issues: readonly { path: string | undefined; reason: string }[],
  input: unknown,
  place: LinePlace,
  cause?: unknown,
): CallEventSyntaxError {
  const first = issues[0]!;
  return new CallEventSyntaxError({
    path: first.path,
    reason: first.reason,
    issues: first.path === undefined ? [] : issues as readonly CallEventIssue[],
    line: place.line,
    offset: place.offset,
    excerpt: excerptOf(typeof input === "string" ? input : show(input)),
  }, cause === undefined ? undefined : { cause });
}
