// Runs a TypeScript script in a child process of the current runtime (Deno,
// Bun or Node), bundled with esbuild first so that Node can run it too.
import { build } from "esbuild";
import { spawn } from "node:child_process";
import { mkdtempSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import process from "node:process";

export interface ScriptResult {
  code: number | null;
  stdout: string;
  stderr: string;
}

/** Bundles `entry` (a path from the repo root); returns the command that runs it with the current runtime. */
export async function scriptCommand(entry: string): Promise<[string, ...string[]]> {
  const outfile = join(mkdtempSync(join(tmpdir(), "atd-script-")), "script.mjs");
  await build({
    entryPoints: [join(process.cwd(), entry)],
    outfile,
    bundle: true,
    platform: "node",
    format: "esm",
    target: "node20",
    logLevel: "error",
  });
  return [process.execPath, ...("Deno" in globalThis ? ["run", "-A", outfile] : [outfile])];
}

/** Bundles `entry` (a path from the repo root) and runs it with `args`. */
export async function runScript(entry: string, args: string[] = []): Promise<ScriptResult> {
  const [command, ...rest] = await scriptCommand(entry);
  const child = spawn(command, [...rest, ...args], { stdio: ["ignore", "pipe", "pipe"] });
  let stdout = "";
  let stderr = "";
  child.stdout.on("data", (d) => (stdout += d));
  child.stderr.on("data", (d) => (stderr += d));
  const code = await new Promise<number | null>((resolve) => child.on("close", resolve));
  return { code, stdout, stderr };
}
