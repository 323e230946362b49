// The runtime driver for Deno: its own file and process APIs. One exception,
// node:fs for a non-blocking probe of a FIFO, which Deno.open cannot express.
import * as fs from "node:fs";
import type { DenoFileInfo, DenoFsFile, DenoNamespace } from "./_deno_types.ts";
import { IoError, pathText, toIoError } from "./io_error.ts";
import type { FileHandle, FileInfo, FileKind, OpenAppendOptions, RuntimeDriver, SignalName } from "./runtime_driver.ts";
import { writeStandard } from "./_write_standard.ts";

/**
 * The driver for Deno.
 *
 * @param deno The `Deno` global.
 * @returns The driver.
 */
export function denoDriver(deno: DenoNamespace): RuntimeDriver {
  return {
    name: "deno",
    openAppendSync(path: string | URL, options: OpenAppendOptions = {}): FileHandle {
      const text = pathText(path);
      let kind: FileKind | undefined;
      try {
        kind = kindOf(deno.statSync(path));
      } catch {
        // missing (the open creates it) or unreadable (the open says why)
      }
      try {
        if (kind === "fifo") return fileHandle(openFifoForWriting(deno, path, text), text, kind);
        const file = deno.openSync(path, {
          read: true,
          append: true,
          ...(options.createNew ? { createNew: true } : { create: true }),
        });
        return fileHandle(file, text, kind ?? "file");
      } catch (error) {
        throw toIoError(error, "open {path} for appending", text);
      }
    },
    async openRead(path: string | URL): Promise<FileHandle> {
      const text = pathText(path);
      let file: DenoFsFile;
      try {
        file = await deno.open(path, { read: true });
      } catch (error) {
        throw toIoError(error, "open {path} for reading", text);
      }
      try {
        const kind = kindOf(await file.stat());
        if (kind === "directory") throw new IoError("is_directory", { action: "open {path} for reading", path: text });
        return fileHandle(file, text, kind);
      } catch (error) {
        file.close();
        throw toIoError(error, "stat", text);
      }
    },
    async stat(path: string | URL): Promise<FileInfo> {
      try {
        return info(await deno.stat(path));
      } catch (error) {
        throw toIoError(error, "stat", pathText(path));
      }
    },
    async rename(from: string | URL, to: string | URL): Promise<void> {
      try {
        await deno.rename(from, to);
      } catch (error) {
        throw toIoError(error, "rename", `${pathText(from)} → ${pathText(to)}`);
      }
    },
    async readDir(path: string | URL): Promise<string[]> {
      try {
        const names: string[] = [];
        for await (const entry of deno.readDir(path)) names.push(entry.name);
        return names.sort();
      } catch (error) {
        throw toIoError(error, "list", pathText(path));
      }
    },
    async remove(path: string | URL): Promise<void> {
      try {
        await deno.remove(path);
      } catch (error) {
        throw toIoError(error, "remove", pathText(path));
      }
    },
    async makeDir(path: string | URL): Promise<void> {
      try {
        await deno.mkdir(path, { recursive: true });
      } catch (error) {
        throw toIoError(error, "create folder", pathText(path));
      }
    },
    async writeNewFile(path: string | URL, bytes: Uint8Array, mode: number): Promise<void> {
      try {
        await deno.writeFile(path, bytes, { createNew: true, mode });
      } catch (error) {
        throw toIoError(error, "create", pathText(path));
      }
    },
    stdin: () => deno.stdin.readable,
    write: writeStandard,
    isTerminal: (which: "stdout" | "stderr"): boolean => {
      try {
        return deno[which]?.isTerminal?.() === true;
      } catch {
        return false;
      }
    },
    pid: () => deno.pid,
    args: () => [...deno.args],
    exit: (code: number): never => deno.exit(code),
    onSignal(signal: SignalName, handler: () => void): () => void {
      try {
        deno.addSignalListener(signal, handler);
      } catch {
        return () => {}; // Windows listens for SIGINT and SIGBREAK only
      }
      return () => deno.removeSignalListener(signal, handler);
    },
  };
}

/** A FIFO opened for writing, failing with `no_reader` when nobody reads it (a plain open would block until someone does). */
function openFifoForWriting(deno: DenoNamespace, path: string | URL, text: string): DenoFsFile {
  let probe: number;
  try {
    probe = fs.openSync(path, fs.constants.O_WRONLY | fs.constants.O_NONBLOCK);
  } catch (error) {
    if ((error as { code?: string }).code !== "ENXIO") throw error;
    throw new IoError("no_reader", { action: "open {path} for appending", path: text, cause: error });
  }
  // A reader is there, so this open returns at once.
  try {
    return deno.openSync(path, { write: true, append: true });
  } finally {
    fs.closeSync(probe);
  }
}

function fileHandle(file: DenoFsFile, path: string, kind: FileKind): FileHandle {
  let closed = false;
  /** Where the file's offset is, when known (after a read): a read there needs no seek. */
  let offset: number | undefined = 0;
  async function run<T>(action: string, step: () => Promise<T>): Promise<T> {
    if (closed) throw new IoError("other", { action, path, reason: "the file is closed" });
    try {
      return await step();
    } catch (error) {
      throw toIoError(error, action, path);
    }
  }
  return {
    path,
    kind,
    read: (buffer, position) =>
      run("read", async () => {
        // Deno has no positional read: seek, unless the last read ended there (a file read in order).
        const at = offset;
        offset = undefined;
        if (position !== null && position !== at) await file.seek(position, 0);
        const n = (await file.read(buffer)) ?? 0;
        offset = position === null ? (at === undefined ? undefined : at + n) : position + n;
        return n;
      }),
    write: (bytes) =>
      run("write to", async () => {
        offset = undefined; // appending moves the offset to the end
        const n = await file.write(bytes);
        if (n === 0 && bytes.length > 0) {
          throw new IoError("other", { action: "write to", path, reason: "wrote nothing" });
        }
        return n;
      }),
    stat: () => run("stat", async () => info(await file.stat())),
    sync: () => (kind === "file" ? run("sync", () => file.syncData()) : Promise.resolve()),
    close() {
      if (closed) return Promise.resolve();
      closed = true;
      try {
        file.close();
        return Promise.resolve();
      } catch (error) {
        return Promise.reject(toIoError(error, "close", path));
      }
    },
  };
}

function info(stats: DenoFileInfo): FileInfo {
  return {
    kind: kindOf(stats),
    size: stats.size,
    identity: stats.ino === null ? undefined : `${stats.dev}:${stats.ino}`,
    modifiedMs: stats.mtime?.getTime(),
  };
}

function kindOf(stats: DenoFileInfo): FileKind {
  if (stats.isFile) return "file";
  if (stats.isDirectory) return "directory";
  if (stats.isFifo) return "fifo";
  if (stats.isCharDevice) return "character_device";
  if (stats.isBlockDevice) return "block_device";
  if (stats.isSocket) return "socket";
  return "other";
}
