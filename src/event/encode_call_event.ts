import type { CallEvent } from "./call_event.ts";
import { InvalidCallEventError } from "./errors.ts";
import { U32_MAX, U8_MAX } from "./_limits.ts";

/**
 * Serializes an event to its JSON line (without the newline), byte for byte
 * what the reference's serde writes: fields in struct order, `caller_id`,
 * `cursor_page` and `capability_provenance` left out when absent or `null`,
 * `outcome` tagged by `kind`, `retry_after_ms` always written.
 *
 * Built for the hot path: it checks each field's type while writing, so an
 * event from untyped code is either written exactly or rejected.
 *
 * @param event The event to write.
 * @returns The JSON text of the line.
 * @throws {InvalidCallEventError} When a field has the wrong type or range,
 *   or a string holds a lone surrogate (which no UTF-8 line can carry).
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
  if (typeof event !== "object" || event === null) fail("", "to be an object", event);
  const e = event as unknown as Record<string, unknown>;
  let s = `{"ts":${str(e.ts, "ts")},"call_id":${str(e.call_id, "call_id")},"tool_id":${str(e.tool_id, "tool_id")}`;
  if (e.caller_id != null) s += `,"caller_id":${str(e.caller_id, "caller_id")}`;
  s += `,"granted_capabilities":${strs(e.granted_capabilities, "granted_capabilities")}` +
    `,"duration_ms":${int(e.duration_ms, "duration_ms", Number.MAX_SAFE_INTEGER)}` +
    `,"outcome":${outcome(e.outcome)}` +
    `,"tier":${str(e.tier, "tier")}` +
    `,"dry_run":${bool(e.dry_run, "dry_run")}` +
    `,"schema_version":${schemaVersion(e.schema_version)}` +
    `,"secrets_resolved":${bool(e.secrets_resolved, "secrets_resolved")}`;
  if (e.cursor_page != null) s += `,"cursor_page":${int(e.cursor_page, "cursor_page", U32_MAX)}`;
  if (e.capability_provenance != null) s += `,"capability_provenance":${provenance(e.capability_provenance)}`;
  return s + "}";
}

// Characters JSON must escape, and surrogates (which need a well-formedness check).
// deno-lint-ignore no-control-regex
const NEEDS_CARE = /["\\\u0000-\u001f\ud800-\udfff]/;

function str(value: unknown, path: string): string {
  if (typeof value !== "string") fail(path, "to be a string", value);
  if (!NEEDS_CARE.test(value)) return `"${value}"`;
  if (!value.isWellFormed()) fail(path, "to be well-formed text (it holds a lone surrogate)", value);
  return JSON.stringify(value);
}

function strs(value: unknown, path: string): string {
  if (!Array.isArray(value)) fail(path, "to be an array", value);
  let s = "[";
  for (let i = 0; i < value.length; i++) {
    if (i > 0) s += ",";
    s += str(value[i], `${path}[${i}]`);
  }
  return s + "]";
}

function int(value: unknown, path: string, max: number): string {
  if (typeof value !== "number" || !Number.isInteger(value) || value < 0 || value > max) {
    fail(
      path,
      typeof value === "number" && Number.isInteger(value) && value > max
        ? `to be at most ${max}`
        : "to be a non-negative integer",
      value,
    );
  }
  return String(value);
}

function bool(value: unknown, path: string): string {
  if (typeof value !== "boolean") fail(path, "to be a boolean", value);
  return value ? "true" : "false";
}

function schemaVersion(value: unknown): string {
  if (value !== 1 && value !== 2 && value !== 3) fail("schema_version", "to be 1, 2 or 3", value);
  return String(value);
}

function outcome(value: unknown): string {
  const o = record(value, "outcome");
  switch (o.kind) {
    case "success":
    case "tool_not_found":
      return `{"kind":"${o.kind}"}`;
    case "execution_failed":
      return `{"kind":"execution_failed","code":${str(o.code, "outcome.code")},"retryable":${
        bool(o.retryable, "outcome.retryable")
      }}`;
    case "invalid_args":
      return `{"kind":"invalid_args","message":${str(o.message, "outcome.message")}}`;
    case "capability_denied":
      return `{"kind":"capability_denied","missing":${strs(o.missing, "outcome.missing")}}`;
    case "rate_limited":
      return `{"kind":"rate_limited","retry_after_ms":${
        o.retry_after_ms == null ? "null" : int(o.retry_after_ms, "outcome.retry_after_ms", Number.MAX_SAFE_INTEGER)
      }}`;
    default:
      return fail("outcome.kind", "to be a known outcome kind", o.kind);
  }
}

function provenance(value: unknown): string {
  if (!Array.isArray(value)) fail("capability_provenance", "to be an array", value);
  let s = "[";
  for (let i = 0; i < value.length; i++) {
    const path = `capability_provenance[${i}]`;
    const p = record(value[i], path);
    const source = record(p.source, `${path}.source`);
    s += `${i > 0 ? "," : ""}{"cap":${str(p.cap, `${path}.cap`)},"source":`;
    if (source.kind === "string_allow_list") s += `{"kind":"string_allow_list"}}`;
    else if (source.kind === "ucan_chain") {
      s += `{"kind":"ucan_chain","issuer_did":${str(source.issuer_did, `${path}.source.issuer_did`)},"chain_depth":${
        int(source.chain_depth, `${path}.source.chain_depth`, U8_MAX)
      }}}`;
    } else fail(`${path}.source.kind`, "to be a known provenance kind", source.kind);
  }
  return s + "]";
}

function record(value: unknown, path: string): Record<string, unknown> {
  if (typeof value !== "object" || value === null || Array.isArray(value)) fail(path, "to be an object", value);
  return value as Record<string, unknown>;
}

function fail(path: string, expected: string, got: unknown): never {
  throw new InvalidCallEventError([{ path, reason: `${expected}, got ${show(got)}` }]);
}

function show(value: unknown): string {
  if (typeof value === "string") return JSON.stringify(value.length > 40 ? `${value.slice(0, 40)}…` : value);
  if (typeof value === "bigint") return `${value}n (a BigInt)`;
  if (Array.isArray(value)) return "an array";
  if (typeof value === "object" && value !== null) return "an object";
  return String(value);
}
