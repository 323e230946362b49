// Reads fixture files from tests/testdata under Deno, Bun and Node alike
// (the Node leg runs a bundle from .build/, so paths start at the repo root).
import { readFileSync } from "node:fs";
import { join } from "node:path";
import process from "node:process";

/** Text of tests/testdata/NAME. */
export function testdata(name: string): string {
  return readFileSync(join(process.cwd(), "tests", "testdata", name), "utf8");
}

/** Non-empty lines of tests/testdata/NAME. */
export function testdataLines(name: string): string[] {
  return testdata(name).split("\n").filter((line) => line !== "");
}
