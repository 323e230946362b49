// A destination over a function that writes a chunk, which reports what
// became of each chunk's lines to the sink that writes to it: what
// `toAuditDestination` makes of a plain stream, and the stdio destination of
// the process's stdout or stderr.
import type { AuditDestination, DeliveryReport } from "./audit_destination.ts";
import { linesOf } from "./_chunk_lines.ts";
import { WriteCount } from "./_write_count.ts";
import { untilAborted } from "../_abort.ts";

/** What a {@linkcode writingDestination} does besides writing. */
export interface WritingOptions {
  /**
   * After a write that failed, go on with the next one (its lines reported
   * failed to the sink), as a file or stdout can; else the stream errors, as
   * a plain stream does (the sink counts its lines failed). Without a sink
   * attached a failed write always errors the stream. @default {true}
   */
  readonly goOn?: boolean;
  /** Closes what is written to. */
  readonly close?: () => void | Promise<void>;
  /** Gives up on what is written to. */
  readonly abort?: (reason: unknown) => void | Promise<void>;
  /** Awaited by `flush()` once every write made before it is done. */
  readonly flush?: (() => unknown) | undefined;
}

/**
 * A destination that hands each chunk to `write`, one at a time, and reports
 * its lines delivered when `write` resolves.
 */
export function writingDestination(
  write: (chunk: Uint8Array) => Promise<unknown>,
  options: WritingOptions = {},
): AuditDestination {
  const { goOn = true, close, abort, flush } = options;
  let report: DeliveryReport | undefined;
  const writes = new WriteCount();
  const stream = new WritableStream<Uint8Array>({
    async write(chunk) {
      const lines = linesOf(chunk); // before the stream may reuse or transfer the chunk
      try {
        await write(chunk);
        report?.delivered(lines);
      } catch (error) {
        if (!goOn || report === undefined) {
          writes.end(); // the stream errors: the writes queued behind this one are dropped, never reported here
          throw error;
        }
        report.failed(lines, error);
      } finally {
        writes.done();
      }
    },
    close: () => close?.(),
    abort: (reason) => {
      writes.end();
      return abort?.(reason);
    },
  }, writes.strategy);
  return Object.assign(stream, {
    attach(next: DeliveryReport): void {
      report = next;
    },
    // Waits until every write made before the call was reported, then for the own flush (a deadline stops either).
    flush(signal?: AbortSignal): Promise<void> {
      const written = writes.allDone();
      return untilAborted(flush === undefined ? written : written.then(flush), signal);
    },
  });
}
