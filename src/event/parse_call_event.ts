import * as v from "valibot";
import type { CallEvent } from "./call_event.ts";
import { canonicalEvent, type ValidatedEvent } from "./_canonical.ts";
import { encodeCallEvent } from "./encode_call_event.ts";
import { type CallEventIssue, CallEventSyntaxError, type InvalidCallEventError } from "./errors.ts";
import { excerptOf } from "./_excerpt.ts";
import { isPlainJson, strictJsonIssue } from "./_strict_json.ts";
import { isCallEvent } from "./_is_call_event.ts";
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
  const text = typeof input === "string" ? input : undefined;
  let value = input;
  if (text !== undefined) {
    try {
      value = JSON.parse(text);
    } catch (cause) {
      throw syntaxError(
        [{ path: undefined, reason: `not valid JSON (${(cause as Error).message})` }],
        input,
        options,
        cause,
      );
    }
  }
  // The common case: a valid event in text with nothing JSON.parse could have hidden.
  if (text !== undefined && isCallEvent(value) && isPlainJson(text, value)) return canonicalEvent(value);
  // Text parsed here is ours alone, so a valid event may keep its arrays; a
  // value from the caller goes through the schema, which copies it.
  let event: CallEvent;
  if (text !== undefined && isCallEvent(value)) {
    event = canonicalEvent(value);
  } else {
    const result = v.safeParse(callEventSchema, value);
    if (!result.success || Array.isArray(value)) {
      const issues = Array.isArray(value)
        ? [{ path: "", reason: "to be an object, got an array" }]
        : issuesOf(result.issues ?? []);
      throw syntaxError(issues, input, options);
    }
    event = canonicalEvent(result.output as ValidatedEvent);
  }
  const issue = beyondSchema(event, text);
  if (issue) throw syntaxError([issue], input, options);
  return event;
}

/**
 * What the schema lets through but the reference's serde rejects: a lone
 * surrogate (which no UTF-8 line can carry) and, in text that does not
 * re-encode byte for byte, a duplicated field or a non-integer number token.
 */
function beyondSchema(event: CallEvent, text: string | undefined): CallEventIssue | undefined {
  let line: string;
  try {
    line = encodeCallEvent(event);
  } catch (error) {
    const { path, reason } = error as InvalidCallEventError;
    return { path, reason };
  }
  return text === undefined || line === text ? undefined : strictJsonIssue(text);
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
    excerpt: excerptOf(typeof input === "string" ? input : safeStringify(input)),
  }, cause === undefined ? undefined : { cause });
}

function safeStringify(value: unknown): string {
  try {
    return String(JSON.stringify(value));
  } catch {
    return String(value);
  }
}
