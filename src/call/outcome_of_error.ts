import type { Outcome } from "../event/call_event.ts";
import { ToolCallError } from "./tool_call_error.ts";
import { read } from "./_read.ts";

/** The `execution_failed.code` of a thrown value that has no usable `code` or `name`. */
export const UNKNOWN_ERROR_CODE = "UNKNOWN_ERROR";

/**
 * The outcome a thrown value stands for: a {@linkcode ToolCallError}'s own
 * outcome, else `execution_failed` with `retryable: false` and a code taken
 * from the error's `code` (a non-empty string, or a finite number written in
 * decimal), else its `name`, else {@linkcode UNKNOWN_ERROR_CODE}.
 *
 * Reads at most `code` and `name`, each once, and never calls a method of
 * the error (no `toString`, no coercion): a getter that throws, a proxy or a
 * thrown primitive all give an outcome. Never throws. The code is not capped
 * here: `auditCall` and the MCP adapter cap it when they build the event.
 *
 * @param error Anything thrown.
 * @returns The outcome to record.
 *
 * @example
 * ```ts
 * import { outcomeOfError } from "@atd/audit";
 * import assert from "node:assert/strict";
 * const error = Object.assign(new Error("no such file"), { code: "ENOENT" });
 * assert.deepEqual(outcomeOfError(error), { kind: "execution_failed", code: "ENOENT", retryable: false });
 * assert.deepEqual(outcomeOfError(new TypeError("x")), { kind: "execution_failed", code: "TypeError", retryable: false });
 * ```
 */
export function outcomeOfError(error: unknown): Outcome {
  const typed = ToolCallError.outcomeOf(error);
  if (typed !== undefined) return typed;
  return { kind: "execution_failed", code: codeOf(error), retryable: false };
}

function codeOf(error: unknown): string {
  if ((typeof error !== "object" && typeof error !== "function") || error === null) return UNKNOWN_ERROR_CODE;
  const code = read(error, "code");
  if (typeof code === "string" && code !== "") return code;
  if (typeof code === "number" && Number.isFinite(code)) return String(code);
  const name = read(error, "name");
  if (typeof name === "string" && name !== "") return name;
  return UNKNOWN_ERROR_CODE;
}
