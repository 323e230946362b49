// The names of a rotated set: the active file keeps the configured path
// (`logs/audit.jsonl`: stem `audit`, extension `.jsonl`); a closed file is
// `logs/audit.<T>.<W>.jsonl`, where <T> is the UTC time it started with the
// colons as `-` (`2026-12-02T05-59-59.123Z`: sorts by time, valid on every
// file system) and <W> the writer id (with `-1`, `-2`… added when the name is
// taken), then `.gz` once compressed. Its seal file is the name without `.gz`
// plus `.seal`. Readers order a set by <T>, then <W>, the active file last.

/** One closed file of a set, as found in its folder. */
export interface SetMember {
  /** The name without `.gz`: the name its seal file is derived from. */
  readonly base: string;
  /** Its names in the folder: the plain one, the `.gz` one, or both (a compression a crash interrupted). */
  readonly names: string[];
  /** When it started, as written in the name. */
  readonly time: string;
  readonly writer: string;
}

/** Where the files of one set live and what they are called. */
export class SetNames {
  /** The folder, ending with a separator (or empty for the working folder). */
  readonly dir: string;
  readonly stem: string;
  readonly ext: string;
  readonly #pattern: RegExp;

  constructor(path: string) {
    const cut = Math.max(path.lastIndexOf("/"), path.lastIndexOf("\\")) + 1;
    this.dir = path.slice(0, cut);
    const base = path.slice(cut);
    const dot = base.lastIndexOf(".");
    this.stem = dot > 0 ? base.slice(0, dot) : base;
    this.ext = dot > 0 ? base.slice(dot) : "";
    this.#pattern = new RegExp(
      `^${escape(this.stem)}\\.(\\d{4}-\\d\\d-\\d\\dT\\d\\d-\\d\\d-\\d\\d\\.\\d{3}Z)\\.([A-Za-z0-9_-]{1,80})` +
        `${escape(this.ext)}(\\.gz)?$`,
    );
  }

  /** The folder to list (`.` for the working folder). */
  get folder(): string {
    return this.dir === "" ? "." : this.dir;
  }

  /** The active file's path. */
  get active(): string {
    return `${this.dir}${this.stem}${this.ext}`;
  }

  /** The name a file that started at `ms` takes when closed by `writer`, with a suffix `n` when taken. */
  closedName(ms: number, writer: string, n = 0): string {
    return `${this.stem}.${stamp(ms)}.${writer}${n === 0 ? "" : `-${n}`}${this.ext}`;
  }

  /** The closed files of this set among `names` (a folder's listing), oldest first. */
  members(names: readonly string[]): SetMember[] {
    const found = new Map<string, SetMember>();
    for (const name of names) {
      const m = this.#pattern.exec(name);
      if (m === null) continue;
      const base = m[3] === undefined ? name : name.slice(0, -3);
      const member = found.get(base);
      if (member === undefined) found.set(base, { base, names: [name], time: m[1]!, writer: m[2]! });
      else member.names.push(name);
    }
    return [...found.values()].sort((a, b) => compare(a.time, b.time) || compare(a.writer, b.writer));
  }
}

/** A time as names carry it: ISO 8601 in UTC, milliseconds, `-` for `:`. */
export function stamp(ms: number): string {
  return new Date(ms).toISOString().replaceAll(":", "-");
}

function compare(a: string, b: string): number {
  return a < b ? -1 : a > b ? 1 : 0;
}

function escape(text: string): string {
  return text.replace(/[.*+?^${}()|[\]\\]/g, "\\$&");
}
