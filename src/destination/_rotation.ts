// Rotation of the file destination: when the active file is due (its size,
// a UTC hour or day boundary), it is renamed to its closed name (see
// _rotation_names.ts), its seal file with it, and the next batch starts a new
// file at the configured path. Never copy-and-truncate: a rename keeps every
// byte, and it happens between two batches, so no line or batch straddles
// two files. Compression and retention follow, off the write path.
import { runtime } from "../runtime/runtime.ts";
import type { IoError } from "../runtime/io_error.ts";
import type { FileHandle } from "../runtime/runtime_driver.ts";
import type { RotatePlan } from "./_rotate_options.ts";
import { SetNames } from "./_rotation_names.ts";
import { tidySet } from "./_retention.ts";

const HOUR = 3_600_000;
const DAY = 24 * HOUR;
/** Suffixes tried when a closed name is taken. */
const MAX_SUFFIX = 1000;

/** A seal file destination that rotates along with the data file. */
export interface RotatedSeal {
  /** The next checkpoint goes to a new file at the seal's path. */
  reopen(): void;
}

/** Closed names a rotation of this process chose and has not renamed to yet. */
const claimed = new Set<string>();

/** The rotation of each rotating file destination, for `fileSeal`. */
export const rotations: WeakMap<object, Rotation> = new WeakMap();

/** The rotation state of one file destination. */
export class Rotation {
  readonly plan: RotatePlan;
  readonly names: SetNames;
  /** When the active file started (`undefined`: not looked at yet). */
  #started: number | undefined;
  #lastStamp = -Infinity;
  #tidying: Promise<void> = Promise.resolve();
  #tidyAgain = false;
  #tidyRunning = false;
  /** The seal destination that rotates with this file (set by `fileSeal`). */
  seal: RotatedSeal | undefined;

  constructor(path: string, plan: RotatePlan) {
    this.plan = plan;
    this.names = new SetNames(path);
  }

  /** When the active file started (for `fileSeal`'s continuation), once known. */
  get started(): number | undefined {
    return this.#started;
  }

  /**
   * Whether `due` may say yes (synchronous, for the write path: most writes
   * need no more than this).
   */
  mayBeDue(size: number, bytes: number): boolean {
    if (this.#started === undefined || size === 0 || size + bytes > this.plan.maxBytes) return true;
    return this.#otherPeriod(this.plan.now(), this.#started);
  }

  /**
   * Whether `now` is in another UTC hour or day than `started`: after it (a
   * boundary passed), or before it (the clock was set back: the file's
   * period would otherwise only end once the clock caught up again).
   */
  #otherPeriod(now: number, started: number): boolean {
    if (this.plan.every === undefined) return false;
    const period = this.plan.every === "hour" ? HOUR : DAY;
    return Math.floor(now / period) !== Math.floor(started / period);
  }

  /**
   * Whether to rotate before writing `bytes` to the active file, which holds
   * `size` bytes (`handle` is it, for finding when it started). An empty
   * file is never rotated: it just starts now.
   */
  async due(handle: FileHandle, size: number, bytes: number): Promise<boolean> {
    const now = this.plan.now();
    if (size === 0) {
      this.#started = now;
      return false;
    }
    this.#started ??= await startOf(handle, now);
    if (size + bytes > this.plan.maxBytes) return true;
    return this.#otherPeriod(now, this.#started);
  }

  /** The active file was replaced (reopened after an external move): it starts now. */
  restarted(): void {
    this.#started = undefined;
  }

  /**
   * Renames the (closed) active file and its seal file to their closed
   * names; the next open makes a new active file. A missing active file
   * (moved away meanwhile) is not an error.
   *
   * @throws {IoError} When a rename fails otherwise (the active file then stays where it is).
   */
  async rotate(warn: (error: unknown) => void): Promise<void> {
    const driver = runtime();
    const { dir, active } = this.names;
    if (this.#lastStamp === -Infinity) this.#lastStamp = await newestStamp(this.names);
    // After the set's newest closed file, by a millisecond at least: names sort as the files were written,
    // whatever an earlier run's clock did.
    const started = Math.max(this.#started ?? this.plan.now(), this.#lastStamp + 1);
    this.#lastStamp = started;
    let target: string | undefined;
    for (let n = 0; n < MAX_SUFFIX && target === undefined; n++) {
      const name = `${dir}${this.names.closedName(started, this.plan.writerId, n)}`;
      // Never overwrite: a taken name (a clock that went back, two rotations in a millisecond) gets a suffix,
      // and so does one that another rotation of this process is about to take.
      if (claimed.has(name)) continue;
      claimed.add(name);
      if (!await exists(name) && !await exists(`${name}.gz`)) target = name;
      else claimed.delete(name);
    }
    if (target === undefined) target = `${dir}${this.names.closedName(started, crypto.randomUUID().slice(0, 8))}`;
    let moved = true;
    try {
      await driver.rename(active, target);
    } catch (error) {
      if ((error as IoError).code !== "not_found") throw error;
      moved = false;
    } finally {
      claimed.delete(target);
    }
    this.#started = this.plan.now(); // the next file starts with the batch written now
    if (this.seal !== undefined) {
      try {
        await driver.rename(`${active}.seal`, `${target}.seal`);
      } catch (error) {
        if ((error as IoError).code !== "not_found") warn(error);
      }
      this.seal.reopen();
    }
    if (moved) this.tidy(warn);
  }

  /** Compresses and prunes in the background: one run at a time, another after it when asked meanwhile. */
  tidy(warn: (error: unknown) => void): void {
    if (!this.plan.gzip && this.plan.keep === Infinity && this.plan.maxAgeMs === Infinity) return;
    if (this.#tidyRunning) {
      this.#tidyAgain = true;
      return;
    }
    this.#tidyRunning = true;
    this.#tidying = (async () => {
      try {
        do {
          this.#tidyAgain = false;
          await tidySet(this.names, this.plan, warn);
        } while (this.#tidyAgain);
      } catch (error) {
        warn(error);
      } finally {
        this.#tidyRunning = false;
      }
    })();
  }

  /** Resolves once the background work started so far is done. */
  settled(): Promise<void> {
    return this.#tidying;
  }
}

/** When the set's newest closed file started, from its name (`-Infinity`: none, or unreadable). */
async function newestStamp(names: SetNames): Promise<number> {
  try {
    const time = names.members(await runtime().readDir(names.folder)).at(-1)?.time;
    const ms = time === undefined ? NaN : Date.parse(time.replace(/T(\d\d)-(\d\d)-(\d\d)/, "T$1:$2:$3"));
    return Number.isNaN(ms) ? -Infinity : ms;
  } catch {
    return -Infinity;
  }
}

async function exists(path: string): Promise<boolean> {
  try {
    await runtime().stat(path);
    return true;
  } catch (error) {
    return (error as IoError).code !== "not_found";
  }
}

/**
 * When a file left with lines (by an earlier run) started, as far as the
 * set's order and time rotation go: when it last changed (it is newer than
 * every file closed before it), else now. Not its first line's `ts`: an
 * event may be stamped before the file it lands in was started.
 */
async function startOf(handle: FileHandle, now: number): Promise<number> {
  try {
    return Math.min((await handle.stat()).modifiedMs ?? now, now);
  } catch {
    return now;
  }
}
