// Child processes for the tests: a TypeScript script run by the current
// runtime (Deno, Bun or Node; bundled with esbuild first so that Node can run
// it too), or any command; and the special files made with commands (FIFOs,
// a small tmpfs). Every wait is bounded.
import { build } from "esbuild";
import { type ChildProcess, execFileSync, spawn } from "node:child_process";
import { mkdtempSync, rmdirSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import process from "node:process";
import { tempDir } from "./temp_dir.ts";

export interface ScriptResult {
  code: number | null;
  signal: NodeJS.Signals | null;
  stdout: string;
  stderr: string;
}

/** How long a child may take by default before a test gives up on it. */
export const CHILD_TIMEOUT_MS = 20_000;

/** A running child process, its output gathered as text. */
export class Child {
  readonly process: ChildProcess;
  stdout = "";
  stderr = "";
  readonly #exit: Promise<{ code: number | null; signal: NodeJS.Signals | null }>;

  constructor(command: string, args: readonly string[], options: { cwd?: string; stdin?: "pipe" | "ignore" } = {}) {
    this.process = spawn(command, args, {
      cwd: options.cwd,
      stdio: [options.stdin ?? "pipe", "pipe", "pipe"],
      env: { ...process.env, NO_COLOR: "1" },
    });
    this.process.stdout!.setEncoding("utf8").on("data", (chunk: string) => (this.stdout += chunk));
    this.process.stderr!.setEncoding("utf8").on("data", (chunk: string) => (this.stderr += chunk));
    this.#exit = new Promise((resolve, reject) => {
      this.process.on("error", reject);
      this.process.on("close", (code, signal) => resolve({ code, signal }));
    });
  }

  /** Lines of stdout so far (complete ones only). */
  get lines(): string[] {
    return this.stdout.split("\n").slice(0, -1);
  }

  /** Resolves once `ready(this)` holds, checking every 20 ms; rejects after `timeoutMs`, saying what it saw. */
  async waitFor(what: string, ready: (child: Child) => boolean, timeoutMs = CHILD_TIMEOUT_MS): Promise<void> {
    const deadline = Date.now() + timeoutMs;
    while (!ready(this)) {
      if (Date.now() > deadline) {
        throw new Error(
          `timed out waiting for ${what}; stdout: ${JSON.stringify(this.stdout.slice(-2000))}, ` +
            `stderr: ${JSON.stringify(this.stderr.slice(-2000))}`,
        );
      }
      await new Promise((resolve) => setTimeout(resolve, 20));
    }
  }

  /** How the child ended; after `timeoutMs` it is killed (SIGKILL) and this rejects. */
  async exited(timeoutMs = CHILD_TIMEOUT_MS): Promise<{ code: number | null; signal: NodeJS.Signals | null }> {
    let timer: ReturnType<typeof setTimeout> | undefined;
    const timeout = new Promise<never>((_, reject) => {
      timer = setTimeout(() => {
        this.process.kill("SIGKILL");
        reject(new Error(`child did not exit within ${timeoutMs} ms; stderr: ${JSON.stringify(this.stderr)}`));
      }, timeoutMs);
    });
    try {
      return await Promise.race([this.#exit, timeout]);
    } finally {
      clearTimeout(timer);
    }
  }

  /** Its result once it has exited (see `exited`). */
  async result(timeoutMs = CHILD_TIMEOUT_MS): Promise<ScriptResult> {
    const { code, signal } = await this.exited(timeoutMs);
    return { code, signal, stdout: this.stdout, stderr: this.stderr };
  }
}

/**
 * Bundles `entry` (a path from the repo root), once per test process; returns
 * the command that runs it with the current runtime.
 */
export function scriptCommand(entry: string): Promise<[string, ...string[]]> {
  let command = bundles.get(entry);
  if (command === undefined) bundles.set(entry, command = bundle(entry, bundles.size));
  return command;
}

const bundles = new Map<string, Promise<[string, ...string[]]>>();
/** Where this process's bundles go: one folder, removed when the process ends. */
let bundleDir: string | undefined;

async function bundle(entry: string, index: number): Promise<[string, ...string[]]> {
  bundleDir ??= tempDir("script");
  const outfile = join(bundleDir, `script-${index}.mjs`);
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

/** Bundles `entry` (a path from the repo root) and starts it with `args` under the current runtime. */
export async function startScript(
  entry: string,
  args: string[] = [],
  options: { stdin?: "pipe" | "ignore" } = {},
): Promise<Child> {
  const [command, ...rest] = await scriptCommand(entry);
  return new Child(command, [...rest, ...args], { stdin: options.stdin ?? "ignore" });
}

/** Bundles `entry` (a path from the repo root), runs it with `args` and waits (bounded) for it to end. */
export async function runScript(
  entry: string,
  args: string[] = [],
  timeoutMs = CHILD_TIMEOUT_MS,
): Promise<ScriptResult> {
  return await (await startScript(entry, args)).result(timeoutMs);
}

/** The part of a node:test context the helpers below use. */
interface TestContext {
  readonly name: string;
  skip(message?: string): void;
}

/** Skips the rest of the test, saying why on stderr too (Deno counts a skip from inside a test as a pass). */
export function skipLoudly(t: TestContext, reason: string): void {
  console.warn(`SKIPPED "${t.name}": ${reason}`);
  t.skip(reason);
}

/** Makes a FIFO at `path`; `false` (the test skipped, loudly) where `mkfifo` is missing. */
export function mkfifo(t: TestContext, path: string): boolean {
  try {
    execFileSync("mkfifo", [path], { stdio: "pipe" });
    return true;
  } catch (error) {
    skipLoudly(t, `cannot make a FIFO: ${String(error).split("\n")[0]}`);
    return false;
  }
}

/** A mounted tmpfs (`mount -o <options>`), removed by `unmount()`. */
export interface Tmpfs {
  readonly path: string;
  unmount(): void;
}

/**
 * Mounts a small tmpfs (as root, as CI runs); `undefined` (the test skipped,
 * loudly, saying why) when not root or when mounting fails.
 */
export function mountTmpfs(t: TestContext, options: string): Tmpfs | undefined {
  if (process.getuid?.() !== 0) {
    skipLoudly(t, "mounting a tmpfs (a real full or read-only file system) needs root; CI runs as root");
    return undefined;
  }
  const path = mkdtempSync(join(tmpdir(), "atd-tmpfs-"));
  try {
    execFileSync("mount", ["-t", "tmpfs", "-o", options, "tmpfs", path], { stdio: "pipe" });
  } catch (error) {
    rmdirSync(path);
    skipLoudly(t, `cannot mount a tmpfs: ${String(error).split("\n")[0]}`);
    return undefined;
  }
  return {
    path,
    unmount(): void {
      execFileSync("umount", ["-l", path], { stdio: "pipe" });
      rmdirSync(path);
    },
  };
}
