// The adapter must work with the SDK the user installed, without making it (or
// zod) a dependency of this package: src/ never imports either, and mod.ts does
// not pull the adapter in.
import { describe, it } from "node:test";
import assert from "node:assert/strict";
import { readFileSync } from "node:fs";
import { join, relative } from "node:path";
import process from "node:process";
import { sourceFiles } from "../_helpers/source_files.ts";

const root = process.cwd();

describe("auditMcpServer's packaging", () => {
  it("imports nothing from @modelcontextprotocol/sdk or zod anywhere in src/", () => {
    const files = sourceFiles(join(root, "src"));
    assert.ok(files.some((file) => file.endsWith("audit_mcp_server.ts")));
    // Code only: the doc examples do import the SDK, as a user would.
    const imports =
      /^\s*(import|export)\b[^;]*?from\s+["'](@modelcontextprotocol\/|zod["'/])|import\(\s*["'](@modelcontextprotocol|zod)/m;
    const offenders = files.filter((file) => imports.test(readFileSync(file, "utf8")));
    assert.deepEqual(offenders.map((file) => relative(root, file)), []);
  });

  it("keeps valibot the package's one runtime dependency", () => {
    const pkg = JSON.parse(readFileSync(join(root, "package.json"), "utf8"));
    assert.deepEqual(Object.keys(pkg.dependencies ?? {}), ["valibot"]);
    assert.ok("@modelcontextprotocol/sdk" in pkg.devDependencies);
  });

  it("is the ./mcp export, and mod.ts does not load it", () => {
    const deno = JSON.parse(readFileSync(join(root, "deno.json"), "utf8"));
    assert.equal(deno.exports["./mcp"], "./src/mcp/audit_mcp_server.ts");
    assert.doesNotMatch(readFileSync(join(root, "mod.ts"), "utf8"), /src\/mcp\//);
  });
});
