// What the benchmarks that run one child process per runtime and run share
// (call_bench.ts, create_bench.ts): building, running and reading the children.
import { spawnSync } from "node:child_process";
import { join } from "node:path";

/** Median of `values`. */
export function median(values: readonly number[]): number {
  const s = [...values].sort((a, b) => a - b);
  const m = s.length >> 1;
  return s.length % 2 ? s[m]! : (s[m - 1]! + s[m]!) / 2;
}

/**
 * Runs `bench/<script> --child …childArgs` `runs` times in each of
 * `runtimes`, interleaved (the first run in every runtime, then the second…).
 * Node 20 cannot run TypeScript: it runs an esbuild bundle, as
 * tests/_run/node.mjs does. A child prints its numbers as one JSON object on
 * its last line of output.
 *
 * @returns Each runtime's results, one per run.
 * @throws {Error} When the bundle or a child fails, with the child's output.
 */
export function runChildren(
  script: string,
  runtimes: readonly string[],
  runs: number,
  childArgs: readonly string[] = [],
): Record<string, Record<string, number>[]> {
  const root = new URL("..", import.meta.url).pathname;
  const bin = (name: string): string => join(root, "node_modules/.bin", name);
  const source = join(root, "bench", script);
  const bundle = join(root, ".build/bench", script.replace(/\.ts$/, ".mjs"));
  if (runtimes.includes("node")) {
    const built = spawnSync(bin("esbuild"), [
      source,
      "--bundle",
      "--platform=node",
      "--format=esm",
      "--target=node20",
      "--packages=external",
      `--outfile=${bundle}`,
      "--log-level=warning",
    ], { stdio: "inherit" });
    if (built.status !== 0) throw new Error("esbuild failed");
  }
  const commands: Record<string, string[]> = {
    deno: [bin("deno"), "run", "-A", source],
    bun: [bin("bun"), source],
    node: ["node", bundle],
  };
  const results: Record<string, Record<string, number>[]> = {};
  for (let run = 0; run < runs; run++) {
    for (const runtime of runtimes) {
      const [cmd, ...rest] = commands[runtime]!;
      const out = spawnSync(cmd!, [...rest, "--child", ...childArgs], {
        cwd: root,
        encoding: "utf8",
        maxBuffer: 1 << 24,
      });
      const last = out.stdout.trim().split("\n").pop() ?? "";
      try {
        (results[runtime] ??= []).push(JSON.parse(last));
      } catch {
        throw new Error(`${runtime} run ${run} failed (status ${out.status}):\n${out.stderr}\n${out.stdout}`);
      }
      console.error(`run ${run + 1}/${runs} ${runtime} done`);
    }
  }
  return results;
}
