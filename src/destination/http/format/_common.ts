// What the built-in formats share: option checks with construction errors,
// the outcome's level, and reading a bounded JSON response.

import type { FetchBodyFormat } from "./fetch_body_format.ts";

/** The built-in formats: frozen, and trusted to return items of the right shape. */
const BUILT_IN = new WeakSet<object>();

/** Freezes `format` and marks it built-in. */
export function builtIn(format: FetchBodyFormat): FetchBodyFormat {
  BUILT_IN.add(Object.freeze(format));
  return format;
}

/** Whether `format` is one of the built-in formats (frozen, so none of its functions was replaced). */
export function isBuiltIn(format: object): boolean {
  return BUILT_IN.has(format);
}

/** `head`, the items' texts with `separator` between them, then `tail`: the parts of a body. */
export function joined(head: string, items: readonly { text: string }[], separator: string, tail: string): string[] {
  const parts = [head];
  for (let i = 0; i < items.length; i++) {
    if (i > 0 && separator !== "") parts.push(separator);
    parts.push(items[i]!.text);
  }
  parts.push(tail);
  return parts;
}

/** The level of a call by its outcome: a tool that failed is an error, a refused call a warning. */
export type Level = "info" | "warn" | "error";

/** `event.outcome.kind`, if it is a string. */
export function outcomeKind(event: Readonly<Record<string, unknown>>): string | undefined {
  const outcome = event.outcome;
  if (typeof outcome !== "object" || outcome === null) return undefined;
  const kind = (outcome as Record<string, unknown>).kind;
  return typeof kind === "string" ? kind : undefined;
}

/** `success` → info; `execution_failed` → error; any other outcome (refused, rate-limited, unknown) → warn. */
export function levelOf(kind: string | undefined): Level {
  return kind === "success" ? "info" : kind === "execution_failed" ? "error" : "warn";
}

/** Checks a format's options; every error names the format. */
export class OptionReader {
  readonly #prefix: string;
  readonly #options: Record<string, unknown>;

  constructor(format: string, options: unknown) {
    this.#prefix = `Cannot create the ${format} format`;
    if (options === undefined) {
      this.#options = {};
      return;
    }
    if (typeof options !== "object" || options === null || Array.isArray(options)) {
      throw new TypeError(`${this.#prefix}: options must be an object, got ${describe(options)}`);
    }
    this.#options = options as Record<string, unknown>;
  }

  /** A string option: `undefined` when absent; `nonEmpty` refuses `""`. */
  string(name: string, nonEmpty = true): string | undefined {
    const value = this.#options[name];
    if (value === undefined) return undefined;
    if (typeof value !== "string") {
      throw new TypeError(`${this.#prefix}: ${name} must be a string, got ${describe(value)}`);
    }
    if (nonEmpty && value === "") throw new TypeError(`${this.#prefix}: ${name} must not be empty`);
    return value;
  }

  /** A positive integer option, at most `max`. */
  integer(name: string, fallback: number, max: number): number {
    const value = this.#options[name] ?? fallback;
    if (typeof value !== "number") {
      throw new TypeError(`${this.#prefix}: ${name} must be a number, got ${describe(value)}`);
    }
    if (!Number.isSafeInteger(value) || value < 1 || value > max) {
      throw new RangeError(`${this.#prefix}: ${name} must be an integer from 1 to ${max}, got ${value}`);
    }
    return value;
  }

  /** An object of string (or, with `scalars`, number and boolean) values. */
  record(name: string, scalars = false): Record<string, string | number | boolean> {
    const value = this.#options[name];
    if (value === undefined) return {};
    if (typeof value !== "object" || value === null || Array.isArray(value)) {
      throw new TypeError(`${this.#prefix}: ${name} must be an object, got ${describe(value)}`);
    }
    const out: Record<string, string | number | boolean> = {};
    for (const [key, v] of Object.entries(value)) {
      const ok = typeof v === "string" ||
        (scalars && (typeof v === "boolean" || (typeof v === "number" && isFinite(v))));
      if (!ok) {
        const want = scalars ? "a string, a finite number or a boolean" : "a string";
        throw new TypeError(`${this.#prefix}: ${name}.${key} must be ${want}, got ${describe(v)}`);
      }
      out[key] = v;
    }
    return out;
  }

  /** A list drawn from `allowed` (no repeats). */
  subset<T extends string>(name: string, allowed: readonly T[], fallback: readonly T[]): readonly T[] {
    const value = this.#options[name];
    if (value === undefined) return fallback;
    if (!Array.isArray(value)) throw new TypeError(`${this.#prefix}: ${name} must be an array, got ${describe(value)}`);
    const seen = new Set<T>();
    for (const v of value) {
      if (!allowed.includes(v as T) || seen.has(v as T)) {
        throw new TypeError(`${this.#prefix}: ${name} may hold each of ${allowed.join(", ")} once, got ${describe(v)}`);
      }
      seen.add(v as T);
    }
    return [...seen];
  }

  /** A construction error for `name`. */
  fail(name: string, what: string): TypeError {
    return new TypeError(`${this.#prefix}: ${name} ${what}`);
  }
}

function describe(value: unknown): string {
  if (value === null) return "null";
  if (Array.isArray(value)) return "an array";
  if (typeof value === "string") return JSON.stringify(value.length > 40 ? `${value.slice(0, 40)}…` : value);
  return typeof value === "number" || typeof value === "boolean" ? String(value) : typeof value;
}

/** `body` parsed as JSON, or why it cannot be (cut short, empty, not JSON). */
export function parseJsonBody(body: string, complete: boolean): { value: unknown } | { error: string } {
  if (!complete) return { error: "the response body was cut short (too long, broken off or too slow)" };
  try {
    return { value: JSON.parse(body) };
  } catch {
    return { error: "the response body is not JSON" };
  }
}

/** A non-negative integer from a JSON number or decimal string (proto3 JSON writes 64-bit integers as strings). */
export function countOf(value: unknown): number | undefined {
  if (typeof value === "number") return Number.isSafeInteger(value) && value >= 0 ? value : undefined;
  if (typeof value === "string" && /^\d{1,16}$/.test(value)) return Number(value);
  return undefined;
}
