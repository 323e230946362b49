// The file destination's file access (the CLI's reads are in cli_io.ts). Deno has its own file API;
// Node and Bun share node:fs.
import * as fs from "node:fs";

/** An open file, append-only. */
export interface AppendFile {
  /** Writes all of `bytes` at the end of the file. */
  write(bytes: Uint8Array): Promise<void>;
  /** Forces written data to the disk. */
  sync(): Promise<void>;
  /** Closes the file. */
  close(): Promise<void>;
}

interface DenoFile {
  write(bytes: Uint8Array): Promise<number>;
  syncData(): Promise<void>;
  close(): void;
}
interface DenoGlobal {
  openSync(path: string | URL, options: { append: boolean; create: boolean }): DenoFile;
}

/** Opens `path` for appending, creating it if missing. Throws the runtime's error. */
export function openAppend(path: string | URL): AppendFile {
  const deno = (globalThis as { Deno?: DenoGlobal }).Deno;
  if (deno) {
    const file = deno.openSync(path, { append: true, create: true });
    return {
      async write(bytes) {
        for (let done = 0; done < bytes.length;) done += await file.write(bytes.subarray(done));
      },
      sync: () => file.syncData(),
      close: () => new Promise<void>((resolve) => resolve(file.close())),
    };
  }
  const fd = fs.openSync(path, "a");
  return {
    async write(bytes) {
      for (let done = 0; done < bytes.length;) done += await nodeWrite(fd, bytes.subarray(done));
    },
    sync: () => new Promise((resolve, reject) => fs.fdatasync(fd, (e) => (e ? reject(e) : resolve()))),
    close: () => new Promise((resolve, reject) => fs.close(fd, (e) => (e ? reject(e) : resolve()))),
  };
}

function nodeWrite(fd: number, bytes: Uint8Array): Promise<number> {
  return new Promise((resolve, reject) => fs.write(fd, bytes, (e, written) => (e ? reject(e) : resolve(written))));
}
