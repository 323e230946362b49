// Rebuilds a validated event with its keys in the reference's wire order and
// its optional fields absent (never undefined or null), so that
// JSON.stringify(event) === encodeCallEvent(event) for any value we hand out.
import type { CallEvent, CapProvenance, Outcome, ProvSource } from "./call_event.ts";

/** The loosely typed output of the valibot schema. */
export interface ValidatedEvent {
  ts: string;
  call_id: string;
  tool_id: string;
  caller_id?: string | null | undefined;
  granted_capabilities: string[];
  duration_ms: number;
  outcome: Outcome;
  tier: string;
  dry_run: boolean;
  schema_version: number;
  secrets_resolved?: boolean | undefined;
  cursor_page?: number | null | undefined;
  capability_provenance?: CapProvenance[] | null | undefined;
}

export function canonicalEvent(e: ValidatedEvent): CallEvent {
  const out: Record<string, unknown> = {
    ts: e.ts,
    call_id: e.call_id,
    tool_id: e.tool_id,
  };
  if (e.caller_id != null) out.caller_id = e.caller_id;
  out.granted_capabilities = e.granted_capabilities;
  out.duration_ms = e.duration_ms;
  out.outcome = canonicalOutcome(e.outcome);
  out.tier = e.tier;
  out.dry_run = e.dry_run;
  out.schema_version = e.schema_version;
  out.secrets_resolved = e.secrets_resolved ?? false;
  if (e.cursor_page != null) out.cursor_page = e.cursor_page;
  if (e.capability_provenance != null) {
    out.capability_provenance = e.capability_provenance.map((p) => ({
      cap: p.cap,
      source: canonicalSource(p.source),
    }));
  }
  return out as unknown as CallEvent;
}

function canonicalOutcome(o: Outcome): Outcome {
  switch (o.kind) {
    case "execution_failed":
      return { kind: o.kind, code: o.code, retryable: o.retryable };
    case "invalid_args":
      return { kind: o.kind, message: o.message };
    case "capability_denied":
      return { kind: o.kind, missing: o.missing };
    case "rate_limited":
      return { kind: o.kind, retry_after_ms: o.retry_after_ms ?? null };
    default:
      return { kind: o.kind };
  }
}

function canonicalSource(s: ProvSource): ProvSource {
  return s.kind === "ucan_chain"
    ? { kind: s.kind, issuer_did: s.issuer_did, chain_depth: s.chain_depth }
    : { kind: s.kind };
}
