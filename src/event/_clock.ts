// The event's `ts`, formatted as the reference's now_rfc3339() (see
// nowRfc3339), once per millisecond: many calls share a millisecond, and
// Date#toISOString costs more than the rest of recording a call.
//
// A call's start reads one clock, the monotonic one (its `duration_ms` needs
// it anyway); the wall clock's millisecond is read from Date.now() only when
// the monotonic time cannot tell it (see WallMillis): most calls read one
// clock instead of two, and a call's ULID shares the millisecond of its `ts`.
import { PADDED } from "./_decimal.ts";
import { isBun } from "../runtime/engine.ts";

let lastMs = Number.NaN;
let lastTs = "";
/** The second `secondPrefix` formats ("2026-05-29T10:04:05"): a new millisecond needs only its digits. */
let lastSecond = Number.NaN;
let secondPrefix = "";

/** The current time in RFC 3339 with a `+00:00` offset, like `nowRfc3339()`. */
export function timestamp(): string {
  return timestampAt(wholeMillis());
}

/**
 * Date.now(), which gives whole milliseconds, unless a test or a polyfill
 * replaced it with a clock that gives fractions (a time's digits are looked
 * up by whole milliseconds: a fraction would write "undefined" into `ts` and
 * ULIDs).
 */
function wholeMillis(): number {
  return Math.floor(Date.now());
}

/** `ms` (milliseconds since the epoch) in RFC 3339 with a `+00:00` offset, like `nowRfc3339()`. */
export function timestampAt(ms: number): string {
  if (ms !== lastMs) {
    lastMs = ms;
    const frac = ms % 1000;
    if (!(frac >= 0)) return lastTs = format(ms); // before 1970, or not a time: toISOString decides
    if (ms - frac !== lastSecond) {
      lastSecond = ms - frac;
      secondPrefix = format(lastSecond).slice(0, 19);
    }
    lastTs = frac === 0 ? `${secondPrefix}+00:00` : `${secondPrefix}.${PADDED[frac]}+00:00`;
  }
  return lastTs;
}

/** `ms` as `nowRfc3339()` formats it, from scratch. */
function format(ms: number): string {
  const iso = new Date(ms).toISOString(); // 2026-05-29T10:04:05.123Z
  const frac = iso.slice(19, 23);
  return `${iso.slice(0, 19)}${frac === ".000" ? "" : frac}+00:00`;
}

/**
 * How long before the end of the window that {@linkcode WallMillis} can
 * prove it stops trusting it: performance.now() may be coarsened (5–100 µs in
 * browsers) and the two clocks may run at rates that differ by parts per
 * million.
 */
const MARGIN_MS = 0.2;

/**
 * The wall clock's millisecond (`Date.now()`), kept from monotonic time
 * between readings. When a reading is one more than the one before, the
 * wall clock ticked after that earlier reading, so it shows the new
 * millisecond until at least a millisecond after the earlier reading: until
 * then `ms` holds without reading Date.now() again. Any other change (the
 * first reading, idle time, the wall clock being set) opens no window. So
 * `ms` is exactly what Date.now() would return, as long as both clocks
 * advance at the same rate; a step of the wall clock inside a window is seen
 * when the window ends, under 1 ms (monotonic) later.
 */
export class WallMillis {
  /** The wall clock's millisecond at the last reading (`NaN` before the first). */
  ms: number;
  /** Monotonic time up to which `ms` is surely the wall clock's millisecond. */
  until: number;
  /** Monotonic time just before the last reading. */
  before: number;

  constructor() {
    this.ms = Number.NaN;
    this.until = -Infinity;
    this.before = -Infinity;
  }

  /** Whether `ms` is still the wall clock's millisecond at monotonic time `now`. */
  holds(now: number): boolean {
    return now <= this.until;
  }

  /** Takes `wall`, a reading of the wall clock made right after monotonic time `now`. */
  read(now: number, wall: number): void {
    if (wall !== this.ms) this.until = wall === this.ms + 1 ? this.before + 1 - MARGIN_MS : -Infinity;
    this.ms = wall;
    this.before = now;
  }

  /** Takes `wall`, a reading of a clock that need not follow monotonic time: it opens no window, now or next time. */
  readUntrusted(wall: number): void {
    this.ms = wall;
    this.until = -Infinity;
    this.before = -Infinity;
  }
}

const wall = new WallMillis();

/**
 * Date.now as the runtime provides it, whose windows are trusted. One that
 * was replaced (fake timers in tests, a polyfill) may step to any time at any
 * moment, a step of one millisecond included: it is read at every call. So
 * is Date.now when this module loads after it was replaced, and Bun's
 * (`undefined`): `bun:test`'s `setSystemTime` moves the native clock itself.
 */
const SYSTEM_NOW: (() => number) | undefined = isNative(Date.now) && !isBun ? Date.now : undefined;

function isNative(f: () => number): boolean {
  try {
    return /\{\s*\[native code\]\s*\}$/.test(Function.prototype.toString.call(f));
  } catch {
    return false;
  }
}

/**
 * The monotonic time now (`performance.now()`), the start of a call; after
 * it, {@linkcode startMillis} gives the wall time of that same instant.
 */
export function startClock(): number {
  const now = performance.now();
  if (Date.now !== SYSTEM_NOW) wall.readUntrusted(wholeMillis());
  else if (!wall.holds(now)) wall.read(now, wholeMillis());
  return now;
}

/** Date.now() as of the last {@linkcode startClock}. */
export function startMillis(): number {
  return wall.ms;
}
