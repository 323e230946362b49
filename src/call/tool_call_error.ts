import type { Outcome, OutcomeSuccess } from "../event/call_event.ts";
import { show } from "../event/_safe_read.ts";

/** Every outcome but `success`: what a {@linkcode ToolCallError} stands for. */
export type ToolFailureOutcome = Exclude<Outcome, OutcomeSuccess>;

/**
 * What a tool throws, as an outcome: `retryable` defaults to `false`,
 * `retry_after_ms` to `null` (unknown).
 */
export type ToolCallErrorOutcome =
  | { readonly kind: "execution_failed"; readonly code: string; readonly retryable?: boolean }
  | { readonly kind: "invalid_args"; readonly message: string }
  | { readonly kind: "capability_denied"; readonly missing: readonly string[] }
  | { readonly kind: "rate_limited"; readonly retry_after_ms?: number | null }
  | { readonly kind: "tool_not_found" };

/** Options for {@linkcode ToolCallError}. */
export interface ToolCallErrorOptions extends ErrorOptions {
  /** The error's message, which an MCP client sees. @default {a sentence built from the outcome} */
  readonly message?: string;
}

/**
 * An error a tool throws to say how its call failed: `auditCall` and the MCP
 * adapter record its `outcome` as is, instead of the `execution_failed` that
 * any other error becomes.
 *
 * @example Refusing a call for a missing capability
 * ```ts
 * import { auditCall, type CallEvent, ToolCallError } from "@atd/audit";
 * import assert from "node:assert/strict";
 * const events: CallEvent[] = [];
 * assert.throws(() =>
 *   auditCall({ onCall: (e) => events.push(e) }, { tool_id: "fs.write" }, () => {
 *     throw new ToolCallError({ kind: "capability_denied", missing: ["fs:write"] });
 *   })
 * );
 * assert.deepEqual(events[0]?.outcome, { kind: "capability_denied", missing: ["fs:write"] });
 * ```
 */
export class ToolCallError extends Error {
  readonly #outcome: ToolFailureOutcome;

  /**
   * Builds the error from the outcome it stands for.
   *
   * @param outcome How the call failed.
   * @param options The message (else one built from the outcome) and `cause`.
   * @throws {TypeError} When `outcome` is not one of the failure shapes.
   * @throws {RangeError} When `retry_after_ms` is not a non-negative safe integer.
   */
  constructor(outcome: ToolCallErrorOutcome, options: ToolCallErrorOptions = {}) {
    const normalized = normalize(outcome);
    super(options.message ?? describe(normalized), options);
    this.name = "ToolCallError";
    this.#outcome = normalized;
  }

  /** The outcome the call is recorded with (a frozen copy). */
  get outcome(): ToolFailureOutcome {
    return this.#outcome;
  }

  /** The outcome's `kind`. */
  get kind(): ToolFailureOutcome["kind"] {
    return this.#outcome.kind;
  }

  /**
   * The outcome of a `ToolCallError` (or subclass), without reading any
   * property of `error`: safe on proxies and objects with throwing getters.
   *
   * @param error Anything thrown.
   * @returns The outcome, or `undefined` when `error` is not a `ToolCallError`.
   *
   * @example
   * ```ts
   * import { ToolCallError } from "@atd/audit";
   * import assert from "node:assert/strict";
   * assert.equal(ToolCallError.outcomeOf(new Error("x")), undefined);
   * assert.equal(ToolCallError.outcomeOf(new ToolCallError({ kind: "tool_not_found" }))?.kind, "tool_not_found");
   * ```
   */
  static outcomeOf(error: unknown): ToolFailureOutcome | undefined {
    if ((typeof error !== "object" && typeof error !== "function") || error === null) return undefined;
    return #outcome in error ? (error as ToolCallError).#outcome : undefined;
  }
}

function normalize(outcome: ToolCallErrorOutcome): ToolFailureOutcome {
  if (typeof outcome !== "object" || outcome === null) {
    throw new TypeError(`Cannot create ToolCallError: outcome must be an object, got ${show(outcome)}`);
  }
  const kind = outcome.kind;
  switch (kind) {
    case "execution_failed": {
      const { code, retryable = false } = outcome;
      if (typeof code !== "string") throw invalid("code", "a string", code);
      if (typeof retryable !== "boolean") throw invalid("retryable", "a boolean", retryable);
      return Object.freeze({ kind, code, retryable });
    }
    case "invalid_args": {
      const { message } = outcome;
      if (typeof message !== "string") throw invalid("message", "a string", message);
      return Object.freeze({ kind, message });
    }
    case "capability_denied": {
      const { missing } = outcome;
      if (!Array.isArray(missing) || !missing.every((m) => typeof m === "string")) {
        throw invalid("missing", "an array of strings", missing);
      }
      return Object.freeze({ kind, missing: Object.freeze([...missing]) });
    }
    case "rate_limited": {
      const { retry_after_ms = null } = outcome;
      if (retry_after_ms !== null && (!Number.isSafeInteger(retry_after_ms) || retry_after_ms < 0)) {
        throw new RangeError(
          `Cannot create ToolCallError: retry_after_ms must be a non-negative safe integer or null, got ${
            show(retry_after_ms)
          }`,
        );
      }
      return Object.freeze({ kind, retry_after_ms });
    }
    case "tool_not_found":
      return Object.freeze({ kind });
    default:
      throw new TypeError(
        `Cannot create ToolCallError: outcome.kind must be a failure kind, got ${show(kind)}`,
      );
  }
}

function invalid(field: string, expected: string, got: unknown): TypeError {
  return new TypeError(`Cannot create ToolCallError: outcome.${field} must be ${expected}, got ${show(got)}`);
}

function describe(outcome: ToolFailureOutcome): string {
  switch (outcome.kind) {
    case "execution_failed":
      return `Tool execution failed: ${outcome.code}`;
    case "invalid_args":
      return `Invalid arguments: ${outcome.message}`;
    case "capability_denied":
      return `Capability denied: missing ${outcome.missing.join(", ")}`;
    case "rate_limited":
      return outcome.retry_after_ms === null
        ? "Rate limited"
        : `Rate limited: retry after ${outcome.retry_after_ms} ms`;
    case "tool_not_found":
      return "Tool not found";
  }
}
