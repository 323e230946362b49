// Reading a caller's object without trusting it: each read at most once,
// inside try, and a description of any value that runs none of its code
// (no String(object), no template literal on an object: toString and
// Symbol.toPrimitive are the caller's code).
import type { CallEventIssue } from "./errors.ts";

/** Returned by read() when reading threw; the reason waits in readFailure(). */
export const UNREADABLE: unique symbol = Symbol("unreadable");
let failure = "";

/** `o[key]`, or UNREADABLE when the read threw (a getter, a Proxy trap, a revoked Proxy). */
export function read(o: object, key: string | number): unknown {
  try {
    return (o as Record<string | number, unknown>)[key];
  } catch (error) {
    failure = threw(error);
    return UNREADABLE;
  }
}

/** Why the last read that returned UNREADABLE failed; take it before running any other code. */
export function readFailure(): string {
  return failure;
}

/** An issue unless `v` is a non-array object. */
export function notRecord(v: unknown): CallEventIssue | undefined {
  if (typeof v !== "object" || v === null) return { path: "", reason: `to be an object, got ${show(v)}` };
  const isArray = arrayCheck(v);
  if (isArray === false) return undefined;
  return isArray === true ? { path: "", reason: "to be an object, got an array" } : isArray;
}

/** Array.isArray, which throws on a revoked Proxy. */
export function arrayCheck(v: object): boolean | CallEventIssue {
  try {
    return Array.isArray(v);
  } catch (error) {
    return { path: "", reason: threw(error) };
  }
}

/** A one-line description of `value` that runs none of its code. */
export function show(value: unknown): string {
  switch (typeof value) {
    case "string":
      return quote(value);
    case "number":
    case "boolean":
    case "undefined":
      return "" + value;
    case "bigint":
      return `${quote("" + value).slice(1, -1)}n (a BigInt)`;
    case "symbol":
      return "a symbol";
    case "function":
      return "a function";
    default:
      if (value === null) return "null";
      try {
        return Array.isArray(value) ? "an array" : "an object";
      } catch {
        return "a revoked proxy";
      }
  }
}

/** "reading it threw …", quoting the thrown message (cut short) when it is plain data. */
export function threw(error: unknown): string {
  let message: unknown = error;
  if (typeof error === "object" && error !== null) {
    // A data property only: a getter on the thrown object would be more caller code.
    try {
      message = Object.getOwnPropertyDescriptor(error, "message")?.value;
    } catch {
      message = undefined;
    }
  }
  return typeof message === "string"
    ? `to be readable, but reading it threw ${quote(message)}`
    : "to be readable, but reading it threw";
}

// Taken at load: a getter of the value described may have replaced JSON.stringify since, and a message must stay one
// line.
const stringify = JSON.stringify;

/** `text` cut to 40 characters, as a JSON string: one line, whatever it holds. */
function quote(text: string): string {
  return stringify(text.length > 40 ? `${text.slice(0, 40)}…` : text);
}
