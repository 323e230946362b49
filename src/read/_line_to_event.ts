// Turns one split line into an event or the error that reports it.
import type { CallEvent } from "../event/call_event.ts";
import { CallEventSyntaxError } from "../event/errors.ts";
import { excerptOf } from "../event/_excerpt.ts";
import { parseText } from "../event/_parse_text.ts";
import { InvalidLineError } from "./invalid_line_error.ts";
import type { JsonLine } from "./json_lines_split_stream.ts";

/**
 * The event on `line`, or an InvalidLineError saying why there is none.
 * `plainKeys` is plainKeysOfBytes on the line's bytes, when the splitter ran
 * it. Never throws: whatever goes wrong with one line is that line's report.
 */
export function lineToEvent(line: JsonLine, maxLineBytes: number, plainKeys?: number): CallEvent | InvalidLineError {
  try {
    return convert(line, maxLineBytes, plainKeys);
  } catch (error) {
    return new InvalidLineError("invalid", {
      ...where(line),
      path: undefined,
      reason: `could not be read (${error instanceof Error ? error.name : "an unexpected error"})`,
    }, { cause: error });
  }
}

function convert(line: JsonLine, maxLineBytes: number, plainKeys: number | undefined): CallEvent | InvalidLineError {
  if (line.kind === "line" || line.kind === "torn") {
    try {
      return parseText(line.text, plainKeys);
    } catch (error) {
      if (!(error instanceof CallEventSyntaxError)) throw error;
      // A last line without newline that is not even JSON was cut short by its writer.
      if (error.path === undefined && line.kind === "torn") {
        return new InvalidLineError("torn", {
          ...where(line),
          path: undefined,
          reason: "torn last line: the source ends mid-line, without a newline",
        }, { cause: error.cause });
      }
      return new InvalidLineError("invalid", {
        ...where(line),
        path: error.path,
        reason: error.reason,
        issues: error.issues,
      }, { cause: error });
    }
  }
  if (line.kind === "too_long") {
    return new InvalidLineError("too_long", {
      ...where(line),
      path: undefined,
      reason: `longer than the ${maxLineBytes}-byte limit (${line.bytes} bytes), skipped`,
    });
  }
  return new InvalidLineError("invalid", { ...where(line), path: undefined, reason: "not valid UTF-8" });
}

function where(line: JsonLine): { line: number; offset: number; excerpt: string } {
  return { line: line.line, offset: line.offset, excerpt: excerptOf(line.text) };
}
