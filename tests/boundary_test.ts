// Keeps the runtime boundary honest: only src/runtime/ may touch Deno, Bun,
// process or node: modules, so that mod.ts loads in browsers and Workers.
import { describe, it } from "node:test";
import assert from "node:assert/strict";
import { readdirSync, readFileSync } from "node:fs";
import { join, relative } from "node:path";
import process from "node:process";

const root = process.cwd();
const FORBIDDEN = /from "node:|\bDeno\.|\bBun\.|\bprocess\.|require\(/;

function sources(dir: string): string[] {
  return readdirSync(dir, { withFileTypes: true }).flatMap((entry) => {
    const path = join(dir, entry.name);
    if (entry.isDirectory()) return entry.name === "runtime" ? [] : sources(path);
    return entry.name.endsWith(".ts") ? [path] : [];
  });
}

/** Strips comments, where examples may mention runtime APIs. */
function code(text: string): string {
  return text.replace(/\/\*[\s\S]*?\*\//g, "").replace(/^\s*\/\/.*$/gm, "");
}

describe("runtime boundary", () => {
  const files = [join(root, "mod.ts"), ...sources(join(root, "src"))];

  it("finds the library's sources", () => {
    assert.ok(files.length >= 10, `${files.length} files`);
  });

  it("keeps Deno, Bun, process and node: imports inside src/runtime/", () => {
    const offenders = files.filter((file) => FORBIDDEN.test(code(readFileSync(file, "utf8"))));
    assert.deepEqual(offenders.map((file) => relative(root, file)), []);
  });

  it("never calls ReadableStream.from, which Chromium lacks", () => {
    const offenders = files.filter((file) => /ReadableStream\.from\(/.test(code(readFileSync(file, "utf8"))));
    assert.deepEqual(offenders.map((file) => relative(root, file)), []);
  });
});
