// Seals a trail under the runtime that runs this script (Deno, Bun, or Node
// from a bundle) and prints it as one JSON line.  Usage: <private.jwk path>
import { readFileSync } from "node:fs";
import process from "node:process";
import { sealTrail } from "./seal_lab.ts";

const runtime = "Deno" in globalThis ? "deno" : "Bun" in globalThis ? "bun" : "node";
const trail = await sealTrail(readFileSync(process.argv[process.argv.length - 1]!, "utf8"), runtime);
process.stdout.write(JSON.stringify(trail) + "\n");
