/**
 * The `audit` command line: summarize, filter, validate and verify JSON Lines
 * audit logs, and make seal keys. Runs under Deno and Bun. A file may also
 * be a folder or a glob; rotated sets are read in time order, `.gz` included:
 *
 * ```sh
 * deno run -A jsr:@atd/audit/cli stats audit.jsonl
 * bun src/cli/main.ts tail -f audit.jsonl --outcome capability_denied
 * deno run -A jsr:@atd/audit/cli tail -n 20 logs/
 * ```
 *
 * @module
 */
import type { CallEvent } from "../event/call_event.ts";
import { readCallEvents } from "../read/read_call_events.ts";
import { summarizeCallEvents } from "../read/summarize_call_events.ts";
import { IoError } from "../runtime/io_error.ts";
import { runtime } from "../runtime/runtime.ts";
import { gracePeriod } from "../_abort.ts";
import { CliError, parseArgs } from "./_args.ts";
import { formatInvalid, formatSummary, terminalSafe } from "./_format.ts";
import { HELP, HELP_KEYGEN, HELP_STATS, HELP_VALIDATE, HELP_VERIFY } from "./_help.ts";
import { display, help, oneLine, open, Output, paced, readErrors } from "./_io.ts";
import { keygen } from "./_keygen.ts";
import { expandArgs } from "./_rotated_set.ts";
import { tail } from "./_tail.ts";
import { verify } from "./_verify.ts";

/** How {@linkcode main} reaches the outside world; each field defaults to the process's own. */
export interface CliIo {
  /** Writes text to standard output. @default {the process's stdout} */
  readonly stdout?: (text: string) => Promise<void>;
  /** Writes text to standard error. @default {the process's stderr} */
  readonly stderr?: (text: string) => Promise<void>;
  /** Standard input as bytes, for `-` or no file. @default {the process's stdin} */
  readonly stdin?: () => ReadableStream<Uint8Array>;
  /** Stops `tail -f` (SIGINT and SIGTERM also do). @default {never aborts} */
  readonly signal?: AbortSignal;
}

const encoder = new TextEncoder();
/** How long main waits, at most, for its last reports to reach stderr. */
const STOP_FLUSH_MS = 1_000;

/**
 * Runs the `audit` command line with `args` (without the program name) and
 * resolves to its exit status: 0 for success, 1 when `validate` found
 * invalid lines or `verify` found the trail not intact, 2 for a usage error
 * or an unreadable file (reported in one line on stderr, never as a stack
 * trace).
 *
 * @param args The arguments, such as `["stats", "--json", "audit.jsonl"]`.
 * @param io Where input comes from and output goes; the process's by default.
 * @returns The exit status.
 *
 * @example
 * ```ts ignore
 * import { main } from "@atd/audit/cli";
 * const status = await main(["validate", "audit.jsonl"]);
 * if (status !== 0) console.error("the audit log has invalid lines");
 * ```
 */
export async function main(args: readonly string[], io: CliIo = {}): Promise<number> {
  const stdout = new Output(io.stdout ?? ((text) => runtime().write("stdout", encoder.encode(text))));
  const write = io.stderr ?? ((text: string) => runtime().write("stderr", encoder.encode(text)));
  // Reports go out in order, and main returns only once they are out (within a bound): the exit that
  // follows must not cut off the last one.
  let told = Promise.resolve();
  const stderr = (text: string): Promise<void> => (told = told.then(() => write(text)).catch(() => {}));
  try {
    return await run(args, io, stdout, stderr);
  } finally {
    const grace = gracePeriod(STOP_FLUSH_MS);
    await grace.wait(told);
    grace.end();
  }
}

async function run(
  args: readonly string[],
  io: CliIo,
  stdout: Output,
  stderr: (text: string) => Promise<void>,
): Promise<number> {
  try {
    const [command, ...rest] = args;
    switch (command) {
      case undefined:
        // A usage error: the help goes where errors go.
        await stderr(HELP);
        return 2;
      case "-h":
      case "--help":
      case "help":
        return await help(stdout, HELP);
      case "stats":
        return await stats(rest, io, stdout, stderr);
      case "tail":
        return await tail(rest, { ...io, ownStdout: io.stdout !== undefined }, stdout, stderr);
      case "validate":
        return await validate(rest, io, stdout, stderr);
      case "verify": {
        // `audit verify log | head -1` must still exit 1 for a log that is not intact: the verdict is the status.
        stdout.keepGoingOnBrokenPipe = true;
        const status = await verify(rest, runtime(), stdout, stderr);
        await stdout.flush();
        return status ?? await help(stdout, HELP_VERIFY);
      }
      case "keygen": {
        const result = await keygen(rest, runtime());
        if (result.help) return await help(stdout, HELP_KEYGEN);
        await stdout.write(result.text);
        await stdout.flush();
        return 0;
      }
      default:
        throw new CliError(
          command.startsWith("-") ? `unknown option ${command}` : `unknown command ${JSON.stringify(command)}`,
        );
    }
  } catch (error) {
    if (error instanceof IoError && error.code === "broken_pipe") return 0;
    const message = error instanceof CliError ? error.message : `unexpected error: ${oneLine(error)}`;
    try {
      await stdout.flush();
    } catch {
      // stdout is gone; the message still goes to stderr
    }
    await stderr(`audit: ${terminalSafe(message)}\n`).catch(() => {});
    return 2;
  }
}

async function stats(
  args: readonly string[],
  io: CliIo,
  stdout: Output,
  stderr: (text: string) => Promise<void>,
): Promise<number> {
  const parsed = parseArgs("stats", args, ["--json"], []);
  if (parsed.flags.has("--help")) return help(stdout, HELP_STATS);
  const files = await expandArgs(runtime(), parsed.files);
  let invalid = 0;
  async function* all(): AsyncGenerator<CallEvent> {
    for (const listed of files) {
      const opened = await open(io, listed, stderr);
      if (opened === undefined) continue;
      const { input, file } = opened;
      const events = readCallEvents(input.readable());
      yield* readErrors(file, events);
      invalid += events.stats.invalid;
      await input.close();
    }
  }
  const summary = await summarizeCallEvents(all(), { invalidLines: () => invalid });
  await stdout.write(parsed.flags.has("--json") ? JSON.stringify(summary, null, 2) + "\n" : formatSummary(summary));
  await stdout.flush();
  return 0;
}

async function validate(
  args: readonly string[],
  io: CliIo,
  stdout: Output,
  stderr: (text: string) => Promise<void>,
): Promise<number> {
  const parsed = parseArgs("validate", args, [], []);
  if (parsed.flags.has("--help")) return help(stdout, HELP_VALIDATE);
  // `audit validate big.jsonl | head -1` must still exit 1 when a line is invalid.
  stdout.keepGoingOnBrokenPipe = true;
  const files = await expandArgs(runtime(), parsed.files);
  let invalid = 0;
  let lines = 0;
  let checkpoints = 0;
  for (const listed of files) {
    const reports: string[] = [];
    const opened = await open(io, listed, stderr);
    if (opened === undefined) continue;
    const { input, file } = opened;
    // Only the invalid lines matter here: each chunk's reports are printed before the next chunk is read.
    const print = async (): Promise<void> => {
      if (reports.length > 0) await stdout.write(reports.splice(0).join(""));
    };
    const events = readCallEvents(paced(input.chunks({ follow: false }), print), {
      onInvalid: (error) => reports.push(formatInvalid(display(file), error) + "\n"),
    });
    try {
      for await (const _ of readErrors(file, events));
    } finally {
      await print();
    }
    invalid += events.stats.invalid;
    lines += events.stats.lines;
    checkpoints += events.stats.checkpoints;
    await input.close();
  }
  await stdout.flush();
  const read = files.length === 1 ? display(files[0]!) : `${files.length} files`;
  // In-band checkpoint lines are not events: counted apart (audit verify checks them).
  const skipped = checkpoints === 0 ? "" : ` (${checkpoints} checkpoint line${checkpoints === 1 ? "" : "s"} skipped)`;
  await stderr(
    invalid === 0
      ? `audit: ${read}: all ${lines - checkpoints} lines valid${skipped}\n`
      : `audit: ${read}: ${invalid} of ${lines - checkpoints} lines invalid${skipped}\n`,
  );
  return invalid === 0 ? 0 : 1;
}

if (import.meta.main) {
  const driver = runtime();
  driver.exit(await main(driver.args()));
}
