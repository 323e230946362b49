// The real `audit` command as a child process under Deno and Bun, and the
// event lines the CLI tests write.
import { join } from "node:path";
import { createCallEvent, encodeCallEvent } from "../../mod.ts";
import { Child } from "../_helpers/run_script.ts";
import { repoRoot } from "../_helpers/streams.ts";

export const root: string = repoRoot();
export const testdata: string = join(root, "tests", "testdata");

/** The command line that runs the CLI, per runtime. */
export const RUNTIMES: Record<string, string[]> = {
  deno: [join(root, "node_modules/.bin/deno"), "run", "-A", join(root, "src/cli/main.ts")],
  bun: [join(root, "node_modules/.bin/bun"), join(root, "src/cli/main.ts")],
};

/** Starts `audit ARGS` under `runtime`. */
export function startCli(runtime: string, args: readonly string[]): Child {
  const [command, ...rest] = RUNTIMES[runtime]!;
  return new Child(command!, [...rest, ...args], { cwd: root });
}

/** How a CLI run ended. */
export interface CliResult {
  readonly status: number | null;
  readonly stdout: string;
  readonly stderr: string;
}

/** Runs `audit ARGS` under `runtime` with `stdin`, and waits (bounded) for it to end. */
export async function runCli(runtime: string, args: readonly string[], stdin = ""): Promise<CliResult> {
  const child = startCli(runtime, args);
  child.process.stdin!.end(stdin);
  const { code, stdout, stderr } = await child.result();
  return { status: code, stdout, stderr };
}

/** The encoded line of event `i` (`i` seconds after 2026-05-29T10:00:00Z, callers alternating). */
export function line(i: number, tool = "fs.read", outcome: "success" | "tool_not_found" = "success"): string {
  return encodeCallEvent(createCallEvent({
    ts: new Date(Date.UTC(2026, 4, 29, 10, 0, i)).toISOString().slice(0, 19) + "+00:00",
    call_id: `call-${i}`,
    tool_id: tool,
    caller_id: i % 2 ? "agent-A" : "agent-B",
    duration_ms: i,
    outcome: { kind: outcome },
    tier: "warm",
  }));
}
