// The command line's access to the process: files, stdin, stdout/stderr,
// arguments, exit and SIGINT. Deno has its own APIs; Bun and Node share
// node:fs and process.
import * as fsp from "node:fs/promises";
import { standardStreamWriter } from "./stdio.ts";

/** Bytes read per file read. */
const READ_SIZE = 64 * 1024;

/** Options for {@linkcode openFileStream}. */
export interface OpenFileOptions {
  /** Keep reading as the file grows, polling its size; ends on `signal`. */
  readonly follow?: boolean;
  /** Milliseconds between polls when following. */
  readonly pollMs?: number;
  /** Ends a followed stream (it then closes normally). */
  readonly signal?: AbortSignal;
}

interface DenoFsFile {
  read(buffer: Uint8Array): Promise<number | null>;
  close(): void;
}
interface DenoGlobal {
  open(path: string, options: { read: true }): Promise<DenoFsFile>;
  stat(path: string): Promise<{ isDirectory: boolean }>;
  stdin: { readable: ReadableStream<Uint8Array> };
  args: string[];
  exit(code: number): never;
  addSignalListener(signal: "SIGINT", handler: () => void): void;
  removeSignalListener(signal: "SIGINT", handler: () => void): void;
}
interface ProcessGlobal {
  argv: string[];
  exit(code: number): never;
  stdin: AsyncIterable<Uint8Array>;
  on(event: "SIGINT", handler: () => void): unknown;
  off(event: "SIGINT", handler: () => void): unknown;
}

const deno = (globalThis as { Deno?: DenoGlobal }).Deno;
const proc = (globalThis as { process?: ProcessGlobal }).process;

/**
 * Opens `path` for reading as a byte stream. Rejects at once (with the
 * runtime's error) when the file is missing, unreadable or a directory.
 */
export async function openFileStream(path: string, options: OpenFileOptions = {}): Promise<ReadableStream<Uint8Array>> {
  let read: (buffer: Uint8Array) => Promise<number>;
  let close: () => Promise<void>;
  if (deno) {
    if ((await deno.stat(path)).isDirectory) throw new Error("is a directory");
    const file = await deno.open(path, { read: true });
    read = async (buffer) => (await file.read(buffer)) ?? 0;
    close = () => Promise.resolve(file.close());
  } else {
    const handle = await fsp.open(path, "r");
    if ((await handle.stat()).isDirectory()) {
      await handle.close();
      throw new Error("is a directory");
    }
    read = async (buffer) => (await handle.read(buffer, 0, buffer.length, null)).bytesRead;
    close = () => handle.close();
  }
  const { follow = false, pollMs = 200, signal } = options;
  let closed = false;
  const finish = async (): Promise<void> => {
    if (closed) return;
    closed = true;
    await close();
  };
  return new ReadableStream<Uint8Array>({
    async pull(controller) {
      for (;;) {
        if (signal?.aborted) {
          await finish();
          controller.close();
          return;
        }
        // A fresh buffer each time: readers may keep the bytes they were given.
        const buffer = new Uint8Array(READ_SIZE);
        const n = await read(buffer);
        if (n > 0) {
          controller.enqueue(buffer.subarray(0, n));
          return;
        }
        if (!follow) {
          await finish();
          controller.close();
          return;
        }
        await sleep(pollMs, signal);
      }
    },
    cancel: finish,
  }, { highWaterMark: 0 });
}

/** The process's standard input as a byte stream. */
export function stdinStream(): ReadableStream<Uint8Array> {
  if (deno) return deno.stdin.readable;
  let iterator: AsyncIterator<Uint8Array> | undefined;
  return new ReadableStream<Uint8Array>({
    async pull(controller) {
      iterator ??= proc!.stdin[Symbol.asyncIterator]();
      const next = await iterator.next();
      if (next.done) controller.close();
      else controller.enqueue(new Uint8Array(next.value.buffer, next.value.byteOffset, next.value.byteLength));
    },
    async cancel() {
      await iterator?.return?.();
    },
  }, { highWaterMark: 0 });
}

const encoder = new TextEncoder();

/** Writes `text` to stdout or stderr; resolves when the runtime has taken it. */
export async function writeText(which: "stdout" | "stderr", text: string): Promise<void> {
  const write = standardStreamWriter(which);
  if (write) await write(encoder.encode(text));
}

/** The command-line arguments after the script. */
export function processArgs(): string[] {
  if (deno) return [...deno.args];
  return proc ? proc.argv.slice(2) : [];
}

/** Ends the process with `code`. */
export function exitProcess(code: number): never {
  if (deno) deno.exit(code);
  if (proc) proc.exit(code);
  throw new Error(`exit ${code}`);
}

/** Calls `handler` on SIGINT (Ctrl-C) instead of dying; returns a function that stops listening. */
export function onInterrupt(handler: () => void): () => void {
  if (deno) {
    deno.addSignalListener("SIGINT", handler);
    return () => deno.removeSignalListener("SIGINT", handler);
  }
  proc?.on("SIGINT", handler);
  return () => proc?.off("SIGINT", handler);
}

function sleep(ms: number, signal: AbortSignal | undefined): Promise<void> {
  return new Promise((resolve) => {
    const timer = setTimeout(done, ms);
    signal?.addEventListener("abort", done, { once: true });
    function done(): void {
      clearTimeout(timer);
      signal?.removeEventListener("abort", done);
      resolve();
    }
  });
}
