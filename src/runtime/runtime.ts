// Picks the runtime driver once, on first use.
import type { DenoNamespace } from "./_deno_types.ts";
import { denoDriver } from "./_deno_driver.ts";
import { nodeDriver } from "./_node_driver.ts";
import type { RuntimeDriver } from "./runtime_driver.ts";

let picked: RuntimeDriver | undefined;

/**
 * The driver of the runtime this code runs on: Deno's own APIs under Deno,
 * node:fs and node:process under Bun and Node. The same object every call.
 *
 * @returns The driver.
 */
export function runtime(): RuntimeDriver {
  if (picked !== undefined) return picked;
  const g = globalThis as { Deno?: DenoNamespace; Bun?: unknown };
  picked = g.Deno !== undefined ? denoDriver(g.Deno) : nodeDriver(g.Bun !== undefined ? "bun" : "node");
  return picked;
}
