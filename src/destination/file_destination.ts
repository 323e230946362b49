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
import { COALESCE_WRITES, markWritesInPlace } from "./_coalesce.ts";
import { runtime } from "../runtime/runtime.ts";
import { IoError, pathText, toIoError } from "../runtime/io_error.ts";
import type { FileHandle } from "../runtime/runtime_driver.ts";
import { countLines } from "../_bytes.ts";
import { linesOf } from "./_chunk_lines.ts";
import { untilAborted } from "../_abort.ts";
import { WriteCount } from "./_write_count.ts";
import type { AuditDestination, DeliveryReport } from "./audit_destination.ts";
import { type FileRotateOptions, readRotateOptions } from "./_rotate_options.ts";
import { Rotation, rotations } from "./_rotation.ts";
import { checkPath, describe, moved } from "./_file_path.ts";

export { IoError, type IoErrorCode, type IoErrorOptions } from "../runtime/io_error.ts";
export { type FileSeal, fileSeal, type FileSealOptions } from "./file_seal.ts";
export type { FileRotateOptions } from "./_rotate_options.ts";

/** Options for {@linkcode fileDestination}. */
export interface FileDestinationOptions {
  /** Force data to the disk (fdatasync) on every `flush()`, not just to the OS. @default {false} */
  readonly fsync?: boolean;
  /**
   * Rotate the file by size and/or at UTC hour or day boundaries, keep a
   * bounded number of closed files, compress them (see
   * {@linkcode FileRotateOptions}; the README's "Long-running servers").
   * @default {undefined (one file, never rotated)}
   */
  readonly rotate?: FileRotateOptions;
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
  /**
   * Makes the next write check the path: when the file was moved away
   * (logrotate's `create` mode, on SIGHUP), it goes to a new file at the
   * configured path; otherwise it goes on appending.
   */
  reopen(): void;
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
 * @throws {TypeError} When `path` is not a non-empty string or a `file:` URL, `fsync` not a boolean, a `rotate`
 *   field is wrong, or `rotate` is given for a path that is not a regular file (a FIFO, a device).
 * @throws {IoError} When the file cannot be opened (missing folder, a directory, permission, a FIFO nobody reads),
 *   naming the path and the reason.
 * @throws {RangeError} When a `rotate` number is out of range.
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
  const plan = readRotateOptions(options?.rotate, runtime().pid());
  const rotation = plan === undefined ? undefined : new Rotation(pathText(target), plan);
  const file = new AppendedFile(target, rotation, fsync);
  let report: DeliveryReport | undefined;
  // A flush waits for every write made before it, also those queued behind the one under way (the stream hands
  // its sink one at a time): a seal file is renamed at a rotation once its checkpoints are flushed.
  const writes = new WriteCount();
  const stream = new WritableStream<Uint8Array>({
    async write(chunk) {
      try {
        await file.append(chunk, report);
      } catch (error) {
        writes.end(); // the stream errors: the writes queued behind this one are dropped
        throw error;
      } finally {
        writes.done();
      }
    },
    close: () => file.close(),
    abort: () => {
      writes.end();
      return file.close();
    },
  }, writes.strategy);
  const destination = Object.assign(stream, {
    [COALESCE_WRITES]: true,
    attach(next: DeliveryReport): void {
      report = next;
    },
    reopen(): void {
      file.reopen();
    },
    flush(signal?: AbortSignal): Promise<void> {
      const done = writes.allDone().then(async () => {
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
  markWritesInPlace(destination); // a write is done with its chunk once it reported the chunk's lines
  if (rotation !== undefined) {
    rotations.set(destination, rotation);
    rotation.tidy((error) => report?.warn(error)); // what an earlier run left: uncompressed, too many, too old
  }
  return destination;
}

/** The file behind a destination: appends whole lines, repairs torn tails, reopens after a failure. */
class AppendedFile {
  readonly #path: string | URL;
  readonly #name: string;
  #handle: FileHandle | undefined;
  /** Look at the file's last byte before the next write: (re)opened, or a write failed. */
  #checkTail = true;
  /** A write failed since the last tail check: a torn tail is then ours, and already reported. */
  #failed = false;
  #warned = false;
  #closed = false;
  /** Bytes in the open file, while known (rotation needs it). */
  #size: number | undefined;
  #reopen = false;
  /** The open file was found moved away at a rotation (told once). */
  #movedTold = false;
  readonly #rotation: Rotation | undefined;
  /** Sync a file before it is closed by a rotation (`flush()` syncs only the open one). */
  readonly #fsync: boolean;

  constructor(path: string | URL, rotation?: Rotation, fsync = false) {
    this.#path = path;
    this.#rotation = rotation;
    this.#fsync = fsync;
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
    if (rotation !== undefined && this.#handle.kind !== "file") {
      this.#handle.close().catch(() => {});
      throw new TypeError(
        `Cannot open audit file ${JSON.stringify(this.#name)}: rotate needs a regular file, not a ${
          this.#handle.kind.replace("_", " ")
        }`,
      );
    }
  }

  /**
   * Appends `chunk` (whole lines) and reports each of its lines to `report`.
   * Without a report, rejects on failure (a plain stream's contract).
   */
  async append(chunk: Uint8Array, report: DeliveryReport | undefined): Promise<void> {
    const lines = linesOf(chunk);
    let bytes = chunk;
    let written = 0;
    const rotation = this.#rotation;
    if (
      this.#reopen ||
      (rotation !== undefined && (this.#size === undefined || rotation.mayBeDue(this.#size, chunk.length)))
    ) await this.#prepare(chunk.length, report);
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
      if (this.#size !== undefined) this.#size += written;
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

  /** The next write looks whether the path still names the open file, and opens it again if not. */
  reopen(): void {
    this.#reopen = true;
  }

  /** Before a write: reopens after an external move, rotates when due. Never throws: the batch is written anyway. */
  async #prepare(bytes: number, report: DeliveryReport | undefined): Promise<void> {
    const warn = (error: unknown): void => report?.warn(error);
    try {
      if (this.#reopen) {
        this.#reopen = false;
        if (this.#handle !== undefined && await moved(this.#handle, this.#path)) {
          await this.#release();
          this.#rotation?.restarted();
        }
      }
      const rotation = this.#rotation;
      if (rotation === undefined) return;
      let handle = this.#handle;
      if (handle === undefined) {
        try {
          handle = this.#handle = runtime().openAppendSync(this.#path);
        } catch {
          return; // the write opens it again: its failure is the batch's loss, told once, with this error
        }
      }
      this.#size ??= handle.kind === "file" ? (await handle.stat()).size : 0;
      if (!await rotation.due(handle, this.#size, bytes)) return;
      const switchFiles = async (): Promise<void> => {
        if (this.#fsync) await handle.sync().catch(warn);
        // The path no longer names the file written (another writer rotated it, or it was moved or removed):
        // renaming what is there now would rotate someone else's file. Tell it, once; the next batch opens the path.
        const elsewhere = await replaced(handle, this.#path).catch(() => false);
        await this.#release();
        if (!elsewhere) return await rotation.rotate(warn);
        rotation.restarted();
        if (this.#movedTold) return;
        this.#movedTold = true;
        warn(
          new Error(
            `Audit file ${JSON.stringify(this.#name)} was moved or removed by someone else while it was written ` +
              "(another writer rotating the same path? give each its own path): the lines written to it since are " +
              "wherever it went, or lost if it was removed; the next lines go to a file at the path",
          ),
        );
      };
      // The sink's sealing ends the old file's trail in its own seal file before the switch.
      await (typeof report?.newStream === "function" ? report.newStream(switchFiles) : switchFiles());
      this.#checkTail = true;
    } catch (error) {
      warn(error);
    }
  }

  /** Forces written data to the disk. */
  async sync(): Promise<void> {
    if (this.#handle !== undefined && !this.#closed) await this.#handle.sync();
  }

  async close(): Promise<void> {
    this.#closed = true;
    await this.#release();
    await this.#rotation?.settled();
  }

  async #release(): Promise<void> {
    const handle = this.#handle;
    this.#handle = undefined;
    this.#size = undefined;
    this.#checkTail = true; // the next file opened may end mid-line (a new file at the path after reopen())
    await handle?.close().catch(() => {}); // nothing left to lose: every line is already reported
  }
}

/**
 * Whether `path` surely no longer names the open file: gone, or another
 * file (where the runtime cannot tell files apart, it is taken as the same).
 */
async function replaced(handle: FileHandle, path: string | URL): Promise<boolean> {
  const open = (await handle.stat()).identity;
  try {
    const now = (await runtime().stat(path)).identity;
    return open !== undefined && now !== undefined && now !== open;
  } catch (error) {
    return (error as IoError).code === "not_found";
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
