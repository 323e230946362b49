// The npm package: what `npm pack` gives Node (which cannot import TypeScript)
// must be importable by the names the README uses, as deno.json exports them.
import { describe, it } from "node:test";
import assert from "node:assert/strict";
import { copyFileSync, mkdirSync, readdirSync, readFileSync, symlinkSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import process from "node:process";
import { sourceFiles } from "./_helpers/source_files.ts";
import { Child } from "./_helpers/run_script.ts";
import { tempDir } from "./_helpers/temp_dir.ts";

const root = process.cwd();
const readJson = (name: string) => JSON.parse(readFileSync(join(root, name), "utf8"));
/** Node itself: the current runtime on Node, else the `node` that npm runs on. */
const node = "Deno" in globalThis || "Bun" in globalThis ? "node" : process.execPath;

// Run by Node inside a copy of the package (self-reference by name, as an installed package is imported).
const CONSUMER = `
import { createCallEvent, JsonLinesAuditSink } from "@atd/audit";
import { fileDestination } from "@atd/audit/file";
import { auditMcpServer } from "@atd/audit/mcp";
import { main } from "@atd/audit/cli";
import { readFileSync } from "node:fs";
const audit = new JsonLinesAuditSink(fileDestination("audit.jsonl"));
audit.onCall(createCallEvent({ call_id: "c1", tool_id: "fs.read", duration_ms: 1, outcome: { kind: "success" }, tier: "warm", ts: "2026-12-03T00:00:00.000+00:00" }));
await audit.close();
const stats = await main(["stats", "--json", "audit.jsonl"], { stdout: () => {}, stderr: () => {} });
console.log(JSON.stringify({ line: readFileSync("audit.jsonl", "utf8"), mcp: typeof auditMcpServer, stats }));
`;

describe("npm package", () => {
  it("exports every deno.json export, as the JavaScript that prepack builds", () => {
    const pkg = readJson("package.json");
    const deno = readJson("deno.json");
    const expected = Object.fromEntries(
      Object.keys(deno.exports).map((key) => [key, `./dist/${key === "." ? "mod" : key.slice(2)}.js`]),
    );
    assert.deepEqual(pkg.exports, expected);
    assert.equal(pkg.scripts.prepack, "node scripts/build_npm.mjs");
    assert.ok(pkg.files.includes("dist/"), `files: ${JSON.stringify(pkg.files)}`);
  });

  it("loads on Node by its names and writes a line", async () => {
    const pkg = join(tempDir("npm"), "package");
    mkdirSync(pkg);
    const build = await new Child(node, [join(root, "scripts/build_npm.mjs"), join(pkg, "dist")], { cwd: root })
      .result();
    assert.equal(build.code, 0, build.stderr);
    copyFileSync(join(root, "package.json"), join(pkg, "package.json"));
    symlinkSync(join(root, "node_modules"), join(pkg, "node_modules")); // valibot, as npm would install it
    writeFileSync(join(pkg, "consumer.mjs"), CONSUMER);
    const run = await new Child(node, ["consumer.mjs"], { cwd: pkg }).result();
    assert.equal(run.code, 0, run.stderr);
    const result = JSON.parse(run.stdout);
    assert.equal(
      result.line,
      '{"ts":"2026-12-03T00:00:00.000+00:00","call_id":"c1","tool_id":"fs.read","granted_capabilities":[],' +
        '"duration_ms":1,"outcome":{"kind":"success"},"tier":"warm","dry_run":false,"schema_version":3,' +
        '"secrets_resolved":false}\n',
    );
    assert.equal(result.mcp, "function");
    assert.equal(result.stats, 0);
  });

  it("builds from a checkout whose path has a space (the script read its folder as a URL path: %20)", async () => {
    // The checkout's own files, linked; the script copied, since Node runs a linked script from where it points.
    const checkout = join(tempDir("npm"), "my checkout");
    mkdirSync(join(checkout, "scripts"), { recursive: true });
    copyFileSync(join(root, "scripts/build_npm.mjs"), join(checkout, "scripts/build_npm.mjs"));
    for (const name of ["deno.json", "mod.ts", "src", "node_modules"]) {
      symlinkSync(join(root, name), join(checkout, name));
    }
    const build = await new Child(node, [join(checkout, "scripts/build_npm.mjs")], { cwd: checkout }).result();
    assert.equal(build.code, 0, build.stderr);
    assert.deepEqual(readdirSync(join(checkout, "dist")).filter((name) => !name.startsWith("chunk-")).sort(), [
      "cli.js",
      "file.js",
      "mcp.js",
      "mod.js",
    ]);
  });
});

/** The bare specifiers (npm packages) that `file` imports, `node:` ones aside. */
function bareImports(file: string): string[] {
  const text = readFileSync(file, "utf8");
  return [...text.matchAll(/^\s*(?:import|export)\b[^"';]*?from\s*"([^"]+)"/gm)]
    .map((m) => m[1]!)
    .filter((specifier) => !specifier.startsWith(".") && !specifier.startsWith("node:"));
}

describe("JSR package", () => {
  // A Deno project that uses this one from a checkout (deno.json "links", a workspace member) resolves the
  // package's bare imports through the package's deno.json only: package.json's dependencies are npm's.
  it("maps every npm package the library imports in deno.json's imports, as package.json depends on it", () => {
    const { imports = {} } = readJson("deno.json");
    const { dependencies } = readJson("package.json");
    const used = new Set([join(root, "mod.ts"), ...sourceFiles(join(root, "src"))].flatMap(bareImports));
    assert.ok(used.has("valibot"), `bare imports: ${[...used].join(", ")}`);
    for (const name of used) assert.equal(imports[name], `npm:${name}@${dependencies[name]}`, name);
  });
});
