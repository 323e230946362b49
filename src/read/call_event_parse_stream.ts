import type { CallEvent } from "../event/call_event.ts";
import { isCheckpointLine } from "../seal/_checkpoint.ts";
import { readOptions } from "./_read_options.ts";
import { lineToEvent } from "./_line_to_event.ts";
import type { InvalidLineError } from "./invalid_line_error.ts";
import type { JsonLine } from "./json_lines_split_stream.ts";

/** Options for {@linkcode CallEventParseStream}. */
export interface CallEventParseStreamOptions {
  /**
   * Told about each line that is not a valid event (not called in `strict`
   * mode). If it throws, the stream errors with what it threw.
   * @default {undefined (invalid lines are skipped, and counted in `invalidLines`)}
   */
  readonly onInvalid?: (error: InvalidLineError) => void;
  /** Error the stream with the first invalid line instead of skipping it. @default {false} */
  readonly strict?: boolean;
  /**
   * The `maxLineBytes` the lines were split with, for the message of a
   * `"too_long"` line.
   * @default {1048576}
   */
  readonly maxLineBytes?: number;
}

/**
 * Parses the lines of a {@linkcode JsonLinesSplitStream} into `CallEvent`s
 * with `parseCallEvent`: schema 1, 2 and 3 lines are accepted and upgraded;
 * checkpoint lines of a trail sealed in band are skipped (`checkpointLines`;
 * a line that only starts like one is invalid).
 * Each line that is not an event becomes an {@linkcode InvalidLineError}
 * (kind `"invalid"`, `"too_long"` or `"torn"`) given to `onInvalid`; with
 * `strict: true` the first one errors the stream.
 *
 * A last line without a newline that holds a whole valid event is accepted;
 * one that is not JSON is reported as `"torn"`.
 *
 * @example
 * ```ts
 * import { CallEventParseStream, JsonLinesSplitStream } from "@atd/audit";
 * import assert from "node:assert/strict";
 * const line = '{"ts":"2026-05-29T00:00:00+00:00","call_id":"c1","tool_id":"t","granted_capabilities":[],' +
 *   '"duration_ms":5,"outcome":{"kind":"success"},"tier":"warm","dry_run":false,"schema_version":1}\n';
 * const parse = new CallEventParseStream();
 * const reader = new Blob([line, "oops\n"]).stream()
 *   .pipeThrough(new JsonLinesSplitStream())
 *   .pipeThrough(parse)
 *   .getReader();
 * const first = await reader.read();
 * assert.deepEqual(first.value?.secrets_resolved, false);
 * assert.deepEqual((await reader.read()).done, true);
 * assert.deepEqual(parse.invalidLines, 1);
 * ```
 */
export class CallEventParseStream extends TransformStream<JsonLine, CallEvent> {
  readonly #counts: { invalid: number; checkpoints: number };

  /**
   * Creates a parsing stream.
   *
   * @param options Where invalid lines go, and whether they stop the stream.
   * @throws {TypeError} When an option has the wrong type.
   * @throws {RangeError} When `maxLineBytes` is not a positive integer.
   */
  constructor(options: CallEventParseStreamOptions = {}) {
    const { maxLineBytes: max, strict, onInvalid } = readOptions(options, "parse call events");
    const counts = { invalid: 0, checkpoints: 0 };
    super({
      transform(line, controller) {
        if (line.kind !== "invalid_utf8" && isCheckpointLine(line.text, line.kind === "line")) {
          counts.checkpoints++;
          return;
        }
        const result = lineToEvent(line, max);
        if (!(result instanceof Error)) {
          controller.enqueue(result);
          return;
        }
        counts.invalid++;
        if (strict) throw result;
        onInvalid?.(result);
      },
    });
    this.#counts = counts;
  }

  /** Lines rejected so far. */
  get invalidLines(): number {
    return this.#counts.invalid;
  }

  /** Checkpoint lines of a trail sealed in band, skipped so far. */
  get checkpointLines(): number {
    return this.#counts.checkpoints;
  }
}
