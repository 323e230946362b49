import type { CallEvent } from "./call_event.ts";
import { InvalidCallEventError } from "./errors.ts";
import { encodeEvent } from "./_encode.ts";

/**
 * Serializes an event to its JSON line (without the newline), byte for byte
 * what the reference's serde writes: fields in struct order, `caller_id`,
 * `cursor_page` and `capability_provenance` left out when absent or `null`,
 * `outcome` tagged by `kind`, `retry_after_ms` always written.
 *
 * Built for the hot path: it reads each field exactly once, checks that value
 * and writes it, so an event from untyped code (getters, proxies) is either
 * written exactly as checked, as one line, or rejected.
 *
 * @param event The event to write.
 * @returns The JSON text of the line.
 * @throws {InvalidCallEventError} When a field has the wrong type or range,
 *   a string holds a lone surrogate (which no UTF-8 line can carry), or
 *   reading a field threw (a getter or Proxy trap); `path` names the field.
 *
 * @example
 * ```ts
 * import { createCallEvent, encodeCallEvent } from "@atd/audit";
 * import assert from "node:assert/strict";
 * const event = createCallEvent({
 *   ts: "2026-05-29T00:00:00+00:00", call_id: "c1", tool_id: "t", duration_ms: 5,
 *   outcome: { kind: "rate_limited", retry_after_ms: null }, tier: "warm",
 * });
 * assert.deepEqual(
 *   encodeCallEvent(event),
 *   '{"ts":"2026-05-29T00:00:00+00:00","call_id":"c1","tool_id":"t","granted_capabilities":[],' +
 *     '"duration_ms":5,"outcome":{"kind":"rate_limited","retry_after_ms":null},"tier":"warm",' +
 *     '"dry_run":false,"schema_version":3,"secrets_resolved":false}',
 * );
 * ```
 */
export function encodeCallEvent(event: CallEvent): string {
  const line = encodeEvent(event);
  if (typeof line !== "string") throw new InvalidCallEventError([line]);
  return line;
}
