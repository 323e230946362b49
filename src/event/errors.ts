/** Where and why an event failed validation. */
export interface CallEventIssue {
  /** Field path such as `outcome.kind` or `granted_capabilities[1]`; `""` for the event itself. */
  readonly path: string;
  /** What was expected, such as `to be a string, got 5` (read after `expected "path"`). */
  readonly reason: string;
}

/**
 * An event object has the wrong shape: thrown by {@linkcode createCallEvent}
 * and passed to a sink's `onError` for events it cannot write.
 *
 * @example Inspecting the failing field
 * ```ts
 * import { createCallEvent, InvalidCallEventError } from "@atd/audit";
 * import assert from "node:assert/strict";
 * assert.throws(
 *   () => createCallEvent({ call_id: "c1", tool_id: 7 as unknown as string, duration_ms: 1, outcome: { kind: "success" }, tier: "warm" }),
 *   (error) => error instanceof InvalidCallEventError && error.path === "tool_id",
 * );
 * ```
 */
export class InvalidCallEventError extends TypeError {
  /** Path of the first failing field (see {@linkcode CallEventIssue.path}). */
  readonly path: string;
  /** Why that field failed. */
  readonly reason: string;
  /** Every problem found, first one first. */
  readonly issues: readonly CallEventIssue[];

  /**
   * Builds the error from the problems found.
   *
   * @param issues The problems found; the first one names the error.
   * @param options Standard error options (`cause`).
   */
  constructor(issues: readonly CallEventIssue[], options?: ErrorOptions) {
    const first = issues[0] ?? { path: "", reason: "to be valid" };
    super(`Invalid call event: ${describe(first)}`, options);
    this.name = "InvalidCallEventError";
    this.path = first.path;
    this.reason = first.reason;
    this.issues = issues;
  }
}

/**
 * A line (or value) could not be read as a `CallEvent`: either it is not JSON,
 * or its JSON does not match the schema. Thrown by {@linkcode parseCallEvent}.
 *
 * @example Reading the line number and field
 * ```ts
 * import { CallEventSyntaxError, parseCallEvent } from "@atd/audit";
 * import assert from "node:assert/strict";
 * assert.throws(
 *   () => parseCallEvent('{"ts":1}', { line: 12 }),
 *   (error) => error instanceof CallEventSyntaxError && error.line === 12 && error.path === "ts",
 * );
 * ```
 */
export class CallEventSyntaxError extends SyntaxError {
  /** Field path of the first problem; `undefined` when the text is not JSON at all. */
  readonly path: string | undefined;
  /** Why the line was rejected. */
  readonly reason: string;
  /** Every schema problem found (empty for a JSON syntax error). */
  readonly issues: readonly CallEventIssue[];
  /** 1-based line number, when known. */
  readonly line: number | undefined;
  /** Byte offset of the line's start in its source, when known. */
  readonly offset: number | undefined;
  /**
   * The start of the offending text, at most 80 characters, followed by "…"
   * when cut; for a value that is not text, a short description of it ("an
   * object"), made without running any of its code.
   */
  readonly excerpt: string | undefined;

  /**
   * Builds the error from what failed and where.
   *
   * @param details What failed and where.
   * @param options Standard error options (`cause`).
   */
  constructor(details: CallEventSyntaxErrorDetails, options?: ErrorOptions) {
    const where = details.line === undefined ? "Cannot parse call event" : `Cannot parse line ${details.line}`;
    const what = details.path === undefined ? details.reason : describe({ path: details.path, reason: details.reason });
    super(`${where}: ${what}`, options);
    this.name = "CallEventSyntaxError";
    this.path = details.path;
    this.reason = details.reason;
    this.issues = details.issues ?? [];
    this.line = details.line;
    this.offset = details.offset;
    this.excerpt = details.excerpt;
  }
}

/** The fields of a {@linkcode CallEventSyntaxError}. */
export interface CallEventSyntaxErrorDetails {
  /** Field path, or `undefined` for text that is not JSON. */
  readonly path: string | undefined;
  /** Why the line was rejected. */
  readonly reason: string;
  /** Every schema problem found. */
  readonly issues?: readonly CallEventIssue[];
  /** 1-based line number. */
  readonly line?: number | undefined;
  /** Byte offset of the line's start. */
  readonly offset?: number | undefined;
  /** The start of the offending text. */
  readonly excerpt?: string | undefined;
}

function describe(issue: CallEventIssue): string {
  return issue.path === "" ? `expected the event ${issue.reason}` : `expected "${issue.path}" ${issue.reason}`;
}
