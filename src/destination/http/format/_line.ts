// One line as a format sees it: its exact text, its parsed object and its
// time; or why no format can carry it.
import type { FormatLine, LineTime } from "./fetch_body_format.ts";

/** Fatal: a line that is not valid UTF-8 could not travel unchanged inside a JSON string. */
const utf8 = new TextDecoder("utf-8", { fatal: true, ignoreBOM: true });
/** Replacing: several times faster than fatal decoding in Node (ICU), and exact when no U+FFFD comes out. */
const lenient = new TextDecoder("utf-8", { ignoreBOM: true });

const RFC3339 = /^(\d{4})-(\d{2})-(\d{2})[Tt](\d{2}):(\d{2}):(\d{2})(?:\.(\d{1,9}))?(?:[Zz]|([+-])(\d{2}):(\d{2}))$/;
/** The last second whose nanoseconds fit an unsigned 64-bit integer (OTLP's fixed64). */
const MAX_SECONDS = 18_446_744_072;

/**
 * `bytes` (one line, without its "\n") as a {@linkcode FormatLine}, or why it
 * cannot be one: not UTF-8, not JSON, not a JSON object.
 */
export function readLine(bytes: Uint8Array): FormatLine | string {
  const text = decodeUtf8(bytes);
  return text === undefined ? "the line is not valid UTF-8" : lineOf(text);
}

/** `bytes` as text, or `undefined` when they are not valid UTF-8. */
export function decodeUtf8(bytes: Uint8Array): string | undefined {
  const text = lenient.decode(bytes);
  if (!text.includes("\uFFFD")) return text;
  // A replacement character: an invalid sequence, or a U+FFFD written as such.
  try {
    return utf8.decode(bytes);
  } catch {
    return undefined;
  }
}

/** One line's text (without its "\n") as a {@linkcode FormatLine}, or why it cannot be one. */
export function lineOf(text: string): FormatLine | string {
  let event: unknown;
  try {
    event = JSON.parse(text);
  } catch {
    return "the line is not JSON";
  }
  if (typeof event !== "object" || event === null || Array.isArray(event)) return "the line is not a JSON object";
  const record = event as Record<string, unknown>;
  const ts = record.ts;
  return { text, event: record, time: typeof ts === "string" ? timeOf(ts) : undefined };
}

// Lines come in bursts that share a timestamp (the sink's clock formats one per millisecond).
let lastTs = "";
let lastTime: LineTime | undefined;

function timeOf(ts: string): LineTime | undefined {
  if (ts !== lastTs) {
    const time = parseTime(ts);
    lastTime = time === undefined ? undefined : Object.freeze(time);
    lastTs = ts;
  }
  return lastTime;
}

/**
 * An RFC 3339 timestamp as a Unix time, exact to the nanosecond; `undefined`
 * for anything else, and for times before 1970 or past what 64 bits of
 * nanoseconds hold (2554).
 */
export function parseTime(ts: string): LineTime | undefined {
  const m = RFC3339.exec(ts);
  if (m === null) return undefined;
  const [year, month, day, hour, minute, second] = m.slice(1, 7).map(Number) as [
    number,
    number,
    number,
    number,
    number,
    number,
  ];
  if (month < 1 || month > 12 || day < 1 || day > daysIn(year, month) || hour > 23 || minute > 59 || second > 60) {
    return undefined;
  }
  let offset = 0;
  if (m[8] !== undefined) {
    const oh = Number(m[9]);
    const om = Number(m[10]);
    if (oh > 23 || om > 59) return undefined;
    offset = (m[8] === "-" ? -1 : 1) * (oh * 3600 + om * 60);
  }
  // Date.UTC reads years 0–99 as 1900–1999: those years are long before 1970 (offsets are under a day).
  if (year < 100) return undefined;
  const unixSeconds = Date.UTC(year, month - 1, day, hour, minute, second) / 1000 - offset;
  if (unixSeconds < 0 || unixSeconds > MAX_SECONDS) return undefined;
  const fraction = m[7] ?? "";
  const nanos = fraction.padEnd(9, "0");
  return {
    unixNano: unixSeconds === 0 ? String(Number(nanos)) : `${unixSeconds}${nanos}`,
    unixMs: unixSeconds * 1000 + Number(nanos.slice(0, 3)),
    unixSeconds,
    fraction,
  };
}

function daysIn(year: number, month: number): number {
  return new Date(Date.UTC(2000, month, 0)).getUTCDate() - (month === 2 && !isLeap(year) ? 1 : 0);
}

function isLeap(year: number): boolean {
  return year % 4 === 0 && (year % 100 !== 0 || year % 400 === 0);
}

/** A string as a JSON string literal. */
export function quote(text: string): string {
  return JSON.stringify(text);
}

/** UTF-8 length of `text`, counting only as far as needed to know whether it is over `limit`. */
export function utf8Over(text: string, limit: number): boolean {
  if (text.length * 3 <= limit) return false;
  let bytes = 0;
  for (let i = 0; i < text.length; i++) {
    const c = text.charCodeAt(i);
    if (c < 0x80) bytes += 1;
    else if (c < 0x800) bytes += 2;
    else if (c >= 0xd800 && c <= 0xdbff && i + 1 < text.length) {
      const next = text.charCodeAt(i + 1);
      if (next >= 0xdc00 && next <= 0xdfff) {
        bytes += 4;
        i++;
      } else bytes += 3;
    } else bytes += 3;
    if (bytes > limit) return true;
  }
  return false;
}
