import { scrubSecrets } from "./scrub_secrets.ts";

/**
 * Characters past the limit that are scrubbed with the kept text, so that a
 * secret that starts before the limit is seen whole (or long enough for its
 * pattern) before the text is cut.
 */
const SCRUB_MARGIN = 1024;
/**
 * Characters dropped from the end of a scrubbed window that was cut from a
 * longer text: a secret cut off by the window's end may be too short to match
 * its pattern, and must not survive either. Longer than any fixed-length
 * secret shape; the open-ended shapes match a cut-off prefix.
 */
const TAIL_GUARD = 256;

/**
 * `text`, well-formed (lone surrogates become U+FFFD, which the encoder would
 * otherwise reject), optionally scrubbed of secrets, and cut to `max` UTF-16
 * code units (never inside a surrogate pair) followed by a marker such as
 * `…[truncated: 5000 chars]` giving the original length.
 */
export function limitText(text: string, max: number, scrub: boolean): string {
  if (text.length <= max && !scrub) return text.isWellFormed() ? text : text.toWellFormed();
  const windowed = text.length > max + SCRUB_MARGIN;
  let s = windowed ? text.slice(0, max + SCRUB_MARGIN) : text;
  if (scrub) s = scrubSecrets(s);
  if (windowed) s = s.slice(0, Math.max(0, s.length - TAIL_GUARD));
  if (!s.isWellFormed()) s = s.toWellFormed();
  if (!windowed && s.length <= max) return s;
  return cut(s, max) + `…[truncated: ${text.length} chars]`;
}

/** `text` without lone surrogates, and cut to `max` like {@linkcode limitText} but without scrubbing. */
export function limitId(text: string, max: number): string {
  if (text.length <= max) return text.isWellFormed() ? text : text.toWellFormed();
  return cut(text.slice(0, max + 1).toWellFormed(), max) + `…[truncated: ${text.length} chars]`;
}

function cut(s: string, max: number): string {
  if (s.length <= max) return s;
  const last = s.charCodeAt(max - 1);
  return s.slice(0, last >= 0xd800 && last <= 0xdbff ? max - 1 : max);
}
