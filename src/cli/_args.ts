// The command line's arguments: flags, options with values, files, and the
// values that need reading (--since, -n).

/** A problem with the command line or a file: reported in one line, exit status 2. */
export class CliError extends Error {}

/** The arguments of one command. */
export interface Parsed {
  readonly flags: Set<string>;
  /** Each option's last value. */
  readonly values: Map<string, string>;
  /** Each option's values, in order (for an option that may repeat). */
  readonly lists: Map<string, string[]>;
  readonly files: string[];
}

/** Long spellings of short flags and options. */
const ALIASES: Record<string, string> = { "--follow": "-f", "--lines": "-n" };

/** Splits `args` into known `flags`, `options` (with a value: `--x V`, `--x=V`, `-n5`) and files. */
export function parseArgs(command: string, args: readonly string[], flags: string[], options: string[]): Parsed {
  const parsed: Parsed = { flags: new Set(), values: new Map(), lists: new Map(), files: [] };
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
    const flag = ALIASES[arg] ?? arg;
    if (flags.includes(flag)) {
      parsed.flags.add(flag);
      continue;
    }
    const eq = arg.indexOf("=");
    let key = eq === -1 ? arg : arg.slice(0, eq);
    let value: string | undefined = eq === -1 ? undefined : arg.slice(eq + 1);
    if (/^-[a-z]./.test(key) && options.includes(key.slice(0, 2)) && value === undefined) {
      value = key.slice(2); // -n5
      key = key.slice(0, 2);
    }
    key = ALIASES[key] ?? key;
    if (!options.includes(key)) {
      throw new CliError(`unknown option ${key} for ${command} (see audit ${command} --help)`);
    }
    value ??= args[++i];
    if (value === undefined) throw new CliError(`option ${key} needs a value (see audit ${command} --help)`);
    parsed.values.set(key, value);
    parsed.lists.set(key, [...parsed.lists.get(key) ?? [], value]);
  }
  return parsed;
}

const UNITS: Record<string, number> = { s: 1_000, m: 60_000, h: 3_600_000, d: 86_400_000 };

/** `--since`: an RFC 3339 time or a duration ago (30s, 15m, 2h, 7d), as epoch milliseconds. */
export function parseSince(text: string): number {
  const relative = /^(\d+)([smhd])$/.exec(text);
  if (relative) return Date.now() - Number(relative[1]) * UNITS[relative[2]!]!;
  const time = Date.parse(text);
  if (Number.isNaN(time)) {
    throw new CliError(`cannot read --since ${JSON.stringify(text)}: expected an RFC 3339 time or 30s, 15m, 2h, 7d`);
  }
  return time;
}

/** `-n`: a count of events, 0 or more. */
export function parseCount(text: string): number {
  const count = /^\d{1,9}$/.test(text) ? Number(text) : NaN;
  if (!Number.isSafeInteger(count)) {
    throw new CliError(`cannot read -n ${JSON.stringify(text)}: expected a number of events, 0 to 999999999`);
  }
  return count;
}
