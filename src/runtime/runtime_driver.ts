// What the file destination and the CLI need from the runtime, as one
// interface: a Deno implementation and a Node/Bun one, picked once by
// runtime.ts. Every method throws or rejects with an IoError, never with a
// runtime's own error.

/** The signals a program may handle: Ctrl-C, a polite stop, and a hang-up (log rotation asks to reopen on it). */
export type SignalName = "SIGINT" | "SIGTERM" | "SIGHUP";

/** What a path names, after following symbolic links. */
export type FileKind = "file" | "directory" | "fifo" | "character_device" | "block_device" | "socket" | "other";

/** What `stat` tells about a file. */
export interface FileInfo {
  /** What the file is. */
  readonly kind: FileKind;
  /** Its size in bytes (0 for pipes and devices). */
  readonly size: number;
  /**
   * `"dev:ino"`: equal for two paths or handles on one file, different once
   * the path names another file (rotated, removed and created again);
   * `undefined` where the runtime cannot tell (Windows under Deno).
   */
  readonly identity: string | undefined;
  /** When its content last changed, in milliseconds since the epoch; `undefined` where the runtime cannot tell. */
  readonly modifiedMs: number | undefined;
}

/** An open file. Closing twice is harmless; any other call after `close()` rejects. */
export interface FileHandle {
  /** The path it was opened with, as messages show it. */
  readonly path: string;
  /** What it was when opened. */
  readonly kind: FileKind;
  /**
   * Reads up to `buffer.length` bytes into `buffer`, at `position` or, when
   * it is `null`, where the last read ended (pipes, devices).
   *
   * @returns The bytes read; 0 at the end of the file (or of a pipe's writers).
   */
  read(buffer: Uint8Array, position: number | null): Promise<number>;
  /**
   * One write of the start of `bytes` (at the end of the file for a handle
   * opened for appending).
   *
   * @returns How many bytes were written: possibly fewer than given, never 0 for a non-empty `bytes`.
   */
  write(bytes: Uint8Array): Promise<number>;
  /** What the open file is now (its size, its identity), whatever its path names. */
  stat(): Promise<FileInfo>;
  /** Forces written data to the disk (fdatasync); does nothing for pipes and devices. */
  sync(): Promise<void>;
  /** Releases the file. */
  close(): Promise<void>;
}

/** Options for {@linkcode RuntimeDriver.openAppendSync}. */
export interface OpenAppendOptions {
  /** Fail with `exists` instead of opening a file that exists (a rotation's fresh file). @default {false} */
  readonly createNew?: boolean;
}

/** The runtime, as the file destination and the CLI see it. */
export interface RuntimeDriver {
  /** Which runtime this is. */
  readonly name: "deno" | "bun" | "node";
  /**
   * Opens `path` for appending, creating it when missing, synchronously (so
   * that a bad path fails where the destination is made). A regular file is
   * also readable, for checking its last byte. A FIFO nobody reads fails with
   * `no_reader` rather than blocking the thread until a reader comes.
   */
  openAppendSync(path: string | URL, options?: OpenAppendOptions): FileHandle;
  /**
   * Opens `path` for reading; a directory fails with `is_directory`. Opening a
   * FIFO waits for a writer: race it with a signal when that matters.
   */
  openRead(path: string | URL): Promise<FileHandle>;
  /** What `path` names now, following symbolic links. */
  stat(path: string | URL): Promise<FileInfo>;
  /** Renames `from` to `to`, replacing a file at `to`. */
  rename(from: string | URL, to: string | URL): Promise<void>;
  /** The names in a folder, sorted. */
  readDir(path: string | URL): Promise<string[]>;
  /** Removes a file or an empty folder. */
  remove(path: string | URL): Promise<void>;
  /** Creates the folder `path`, and its parents, when missing. */
  makeDir(path: string | URL): Promise<void>;
  /**
   * Writes `bytes` to a new file at `path`, created with permissions `mode`
   * (such as `0o600`: its owner only; the process's umask may remove more).
   * Fails with `exists` rather than replace a file.
   */
  writeNewFile(path: string | URL, bytes: Uint8Array, mode: number): Promise<void>;
  /** The process's standard input as bytes (one stream per process: call once). */
  stdin(): ReadableStream<Uint8Array>;
  /** Writes all of `bytes` to stdout or stderr; rejects with `broken_pipe` when the reader has gone. */
  write(which: "stdout" | "stderr", bytes: Uint8Array): Promise<void>;
  /** Whether stdout or stderr is a terminal (then output from logs is escaped harder). */
  isTerminal(which: "stdout" | "stderr"): boolean;
  /** The process id, where there is one. */
  pid(): number | undefined;
  /** The command-line arguments after the script. */
  args(): string[];
  /** Ends the process now with `code`, whatever is still pending. */
  exit(code: number): never;
  /**
   * Calls `handler` on `signal` instead of the default (which ends the
   * process). Where the runtime cannot listen for it (Windows), does nothing.
   *
   * @returns A function that stops listening (the default applies again once nobody listens).
   */
  onSignal(signal: SignalName, handler: () => void): () => void;
}
