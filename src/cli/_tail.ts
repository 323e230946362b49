// `audit tail`: the matching events of files or rotated sets, the last N of
// them, and following the active file through rotation and truncation.
import { type CallEvent, OUTCOME_KINDS } from "../event/call_event.ts";
import { encodeCallEvent } from "../event/encode_call_event.ts";
import type { InvalidLineError } from "../read/invalid_line_error.ts";
import { readCallEvents } from "../read/read_call_events.ts";
import { runtime } from "../runtime/runtime.ts";
import { untilAborted } from "../_abort.ts";
import { CliError, parseArgs, parseCount, parseSince } from "./_args.ts";
import { formatInvalid, formatPretty, jsonForTerminal } from "./_format.ts";
import { HELP_TAIL } from "./_help.ts";
import type { Input } from "./_input.ts";
import { display, help, type InputIo, open, type Output, paced, readErrors } from "./_io.ts";
import { type DataFile, expandArgs, STDIN } from "./_rotated_set.ts";

/** What `tail` reads from and listens to. */
export interface TailIo extends InputIo {
  /** Set when stdout is the caller's own (then it is never treated as a terminal). */
  readonly ownStdout: boolean;
  /** Stops `tail -f`. */
  readonly signal?: AbortSignal | undefined;
}

/** How long output may take to drain once `tail -f` is told to stop. */
const STOP_FLUSH_MS = 1_000;

type File = DataFile | typeof STDIN;

/** Runs `audit tail`; see HELP_TAIL. */
export async function tail(
  args: readonly string[],
  io: TailIo,
  stdout: Output,
  stderr: (text: string) => Promise<void>,
): Promise<number> {
  const parsed = parseArgs("tail", args, ["-f", "--pretty"], ["--tool", "--outcome", "--caller", "--since", "-n"]);
  if (parsed.flags.has("--help")) return help(stdout, HELP_TAIL);
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
  const driver = runtime();
  let files = await expandArgs(driver, parsed.files);
  if (follow) checkFollowable(files);
  // JSON lines stay byte for byte the encoder's in a pipe; on a terminal, what it would act on is escaped.
  const toTerminal = !io.ownStdout && driver.isTerminal("stdout");
  const show = (event: CallEvent): string | undefined => {
    if (tool !== undefined && event.tool_id !== tool) return undefined;
    if (caller !== undefined && event.caller_id !== caller) return undefined;
    if (outcome !== undefined && event.outcome.kind !== outcome) return undefined;
    if (since !== undefined && !(Date.parse(event.ts) >= since)) return undefined;
    if (pretty) return formatPretty(event) + "\n";
    const line = encodeCallEvent(event);
    return (toTerminal ? jsonForTerminal(line) : line) + "\n";
  };
  // Reports wait for the end of their chunk, then go out before the next chunk is read (see paced).
  const reports: string[] = [];
  const invalid = (file: File) => (error: InvalidLineError): void =>
    void reports.push(`audit: ${formatInvalid(display(file), error)}\n`);
  const tell = async (): Promise<void> => {
    if (reports.length > 0) await stderr(reports.splice(0).join("")).catch(() => {});
  };

  const stop = new AbortController();
  const { signal } = stop;
  io.signal?.addEventListener("abort", () => stop.abort(), { once: true });
  if (io.signal?.aborted) stop.abort();
  const unlisten = follow ? stopOnSignals(stop) : () => {};
  // While following, lines that arrive are shown promptly rather than when 64 KiB have gathered.
  const timer = follow ? setInterval(() => stdout.flush().catch(() => stop.abort()), 100) : undefined;

  /** Prints the matching events of a file read once, as they are read. */
  const printOnce = async (input: Input, file: File) => {
    const events = readCallEvents(paced(input.chunks({ follow: false, signal }), tell), {
      onInvalid: invalid(file),
    });
    try {
      for await (const event of readErrors(file, events)) {
        const text = show(event);
        if (text !== undefined) await stdout.write(text);
      }
    } finally {
      await tell();
    }
  };

  /** The last `count` matching events of a file read once. */
  const readOnce = async (input: Input, file: File, count: number) => {
    const kept = new Last(count);
    const events = readCallEvents(paced(input.chunks({ follow: false, signal }), tell), {
      onInvalid: invalid(file),
    });
    try {
      for await (const event of readErrors(file, events)) {
        const text = show(event);
        if (text !== undefined) kept.push(text);
      }
    } finally {
      await tell();
    }
    return kept.texts();
  };

  /** The last `count` matching events of `older` files (newest back), in file order. */
  const lastOf = async (older: readonly File[], count: number): Promise<string[]> => {
    const newest: string[][] = [];
    let kept = 0;
    for (let i = older.length - 1; i >= 0 && kept < count; i--) {
      const opened = await open(io, older[i]!, stderr);
      if (opened === undefined) continue;
      const { input, file } = opened;
      try {
        const texts = await readOnce(input, file, count - kept);
        newest.push(texts);
        kept += texts.length;
      } finally {
        await input.close();
      }
    }
    return newest.reverse().flat();
  };

  const work = (async (): Promise<void> => {
    let followed: Input | undefined;
    let followedFile: File | undefined;
    if (follow) {
      // Open the followed file first, then list the set again: a rotation in
      // between shows in the new listing, and the file just rotated (the one
      // open) is left out of it rather than read twice.
      followedFile = files.at(-1)!;
      // Named or listed, the followed file must be there: not skipped when missing.
      const named: File = followedFile === STDIN ? STDIN : { ...followedFile, listed: false };
      followed = (await open(io, named, stderr))!.input;
      if (followedFile !== STDIN && parsed.files.length > 0) {
        files = await withoutFollowed(await expandArgs(driver, parsed.files), followedFile, followed.identity);
      }
      files = files.slice(0, -1);
    }
    if (last === undefined) {
      for (const listed of files) {
        const opened = await open(io, listed, stderr);
        if (opened === undefined) continue;
        const { input, file } = opened;
        try {
          await printOnce(input, file);
        } finally {
          await input.close();
        }
      }
    } else if (followed === undefined) {
      for (const text of await lastOf(files, last)) await stdout.write(text);
    }
    if (followed === undefined) return;
    // With -n, the followed file is read once, by one reader, from its start: its matching events are kept (the
    // last N) until the read first reaches its end; then the older files' share and those are printed, and what
    // comes after is printed as it comes. A partial last line waits in the reader for the rest of it.
    const kept = last === undefined ? undefined : new Last(last);
    let caughtUp = kept === undefined;
    const catchUp = async (): Promise<void> => {
      if (caughtUp) return;
      caughtUp = true;
      const own = kept!.texts();
      for (const text of await lastOf(files, last! - own.length)) await stdout.write(text);
      for (const text of own) await stdout.write(text);
    };
    for (;;) {
      const events = readCallEvents(paced(followed.chunks({ follow: true, signal, atEnd: catchUp }), tell), {
        onInvalid: invalid(followedFile!),
      });
      try {
        for await (const event of readErrors(followedFile!, events)) {
          const text = show(event);
          if (text === undefined) continue;
          if (caughtUp) await stdout.write(text);
          else kept!.push(text);
        }
      } finally {
        await tell();
      }
      await catchUp(); // stdin ends without waiting at its end
      if (followed.ended !== "truncated" && followed.ended !== "replaced") break;
      await stdout.flush();
      await stderr(`audit: ${display(followedFile!)} was ${followed.ended}: reading it from its start\n`);
    }
    await followed.close();
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

/** `tail -f` follows one file: the last of one set, not compressed. */
function checkFollowable(files: readonly File[]): void {
  const followed = files.at(-1)!;
  const sets = new Set(files.map((file) => file === STDIN ? STDIN : file.stem));
  if (sets.size > 1) {
    throw new CliError(`tail -f follows one file or one rotated set, not ${sets.size} (see audit tail --help)`);
  }
  if (followed !== STDIN && followed.gzip) {
    throw new CliError(`cannot follow ${display(followed)}: a compressed file does not grow`);
  }
}

/** The files of a new listing before the followed one, leaving out the file the followed input has open. */
async function withoutFollowed(files: File[], followed: DataFile, identity: string | undefined): Promise<File[]> {
  const driver = runtime();
  const kept: File[] = [];
  for (const file of files) {
    if (file === STDIN || file.path === followed.path) continue;
    if (identity !== undefined && (await driver.stat(file.path).catch(() => undefined))?.identity === identity) {
      continue;
    }
    kept.push(file);
  }
  return [...kept, followed];
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

/** The last `count` texts pushed (a ring: once full, `oldest` is where the next one goes). */
class Last {
  readonly #count: number;
  readonly #kept: string[] = [];
  #oldest = 0;

  constructor(count: number) {
    this.#count = count;
  }

  push(text: string): void {
    if (this.#count === 0) return;
    if (this.#kept.length < this.#count) this.#kept.push(text);
    else {
      this.#kept[this.#oldest] = text;
      this.#oldest = (this.#oldest + 1) % this.#count;
    }
  }

  /** Oldest first. */
  texts(): string[] {
    return this.#kept.slice(this.#oldest).concat(this.#kept.slice(0, this.#oldest));
  }
}
