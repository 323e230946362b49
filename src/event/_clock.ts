// The event's `ts`, formatted as the reference's now_rfc3339() (see
// nowRfc3339), once per millisecond: many calls share a millisecond, and
// Date#toISOString costs more than the rest of recording a call.
let lastMs = Number.NaN;
let lastTs = "";

/** The current time in RFC 3339 with a `+00:00` offset, like `nowRfc3339()`. */
export function timestamp(): string {
  const now = Date.now();
  if (now !== lastMs) {
    lastMs = now;
    const iso = new Date(now).toISOString(); // 2026-05-29T10:04:05.123Z
    const ms = iso.slice(19, 23);
    lastTs = `${iso.slice(0, 19)}${ms === ".000" ? "" : ms}+00:00`;
  }
  return lastTs;
}
