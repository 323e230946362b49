import * as v from "valibot";
import type { CallEvent } from "./call_event.ts";
import { canonicalEvent, type ValidatedEvent } from "./_canonical.ts";
import { encodeCallEvent } from "./encode_call_event.ts";
import { CallEventSyntaxError, excerptOf, type InvalidCallEventError } from "./errors.ts";
import { isCallEvent } from "./_is_call_event.ts";
import { callEventSchema, issuesOf } from "./_schema.ts";

/** Options for {@linkcode parseCallEvent}. */
export interface ParseCallEventOptions {
  /** 1-based line number to put in errors. */
  readonly line?: number;
  /** Byte offset of the line in its source, to put in errors. */
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
  let value = input;
  if (typeof input === "string") {
    try {
      value = JSON.parse(input);
    } catch (cause) {
      throw new CallEventSyntaxError({
        path: undefined,
        reason: `not valid JSON (${(cause as Error).message})`,
        line: options.line,
        offset: options.offset,
        excerpt: excerptOf(input),
      }, { cause });
    }
  }
  // Text parsed here is ours alone, so a valid event can keep its arrays;
  // a value from the caller goes through the schema, which copies it.
  const fresh = typeof input === "string";
  if (fresh && isCallEvent(value) && !SURROGATE_ESCAPE.test(input)) return canonicalEvent(value);
  const result = v.safeParse(callEventSchema, value);
  if (!result.success || Array.isArray(value)) {
    const issues = Array.isArray(value)
      ? [{ path: "", reason: "to be an object, got an array" }]
      : issuesOf(result.issues ?? []);
    const first = issues[0]!;
    throw new CallEventSyntaxError({
      path: first.path,
      reason: first.reason,
      issues,
      line: options.line,
      offset: options.offset,
      excerpt: excerptOf(typeof input === "string" ? input : safeStringify(input)),
    });
  }
  const event = canonicalEvent(result.output as ValidatedEvent);
  // A lone surrogate (only possible as a \\uD8xx escape in text) cannot be
  // written back as UTF-8, and the reference's serde rejects it: so do we.
  if (typeof input !== "string" || SURROGATE_ESCAPE.test(input)) {
    try {
      encodeCallEvent(event);
    } catch (error) {
      const { path, reason } = error as InvalidCallEventError;
      throw new CallEventSyntaxError({
        path,
        reason,
        issues: [{ path, reason }],
        line: options.line,
        offset: options.offset,
        excerpt: excerptOf(typeof input === "string" ? input : safeStringify(input)),
      });
    }
  }
  return event;
}

const SURROGATE_ESCAPE = /\\u[dD][89abcdefABCDEF]/;

function safeStringify(value: unknown): string {
  try {
    return String(JSON.stringify(value));
  } catch {
    return String(value);
  }
}
