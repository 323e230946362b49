// The runtime driver for Node and Bun: node:fs, node:process. Bun implements
// these modules, with the same errno names, so one driver serves both.
import * as fs from "node:fs";
import process from "node:process";
import { IoError, pathText, toIoError } from "./io_error.ts";
import type { FileHandle, FileInfo, FileKind, OpenAppendOptions, RuntimeDriver, SignalName } from "./runtime_driver.ts";
import { writeStandard } from "./_write_standard.ts";

type Callback<T> = (error: NodeJS.ErrnoException | null, value: T) => void;

/**
 * The driver for Node (`name: "node"`) or Bun (`name: "bun"`).
 *
 * @param name Which of the two this is.
 * @returns The driver.
 */
export function nodeDriver(name: "node" | "bun"): RuntimeDriver {
  return {
    name,
    openAppendSync(path: string | URL, options: OpenAppendOptions = {}): FileHandle {
      const text = pathText(path);
      const kind = kindOfPath(path);
      try {
        if (kind === "fifo") return fdHandle(openFifoForWriting(path, text), text, kind);
        return fdHandle(fs.openSync(path, options.createNew ? "ax+" : "a+"), text, kind ?? "file");
      } catch (error) {
        throw toIoError(error, "open {path} for appending", text);
      }
    },
    async openRead(path: string | URL): Promise<FileHandle> {
      const text = pathText(path);
      const fd = await call<number>("open {path} for reading", text, (done) => fs.open(path, "r", done));
      try {
        const kind = kindOf(await call<fs.BigIntStats>("stat", text, (done) => fs.fstat(fd, { bigint: true }, done)));
        if (kind === "directory") throw new IoError("is_directory", { action: "open {path} for reading", path: text });
        return fdHandle(fd, text, kind);
      } catch (error) {
        fs.close(fd, () => {});
        throw error;
      }
    },
    async stat(path: string | URL): Promise<FileInfo> {
      return info(await call<fs.BigIntStats>("stat", pathText(path), (done) => fs.stat(path, { bigint: true }, done)));
    },
    async rename(from: string | URL, to: string | URL): Promise<void> {
      await call("rename", `${pathText(from)} → ${pathText(to)}`, (done) => fs.rename(from, to, (e) => done(e, 0)));
    },
    async readDir(path: string | URL): Promise<string[]> {
      return (await call<string[]>("list", pathText(path), (done) => fs.readdir(path, done))).sort();
    },
    async remove(path: string | URL): Promise<void> {
      const text = pathText(path);
      try {
        await call("remove", text, (done) => fs.unlink(path, (e) => done(e, 0)));
      } catch (error) {
        // unlink refuses folders (EISDIR on Linux, EPERM on macOS): those take rmdir.
        const code = (error as IoError).code;
        if ((code !== "is_directory" && code !== "permission_denied") || !isFolder(path)) throw error;
        await call("remove", text, (done) => fs.rmdir(path, (e) => done(e, 0)));
      }
    },
    async makeDir(path: string | URL): Promise<void> {
      await call("create folder", pathText(path), (done) => fs.mkdir(path, { recursive: true }, (e) => done(e, 0)));
    },
    async writeNewFile(path: string | URL, bytes: Uint8Array, mode: number): Promise<void> {
      await call(
        "create",
        pathText(path),
        (done) => fs.writeFile(path, bytes, { flag: "wx", mode }, (e) => done(e, 0)),
      );
    },
    stdin: nodeStdin,
    write: writeStandard,
    isTerminal: (which: "stdout" | "stderr"): boolean => process[which]?.isTTY === true,
    pid: () => process.pid,
    args: () => process.argv.slice(2),
    exit: (code: number): never => process.exit(code),
    onSignal(signal: SignalName, handler: () => void): () => void {
      try {
        process.on(signal, handler);
      } catch {
        return () => {}; // not a signal this platform delivers
      }
      return () => void process.off(signal, handler);
    },
  };
}

/** A FIFO opened for writing, failing with `no_reader` when nobody reads it (a plain open would block until someone does). */
function openFifoForWriting(path: string | URL, text: string): number {
  let probe: number;
  try {
    probe = fs.openSync(path, fs.constants.O_WRONLY | fs.constants.O_NONBLOCK);
  } catch (error) {
    const code = (error as NodeJS.ErrnoException).code === "ENXIO" ? "no_reader" : undefined;
    if (code === undefined) throw error;
    throw new IoError(code, { action: "open {path} for appending", path: text, cause: error });
  }
  // A reader is there, so this open returns at once; writes then block (not fail) while the pipe is full.
  try {
    return fs.openSync(path, "a");
  } finally {
    fs.closeSync(probe);
  }
}

/** What `path` names, or `undefined` when it cannot tell (missing: the open creates it or says why). */
function kindOfPath(path: string | URL): FileKind | undefined {
  try {
    return kindOf(fs.statSync(path));
  } catch {
    return undefined;
  }
}

/** Whether `path` itself (not what a link points to) is a folder. */
function isFolder(path: string | URL): boolean {
  try {
    return fs.lstatSync(path).isDirectory();
  } catch {
    return false;
  }
}

function fdHandle(fd: number, path: string, kind: FileKind): FileHandle {
  let closed = false;
  // A closed descriptor's number is soon reused by another open: never touch it again.
  const open = <T>(action: string, run: (done: Callback<T>) => void): Promise<T> =>
    closed
      ? Promise.reject(new IoError("other", { action, path, reason: "the file is closed" }))
      : call(action, path, run);
  return {
    path,
    kind,
    read: (buffer, position) => open("read", (done) => fs.read(fd, buffer, 0, buffer.length, position, done)),
    async write(bytes) {
      const n = await open<number>("write to", (done) => fs.write(fd, bytes, 0, bytes.length, null, done));
      if (n === 0 && bytes.length > 0) {
        throw new IoError("other", { action: "write to", path, reason: "wrote nothing" });
      }
      return n;
    },
    stat: async () => info(await open<fs.BigIntStats>("stat", (done) => fs.fstat(fd, { bigint: true }, done))),
    sync:
      () => (kind === "file"
        ? open("sync", (done) => fs.fdatasync(fd, (e) => done(e, 0))).then(() => {})
        : Promise.resolve()),
    async close() {
      if (closed) return;
      closed = true;
      await call("close", path, (done) => fs.close(fd, (e) => done(e, 0)));
    },
  };
}

function call<T>(action: string, path: string, run: (done: Callback<T>) => void): Promise<T> {
  return new Promise((resolve, reject) => {
    try {
      run((error, value) => (error ? reject(toIoError(error, action, path)) : resolve(value)));
    } catch (error) {
      reject(toIoError(error, action, path)); // argument errors are thrown, not passed back
    }
  });
}

function info(stats: fs.BigIntStats): FileInfo {
  return {
    kind: kindOf(stats),
    size: Number(stats.size),
    identity: `${stats.dev}:${stats.ino}`,
    modifiedMs: Number((stats.mtimeNs + 500_000n) / 1_000_000n), // to the nearest millisecond, as utimes set it
  };
}

function kindOf(stats: fs.Stats | fs.BigIntStats): FileKind {
  if (stats.isFile()) return "file";
  if (stats.isDirectory()) return "directory";
  if (stats.isFIFO()) return "fifo";
  if (stats.isCharacterDevice()) return "character_device";
  if (stats.isBlockDevice()) return "block_device";
  if (stats.isSocket()) return "socket";
  return "other";
}

function nodeStdin(): ReadableStream<Uint8Array> {
  let iterator: AsyncIterator<Uint8Array> | undefined;
  return new ReadableStream<Uint8Array>({
    async pull(controller) {
      iterator ??= (process.stdin as AsyncIterable<Uint8Array>)[Symbol.asyncIterator]();
      try {
        const next = await iterator.next();
        if (next.done) controller.close();
        else controller.enqueue(new Uint8Array(next.value.buffer, next.value.byteOffset, next.value.byteLength));
      } catch (error) {
        throw toIoError(error, "read", "<stdin>");
      }
    },
    async cancel() {
      await iterator?.return?.();
    },
  }, { highWaterMark: 0 });
}
