// Hashing workers that fail without an error event, for the hasher tests: their scripts, run with the `host` that
// src/runtime/worker.ts gives every worker.
import { hashCore } from "../../src/seal/_hash_core.ts";

/** Whether the runtime tells when a worker ends itself: Node ("exit") and Bun ("close") do, Deno does not. */
export const TELLS_EXIT: boolean = !("Deno" in globalThis);

/** The statement that ends the worker from inside (process.exit where there is one, else close()). */
const END = `if (typeof process === "object" && typeof process.exit === "function") process.exit(0);
    else self.close();`;

/** A worker that hashes its first `answers` jobs, then ends itself on the next one. */
export function exitingWorker(answers: number): string {
  return `const core = (${hashCore.toString()})();
let jobs = 0;
host.onMessage(async (m) => {
  if (jobs++ === ${answers}) {
    ${END}
    return;
  }
  const bytes = new Uint8Array(m.buffer, m.offset, m.length).slice();
  host.post({ id: m.id, hash: await core.hashSegment(bytes, m.ends, m.digests) });
});
`;
}

/** A worker that takes every job and never answers. */
export const SILENT_WORKER = "host.onMessage(() => {});\n";
