/** One property read that never throws (getters and proxy traps may). */
export function read(target: object, key: string): unknown {
  try {
    return (target as Record<string, unknown>)[key];
  } catch {
    return undefined;
  }
}

/** Whether `value` may have properties (an object or a function, not null). */
export function isObjectLike(value: unknown): value is object {
  return (typeof value === "object" && value !== null) || typeof value === "function";
}

/**
 * A value in an error message, without converting it: a Symbol cannot be, and
 * an object's `toString` may throw; a long string is cut.
 */
export function shown(value: unknown): string {
  if (typeof value === "string") return JSON.stringify(value.length > 64 ? `${value.slice(0, 64)}…` : value);
  if (typeof value === "number" || typeof value === "boolean" || typeof value === "bigint") return String(value);
  return value === null ? "null" : Array.isArray(value) ? "an array" : typeof value;
}
