import * as v from "valibot";
import type { CallEvent, CapProvenance, Outcome } from "./call_event.ts";
import { SCHEMA_VERSION } from "./call_event.ts";
import { InvalidCallEventError } from "./errors.ts";
import { isIssue, readEvent } from "./_read_event.ts";
import { show, threw } from "./_safe_read.ts";
import { callEventSchema, issuesOf } from "./_schema.ts";
import { createEvent, FAILED } from "./_create_event.ts";
import { timestamp } from "./_clock.ts";

/** The fields of a new event; what is left out gets the reference's default. */
export interface CallEventFields {
  /** RFC 3339 time of the call. @default {nowRfc3339()} */
  readonly ts?: string | undefined;
  /** Unique id of the call. */
  readonly call_id: string;
  /** The tool that was called. */
  readonly tool_id: string;
  /** Who called; `null` or absent when unknown. @default {undefined} */
  readonly caller_id?: string | null | undefined;
  /** Capabilities granted to the call. @default {[]} */
  readonly granted_capabilities?: readonly string[] | undefined;
  /** Wall time of the call in whole milliseconds. */
  readonly duration_ms: number;
  /** How the call ended. */
  readonly outcome: Outcome;
  /** Execution tier, such as `"warm"`. */
  readonly tier: string;
  /** Whether the call was a dry run. @default {false} */
  readonly dry_run?: boolean | undefined;
  /** Whether secrets were resolved for the call. @default {false} */
  readonly secrets_resolved?: boolean | undefined;
  /** Page number of a paginated result. @default {undefined} */
  readonly cursor_page?: number | null | undefined;
  /** Provenance of each granted capability. @default {undefined} */
  readonly capability_provenance?: readonly CapProvenance[] | null | undefined;
}

const RFC_3339 = /^\d{4}-\d{2}-\d{2}[Tt]\d{2}:\d{2}:\d{2}(\.\d+)?([Zz]|[+-]\d{2}:\d{2})$/;
/** The last `ts` that passed RFC_3339: calls in one millisecond share their default `ts`. */
let lastValidTs: string | undefined;

/**
 * Builds a schema 3 `CallEvent` from its fields, filling defaults as the
 * reference's `CallEvent::new` does, validating every field, and putting the
 * keys in wire order whatever order they were given in.
 *
 * @param fields The event's fields, wire-named.
 * @returns A new, validated event.
 * @throws {InvalidCallEventError} When a field has the wrong type or range, or
 *   `ts` is not RFC 3339; `path` names the field.
 *
 * @example A failed call
 * ```ts
 * import { createCallEvent } from "@atd/audit";
 * import assert from "node:assert/strict";
 * const event = createCallEvent({
 *   call_id: "01J000000000000000000000TEST",
 *   tool_id: "ref:echo.say",
 *   duration_ms: 17,
 *   outcome: { kind: "execution_failed", code: "FS_NOT_FOUND", retryable: false },
 *   tier: "warm",
 * });
 * assert.deepEqual(event.schema_version, 3);
 * assert.deepEqual(event.granted_capabilities, []);
 * ```
 */
export function createCallEvent(fields: CallEventFields): CallEvent {
  if (typeof fields !== "object" || fields === null) {
    throw new InvalidCallEventError([{ path: "", reason: `to be an object, got ${show(fields)}` }]);
  }
  let copy: Record<string, unknown>;
  let ts, caps, dryRun, secrets: unknown;
  try {
    copy = { ...fields };
    ts = fields.ts ?? timestamp();
    caps = fields.granted_capabilities ?? [];
    dryRun = fields.dry_run ?? false;
    secrets = fields.secrets_resolved ?? false;
  } catch (error) {
    throw new InvalidCallEventError([{ path: "", reason: threw(error) }]);
  }
  // The spread read each field once; from here on only the copy and the defaults are read.
  let event = createEvent(copy, ts, caps, dryRun, secrets, SCHEMA_VERSION);
  if (event === FAILED) {
    const merged = {
      ...copy,
      ts,
      granted_capabilities: caps,
      dry_run: dryRun,
      secrets_resolved: secrets,
      schema_version: SCHEMA_VERSION,
    };
    // The table walk finds the same problem (or, after a getter changed its answer, none) and valibot words it.
    const walked = readEvent(merged);
    if (isIssue(walked)) {
      const result = v.safeParse(callEventSchema, merged);
      throw new InvalidCallEventError(result.success ? [walked] : issuesOf(result.issues));
    }
    event = walked;
  }
  if (event.ts !== lastValidTs) {
    if (!RFC_3339.test(event.ts)) {
      throw new InvalidCallEventError([{
        path: "ts",
        reason: `to be an RFC 3339 timestamp, got ${JSON.stringify(event.ts)}`,
      }]);
    }
    lastValidTs = event.ts;
  }
  return event;
}

/**
 * The current time in RFC 3339 with a `+00:00` offset, in the same format as
 * the reference's `now_rfc3339()` (chrono drops a zero fraction).
 *
 * @returns For example `"2026-05-29T10:04:05.123+00:00"`.
 *
 * @example
 * ```ts
 * import { nowRfc3339 } from "@atd/audit";
 * console.log(nowRfc3339());
 * ```
 */
export function nowRfc3339(): string {
  return timestamp();
}
