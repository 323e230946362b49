import { CallEventSyntaxError, type CallEventSyntaxErrorDetails } from "../event/errors.ts";

/**
 * Why a line was rejected:
 * - `"invalid"`: not JSON, not valid UTF-8, or JSON that does not match the schema;
 * - `"too_long"`: longer than `maxLineBytes` (skipped without being buffered);
 * - `"torn"`: the last line, cut short with no final newline.
 */
export type InvalidLineKind = "invalid" | "too_long" | "torn";

/**
 * A line that could not be read as a `CallEvent`, with where it is (`line`,
 * `offset`), what it starts with (`excerpt`), the failing field (`path`, when
 * the line is JSON), why (`reason`) and its `kind`. Passed to the `onInvalid`
 * option of {@linkcode readCallEvents} and {@linkcode CallEventParseStream},
 * and thrown by them in `strict` mode.
 *
 * @example
 * ```ts
 * import { InvalidLineError, readCallEvents } from "@atd/audit";
 * import assert from "node:assert/strict";
 * const errors: InvalidLineError[] = [];
 * for await (const _ of readCallEvents(new Blob(['{"ts":1}\n']), { onInvalid: (e) => errors.push(e) }));
 * assert.deepEqual([errors[0]!.kind, errors[0]!.line, errors[0]!.path], ["invalid", 1, "ts"]);
 * ```
 */
export class InvalidLineError extends CallEventSyntaxError {
  /** Why the line was rejected. */
  readonly kind: InvalidLineKind;

  /**
   * Creates the report of one invalid line.
   *
   * @param kind Why the line was rejected.
   * @param details Where and what (as for `CallEventSyntaxError`).
   * @param options Standard error options (`cause`).
   */
  constructor(kind: InvalidLineKind, details: CallEventSyntaxErrorDetails, options?: ErrorOptions) {
    super(details, options);
    this.name = "InvalidLineError";
    this.kind = kind;
  }
}
