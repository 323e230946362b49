/**
 * The `audit` command line: summarize, filter, validate and verify JSON Lines
 * audit logs, and make seal keys. Runs under Deno and Bun:
 *
 * ```sh
 * deno run -A jsr:@atd/audit/cli stats audit.jsonl
 * bun src/cli/main.ts tail -f audit.jsonl --outcome capability_denied
 * ```
 *
 * @module
 */
import { type CallEvent, OUTCOME_KINDS } from "../event/call_event.ts";
import { encodeCallEvent } from "../event/encode_call_event.ts";
import { readCallEvents } from "../read/read_call_events.ts";
import type { InvalidLineError } from "../read/invalid_line_error.ts";
import { summarizeCallEvents } from "../read/summarize_call_events.ts";
import { IoError } from "../runtime/io_error.ts";
import { runtime } from "../runtime/runtime.ts";
import { gracePeriod, untilAborted } from "../_abort.ts";
import { CliError, parseArgs, parseCount, parseSince } from "./_args.ts";
import { formatInvalid, formatPretty, formatSummary, jsonForTerminal, terminalSafe } from "./_format.ts";
import { HELP, HELP_KEYGEN, HELP_STATS, HELP_TAIL, HELP_VALIDATE, HELP_VERIFY } from "./_help.ts";
import { Input } from "./_input.ts";
import { keygen } from "./_keygen.ts";
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

/** How long output may take to drain once `tail -f` is told to stop. */
const STOP_FLUSH_MS = 1_000;
const encoder = new TextEncoder();

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
        return await stats(rest, io, stdout);
      case "tail":
        return await tail(rest, io, stdout, stderr);
      case "validate":
        return await validate(rest, io, stdout, stderr);
      case "verify": {
        const status = await verify(rest, runtime(), stdout);
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

async function stats(args: readonly string[], io: CliIo, stdout: Output): Promise<number> {
  const parsed = parseArgs("stats", args, ["--json"], []);
  if (parsed.flags.has("--help")) return help(stdout, HELP_STATS);
  const names = parsed.files.length === 0 ? ["-"] : parsed.files;
  let invalid = 0;
  async function* all(): AsyncGenerator<CallEvent> {
    for (const name of names) {
      const input = await open(io, name);
      const events = readCallEvents(input.chunks({ follow: false }));
      yield* readErrors(name, events);
      invalid += events.stats.invalid;
      await input.close();
    }
  }
  const summary = await summarizeCallEvents(all(), { invalidLines: () => invalid });
  await stdout.write(parsed.flags.has("--json") ? JSON.stringify(summary, null, 2) + "\n" : formatSummary(summary));
  await stdout.flush();
  return 0;
}

async function tail(
  args: readonly string[],
  io: CliIo,
  stdout: Output,
  stderr: (text: string) => Promise<void>,
): Promise<number> {
  const parsed = parseArgs("tail", args, ["-f", "--pretty"], ["--tool", "--outcome", "--caller", "--since", "-n"]);
  if (parsed.flags.has("--help")) return help(stdout, HELP_TAIL);
  if (parsed.files.length > 1) throw new CliError("tail takes one FILE (see audit tail --help)");
  const name = parsed.files[0] ?? "-";
  const tool = parsed.values.get("--tool");
  const caller = parsed.values.get("--caller");
  const outcome = parsed.values.get("--outcome");
  if (outcome !== undefined && !(OUTCOME_KINDS as readonly string[]).includes(outcome)) {
    throw new CliError(`unknown outcome kind ${JSON.stringify(outcome)}: expected one of ${OUTCOME_KINDS.join(", ")}`);
  }
  const sinceText = parsed.values.get("--since");
  const since = sinceText === undefined ? undefined : parseSince(sinceText);
  const countText = parsed.values.get("-n");
  const last = countText === undefined ? undefined : parseCount(countText);
  const pretty = parsed.flags.has("--pretty");
  const follow = parsed.flags.has("-f");
  // JSON lines stay byte for byte the encoder's in a pipe; on a terminal, what it would act on is escaped.
  const toTerminal = io.stdout === undefined && runtime().isTerminal("stdout");
  const show = (event: CallEvent): string | undefined => {
    if (tool !== undefined && event.tool_id !== tool) return undefined;
    if (caller !== undefined && event.caller_id !== caller) return undefined;
    if (outcome !== undefined && event.outcome.kind !== outcome) return undefined;
    if (since !== undefined && !(Date.parse(event.ts) >= since)) return undefined;
    if (pretty) return formatPretty(event) + "\n";
    const line = encodeCallEvent(event);
    return (toTerminal ? jsonForTerminal(line) : line) + "\n";
  };
  const invalid = (offset: number) => (error: InvalidLineError): void =>
    void stderr(`audit: ${formatInvalid(display(name), error, offset)}\n`).catch(() => {});

  const stop = new AbortController();
  const { signal } = stop;
  io.signal?.addEventListener("abort", () => stop.abort(), { once: true });
  if (io.signal?.aborted) stop.abort();
  const unlisten = follow ? stopOnSignals(stop) : () => {};
  // While following, lines that arrive are shown promptly rather than when 64 KiB have gathered.
  const timer = follow ? setInterval(() => stdout.flush().catch(() => stop.abort()), 100) : undefined;
  const work = (async (): Promise<void> => {
    const input = await open(io, name);
    let offset = 0;
    if (last !== undefined) {
      // The last N, from what the file holds now; a partial last line waits for the follow.
      const kept: string[] = []; // a ring: once full, `oldest` is where the next one goes
      let oldest = 0;
      const events = readCallEvents(input.chunks({ follow: false, wholeLines: follow, signal }), {
        onInvalid: invalid(0),
      });
      for await (const event of readErrors(name, events)) {
        const text = show(event);
        if (text === undefined || last === 0) continue;
        if (kept.length < last) kept.push(text);
        else {
          kept[oldest] = text;
          oldest = (oldest + 1) % last;
        }
      }
      for (let i = 0; i < kept.length; i++) await stdout.write(kept[(oldest + i) % kept.length]!);
      offset = events.stats.lines;
    }
    while (last === undefined || follow) {
      const events = readCallEvents(input.chunks({ follow, signal }), { onInvalid: invalid(offset) });
      for await (const event of readErrors(name, events)) {
        const text = show(event);
        if (text !== undefined) await stdout.write(text);
      }
      if (input.ended !== "truncated" && input.ended !== "replaced") break;
      await stdout.flush();
      await stderr(`audit: ${display(name)} was ${input.ended}: reading it from its start\n`);
      offset = 0;
    }
    await input.close();
  })();
  try {
    // A signal ends the command whatever the work is blocked on (opening a
    // FIFO nobody writes, a read, a full stdout): the process exits after it.
    const stopped = new Promise<void>((resolve) => signal.addEventListener("abort", () => resolve(), { once: true }));
    await (follow || io.signal ? Promise.race([work, stopped]) : work);
  } finally {
    if (timer !== undefined) clearInterval(timer);
    unlisten();
    work.catch(() => {}); // when stopped: whatever it ends with, nobody is listening
  }
  if (signal.aborted) await untilAborted(stdout.flush(), AbortSignal.timeout(STOP_FLUSH_MS));
  else await stdout.flush();
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
  const names = parsed.files.length === 0 ? ["-"] : parsed.files;
  let invalid = 0;
  let lines = 0;
  let checkpoints = 0;
  for (const name of names) {
    const reports: string[] = [];
    const input = await open(io, name);
    const events = readCallEvents(input.chunks({ follow: false }), {
      onInvalid: (error) => reports.push(formatInvalid(display(name), error) + "\n"),
    });
    for await (const _ of readErrors(name, events)) {
      // Only the invalid lines matter here; print them as they come.
      if (reports.length > 0) await stdout.write(reports.splice(0).join(""));
    }
    await stdout.write(reports.join(""));
    invalid += events.stats.invalid;
    lines += events.stats.lines;
    checkpoints += events.stats.checkpoints;
    await input.close();
  }
  await stdout.flush();
  const files = names.length === 1 ? display(names[0]!) : `${names.length} files`;
  // In-band checkpoint lines are not events: counted apart (audit verify checks them).
  const skipped = checkpoints === 0 ? "" : ` (${checkpoints} checkpoint line${checkpoints === 1 ? "" : "s"} skipped)`;
  await stderr(
    invalid === 0
      ? `audit: ${files}: all ${lines - checkpoints} lines valid${skipped}\n`
      : `audit: ${files}: ${invalid} of ${lines - checkpoints} lines invalid${skipped}\n`,
  );
  return invalid === 0 ? 0 : 1;
}

/** Aborts `stop` on SIGINT or SIGTERM; a second signal ends the process at once. */
function stopOnSignals(stop: AbortController): () => void {
  const driver = runtime();
  const handler = (): void => {
    if (stop.signal.aborted) driver.exit(130);
    stop.abort();
  };
  const unlisten = [driver.onSignal("SIGINT", handler), driver.onSignal("SIGTERM", handler)];
  return () => unlisten.forEach((off) => off());
}

/** Opens a named input ("-" is stdin), turning failures into a one-line CliError. */
async function open(io: CliIo, name: string): Promise<Input> {
  if (name === "-") return Input.stream((io.stdin ?? (() => runtime().stdin()))());
  try {
    return await Input.file(runtime(), name);
  } catch (error) {
    throw new CliError(`cannot read ${display(name)}: ${describeFileError(error)}`);
  }
}

/** Iterates `events`, turning a read failure in the middle of a file into a one-line CliError. */
async function* readErrors(name: string, events: AsyncIterable<CallEvent>): AsyncGenerator<CallEvent> {
  try {
    yield* events;
  } catch (error) {
    throw new CliError(`cannot read ${display(name)}: ${describeFileError(error)}`);
  }
}

async function help(stdout: Output, text: string): Promise<number> {
  await stdout.write(text);
  await stdout.flush();
  return 0;
}

/** A file's name as messages show it: file names are attacker-chosen too. */
function display(name: string): string {
  return name === "-" ? "<stdin>" : terminalSafe(name);
}

function describeFileError(error: unknown): string {
  return error instanceof IoError ? error.reason : oneLine(error);
}

function oneLine(error: unknown): string {
  const text = error instanceof Error ? error.message : String(error);
  return text.split("\n")[0]!;
}

/** Gathers output into large writes. */
class Output {
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

if (import.meta.main) {
  const driver = runtime();
  driver.exit(await main(driver.args()));
}
