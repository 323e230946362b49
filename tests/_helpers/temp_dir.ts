// Temporary folders for tests: each removed when the test process ends, so
// that a run leaves nothing behind in the system's temporary folder.
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import process from "node:process";

const made = new Set<string>();
let hooked = false;

/** A fresh folder, `atd-<prefix>-…` in the system's temporary folder, removed when the process ends. */
export function tempDir(prefix: string): string {
  const dir = mkdtempSync(join(tmpdir(), `atd-${prefix}-`));
  made.add(dir);
  if (!hooked) {
    hooked = true;
    process.once("exit", removeAll);
    // Deno's test runner ends without an "exit" event, but with "unload".
    if ("Deno" in globalThis) globalThis.addEventListener("unload", removeAll);
  }
  return dir;
}

/** Runs `test` in a fresh folder (see tempDir), removed once it is done. */
export async function inTempDir<T>(prefix: string, test: (dir: string) => Promise<T> | T): Promise<T> {
  const dir = tempDir(prefix);
  try {
    return await test(dir);
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
}

function removeAll(): void {
  for (const dir of made) rmSync(dir, { recursive: true, force: true });
  made.clear();
}
