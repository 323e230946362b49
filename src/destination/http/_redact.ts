// Keeps secrets out of every string the HTTP destination produces: the
// configured header values, the endpoint's query and fragment and the
// path segments that look like tokens, in every
// spelling a server or runtime is likely to echo them in.

/** What a scrubbed secret becomes. */
const MARK = "[redacted]";
/** Shorter values are not secrets, and scrubbing them would mangle messages ("2" out of "HTTP 429"). */
const MIN_SECRET_CHARS = 4;
/** Parts of a header value between separators ("k1=v1; k2=v2") scrubbed on their own from this length. */
const MIN_PART_CHARS = 8;
/** Words before a credential in an authorization header, which are no secret. */
const AUTH_SCHEMES = /^(?:basic|bearer|digest|token|negotiate|ntlm|hoba|mutual|dpop|apikey)$/i;
/** Causes kept below an error, after sanitizing. */
const MAX_CAUSE_DEPTH = 5;
/** Longest message kept from a thrown error. */
const MAX_MESSAGE_CHARS = 1_000;
const URL_PATTERN = /[a-z][a-z0-9+.-]*:\/\/[^\s()<>"'`]+/gi;

/** Scrubs secrets from text and errors; built once per destination. */
export class Redactor {
  readonly #variants: readonly string[];
  readonly #pattern: RegExp | undefined;
  /** Length of the longest spelling of a secret: how far past a cut a secret may reach. */
  readonly reach: number;

  /** @param secrets Strings that must never appear (shorter than 4 characters: ignored). */
  constructor(secrets: Iterable<string>) {
    const variants = new Set<string>();
    for (const secret of secrets) {
      for (const spelling of spellings(secret)) if (spelling.length >= MIN_SECRET_CHARS) variants.add(spelling);
    }
    this.#variants = [...variants].sort((a, b) => b.length - a.length);
    this.#pattern = this.#variants.length === 0
      ? undefined
      : new RegExp(this.#variants.map((v) => v.replace(/[.*+?^${}()|[\]\\]/g, "\\$&")).join("|"), "g");
    this.reach = this.#variants[0]?.length ?? 0;
  }

  /**
   * The secrets of an endpoint: every header value (and its longer parts),
   * the URL's query and fragment (whole, and each parameter and value), and
   * its user info if any.
   */
  static forEndpoint(url: URL, headers: Headers): Redactor {
    const secrets: string[] = [];
    for (const [, value] of headers) {
      secrets.push(value, ...basicCredentials(value));
      // "Bearer <token>": the token alone (servers echo it without its scheme).
      for (const part of value.split(/\s+/)) if (!AUTH_SCHEMES.test(part)) secrets.push(part);
      for (const part of value.split(/[\s,;=:]+/)) if (part.length >= MIN_PART_CHARS) secrets.push(part);
    }
    for (const piece of [url.search, url.hash]) {
      if (piece.length <= 1) continue;
      secrets.push(piece, piece.slice(1));
      for (const pair of piece.slice(1).split(/[&;]/)) {
        secrets.push(pair);
        const eq = pair.indexOf("=");
        if (eq !== -1) secrets.push(pair.slice(eq + 1));
      }
    }
    // A token in the path, as collector and webhook URLs carry one (…/receiver/v1/http/<token>, …/webhooks/<id>/<token>).
    for (const segment of url.pathname.split("/")) if (looksLikeToken(segment)) secrets.push(segment);
    if (url.username !== "") secrets.push(url.username);
    if (url.password !== "") secrets.push(url.password);
    return new Redactor(secrets);
  }

  /**
   * `text` with every URL cut to its origin and path and every secret
   * scrubbed, at most `maxChars` long. `truncated` says that `text` is only
   * the start of something longer, so that a secret cut at its end is
   * trimmed too.
   */
  text(text: string, maxChars: number = MAX_MESSAGE_CHARS, truncated = false): string {
    // Cutting URLs shortens the text: look a little past the end.
    const limit = maxChars + 2 * this.reach + 256;
    let out = text;
    if (out.length > limit) {
      out = out.slice(0, limit);
      truncated = true;
    }
    out = this.#scrub(out.replace(URL_PATTERN, cutUrl));
    if (truncated) out = this.#trimCutSecret(out);
    return out.length > maxChars ? out.slice(0, maxChars) : out;
  }

  /**
   * A copy of a thrown value that is safe to keep and print: each level of
   * its `cause` chain (at most 5) becomes a plain `Error` with the same name
   * and a scrubbed message; stacks and other fields are dropped. Getters
   * that throw and revoked proxies are survived.
   */
  error(error: unknown, depth = 0): Error {
    let name: unknown;
    let message: unknown;
    let cause: unknown;
    try {
      const source = typeof error === "object" && error !== null ? error as Record<string, unknown> : undefined;
      name = source?.name;
      message = source === undefined ? String(error) : source.message;
      cause = source?.cause;
    } catch {
      message = "an error that could not be read";
    }
    const text = typeof message === "string" ? message : safeString(message);
    const options = cause !== undefined && depth + 1 < MAX_CAUSE_DEPTH
      ? { cause: this.error(cause, depth + 1) }
      : undefined;
    const copy = new Error(this.text(text), options);
    if (typeof name === "string" && name !== "") copy.name = this.text(name, 100);
    return copy;
  }

  /** Replaces every spelling of every secret, until none is left (a replacement may spell one anew). */
  #scrub(text: string): string {
    const pattern = this.#pattern;
    if (pattern === undefined) return text;
    let out = text;
    for (let pass = 0; pass < 3; pass++) {
      const next = out.replace(pattern, MARK);
      if (next === out) return out;
      out = next;
    }
    // A secret the mark itself spells: delete instead, which shortens the text each time.
    for (let next = out.replace(pattern, ""); next !== out; next = out.replace(pattern, "")) out = next;
    return out;
  }

  /** Drops an end of `text` that is the start of a secret (the rest of it was cut off). */
  #trimCutSecret(text: string): string {
    let out = text;
    for (let cut = 1; cut > 0;) {
      cut = 0;
      for (const variant of this.#variants) {
        for (let k = Math.min(variant.length - 1, out.length); k > cut; k--) {
          if (out.endsWith(variant.slice(0, k))) {
            cut = k;
            break;
          }
        }
      }
      out = out.slice(0, out.length - cut);
    }
    return out;
  }
}

/**
 * An invalid URL as it may be quoted in a construction error: without what
 * follows `?` or `#`. An invalid URL with an `@` anywhere is quoted as its
 * scheme only: where user info ends cannot be told apart from a query or
 * fragment that holds an `@` (a password may hold `?` or `#` unencoded).
 */
export function describeUnparsedUrl(input: string): string {
  const scheme = /^[a-z][a-z0-9+.-]*:\/\//i.exec(input)?.[0] ?? "";
  if (input.includes("@")) return JSON.stringify(`${scheme}${MARK}`);
  const cut = input.split(/[?#]/, 1)[0]!;
  return JSON.stringify(cut.length > 100 ? `${cut.slice(0, 100)}…` : cut);
}

/**
 * The decoded `user:password` of a Basic authorization value, and the
 * password alone: a server that echoes the credentials it was sent may well
 * echo them decoded.
 */
function basicCredentials(value: string): string[] {
  const match = /^\s*basic\s+([A-Za-z0-9+/=_-]+)\s*$/i.exec(value);
  if (match === null) return [];
  let decoded: string;
  try {
    decoded = atob(match[1]!.replace(/-/g, "+").replace(/_/g, "/"));
  } catch {
    return [];
  }
  const colon = decoded.indexOf(":");
  return colon === -1 ? [decoded] : [decoded, decoded.slice(colon + 1)];
}

/** The endpoint as messages name it: its origin and path, with each path segment that looks like a token redacted. */
export function endpointText(url: URL): string {
  const path = url.pathname.split("/").map((segment) => looksLikeToken(segment) ? MARK : segment).join("/");
  return url.origin === "null" ? `${url.protocol}${path}` : `${url.origin}${path}`;
}

/** A URL found in a message, cut to its origin and path. */
function cutUrl(found: string): string {
  try {
    const url = new URL(found);
    return url.origin === "null" ? `${url.protocol}${url.pathname}` : `${url.origin}${url.pathname}`;
  } catch {
    return "[url]";
  }
}

/** The ways a server or a runtime may spell `secret` when it echoes it. */
/** Path segments this long, mixing letters and digits, are taken for tokens: words and versions are shorter or plain. */
const MIN_PATH_TOKEN_CHARS = 16;

/** Whether a path segment looks like a credential (a long mix of letters and digits, such as a key or a UUID). */
function looksLikeToken(segment: string): boolean {
  return segment.length >= MIN_PATH_TOKEN_CHARS && /[0-9]/.test(segment) && /[a-z]/i.test(segment);
}

function spellings(secret: string): string[] {
  const out = new Set<string>();
  for (const form of [secret, safeDecode(secret), safeDecode(secret.replace(/\+/g, " "))]) {
    out.add(form);
    try {
      out.add(encodeURIComponent(form));
    } catch {
      // a lone surrogate: not sendable in a URL anyway
    }
    out.add(new URLSearchParams([["", form]]).toString().slice(1));
    const json = JSON.stringify(form).slice(1, -1);
    out.add(json);
    out.add(json.replace(/\//g, "\\/"));
    out.add(json.replace(/[\u007f-\uffff]/g, (c) => `\\u${c.charCodeAt(0).toString(16).padStart(4, "0")}`));
    const html = form.replace(/&/g, "&amp;").replace(/</g, "&lt;").replace(/>/g, "&gt;").replace(/"/g, "&quot;");
    out.add(html.replace(/'/g, "&#39;"));
    out.add(html.replace(/'/g, "&#x27;"));
  }
  return [...out];
}

function safeDecode(text: string): string {
  try {
    return decodeURIComponent(text);
  } catch {
    return text;
  }
}

function safeString(value: unknown): string {
  try {
    return String(value);
  } catch {
    return "an error that could not be read";
  }
}
