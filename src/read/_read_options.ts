// The options readCallEvents and CallEventParseStream share, checked once at
// construction so that a wrong one fails there, not at the first bad line.
import type { InvalidLineError } from "./invalid_line_error.ts";
import { checkMaxLineBytes } from "./_line_splitter.ts";

/** The checked options. */
export interface ReadOptions {
  readonly onInvalid: ((error: InvalidLineError) => void) | undefined;
  readonly strict: boolean;
  readonly maxLineBytes: number;
}

/** `options` checked: a TypeError or RangeError names the first wrong one. */
export function readOptions(options: unknown, what: string): ReadOptions {
  if (options === undefined) return { onInvalid: undefined, strict: false, maxLineBytes: checkMaxLineBytes(undefined) };
  if (typeof options !== "object" || options === null) {
    throw new TypeError(`Cannot ${what}: options must be an object, got ${options === null ? "null" : typeof options}`);
  }
  const { onInvalid, strict, maxLineBytes } = options as Record<string, unknown>;
  if (onInvalid !== undefined && typeof onInvalid !== "function") {
    throw new TypeError(`Cannot ${what}: onInvalid must be a function, got ${describe(onInvalid)}`);
  }
  if (strict !== undefined && typeof strict !== "boolean") {
    throw new TypeError(`Cannot ${what}: strict must be a boolean, got ${describe(strict)}`);
  }
  if (maxLineBytes !== undefined && typeof maxLineBytes !== "number") {
    throw new TypeError(`Cannot ${what}: maxLineBytes must be a number, got ${describe(maxLineBytes)}`);
  }
  return {
    onInvalid: onInvalid as ReadOptions["onInvalid"],
    strict: strict ?? false,
    maxLineBytes: checkMaxLineBytes(maxLineBytes),
  };
}

function describe(value: unknown): string {
  if (value === null) return "null";
  if (Array.isArray(value)) return "an array";
  if (typeof value === "string") return "a string";
  return typeof value === "object" ? "an object" : typeof value === "number" ? String(value) : typeof value;
}
