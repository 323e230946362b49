import type { CallEvent } from "./call_event.ts";
import { encodeEvent } from "./_encode.ts";
import { isIssue, readEvent } from "./_read_event.ts";
import { parseText, schemaIssues, syntaxError } from "./_parse_text.ts";

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
  if (typeof input === "string") return parseText(input, undefined, options);
  const event = readEvent(input);
  if (isIssue(event)) throw syntaxError(schemaIssues(input, event), input, options);
  const line = encodeEvent(event); // a lone surrogate
  if (typeof line !== "string") throw syntaxError([line], input, options);
  return event;
}
