// A small glob for the command line, so that a quoted pattern works the same
// in every shell (and on Windows, where no shell expands it): `*` and `?`
// within one path segment, `**` for any depth of folders. Listing goes
// through the runtime driver.
import { IoError } from "../runtime/io_error.ts";
import type { RuntimeDriver } from "../runtime/runtime_driver.ts";

/** Folders `**` descends at most (a symbolic link may loop). */
const MAX_DEPTH = 32;
/** Paths one pattern may name at most. */
const MAX_MATCHES = 100_000;

/** Whether `text` is a pattern rather than a path: it has a `*` or a `?`. */
export function isGlob(text: string): boolean {
  return /[*?]/.test(text);
}

/**
 * One path segment's pattern as a regular expression: `*` any run of
 * characters, `?` one; a leading dot is matched only by a pattern that
 * starts with one (as shells do).
 */
export function segmentPattern(segment: string): RegExp {
  let source = "";
  for (const c of segment) {
    if (c === "*") source += "[^/]*";
    else if (c === "?") source += "[^/]";
    else source += c.replace(/[\\^$.|+()[\]{}]/g, "\\$&");
  }
  const hidden = segment.startsWith(".") ? "" : "(?!\\.)";
  return new RegExp(`^${hidden}${source}$`, "su");
}

/**
 * The files (not folders) a pattern names, sorted. `**` as a whole segment
 * matches zero or more folders.
 *
 * @throws {IoError} When the fixed folder the pattern starts from cannot be listed.
 */
export async function expandGlob(driver: RuntimeDriver, pattern: string): Promise<string[]> {
  const absolute = pattern.startsWith("/");
  const segments = pattern.split("/").filter((s, i) => s !== "" || i === 0);
  if (absolute) segments.shift();
  if (segments.at(-1) === "**") segments.push("*"); // `dir/**`: every file below
  // The fixed folder before the first segment with a wildcard.
  let fixed = 0;
  while (fixed < segments.length - 1 && !isGlob(segments[fixed]!)) fixed++;
  const base = (absolute ? "/" : "") + segments.slice(0, fixed).join("/");
  const found = new Set<string>();
  await walk(driver, base, segments.slice(fixed), 0, found, new Set());
  return [...found].sort();
}

async function walk(
  driver: RuntimeDriver,
  dir: string,
  rest: readonly string[],
  depth: number,
  found: Set<string>,
  /** Folders `**` went into (by identity), each once: links may make a folder reachable many ways. */
  visited: Set<string>,
): Promise<void> {
  if (found.size >= MAX_MATCHES) return;
  const [segment, ...after] = rest;
  if (segment === undefined) return;
  const join = (name: string): string => dir === "" ? name : dir.endsWith("/") ? dir + name : `${dir}/${name}`;
  if (segment === "**") {
    // Zero folders, then each folder below (not hidden), one level at a time.
    const identity = (await driver.stat(dir === "" ? "." : dir).catch(() => undefined))?.identity;
    if (identity !== undefined) {
      const key = `${rest.length} ${identity}`; // the same folder for the same rest of the pattern
      if (visited.has(key)) return;
      visited.add(key);
    }
    await walk(driver, dir, after, depth, found, visited);
    if (depth >= MAX_DEPTH) return;
    for (const name of await list(driver, dir, depth)) {
      if (name.startsWith(".") || (await kind(driver, join(name))) !== "directory") continue;
      await walk(driver, join(name), rest, depth + 1, found, visited);
    }
    return;
  }
  const names = isGlob(segment) ? (await list(driver, dir, depth)).filter((n) => segmentPattern(segment).test(n)) : [
    segment,
  ];
  for (const name of names) {
    const path = join(name);
    const what = await kind(driver, path);
    if (after.length === 0) {
      // A name that cannot be looked at (a link loop, no permission) is kept: opening it says why it cannot be read.
      if (what === "file" || what === "unknown") found.add(path);
    } else if (what === "directory") await walk(driver, path, after, depth + 1, found, visited);
  }
}

/** A folder's names; a folder below the pattern's fixed start that cannot be listed is skipped. */
async function list(driver: RuntimeDriver, dir: string, depth: number): Promise<string[]> {
  const listing = driver.readDir(dir === "" ? "." : dir);
  return depth === 0 ? await listing : await listing.catch(() => []);
}

/** What `path` is: `undefined` when there is nothing (a missing file, a dangling link), `"unknown"` when stat failed otherwise. */
async function kind(driver: RuntimeDriver, path: string): Promise<"directory" | "file" | "unknown" | undefined> {
  try {
    return (await driver.stat(path)).kind === "directory" ? "directory" : "file";
  } catch (error) {
    return error instanceof IoError && error.code === "not_found" ? undefined : "unknown";
  }
}
