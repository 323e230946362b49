// Shared by the format tests: a format's items and body for lines, without a server.
import assert from "node:assert/strict";
import type { FetchBodyFormat, FormatItem, FormatLine, FormatVerdict } from "../../../../mod.ts";
import { readLine } from "../../../../src/destination/http/format/_line.ts";

/** `line` as a format sees it. */
export function formatLine(line: string): FormatLine {
  const parsed = readLine(new TextEncoder().encode(line));
  assert.equal(typeof parsed, "object", `not a line: ${line}`);
  return parsed as FormatLine;
}

/** The item `format` makes of `line`, or its refusal. */
export function itemOf(format: FetchBodyFormat, line: string): FormatItem | string {
  return format.item(formatLine(line));
}

/** The body `format` builds for `lines` (each must be accepted). */
export function bodyOf(format: FetchBodyFormat, lines: readonly string[]): string {
  const body = format.body(lines.map((line) => {
    const item = itemOf(format, line);
    assert.notEqual(typeof item, "string", `refused: ${String(item)}`);
    return item as FormatItem;
  }));
  return typeof body === "string" ? body : body.join("");
}

/** The verdict of `format` on a complete 200 response with `body`, for `lines`. */
export function verdictOf(
  format: FetchBodyFormat,
  body: string,
  lines: readonly string[],
  complete = true,
): FormatVerdict {
  const items = lines.map((line) => itemOf(format, line) as FormatItem);
  return format.verdict({ status: 200, contentType: "application/json", body, complete }, items);
}
