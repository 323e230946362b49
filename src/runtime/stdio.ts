// The only place that looks for a process's stdout and stderr. It imports
// types only (erased when compiled): this file must load in browsers and
// Workers, where it finds nothing.
import type { DenoWriter } from "./_deno_types.ts";

/** Writes all of `bytes`; resolves when the runtime has taken them. */
export type WriteAll = (bytes: Uint8Array) => Promise<void>;

interface NodeStream {
  write(bytes: Uint8Array, callback: (error?: Error | null) => void): boolean;
  on?(event: "error", listener: (error: Error) => void): unknown;
}
interface Globals {
  Deno?: { stdout?: DenoWriter; stderr?: DenoWriter };
  process?: { stdout?: NodeStream; stderr?: NodeStream };
}

const guarded = new WeakSet<object>();

/** The writer for a standard stream, or `undefined` where the runtime has none. */
export function standardStreamWriter(which: "stdout" | "stderr"): WriteAll | undefined {
  const g = globalThis as Globals;
  const deno = g.Deno?.[which];
  if (deno) {
    return async (bytes) => {
      for (let done = 0; done < bytes.length;) done += await deno.write(bytes.subarray(done));
    };
  }
  const node = g.process?.[which];
  if (node && typeof node.write === "function") {
    // A closed pipe (EPIPE) is also emitted as 'error'; unheard, that would
    // crash the process. The write callback below still reports it.
    if (!guarded.has(node)) {
      guarded.add(node);
      node.on?.("error", () => {});
    }
    return (bytes) =>
      new Promise((resolve, reject) => node.write(bytes, (error) => (error ? reject(error) : resolve())));
  }
  return undefined;
}
