// The bounded excerpt of a line that errors carry.

/** Longest excerpt an error carries, in characters. */
const EXCERPT_LENGTH = 80;

/** The first {@linkcode EXCERPT_LENGTH} characters of `text`, marked when cut. */
export function excerptOf(text: string): string {
  return text.length <= EXCERPT_LENGTH ? text : `${text.slice(0, EXCERPT_LENGTH)}…`;
}
