import { COALESCE_WRITES } from "./_coalesce.ts";
import { standardStreamWriter } from "../runtime/stdio.ts";
import { writingDestination } from "./_writing_destination.ts";

/**
 * A destination writing to the process's stdout or stderr (Deno, Bun, Node).
 * Where there is no such stream (browsers, Workers), each line goes to
 * `console.log` or `console.error` instead. Closing it never closes the
 * process's stream.
 *
 * A write that fails (a reader that has gone) loses its own lines, which the
 * sink counts and reports; the next write tries again, so a stream that
 * failed for a while loses only what was written meanwhile.
 *
 * @param which `"stdout"` or `"stderr"`.
 * @returns A stream of JSON Lines bytes.
 *
 * @example
 * ```ts
 * import { JsonLinesAuditSink, stdioDestination } from "@atd/audit";
 * const sink = new JsonLinesAuditSink(stdioDestination("stderr"));
 * await sink.close();
 * ```
 */
export function stdioDestination(which: "stdout" | "stderr"): WritableStream<Uint8Array> {
  const writeAll = standardStreamWriter(which);
  if (writeAll) return Object.assign(writingDestination(writeAll), { [COALESCE_WRITES]: true });
  const decoder = new TextDecoder();
  const log = which === "stdout" ? console.log : console.error;
  return new WritableStream({
    write(chunk) {
      for (const line of decoder.decode(chunk).split("\n")) if (line !== "") log(line);
    },
  });
}
