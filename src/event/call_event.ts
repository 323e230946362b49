/**
 * The `CallEvent` wire schema, version 3, as defined by the reference
 * `audit.rs`. Keys are snake_case on the wire and in these types, so that an
 * event and its JSON line look the same.
 *
 * @module
 */
import { OUTCOME } from "./_fields.ts";

/** The schema version this module writes into new events. */
export const SCHEMA_VERSION = 3;

/** How a tool call ended, tagged by `kind` on the wire. */
export type Outcome =
  | OutcomeSuccess
  | OutcomeExecutionFailed
  | OutcomeInvalidArgs
  | OutcomeCapabilityDenied
  | OutcomeRateLimited
  | OutcomeToolNotFound;

/** Every outcome `kind`, in the reference's declaration order. */
export const OUTCOME_KINDS: readonly Outcome["kind"][] = OUTCOME.variants.map((variant) =>
  variant.tag as Outcome["kind"]
);

/** The tool ran and succeeded. */
export interface OutcomeSuccess {
  /** Tag: `"success"`. */
  readonly kind: "success";
}

/** The tool ran and failed. */
export interface OutcomeExecutionFailed {
  /** Tag: `"execution_failed"`. */
  readonly kind: "execution_failed";
  /** A machine-readable failure code, such as `"FS_NOT_FOUND"`. */
  readonly code: string;
  /** Whether the caller may retry the same call. */
  readonly retryable: boolean;
}

/** The call's arguments did not validate. */
export interface OutcomeInvalidArgs {
  /** Tag: `"invalid_args"`. */
  readonly kind: "invalid_args";
  /** What was wrong with the arguments. */
  readonly message: string;
}

/** The caller lacked capabilities the tool requires. */
export interface OutcomeCapabilityDenied {
  /** Tag: `"capability_denied"`. */
  readonly kind: "capability_denied";
  /** The capabilities that were missing. */
  readonly missing: readonly string[];
}

/** The call was refused by a rate limit. */
export interface OutcomeRateLimited {
  /** Tag: `"rate_limited"`. */
  readonly kind: "rate_limited";
  /** Milliseconds until a retry may succeed; `null` when unknown (always written). */
  readonly retry_after_ms: number | null;
}

/** No tool with the requested id exists. */
export interface OutcomeToolNotFound {
  /** Tag: `"tool_not_found"`. */
  readonly kind: "tool_not_found";
}

/** Where a granted capability came from, tagged by `kind` on the wire. */
export type ProvSource = ProvSourceStringAllowList | ProvSourceUcanChain;

/** The capability was on a plain string allow-list. */
export interface ProvSourceStringAllowList {
  /** Tag: `"string_allow_list"`. */
  readonly kind: "string_allow_list";
}

/** The capability was proven by a UCAN delegation chain. */
export interface ProvSourceUcanChain {
  /** Tag: `"ucan_chain"`. */
  readonly kind: "ucan_chain";
  /** DID of the chain's root issuer. */
  readonly issuer_did: string;
  /** Length of the delegation chain, 0 to 255. */
  readonly chain_depth: number;
}

/** One granted capability and its provenance. */
export interface CapProvenance {
  /** The capability, such as `"records:read"`. */
  readonly cap: string;
  /** Where it came from. */
  readonly source: ProvSource;
}

/**
 * One audited tool call. Field order is the wire order; optional fields are
 * absent (not `undefined`, not `null`) when unknown.
 */
export interface CallEvent {
  /** When the call happened, RFC 3339 (for example `2026-05-29T00:00:00.123+00:00`). */
  readonly ts: string;
  /** Unique id of the call (a ULID in the reference). */
  readonly call_id: string;
  /** The tool that was called, such as `"ref:echo.say"`. */
  readonly tool_id: string;
  /** Who called; absent when unknown. */
  readonly caller_id?: string;
  /** Capabilities granted to the call. */
  readonly granted_capabilities: readonly string[];
  /** Wall time of the call in whole milliseconds. */
  readonly duration_ms: number;
  /** How the call ended. */
  readonly outcome: Outcome;
  /** Execution tier, such as `"warm"`. */
  readonly tier: string;
  /** Whether the call was a dry run. */
  readonly dry_run: boolean;
  /** Schema version of the event: 3 for new events, 1 or 2 for old lines read back. */
  readonly schema_version: number;
  /** Whether secrets were resolved for the call (names never appear here). */
  readonly secrets_resolved: boolean;
  /** Page number for paginated tool results; absent when not paginated. */
  readonly cursor_page?: number;
  /** Provenance of each granted capability; absent when not tracked. */
  readonly capability_provenance?: readonly CapProvenance[];
}
