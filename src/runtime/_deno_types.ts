// The part of the `Deno` namespace this package uses: the one private
// declaration of it, so that type checks pass without Deno's own types (Node,
// Bun, editors) and nothing public mentions them. Types only: importing this
// file loads nothing.

/** `Deno.FileInfo`. The `is*` device fields are `null` on Windows. */
export interface DenoFileInfo {
  readonly isFile: boolean;
  readonly isDirectory: boolean;
  readonly isSymlink: boolean;
  readonly isFifo: boolean | null;
  readonly isCharDevice: boolean | null;
  readonly isBlockDevice: boolean | null;
  readonly isSocket: boolean | null;
  readonly size: number;
  readonly dev: number;
  readonly ino: number | null;
  readonly mtime: Date | null;
}

/** `Deno.FsFile`. */
export interface DenoFsFile {
  read(buffer: Uint8Array): Promise<number | null>;
  write(bytes: Uint8Array): Promise<number>;
  seek(offset: number, whence: 0 | 1 | 2): Promise<number>;
  stat(): Promise<DenoFileInfo>;
  syncData(): Promise<void>;
  close(): void;
}

/** `Deno.OpenOptions`. */
export interface DenoOpenOptions {
  readonly read?: boolean;
  readonly write?: boolean;
  readonly append?: boolean;
  readonly create?: boolean;
  readonly createNew?: boolean;
}

/** `Deno.stdout` and `Deno.stderr`. */
export interface DenoWriter {
  write(bytes: Uint8Array): Promise<number>;
  isTerminal?(): boolean;
}

/** The `Deno` global. */
export interface DenoNamespace {
  openSync(path: string | URL, options: DenoOpenOptions): DenoFsFile;
  open(path: string | URL, options: DenoOpenOptions): Promise<DenoFsFile>;
  stat(path: string | URL): Promise<DenoFileInfo>;
  statSync(path: string | URL): DenoFileInfo;
  rename(from: string | URL, to: string | URL): Promise<void>;
  readDir(path: string | URL): AsyncIterable<{ readonly name: string }>;
  remove(path: string | URL): Promise<void>;
  mkdir(path: string | URL, options: { readonly recursive: boolean }): Promise<void>;
  writeFile(
    path: string | URL,
    data: Uint8Array,
    options: { readonly createNew: boolean; readonly mode: number },
  ): Promise<void>;
  readonly stdin: { readonly readable: ReadableStream<Uint8Array> };
  readonly stdout?: DenoWriter;
  readonly stderr?: DenoWriter;
  readonly args: readonly string[];
  readonly pid: number;
  exit(code: number): never;
  addSignalListener(signal: string, handler: () => void): void;
  removeSignalListener(signal: string, handler: () => void): void;
}
