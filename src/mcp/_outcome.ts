// Which outcome a `tools/call` ended with, from what the adapter saw before,
// around and after its handler.
import type { Outcome } from "../event/call_event.ts";
import { outcomeOfError } from "../call/outcome_of_error.ts";
import { ToolCallError } from "../call/tool_call_error.ts";
import { copyOutcome } from "../call/_recorder.ts";
import { isObjectLike, read } from "../call/_read.ts";
import { type Call, End } from "./_call.ts";
import { NONE } from "./_sdk.ts";
import type { AuditMcpServerOptions, McpToolResult } from "./audit_mcp_server.ts";

/** `execution_failed.code` of a call the client cancelled (or whose connection closed) before it ended. */
export const CANCELLED_CODE = "CANCELLED";
/** `execution_failed.code` of a result the SDK refused (its output schema) although the handler returned. */
export const INVALID_OUTPUT_CODE = "INVALID_TOOL_OUTPUT";
/** `execution_failed.code` of an `isError` result without a `structuredContent.code` string. */
export const TOOL_ERROR_CODE = "TOOL_ERROR";

/** Where a problem with a user callback goes (the adapter's `onError`). */
export type Report = (error: unknown) => void;

const SUCCESS: Outcome = Object.freeze({ kind: "success" });
const NOT_FOUND: Outcome = Object.freeze({ kind: "tool_not_found" });
const INVALID_OUTPUT: Outcome = Object.freeze({
  kind: "execution_failed",
  code: INVALID_OUTPUT_CODE,
  retryable: false,
});

/** The outcome of `call`, which ended `how` with `value` (its result, or what was thrown). */
export function callOutcome(
  call: Call,
  how: End,
  value: unknown,
  options: AuditMcpServerOptions,
  report: Report,
): Outcome {
  if (how === End.Cancelled) return { kind: "execution_failed", code: CANCELLED_CODE, retryable: true };
  // The SDK parses the request's params against the method's schema before any handler runs, and
  // throws its ZodError at once: the arguments (or the name) were not what tools/call takes.
  if (how === End.ThrewAtOnce && isZodError(value)) {
    return { kind: "invalid_args", message: messageOf(value) };
  }
  if (how !== End.Resolved) {
    // A tool error whose reading made the SDK throw (a hostile `message` getter) is recorded as the tool's error.
    if (call.thrown !== NONE) return errorOutcome(call.thrown, call, options, report);
    // The handler returned, and the SDK refused what it returned (not a tool result, a getter that threw).
    if (call.returned !== NONE) return INVALID_OUTPUT;
    return errorOutcome(value, call, options, report);
  }
  const isError = isErrorResult(value);
  if (isError) {
    // McpServer answers each of these with an isError result; what was seen first tells them apart.
    if (call.notFound) return NOT_FOUND;
    if (call.inputError !== NONE) return { kind: "invalid_args", message: messageOf(call.inputError) };
    if (call.thrown !== NONE) return errorOutcome(call.thrown, call, options, report);
  }
  const mapResult = options.mapResult;
  if (mapResult !== undefined) {
    const mapped = userOutcome("mapResult", () => mapResult(value as McpToolResult, call.info), report);
    if (mapped !== undefined) return mapped;
  }
  if (!isError) return SUCCESS;
  if (call.returned !== NONE && !isErrorResult(call.returned)) return INVALID_OUTPUT;
  const structured = isObjectLike(value) ? read(value, "structuredContent") : undefined;
  const code = isObjectLike(structured) ? read(structured, "code") : undefined;
  return {
    kind: "execution_failed",
    code: typeof code === "string" && code !== "" ? code : TOOL_ERROR_CODE,
    retryable: false,
  };
}

function errorOutcome(error: unknown, call: Call, options: AuditMcpServerOptions, report: Report): Outcome {
  const typed = ToolCallError.outcomeOf(error);
  if (typed !== undefined) return typed;
  const mapError = options.mapError;
  if (mapError !== undefined) {
    const mapped = userOutcome("mapError", () => mapError(error, call.info), report);
    if (mapped !== undefined) return mapped;
  }
  // JSON-RPC codes a tools/call handler (or the SDK) throws: -32602 invalid params, -32601 unknown method/tool.
  const code = isObjectLike(error) ? read(error, "code") : undefined;
  if (code === -32602) {
    const message = messageOf(error);
    // The low-level Server checks a handler's result after it returns, and throws -32602 too.
    if (/Invalid (tools\/call|task creation) result/.test(message)) return INVALID_OUTPUT;
    return { kind: "invalid_args", message };
  }
  if (code === -32601) return NOT_FOUND;
  return outcomeOfError(error);
}

function userOutcome(name: string, map: () => unknown, report: Report): Outcome | undefined {
  let out: unknown;
  try {
    out = map();
  } catch (error) {
    report(new Error(`Cannot map the call's outcome: ${name} threw`, { cause: error }));
    return undefined;
  }
  if (out === undefined) return undefined;
  const outcome = copyOutcome(out);
  if (outcome === undefined) {
    report(new TypeError(`Cannot map the call's outcome: ${name} returned an invalid one`));
  }
  return outcome;
}

/** Whether `value` is a tool result with `isError: true`. */
export function isErrorResult(value: unknown): boolean {
  return isObjectLike(value) && read(value, "isError") === true;
}

function isZodError(error: unknown): boolean {
  const name = isObjectLike(error) ? read(error, "name") : undefined;
  return typeof name === "string" && name.endsWith("ZodError");
}

function messageOf(error: unknown): string {
  const message = isObjectLike(error) ? read(error, "message") : undefined;
  return typeof message === "string" ? message : "Invalid arguments";
}
