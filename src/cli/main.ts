/**
 * The `audit` command line: summarize, filter and validate JSON Lines audit
 * logs. Runs under Deno and Bun:
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
import { summarizeCallEvents } from "../read/summarize_call_events.ts";
import { exitProcess, onInterrupt, openFileStream, processArgs, stdinStream, writeText } from "../runtime/cli_io.ts";
import { formatInvalid, formatPretty, formatSummary } from "./_format.ts";

/** How {@linkcode main} reaches the outside world; each field defaults to the process's own. */
export interface CliIo {
  /** Writes text to standard output. @default {the process's stdout} */
  readonly stdout?: (text: string) => Promise<void>;
  /** Writes text to standard error. @default {the process's stderr} */
  readonly stderr?: (text: string) => Promise<void>;
  /** Standard input as bytes, for `-` or no file. @default {the process's stdin} */
  readonly stdin?: () => ReadableStream<Uint8Array>;
  /**
   * Opens a file; rejects when it cannot be read. With `follow`, the stream
   * waits for the file to grow and ends when `signal` aborts.
   * @default {reads the file system (Deno, Bun, Node)}
   */
  readonly openFile?: (
    path: string,
    options: { readonly follow: boolean; readonly signal: AbortSignal },
  ) => Promise<ReadableStream<Uint8Array>>;
  /** Stops `tail -f` (SIGINT also does). @default {never aborts} */
  readonly signal?: AbortSignal;
}

const HELP = `audit: read JSON Lines audit logs of AI-agent tool calls

Usage: audit COMMAND [OPTIONS] [FILE...]

Commands:
  stats     Summarize events: counts by outcome, tool, caller, tier; durations
  tail      Print matching events, optionally following a growing file
  validate  List every invalid line; exit status 1 if any

Run "audit COMMAND --help" for a command's options.
Exit status: 0 ok, 1 invalid lines found (validate), 2 usage or read error.
`;

const HELP_STATS = `Usage: audit stats [--json] [FILE...]

Summarize the events of FILEs (all together), or of stdin when no FILE or "-":
total, invalid lines, first and last timestamp, duration percentiles, counts by
outcome, tool, caller and tier, and denied capabilities.

Options:
  --json      Print the summary as JSON
  -h, --help  Show this help
`;

const HELP_TAIL = `Usage: audit tail [-f] [--tool T] [--outcome K] [--caller C] [--since TIME] [--pretty] [FILE]

Print the events of FILE (or stdin when no FILE or "-") that match every filter,
one per line, as JSON lines. Invalid lines are reported on stderr.

Options:
  -f, --follow     Keep reading as FILE grows (Ctrl-C to stop)
  --tool T         Only events with tool_id T
  --outcome K      Only events whose outcome kind is K:
                   ${OUTCOME_KINDS.join(", ")}
  --caller C       Only events with caller_id C
  --since TIME     Only events at or after TIME: RFC 3339 (2026-05-29T10:00:00Z)
                   or a duration ago (30s, 15m, 2h, 7d)
  --pretty         One readable line per event instead of JSON
  -h, --help       Show this help
`;

const HELP_VALIDATE = `Usage: audit validate [FILE...]

Check every line of FILEs (or stdin when no FILE or "-") against the CallEvent
schema, versions 1 to 3. Prints each invalid line as "FILE:LINE: reason" with
the failing field, and a count on stderr.

Exit status: 0 when every line is valid, 1 when any is not, 2 on a read error.

Options:
  -h, --help  Show this help
`;

/** A problem with the command line or a file: reported in one line, exit status 2. */
class CliError extends Error {}

interface Parsed {
  readonly flags: Set<string>;
  readonly values: Map<string, string>;
  readonly files: string[];
}

/**
 * Runs the `audit` command line with `args` (without the program name) and
 * resolves to its exit status: 0 for success, 1 when `validate` found
 * invalid lines, 2 for a usage error or an unreadable file (reported in one
 * line on stderr, never as a stack trace).
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
  const stdout = new Output(io.stdout ?? ((text) => writeText("stdout", text)));
  const stderr = io.stderr ?? ((text: string) => writeText("stderr", text));
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
        await stdout.write(HELP);
        await stdout.flush();
        return 0;
      case "stats":
        return await stats(rest, io, stdout);
      case "tail":
        return await tail(rest, io, stdout, stderr);
      case "validate":
        return await validate(rest, io, stdout, stderr);
      default:
        throw new CliError(
          command.startsWith("-") ? `unknown option ${command}` : `unknown command ${JSON.stringify(command)}`,
        );
    }
  } catch (error) {
    if (isBrokenPipe(error)) return 0;
    const message = error instanceof CliError ? error.message : `unexpected error: ${oneLine(error)}`;
    try {
      await stdout.flush();
    } catch {
      // stdout is gone; the message still goes to stderr
    }
    await stderr(`audit: ${message}\n`).catch(() => {});
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
      const events = readCallEvents(await open(io, name, false, undefined));
      yield* readErrors(name, events);
      invalid += events.stats.invalid;
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
  const parsed = parseArgs("tail", args, ["-f", "--pretty"], ["--tool", "--outcome", "--caller", "--since"]);
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
  const pretty = parsed.flags.has("--pretty");
  const follow = parsed.flags.has("-f");

  const stop = new AbortController();
  io.signal?.addEventListener("abort", () => stop.abort(), { once: true });
  if (io.signal?.aborted) stop.abort();
  const unlisten = follow ? onInterrupt(() => stop.abort()) : () => {};
  // While following, lines that arrive are shown promptly rather than when 64 KiB have gathered.
  const timer = follow ? setInterval(() => stdout.flush().catch(() => stop.abort()), 100) : undefined;
  try {
    const events = readCallEvents(await open(io, name, follow, stop.signal), {
      onInvalid: (error) => void stderr(`audit: ${formatInvalid(display(name), error)}\n`).catch(() => {}),
    });
    for await (const event of readErrors(name, events)) {
      if (tool !== undefined && event.tool_id !== tool) continue;
      if (caller !== undefined && event.caller_id !== caller) continue;
      if (outcome !== undefined && event.outcome.kind !== outcome) continue;
      if (since !== undefined && !(Date.parse(event.ts) >= since)) continue;
      await stdout.write((pretty ? formatPretty(event) : encodeCallEvent(event)) + "\n");
    }
  } finally {
    if (timer !== undefined) clearInterval(timer);
    unlisten();
  }
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
  const names = parsed.files.length === 0 ? ["-"] : parsed.files;
  let invalid = 0;
  let lines = 0;
  for (const name of names) {
    const reports: string[] = [];
    const events = readCallEvents(await open(io, name, false, undefined), {
      onInvalid: (error) => reports.push(formatInvalid(display(name), error) + "\n"),
    });
    for await (const _ of readErrors(name, events)) {
      // Only the invalid lines matter here; print them as they come.
      if (reports.length > 0) await stdout.write(reports.splice(0).join(""));
    }
    await stdout.write(reports.join(""));
    invalid += events.stats.invalid;
    lines += events.stats.lines;
  }
  await stdout.flush();
  const files = names.length === 1 ? display(names[0]!) : `${names.length} files`;
  await stderr(
    invalid === 0
      ? `audit: ${files}: all ${lines} lines valid\n`
      : `audit: ${files}: ${invalid} of ${lines} lines invalid\n`,
  );
  return invalid === 0 ? 0 : 1;
}

/** Opens a named input ("-" is stdin), turning failures into a one-line CliError. */
async function open(
  io: CliIo,
  name: string,
  follow: boolean,
  signal: AbortSignal | undefined,
): Promise<ReadableStream<Uint8Array>> {
  if (name === "-") return (io.stdin ?? stdinStream)();
  try {
    const options = { follow, signal: signal ?? new AbortController().signal };
    return await (io.openFile ? io.openFile(name, options) : openFileStream(name, options));
  } catch (error) {
    throw new CliError(`cannot read ${name}: ${describeFileError(error)}`);
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

function parseArgs(command: string, args: readonly string[], flags: string[], options: string[]): Parsed {
  const parsed: Parsed = { flags: new Set(), values: new Map(), files: [] };
  for (let i = 0; i < args.length; i++) {
    const arg = args[i]!;
    if (arg === "--") {
      parsed.files.push(...args.slice(i + 1));
      break;
    }
    if (arg === "-" || !arg.startsWith("-")) {
      parsed.files.push(arg);
      continue;
    }
    if (arg === "-h" || arg === "--help") {
      parsed.flags.add("--help");
      continue;
    }
    const flag = arg === "--follow" ? "-f" : arg;
    if (flags.includes(flag)) {
      parsed.flags.add(flag);
      continue;
    }
    const eq = arg.indexOf("=");
    const key = eq === -1 ? arg : arg.slice(0, eq);
    if (!options.includes(key)) {
      throw new CliError(`unknown option ${key} for ${command} (see audit ${command} --help)`);
    }
    const value = eq === -1 ? args[++i] : arg.slice(eq + 1);
    if (value === undefined) throw new CliError(`option ${key} needs a value (see audit ${command} --help)`);
    parsed.values.set(key, value);
  }
  return parsed;
}

const UNITS: Record<string, number> = { s: 1_000, m: 60_000, h: 3_600_000, d: 86_400_000 };

function parseSince(text: string): number {
  const relative = /^(\d+)([smhd])$/.exec(text);
  if (relative) return Date.now() - Number(relative[1]) * UNITS[relative[2]!]!;
  const time = Date.parse(text);
  if (Number.isNaN(time)) {
    throw new CliError(`cannot read --since ${JSON.stringify(text)}: expected an RFC 3339 time or 30s, 15m, 2h, 7d`);
  }
  return time;
}

async function help(stdout: Output, text: string): Promise<number> {
  await stdout.write(text);
  await stdout.flush();
  return 0;
}

function display(name: string): string {
  return name === "-" ? "<stdin>" : name;
}

function describeFileError(error: unknown): string {
  const e = error as { code?: string; name?: string; message?: string };
  if (e?.code === "ENOENT" || e?.name === "NotFound") return "no such file or directory";
  if (e?.code === "EACCES" || e?.name === "PermissionDenied") return "permission denied";
  if (e?.code === "EISDIR" || e?.message === "is a directory") return "is a directory";
  return oneLine(error);
}

function oneLine(error: unknown): string {
  const text = error instanceof Error ? error.message : String(error);
  return text.split("\n")[0]!;
}

function isBrokenPipe(error: unknown): boolean {
  const e = error as { code?: string; name?: string };
  return e?.code === "EPIPE" || e?.name === "BrokenPipe";
}

/** Gathers output into large writes. */
class Output {
  readonly #write: (text: string) => Promise<void>;
  #buffer = "";
  #writing: Promise<void> = Promise.resolve();

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
    if (text !== "") this.#writing = this.#writing.then(() => this.#write(text));
    return this.#writing;
  }
}

if (import.meta.main) {
  exitProcess(await main(processArgs()));
}
