// A destination over a function that writes a chunk (the process's stdout
// or stderr): what became of each chunk's lines is reported to the sink, and a
// failed write does not end the stream.
import { COALESCE_WRITES } from "./_coalesce.ts";
import type { AuditDestination, DeliveryReport } from "./audit_destination.ts";
import { linesOf } from "./_chunk_lines.ts";
import { WriteCount } from "./_write_count.ts";
import { untilAborted } from "../_abort.ts";

/**
 * A destination that hands each chunk to `writeAll` and reports its lines
 * delivered, or failed when `writeAll` rejects, then goes on with the next.
 * Without a sink attached, a failed write rejects (a plain stream's contract).
 */
export function writingDestination(writeAll: (bytes: Uint8Array) => Promise<void>): AuditDestination {
  let report: DeliveryReport | undefined;
  const writes = new WriteCount();
  const stream = new WritableStream<Uint8Array>({
    async write(chunk) {
      const lines = linesOf(chunk);
      try {
        await writeAll(chunk);
        report?.delivered(lines);
      } catch (error) {
        if (report === undefined) {
          writes.end(); // the stream errors: the writes queued behind this one are dropped
          throw error;
        }
        report.failed(lines, error);
      } finally {
        writes.done();
      }
    },
    abort: () => writes.end(),
  }, writes.strategy);
  return Object.assign(stream, {
    [COALESCE_WRITES]: true,
    attach(next: DeliveryReport): void {
      report = next;
    },
    flush: (signal?: AbortSignal): Promise<void> => untilAborted(writes.allDone(), signal),
  });
}
