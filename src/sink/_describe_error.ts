// One short line for anything thrown: errors reach the sink from destinations,
// fallback sinks and hostile events, and describing one must never throw.

/** Characters of a description at most. */
const MAX_CHARS = 300;

/**
 * `error` as one line of at most 300 characters: `"Name: message"` for an
 * error (`"message"` for a plain `Error`), the text of a string, or what kind
 * of value it is. Reads nothing but `name` and `message`, and never throws,
 * even for a revoked proxy or a throwing getter.
 */
export function describeError(error: unknown): string {
  let text: string;
  try {
    text = describe(error);
  } catch {
    text = "a value that could not be read";
  }
  const newline = text.search(/[\r\n]/);
  if (newline !== -1) text = text.slice(0, newline);
  return text.length > MAX_CHARS ? `${text.slice(0, MAX_CHARS - 1)}…` : text;
}

function describe(error: unknown): string {
  if (typeof error === "string") return error === "" ? "an empty string" : error;
  if (error instanceof Error) {
    const name = typeof error.name === "string" ? error.name : "Error";
    const message = typeof error.message === "string" ? error.message : "";
    if (message === "") return name;
    return name === "Error" ? message : `${name}: ${message}`;
  }
  if (error === null || error === undefined) return String(error);
  return typeof error === "object" ? "a thrown object" : `a thrown ${typeof error}`;
}
