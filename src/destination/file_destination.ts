/**
 * The file destination, for Deno, Bun and Node. Kept apart from `mod.ts` so
 * that browsers and Workers never load file-system code.
 *
 * ```ts ignore
 * import { JsonLinesAuditSink } from "@atd/audit";
 * import { fileDestination } from "@atd/audit/file";
 * const sink = new JsonLinesAuditSink(fileDestination("audit.jsonl"));
 * ```
 *
 * @module
 */
import { openAppend } from "../runtime/file.ts";
import { countLines } from "../_bytes.ts";
import { untilAborted } from "../_abort.ts";
import type { AuditDestination, DeliveryReport } from "./audit_destination.ts";

/** Options for {@linkcode fileDestination}. */
export interface FileDestinationOptions {
  /** Force data to the disk (fdatasync) on every `flush()`, not just to the OS. @default {false} */
  readonly fsync?: boolean;
}

/** A file destination: a byte stream plus a `flush()` the sink calls from its own. */
export interface FileDestination extends AuditDestination {
  /**
   * Resolves when written data is in the OS (and on disk with `fsync`).
   *
   * @param signal Stops waiting for the disk sync.
   * @returns A promise that resolves when synced.
   */
  flush(signal?: AbortSignal): Promise<void>;
}

/**
 * Opens `path` for appending (creating it if missing) and returns a stream
 * that appends each chunk with one write. Works on Deno, Bun and Node.
 *
 * @param path The file to append to.
 * @param options Whether `flush()` also syncs to disk.
 * @returns A destination for `JsonLinesAuditSink`.
 * @throws {Error} When the file cannot be opened, naming the path and the reason.
 *
 * @example
 * ```ts ignore
 * import { JsonLinesAuditSink } from "@atd/audit";
 * import { fileDestination } from "@atd/audit/file";
 * await using sink = new JsonLinesAuditSink(fileDestination("audit.jsonl", { fsync: true }));
 * ```
 */
export function fileDestination(path: string | URL, options: FileDestinationOptions = {}): FileDestination {
  let file;
  try {
    file = openAppend(path);
  } catch (cause) {
    throw new Error(
      `Cannot open audit file ${JSON.stringify(String(path))} for appending: ${(cause as Error).message}`,
      {
        cause,
      },
    );
  }
  let closed = false;
  let report: DeliveryReport | undefined;
  const close = (): Promise<void> => {
    if (closed) return Promise.resolve();
    closed = true;
    return file.close();
  };
  const stream = new WritableStream<Uint8Array>({
    async write(chunk) {
      try {
        await file.write(chunk);
        report?.delivered(countLines(chunk));
      } catch (error) {
        // A failed write errors the stream for good, and an errored stream
        // never calls close or abort: release the file here.
        await close().catch(() => {});
        throw error;
      }
    },
    close,
    abort: close,
  });
  return Object.assign(stream, {
    attach(next: DeliveryReport): void {
      report = next;
    },
    // The sink has awaited every write before it calls flush.
    flush: (signal?: AbortSignal): Promise<void> =>
      options.fsync && !closed ? untilAborted(file.sync(), signal) : Promise.resolve(),
  });
}
