// Keeps the runtime boundary honest: only src/runtime/ may touch Deno, Bun,
// process, node: modules or a browser page's globals (document, navigator,
// location, the global addEventListener), so that mod.ts loads in browsers
// and Workers and every runtime-specific path is in one place.
import { describe, it } from "node:test";
import assert from "node:assert/strict";
import { readFileSync } from "node:fs";
import { join, relative } from "node:path";
import process from "node:process";
import { sourceFiles } from "./_helpers/source_files.ts";

const root = process.cwd();
// `Deno` and `Bun` by name at all (a check such as `"Bun" in globalThis` is the runtime's business too).
const FORBIDDEN = /from "node:|\bDeno\b|\bBun\b|\bprocess\.|require\(/;
/** A page's globals, by name (as an identifier or a property of globalThis, window or an alias of it). */
const PAGE_GLOBALS = /\b(?:document|navigator|location)\b/;
/** Event listeners are allowed on an AbortSignal only (`signal.addEventListener`, `signal?.addEventListener`). */
const LISTENER = /(\S*?)\b(?:add|remove)EventListener\b/g;

/** Strips comments, where examples may mention runtime APIs. */
function code(text: string): string {
  return text.replace(/\/\*[\s\S]*?\*\//g, "").replace(/^\s*\/\/.*$/gm, "");
}

/** What in `source` reaches past the runtime boundary (empty when nothing does). */
function crossings(source: string): string[] {
  const text = code(source);
  const found: string[] = [];
  const runtime = FORBIDDEN.exec(text);
  if (runtime) found.push(runtime[0]);
  const page = PAGE_GLOBALS.exec(text);
  if (page) found.push(page[0]);
  for (const match of text.matchAll(LISTENER)) {
    if (!/signal\??\.$/.test(match[1]!)) found.push(match[0]);
  }
  return found;
}

describe("runtime boundary", () => {
  const files = [join(root, "mod.ts"), ...sourceFiles(join(root, "src"), ["runtime"])];

  it("finds the library's sources", () => {
    assert.ok(files.length >= 10, `${files.length} files`);
  });

  it("keeps Deno, Bun, process, node: imports and page globals inside src/runtime/", () => {
    const offenders = files
      .map((file) => ({ file: relative(root, file), found: crossings(readFileSync(file, "utf8")) }))
      .filter((entry) => entry.found.length > 0);
    assert.deepEqual(offenders, []);
  });

  it("catches each kind of crossing, and lets AbortSignal listeners through", () => {
    const crossing = [
      'import { readFile } from "node:fs/promises";',
      "const text = await Deno.readTextFile(path);",
      "Bun.write(path, bytes);",
      "process.exit(1);",
      "const state = document.visibilityState;",
      "(globalThis as { document?: unknown }).document;",
      "const beacon = navigator.sendBeacon;",
      "g.navigator?.sendBeacon?.(url, blob);",
      "new URL(url, location.href);",
      "const base = (globalThis as G).location?.href;",
      'addEventListener("pagehide", listener);',
      'globalThis.addEventListener("pagehide", listener);',
      'g.removeEventListener?.("pageshow", listener);',
      'g.document?.addEventListener?.("visibilitychange", listener);',
    ];
    for (const line of crossing) assert.notDeepEqual(crossings(line), [], line);
    const allowed = [
      'signal.addEventListener("abort", done);',
      'signal?.removeEventListener("abort", done);',
      'controller.signal.addEventListener("abort", stop, { once: true });',
      'request.signal.removeEventListener("abort", onAbort);',
      "// document.visibilityState in a comment",
      "/** navigator.sendBeacon, in a doc comment */",
    ];
    for (const line of allowed) assert.deepEqual(crossings(line), [], line);
  });

  it("never calls ReadableStream.from, which Chromium lacks", () => {
    const offenders = files.filter((file) => /ReadableStream\.from\(/.test(code(readFileSync(file, "utf8"))));
    assert.deepEqual(offenders.map((file) => relative(root, file)), []);
  });
});
