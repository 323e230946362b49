// What the commands share: opening the files they read (stdin, plain or
// gzip), turning read failures into one-line errors, names shown safely,
// and output gathered into large writes.
import type { CallEvent } from "../event/call_event.ts";
import { IoError } from "../runtime/io_error.ts";
import { runtime } from "../runtime/runtime.ts";
import { CliError } from "./_args.ts";
import { terminalSafe } from "./_format.ts";
import { Input } from "./_input.ts";
import { compressedInstead, type DataFile, STDIN } from "./_rotated_set.ts";

/** Where a command's input comes from, when not the process's own. */
export interface InputIo {
  /** Standard input as bytes, for `-` or no file. */
  readonly stdin?: () => ReadableStream<Uint8Array>;
}

/** A file opened, and which file that is (a closed file's `.gz` when compression replaced it meanwhile). */
export interface Opened {
  readonly input: Input;
  readonly file: DataFile | typeof STDIN;
}

/**
 * Opens a file of the command line (`-` is stdin), turning failures into a
 * one-line CliError. A file found in a folder or by a glob that is gone by
 * now was compressed (its `.gz` is read instead) or removed by retention
 * (`warn` is told, and it is skipped: `undefined`).
 */
export async function open(
  io: InputIo,
  file: DataFile | typeof STDIN,
  warn: (text: string) => Promise<void>,
): Promise<Opened | undefined> {
  if (file === STDIN) return { input: Input.stream((io.stdin ?? (() => runtime().stdin()))()), file };
  try {
    return { input: await Input.file(runtime(), file.path, file.gzip), file };
  } catch (error) {
    if (!file.listed || !(error instanceof IoError) || error.code !== "not_found") {
      throw new CliError(`cannot read ${display(file)}: ${describeFileError(error)}`);
    }
  }
  const compressed = compressedInstead(file);
  if (compressed !== undefined) {
    const opened = await open(io, compressed, () => Promise.resolve()).catch(() => undefined);
    if (opened !== undefined) return opened;
  }
  await warn(`audit: ${display(file)} was removed while the set was read: skipped\n`);
  return undefined;
}

/**
 * `chunks`, awaiting `tell()` before each next chunk is read: a reader of
 * the result reads on only once what the chunks so far led to (the reports
 * of their invalid lines) went out, so no more than one chunk's reports wait
 * in memory, whatever the file holds. Call `tell()` once more after the
 * reader ends (a torn last line is reported at the end).
 */
export async function* paced(
  chunks: AsyncIterable<Uint8Array>,
  tell: () => Promise<void>,
): AsyncGenerator<Uint8Array, void, undefined> {
  const iterator = chunks[Symbol.asyncIterator]();
  try {
    for (;;) {
      await tell();
      const next = await iterator.next();
      if (next.done) return;
      yield next.value;
    }
  } finally {
    await iterator.return?.();
  }
}

/** Iterates `events`, turning a read failure in the middle of a file into a one-line CliError. */
export async function* readErrors(
  file: DataFile | typeof STDIN,
  events: AsyncIterable<CallEvent>,
): AsyncGenerator<CallEvent> {
  try {
    yield* events;
  } catch (error) {
    throw new CliError(`cannot read ${display(file)}: ${describeFileError(error)}`);
  }
}

/** A file's name as messages show it: file names are attacker-chosen too. */
export function display(file: DataFile | string): string {
  const name = typeof file === "string" ? file : file.path;
  return name === STDIN ? "<stdin>" : terminalSafe(name);
}

export function describeFileError(error: unknown): string {
  return error instanceof IoError ? error.reason : oneLine(error);
}

export function oneLine(error: unknown): string {
  const text = error instanceof Error ? error.message : String(error);
  return text.split("\n")[0]!;
}

/** Gathers output into large writes. */
export class Output {
  readonly #write: (text: string) => Promise<void>;
  #buffer = "";
  #writing: Promise<void> = Promise.resolve();
  /** Output to a closed pipe is dropped instead of ending the command (set by `validate`). */
  keepGoingOnBrokenPipe = false;
  #gone = false;

  constructor(write: (text: string) => Promise<void>) {
    this.#write = write;
  }

  async write(text: string): Promise<void> {
    this.#buffer += text;
    if (this.#buffer.length >= 64 * 1024) await this.flush();
  }

  flush(): Promise<void> {
    const text = this.#buffer;
    this.#buffer = "";
    if (text !== "" && !this.#gone) {
      this.#writing = this.#writing.then(() => this.#write(text)).catch((error: unknown) => {
        if (!(this.keepGoingOnBrokenPipe && error instanceof IoError && error.code === "broken_pipe")) throw error;
        this.#gone = true;
      });
    }
    return this.#writing;
  }
}

/** Prints a help text; exit status 0. */
export async function help(stdout: Output, text: string): Promise<number> {
  await stdout.write(text);
  await stdout.flush();
  return 0;
}
