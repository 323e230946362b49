// The file destination's path: its checks, how a wrong value is described, and
// whether the path still names the file that is open.
import { runtime } from "../runtime/runtime.ts";
import type { FileHandle } from "../runtime/runtime_driver.ts";

/** The path as given, when it is a non-empty string without NUL or a local `file:` URL. */
export function checkPath(path: unknown): string | URL {
  if (typeof path === "string") {
    if (path === "") throw new TypeError("Cannot open audit file: the path is empty");
    if (path.includes("\0")) {
      throw new TypeError(`Cannot open audit file ${JSON.stringify(path)}: the path holds a NUL`);
    }
    return path;
  }
  if (path instanceof URL) {
    if (path.protocol !== "file:") {
      throw new TypeError(`Cannot open audit file: expected a file: URL, got a ${path.protocol} URL`);
    }
    if (path.hostname !== "" && path.hostname !== "localhost") {
      throw new TypeError("Cannot open audit file: a file: URL names a local file, without a host");
    }
    return path;
  }
  throw new TypeError(
    `Cannot open audit file: expected a path (a non-empty string or a file: URL), got ${describe(path)}`,
  );
}

/** A value, described without running its code. */
export function describe(value: unknown): string {
  if (value === null) return "null";
  if (typeof value === "string") return JSON.stringify(value.slice(0, 40));
  if (typeof value === "object") return Array.isArray(value) ? "an array" : "an object";
  return typeof value === "undefined" ? "undefined" : `${typeof value} ${String(value)}`;
}

/** Whether `path` no longer names the open file (moved away, removed, replaced). */
export async function moved(handle: FileHandle, path: string | URL): Promise<boolean> {
  const open = (await handle.stat()).identity;
  try {
    const now = (await runtime().stat(path)).identity;
    return open === undefined || now !== open;
  } catch {
    return true;
  }
}
