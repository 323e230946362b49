// The `rotate` option group of the file destination, checked once, at
// construction: every field's type and range, so that nothing fails later
// for a reason construction could have seen.

/** When a file is rotated, what is kept of the closed ones, and how they are named. */
export interface FileRotateOptions {
  /**
   * Rotate before a write that would take the file past this many bytes (a
   * file that is not empty): files stay within it, except one that holds a
   * single larger batch.
   * @default {undefined (no size limit)}
   */
  readonly maxBytes?: number;
  /**
   * Rotate at each UTC hour or day boundary (checked before each write), and
   * when the clock was set back before the active file's hour or day.
   * @default {undefined (no time limit)}
   */
  readonly every?: "hour" | "day";
  /**
   * Closed files to keep, at most (compressed or not, of every writer of the
   * set); older ones are removed with their seal files.
   * @default {undefined (no limit)}
   */
  readonly keep?: number;
  /** Remove closed files last changed longer ago than this. @default {undefined (no limit)} */
  readonly maxAgeMs?: number;
  /** Compress each closed file to `.gz` (CompressionStream), off the write path. @default {false} */
  readonly gzip?: boolean;
  /**
   * Written into the names of closed files, so that writers sharing a folder
   * never collide: `[A-Za-z0-9_-]{1,64}`.
   * @default {the process id, or a random id where there is none}
   */
  readonly writerId?: string;
  /** The clock, in milliseconds since the epoch (tests move it). @default {Date.now} */
  readonly now?: () => number;
}

/** The checked plan. */
export interface RotatePlan {
  readonly maxBytes: number;
  readonly every: "hour" | "day" | undefined;
  readonly keep: number;
  readonly maxAgeMs: number;
  readonly gzip: boolean;
  readonly writerId: string;
  readonly now: () => number;
}

const WRITER_ID = /^[A-Za-z0-9_-]{1,64}$/;
const FIELDS = new Set(["maxBytes", "every", "keep", "maxAgeMs", "gzip", "writerId", "now"]);

/** Checks the `rotate` option; `undefined` when absent. */
export function readRotateOptions(value: unknown, pid: number | undefined): RotatePlan | undefined {
  if (value === undefined) return undefined;
  const where = "Cannot open audit file: rotate";
  if (typeof value !== "object" || value === null || Array.isArray(value)) {
    throw new TypeError(`${where} must be an object`);
  }
  const o = value as FileRotateOptions;
  for (const key of Object.keys(o)) {
    if (!FIELDS.has(key)) throw new TypeError(`${where} has an unknown field ${JSON.stringify(key)}`);
  }
  const maxBytes = count(o.maxBytes, `${where}.maxBytes`, 1);
  if (o.every !== undefined && o.every !== "hour" && o.every !== "day") {
    throw new TypeError(`${where}.every must be "hour" or "day"`);
  }
  if (maxBytes === undefined && o.every === undefined) {
    throw new TypeError(`${where} needs maxBytes or every (or both)`);
  }
  if (o.gzip !== undefined && typeof o.gzip !== "boolean") throw new TypeError(`${where}.gzip must be a boolean`);
  if (o.now !== undefined && typeof o.now !== "function") throw new TypeError(`${where}.now must be a function`);
  const writerId = o.writerId ?? (pid === undefined ? randomId() : String(pid));
  if (typeof writerId !== "string" || !WRITER_ID.test(writerId)) {
    throw new TypeError(`${where}.writerId must be 1 to 64 of A-Z, a-z, 0-9, _ and -`);
  }
  return {
    maxBytes: maxBytes ?? Infinity,
    every: o.every,
    keep: count(o.keep, `${where}.keep`, 0) ?? Infinity,
    maxAgeMs: count(o.maxAgeMs, `${where}.maxAgeMs`, 1) ?? Infinity,
    gzip: o.gzip ?? false,
    writerId,
    now: o.now ?? Date.now,
  };
}

function count(value: unknown, name: string, min: number): number | undefined {
  if (value === undefined) return undefined;
  if (typeof value !== "number") throw new TypeError(`${name} must be a number`);
  if (!Number.isSafeInteger(value) || value < min) {
    throw new RangeError(`${name} must be an integer of at least ${min}, got ${value}`);
  }
  return value;
}

function randomId(): string {
  return crypto.randomUUID().replaceAll("-", "").slice(0, 12);
}
