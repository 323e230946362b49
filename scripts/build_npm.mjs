// `npm pack` (through `prepack`): Node cannot import TypeScript, so the npm
// package carries JavaScript built from the sources, one module per export of
// deno.json (the one list of entry points; package.json's "exports" name the
// same ones), with the code they share in chunks (one JsonLinesAuditSink class
// for "@atd/audit" and "@atd/audit/file" alike), and valibot left to npm.
//
//   node scripts/build_npm.mjs [OUTDIR]     (default: dist/)
import { build } from "esbuild";
import { readFileSync, rmSync } from "node:fs";
import { join } from "node:path";
import process from "node:process";
import { fileURLToPath } from "node:url";

// Not the URL's pathname: that keeps a space as %20 (and a Windows drive as /C:/).
const root = fileURLToPath(new URL("..", import.meta.url));

/** The built module's name of a deno.json export: "." is "mod", "./file" is "file". */
function moduleName(exportKey) {
  return exportKey === "." ? "mod" : exportKey.slice(2);
}

/** Builds every export of deno.json into `outdir`, as `<moduleName>.js`. */
async function buildNpm(outdir) {
  const { exports } = JSON.parse(readFileSync(join(root, "deno.json"), "utf8"));
  rmSync(outdir, { recursive: true, force: true });
  await build({
    entryPoints: Object.entries(exports).map(([key, path]) => ({ in: join(root, path), out: moduleName(key) })),
    outdir,
    bundle: true,
    splitting: true,
    format: "esm",
    platform: "neutral", // mod.ts stays free of node: code; src/runtime/ looks its runtime up when run
    target: "node20", // the oldest Node the README supports
    packages: "external",
    external: ["node:*"],
    logLevel: "warning",
  });
}

await buildNpm(process.argv[2] ?? join(root, "dist"));
