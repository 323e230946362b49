// The TypeScript files of a folder, for tests that read the package's own
// sources (the runtime boundary, what the package imports).
import { readdirSync } from "node:fs";
import { join } from "node:path";

/** Every `.ts` file under `dir`, leaving out the folders named in `skip`. */
export function sourceFiles(dir: string, skip: readonly string[] = []): string[] {
  return readdirSync(dir, { withFileTypes: true }).flatMap((entry) => {
    const path = join(dir, entry.name);
    if (entry.isDirectory()) return skip.includes(entry.name) ? [] : sourceFiles(path, skip);
    return entry.name.endsWith(".ts") ? [path] : [];
  });
}
