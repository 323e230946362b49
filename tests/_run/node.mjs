// Node 20 cannot run TypeScript: bundle each test file with esbuild, then run
// them with `node --test`. Usage: node tests/_run/node.mjs [--e2e]
//   default: every tests/**/*_test.ts (the suite Deno and Bun also run)
//   --e2e:   every tests/**/*_e2e.ts (real Chromium, workerd, ClickHouse)
import { build } from "esbuild";
import { spawnSync } from "node:child_process";
import { readdirSync, rmSync } from "node:fs";
import { join, relative } from "node:path";

const root = new URL("../..", import.meta.url).pathname;
const suffix = process.argv.includes("--e2e") ? "_e2e.ts" : "_test.ts";
const outdir = join(root, ".build", suffix === "_e2e.ts" ? "e2e" : "node");

function find(dir) {
  return readdirSync(dir, { withFileTypes: true }).flatMap((entry) => {
    const path = join(dir, entry.name);
    if (entry.isDirectory()) return entry.name === "_run" ? [] : find(path);
    return entry.name.endsWith(suffix) ? [path] : [];
  });
}

const entryPoints = find(join(root, "tests"));
if (entryPoints.length === 0) {
  console.error(`no ${suffix} files under tests/`);
  process.exit(1);
}
rmSync(outdir, { recursive: true, force: true });
await build({
  entryPoints,
  outdir,
  outbase: join(root, "tests"),
  bundle: true,
  platform: "node",
  format: "esm",
  target: "node20",
  packages: "external",
  outExtension: { ".js": ".mjs" },
  sourcemap: "inline",
  logLevel: "warning",
});
const files = entryPoints.map((p) => join(outdir, relative(join(root, "tests"), p)).replace(/\.ts$/, ".mjs"));
const result = spawnSync(process.execPath, ["--enable-source-maps", "--test", "--test-concurrency=1", ...files], {
  stdio: "inherit",
  cwd: root,
});
process.exit(result.status ?? 1);
