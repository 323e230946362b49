// Which files the command line reads, in which order: the arguments
// expanded (folders, globs) and each rotated set put in time order.
//
// The naming contract, shared with the file destination's rotation: the
// active file is the configured path (`logs/audit.jsonl`); closed files are
// `logs/audit.<T>.<W>.jsonl`, optionally `.gz`, where <T> is a UTC time such
// as `2026-12-02T05-59-59.123Z` and <W> the writer's id. A set is ordered by
// <T>, then <W>, then the active file (no <T>) last. The seal of a data file
// is its name without `.gz` plus `.seal`; seal files are never data.
import { IoError } from "../runtime/io_error.ts";
import type { RuntimeDriver } from "../runtime/runtime_driver.ts";
import { CliError } from "./_args.ts";
import { terminalSafe } from "./_format.ts";
import { expandGlob, isGlob } from "./_glob.ts";

/** One data file to read. */
export interface DataFile {
  /** Its path, as given or as listed. */
  readonly path: string;
  /** Read through gunzip (the name ends with `.gz`). */
  readonly gzip: boolean;
  /** The set it belongs to: its folder and name before <T> (or before `.jsonl`). */
  readonly stem: string;
  /** <T> of a closed file, with milliseconds (`.000` when the name had none). */
  readonly time: string | undefined;
  /** <W> of a closed file. */
  readonly writer: string | undefined;
  /** Where its seal would be: the name without `.gz`, plus `.seal`. */
  readonly seal: string;
  /** Found in a folder or by a glob (not named): it may be gone by the time it is read. */
  readonly listed: boolean;
  /**
   * Its seal is the active file's (`seal`): a rotation was cut between
   * renaming the active file to this one and renaming its seal file.
   */
  readonly cutRotation?: boolean;
}

/** Standard input, among the files. */
export const STDIN = "-";

const CLOSED =
  /^(.+)\.(\d{4}-\d{2}-\d{2}T\d{2}-\d{2}-\d{2})(\.\d{3})?Z\.([A-Za-z0-9_-]{1,64}(?:-\d{1,9})?)\.jsonl(\.gz)?$/s;
const ACTIVE = /^(.+)\.jsonl(\.gz)?$/s;
/** What a folder contributes: its JSON Lines files, compressed or not. */
const IN_FOLDER = /\.jsonl(\.gz)?$/;

/** Reads a path against the naming contract. */
export function dataFile(path: string, listed = false): DataFile {
  const slash = path.lastIndexOf("/");
  const dir = path.slice(0, slash + 1);
  const name = path.slice(slash + 1);
  const gzip = name.endsWith(".gz");
  const seal = `${gzip ? path.slice(0, -3) : path}.seal`;
  const closed = CLOSED.exec(name);
  if (closed !== null) {
    const [, stem, time, ms, writer] = closed;
    return { path, gzip, stem: dir + stem, time: `${time}${ms ?? ".000"}Z`, writer, seal, listed };
  }
  const active = ACTIVE.exec(name);
  return { path, gzip, stem: dir + (active?.[1] ?? name), time: undefined, writer: undefined, seal, listed };
}

/**
 * Where a listed closed file went when it is no longer there: its `.gz`
 * (compression writes the archive whole before removing the plain file);
 * `undefined` for any other file (removed: retention).
 */
export function compressedInstead(file: DataFile): DataFile | undefined {
  return file.listed && !file.gzip && file.time !== undefined ? dataFile(`${file.path}.gz`, true) : undefined;
}

/** Whether a name is a seal file (never read as data). */
export function isSealFile(path: string): boolean {
  return /\.seal(\.gz)?$/.test(path);
}

/**
 * Whether a name is an archive a compression is writing, or a killed one
 * left (`<closed file>.gz.<W>.<8 hex>.tmp`): never read as data, as its
 * closed file still holds every line (`'logs/audit*.jsonl*'` matches it).
 */
export function isTemporaryArchive(path: string): boolean {
  return /\.gz\.[A-Za-z0-9_-]{1,64}\.[0-9a-f]{8}\.tmp$/.test(path);
}

/**
 * Orders files into sets: the sets in the order their first file came,
 * each set's closed files by <T>, then <W> (digits compared as numbers, so
 * `w-2` before `w-10`), then its active file. A path named twice is read
 * once; a closed file present both plain and `.gz` (compression under way)
 * is read plain, which is complete for sure.
 */
export function orderSets(files: readonly (DataFile | typeof STDIN)[]): (DataFile | typeof STDIN)[] {
  const groups = new Map<string, DataFile[]>();
  const order: (string | typeof STDIN)[] = [];
  const seen = new Set<string>();
  for (const file of files) {
    if (file === STDIN) {
      order.push(STDIN);
      continue;
    }
    if (seen.has(file.path)) continue;
    seen.add(file.path);
    let group = groups.get(file.stem);
    if (group === undefined) {
      groups.set(file.stem, group = []);
      order.push(`set:${file.stem}`);
    }
    group.push(file);
  }
  const out: (DataFile | typeof STDIN)[] = [];
  for (const key of order) {
    if (key === STDIN) {
      out.push(STDIN);
      continue;
    }
    const group = groups.get(key.slice(4))!.sort(compareInSet);
    const plain = new Set(group.filter((f) => !f.gzip).map((f) => f.path));
    out.push(...group.filter((f) => !(f.gzip && f.time !== undefined && plain.has(f.path.slice(0, -3)))));
  }
  return out;
}

function compareInSet(a: DataFile, b: DataFile): number {
  if (a.time === undefined || b.time === undefined) {
    if (a.time !== b.time) return a.time === undefined ? 1 : -1;
    return a.gzip === b.gzip ? compareText(a.path, b.path) : a.gzip ? -1 : 1;
  }
  if (a.time !== b.time) return a.time < b.time ? -1 : 1;
  return compareNatural(a.writer!, b.writer!) || (a.gzip === b.gzip ? 0 : a.gzip ? 1 : -1);
}

/** Compares with runs of digits as numbers: `w-2` < `w-10`. */
export function compareNatural(a: string, b: string): number {
  const parts = (s: string): string[] => s.match(/\d+|\D+/g) ?? [];
  const x = parts(a);
  const y = parts(b);
  for (let i = 0; i < Math.min(x.length, y.length); i++) {
    const p = x[i]!;
    const q = y[i]!;
    if (p === q) continue;
    if (/^\d/.test(p) && /^\d/.test(q)) {
      const n = p.replace(/^0+/, "");
      const m = q.replace(/^0+/, "");
      if (n.length !== m.length) return n.length - m.length;
      if (n !== m) return n < m ? -1 : 1;
    }
    return compareText(p, q);
  }
  return x.length - y.length || compareText(a, b);
}

function compareText(a: string, b: string): number {
  return a < b ? -1 : a > b ? 1 : 0;
}

/**
 * The files `args` name, in reading order: a file as given (seal files
 * and temporary archives left out), a folder's `*.jsonl` and `*.jsonl.gz` files, a glob's files
 * (`*`, `?`, `**`); `-` is stdin; none is stdin. Then {@linkcode orderSets}.
 *
 * @throws {CliError} When a glob matches nothing, a folder holds no log, or
 *   every file named is a seal file.
 */
export async function expandArgs(driver: RuntimeDriver, args: readonly string[]): Promise<(DataFile | typeof STDIN)[]> {
  if (args.length === 0) return [STDIN];
  const files: (DataFile | typeof STDIN)[] = [];
  for (const arg of args) {
    if (arg === STDIN) {
      files.push(STDIN);
      continue;
    }
    const info = isGlob(arg) ? undefined : await driver.stat(arg).catch(() => undefined);
    let paths: string[];
    const listed = isGlob(arg) || info?.kind === "directory";
    if (isGlob(arg)) {
      paths = await expandGlob(driver, arg).catch((error) => {
        throw new CliError(`cannot read ${terminalSafe(arg)}: ${describe(error)}`);
      });
      if (paths.length === 0) throw new CliError(`no file matches ${terminalSafe(arg)}`);
    } else if (info?.kind === "directory") {
      const dir = arg.endsWith("/") ? arg : `${arg}/`;
      const names = await driver.readDir(arg).catch((error) => {
        throw new CliError(`cannot read ${terminalSafe(arg)}: ${describe(error)}`);
      });
      paths = [];
      for (const name of names.filter((n) => IN_FOLDER.test(n))) {
        // Regular files (or gone since the listing: said when read); never a folder, or a FIFO that waits for a writer.
        const kind = (await driver.stat(dir + name).catch(() => undefined))?.kind;
        if (kind === undefined || kind === "file") paths.push(dir + name);
      }
      if (paths.length === 0) throw new CliError(`no .jsonl or .jsonl.gz file in ${terminalSafe(arg)}`);
    } else paths = [arg]; // a file, or a path that will fail to open with its own message
    files.push(
      ...paths.filter((path) => !isSealFile(path) && !isTemporaryArchive(path)).map((path) => dataFile(path, listed)),
    );
  }
  if (files.length === 0) {
    throw new CliError(
      "no data file to read: seal files are read by audit verify only, and temporary archives (.gz.*.tmp) never",
    );
  }
  return orderSets(files);
}

function describe(error: unknown): string {
  return error instanceof IoError ? error.reason : String(error);
}
