// What run.mjs and load_bench.mjs share: options, interleaving, statistics and the machine line.
import { spawnSync } from "node:child_process";
import { existsSync, readFileSync } from "node:fs";
import { build } from "esbuild";
import process from "node:process";

/** The value after `--name` on the command line, else `fallback`. */
export function option(name, fallback) {
  const i = process.argv.indexOf(`--${name}`);
  return i > 0 && i + 1 < process.argv.length ? process.argv[i + 1] : fallback;
}

/** `list` rotated left by `by`: each repetition starts somewhere else. */
export const rotate = (list, by) => list.map((_, i) => list[(i + by) % list.length]);

/** Median of the finite values; NaN when there are none. */
export function median(values) {
  const s = values.filter((v) => Number.isFinite(v)).sort((a, b) => a - b);
  if (s.length === 0) return NaN;
  const m = s.length >> 1;
  return s.length % 2 ? s[m] : (s[m - 1] + s[m]) / 2;
}

/** Median over repetitions of `a[field] / b[field]`, each pair from the same repetition. */
export function pairedRatio(as, bs, field) {
  const byRep = new Map(bs.map((r) => [r.rep, r[field]]));
  return median(as.map((r) => r[field] / byRep.get(r.rep)));
}

export const fmt = (x, digits = 2) => (Number.isFinite(x) ? x.toFixed(digits) : "–");
export const thousands = (x) => (Number.isFinite(x) ? `${Math.round(x / 1000)}k` : "–");
export const mib = (bytes) => (Number.isFinite(bytes) ? (bytes / 2 ** 20).toFixed(0) : "–");
/** `value` with ✓ when `ok`, ✗ when not, nothing when unknown. */
export const mark = (value, ok) => (value === "–" ? value : `${value} ${ok ? "✓" : "✗"}`);

/** Date, cores, CPU model, memory and `runtime version` for each `[runtime, command]`. */
export function machineInfo(commands) {
  const run = (cmd, args = []) => spawnSync(cmd, args, { encoding: "utf8" }).stdout ?? "";
  return {
    date: new Date().toISOString(),
    nproc: run("nproc").trim(),
    cpu: (run("lscpu").match(/Model name:\s*(.*)/) ?? [])[1] ?? "?",
    memory: (run("free", ["-h"]).match(/Mem:\s+(\S+)/) ?? [])[1] ?? "?",
    loadavg: readFileSync("/proc/loadavg", "utf8").split(" ").slice(0, 3).join(" "),
    runtimes: commands.map(([runtime, cmd]) =>
      `${runtime} ${
        run(cmd, ["--version"]).trim().split("\n")[0].replace(/^(deno|v)\s*/, "").replace(/\s*\(.*\)$/, "")
      }`
    ),
  };
}

/** Bundles a TypeScript entry point for Node 20 (which cannot run TypeScript), as tests/_run/node.mjs does. */
export async function bundleForNode(entry, outfile) {
  await build({
    entryPoints: [entry],
    outfile,
    bundle: true,
    platform: "node",
    format: "esm",
    target: "node20",
    packages: "external",
    logLevel: "warning",
  });
  return outfile;
}

/** Counts lines and checks the file ends with a newline and its last line is JSON; a missing file has none. */
export function checkFile(path) {
  if (!existsSync(path)) return { lines: 0, bytes: 0, ok: false, missing: true };
  const bytes = readFileSync(path);
  let lines = 0;
  for (let i = bytes.indexOf(10); i !== -1; i = bytes.indexOf(10, i + 1)) lines++;
  let ok = bytes.length === 0 || bytes[bytes.length - 1] === 10;
  if (ok && bytes.length > 0) {
    const lastStart = bytes.lastIndexOf(10, bytes.length - 2) + 1;
    try {
      JSON.parse(bytes.subarray(lastStart).toString("utf8"));
    } catch {
      ok = false;
    }
  }
  return { lines, bytes: bytes.length, ok, missing: false };
}
