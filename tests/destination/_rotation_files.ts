// Reading a rotated set back in the tests: its files in the contract's order
// (closed files by <T> then <W>, the active file last), decompressed.
import { readdirSync, readFileSync } from "node:fs";
import { join } from "node:path";
import { gunzipSync } from "node:zlib";

/** The closed-file name pattern of the set `<stem><ext>`: groups T, W, .gz. */
export function closedPattern(stem: string, ext: string): RegExp {
  const esc = (s: string) => s.replace(/[.*+?^${}()|[\]\\]/g, "\\$&");
  return new RegExp(
    `^${esc(stem)}\\.(\\d{4}-\\d\\d-\\d\\dT\\d\\d-\\d\\d-\\d\\d\\.\\d{3}Z)\\.([A-Za-z0-9_-]+)${esc(ext)}(\\.gz)?$`,
  );
}

/** The data files of the set, oldest first, the active one last (if present). */
export function setFiles(dir: string, stem = "audit", ext = ".jsonl"): string[] {
  const pattern = closedPattern(stem, ext);
  const names = readdirSync(dir);
  const closed = names.map((name) => ({ name, m: pattern.exec(name) })).filter((x) => x.m !== null)
    .sort((a, b) => (a.m![1]! < b.m![1]! ? -1 : a.m![1]! > b.m![1]! ? 1 : a.m![2]! < b.m![2]! ? -1 : 1))
    .map((x) => x.name)
    // A crash between the archive's rename and the plain file's removal leaves both, holding the same lines.
    .filter((name) => !(name.endsWith(".gz") && names.includes(name.slice(0, -3))));
  return [...closed, ...(names.includes(`${stem}${ext}`) ? [`${stem}${ext}`] : [])];
}

/** A file's bytes, gunzipped when it ends with `.gz`. */
export function contents(dir: string, name: string): string {
  const bytes = readFileSync(join(dir, name));
  return (name.endsWith(".gz") ? gunzipSync(bytes) : bytes).toString("utf8");
}

/** Every line of the set, in order. */
export function setLines(dir: string, stem = "audit", ext = ".jsonl"): string[] {
  return setFiles(dir, stem, ext).flatMap((name) => contents(dir, name).split("\n").slice(0, -1));
}

/** The call ids of the lines, in order. */
export function callIds(lines: readonly string[]): string[] {
  return lines.map((line) => JSON.parse(line).call_id as string);
}
