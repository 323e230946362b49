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
 * Sealed (see `fileSeal`): checkpoints in `audit.jsonl.seal`, the chain going on across restarts.
 *
 * ```ts ignore
 * import { JsonLinesAuditSink } from "@atd/audit";
 * import { fileDestination, fileSeal } from "@atd/audit/file";
 * const seal = await fileSeal("audit.jsonl", { key: await Deno.readTextFile("audit-seal.private.jwk") });
 * const sink = new JsonLinesAuditSink(fileDestination("audit.jsonl"), { seal });
 * ```
 *
 * @module
 */
import { runtime } from "../runtime/runtime.ts";
import { IoError, pathText, toIoError } from "../runtime/io_error.ts";
import type { FileHandle } from "../runtime/runtime_driver.ts";
import { countLines } from "../_bytes.ts";
import { untilAborted } from "../_abort.ts";
import type { AuditDestination, DeliveryReport } from "./audit_destination.ts";

export { IoError, type IoErrorCode, type IoErrorOptions } from "../runtime/io_error.ts";
export { type FileSeal, fileSeal, type FileSealOptions } from "./file_seal.ts";

/** Options for {@linkcode fileDestination}. */
export interface FileDestinationOptions {
  /** Force data to the disk (fdatasync) on every `flush()`, not just to the OS. @default {false} */
  readonly fsync?: boolean;
}

/** A file destination: an {@linkcode AuditDestination} appending to one file. */
export interface FileDestination extends AuditDestination {
  /**
   * Resolves once every line written before the call has been reported (and,
   * with `fsync`, is on the disk). Never rejects: a failed disk sync is told
   * to the sink's `onError`.
   *
   * @param signal Stops waiting for the disk sync.
   * @returns A promise that resolves when written (and synced).
   */
  flush(signal?: AbortSignal): Promise<void>;
}

/**
 * Opens `path` for appending (creating it if missing) and returns a
 * destination that appends each chunk of whole lines. Works on Deno, Bun and
 * Node; `path` may be a FIFO that a process is reading, or a device.
 *
 * What it reports to the sink (see {@linkcode AuditDestination}):
 * - each line that reached the file is `delivered`; when a write stops part
 *   way (a full disk), the lines before that point are delivered, the rest
 *   `failed` with an {@linkcode IoError} (`code: "no_space"`);
 * - after a failed write the file is released, and the next write opens
 *   `path` again and tries: a disk that was full for a while loses only the
 *   lines written meanwhile, not the rest of the log;
 * - when the file does not end with a newline (a writer that died mid-line,
 *   or a full disk), the next line starts on a fresh line; the first time
 *   that is someone else's torn line, the sink's `onError` hears it.
 *
 * Used as a plain `WritableStream` (without a sink), a failed write rejects
 * and closes the file.
 *
 * @param path The file to append to: a non-empty path or a `file:` URL.
 * @param options Whether `flush()` also syncs to disk.
 * @returns A destination for `JsonLinesAuditSink`.
 * @throws {TypeError} When `path` is not a non-empty string or a `file:` URL, or `fsync` not a boolean.
 * @throws {IoError} When the file cannot be opened (missing folder, a directory, permission, a FIFO nobody reads),
 *   naming the path and the reason.
 *
 * @example
 * ```ts ignore
 * import { JsonLinesAuditSink } from "@atd/audit";
 * import { fileDestination } from "@atd/audit/file";
 * await using sink = new JsonLinesAuditSink(fileDestination("audit.jsonl", { fsync: true }));
 * ```
 */
export function fileDestination(path: string | URL, options: FileDestinationOptions = {}): FileDestination {
  const target = checkPath(path);
  const fsync = options?.fsync ?? false;
  if (typeof fsync !== "boolean") {
    throw new TypeError(`Cannot open audit file: fsync must be a boolean, got ${describe(fsync)}`);
  }
  const file = new AppendedFile(target);
  let report: DeliveryReport | undefined;
  let last: Promise<unknown> = Promise.resolve();
  const stream = new WritableStream<Uint8Array>({
    write(chunk) {
      const written = file.append(chunk, report);
      last = written.catch(() => {});
      return written;
    },
    close: () => file.close(),
    abort: () => file.close(),
  });
  return Object.assign(stream, {
    attach(next: DeliveryReport): void {
      report = next;
    },
    flush(signal?: AbortSignal): Promise<void> {
      const done = last.then(async () => {
        if (!fsync) return;
        try {
          await file.sync();
        } catch (error) {
          report?.warn(error); // the lines were reported delivered; the disk may not have them
        }
      });
      return untilAborted(done, signal);
    },
  });
}

/** The file behind a destination: appends whole lines, repairs torn tails, reopens after a failure. */
class AppendedFile {
  readonly #path: string | URL;
  readonly #name: string;
  #handle: FileHandle | undefined;
  /** Look at the file's last byte before the next write: just opened, or a write failed. */
  #checkTail = true;
  /** A write failed since the last tail check: a torn tail is then ours, and already reported. */
  #failed = false;
  #warned = false;
  #closed = false;

  constructor(path: string | URL) {
    this.#path = path;
    this.#name = pathText(path);
    try {
      this.#handle = runtime().openAppendSync(path);
    } catch (error) {
      const e = toIoError(error, "open", this.#name);
      throw new IoError(e.code, {
        action: "open audit file {path} for appending",
        path: this.#name,
        reason: e.reason,
        cause: error,
      });
    }
  }

  /**
   * Appends `chunk` (whole lines) and reports each of its lines to `report`.
   * Without a report, rejects on failure (a plain stream's contract).
   */
  async append(chunk: Uint8Array, report: DeliveryReport | undefined): Promise<void> {
    const lines = countLines(chunk);
    let bytes = chunk;
    let written = 0;
    try {
      this.#handle ??= runtime().openAppendSync(this.#path);
      if (this.#checkTail && await endsMidLine(this.#handle)) {
        if (!this.#failed && !this.#warned) {
          this.#warned = true;
          report?.warn(
            new Error(
              `Audit file ${JSON.stringify(this.#name)} ended mid-line (a writer stopped part-way): ` +
                "the next line starts on a fresh line",
            ),
          );
        }
        bytes = new Uint8Array(chunk.length + 1);
        bytes[0] = 0x0a;
        bytes.set(chunk, 1);
      }
      this.#checkTail = false;
      this.#failed = false;
      // Bounded: each write takes at least one byte or throws.
      while (written < bytes.length) written += await this.#handle.write(bytes.subarray(written));
    } catch (cause) {
      const error = toIoError(cause, "write to", this.#name);
      const reached = countLines(chunk.subarray(0, Math.max(0, written - (bytes.length - chunk.length))));
      this.#checkTail = true;
      this.#failed = true;
      await this.#release();
      if (report === undefined) throw error;
      if (reached > 0) report.delivered(reached);
      report.failed(lines - reached, error);
      return;
    }
    report?.delivered(lines);
  }

  /** Forces written data to the disk. */
  async sync(): Promise<void> {
    if (this.#handle !== undefined && !this.#closed) await this.#handle.sync();
  }

  async close(): Promise<void> {
    this.#closed = true;
    await this.#release();
  }

  async #release(): Promise<void> {
    const handle = this.#handle;
    this.#handle = undefined;
    await handle?.close().catch(() => {}); // nothing left to lose: every line is already reported
  }
}

/** Whether a regular file's last byte is not a newline. Pipes and devices have no last byte to look at. */
async function endsMidLine(handle: FileHandle): Promise<boolean> {
  if (handle.kind !== "file") return false;
  try {
    const { size } = await handle.stat();
    if (size === 0) return false;
    const last = new Uint8Array(1);
    return (await handle.read(last, size - 1)) === 1 && last[0] !== 0x0a;
  } catch {
    return false; // cannot tell: appending is still better than refusing to
  }
}

function checkPath(path: unknown): string | URL {
  if (typeof path === "string") {
    if (path === "") throw new TypeError("Cannot open audit file: the path is empty");
    if (path.includes("\0")) {
      throw new TypeError(`Cannot open audit file ${JSON.stringify(path)}: the path holds a NUL`);
    }
    return path;
  }
  if (path instanceof URL) {
    if (path.protocol !== "file:") {
      throw new TypeError(`Cannot open audit file: expected a file: URL, got a ${path.protocol} URL`);
    }
    if (path.hostname !== "" && path.hostname !== "localhost") {
      throw new TypeError("Cannot open audit file: a file: URL names a local file, without a host");
    }
    return path;
  }
  throw new TypeError(
    `Cannot open audit file: expected a path (a non-empty string or a file: URL), got ${describe(path)}`,
  );
}

function describe(value: unknown): string {
  if (value === null) return "null";
  if (typeof value === "string") return JSON.stringify(value.slice(0, 40));
  if (typeof value === "object") return Array.isArray(value) ? "an array" : "an object";
  return typeof value === "undefined" ? "undefined" : `${typeof value} ${String(value)}`;
}
