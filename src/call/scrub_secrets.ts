/**
 * One kind of secret {@linkcode scrubSecrets} recognises, by its shape.
 */
export type SecretKind =
  | "private_key"
  | "jwt"
  | "bearer"
  | "authorization"
  | "url_credentials"
  | "aws_access_key_id"
  | "github_token"
  | "slack_token"
  | "api_key"
  | "google_api_key"
  | "assignment";

/** Characters of an RFC 6750 `b64token`. */
const B64TOKEN = "[A-Za-z0-9\\-._~+/]+=*";

// Order matters: whole blocks first, so that a token inside a key block is not
// half-replaced by a narrower pattern. No pattern starts with `\b`: a secret
// glued to the text before it is still found. Each pattern that can be long
// also matches a prefix cut off by the end of the text, so that a message cut
// to its limit never keeps the head of a secret. Patterns that start with a
// repeated class start only after a character outside it (a lookbehind), so
// that a long run of letters is scanned once, not once per position.
const PATTERNS: readonly (readonly [SecretKind, RegExp, string])[] = [
  [
    "private_key",
    /-----BEGIN[A-Z0-9 ]*PRIVATE KEY(?: BLOCK)?-----[\s\S]*?(?:-----END[A-Z0-9 ]*PRIVATE KEY(?: BLOCK)?-----|$)/g,
    "[REDACTED:private_key]",
  ],
  ["jwt", /eyJ[A-Za-z0-9_-]+(?:\.[A-Za-z0-9_-]*){1,4}/g, "[REDACTED:jwt]"],
  // "Authorization: Basic …", "Proxy-Authorization=…": the whole value, whatever the scheme.
  ["authorization", /(authorization["']?\s*[:=]\s*["']?)[^\r\n"',;]*/gi, "$1[REDACTED:authorization]"],
  ["bearer", new RegExp(`(bearer)(?:\\s+bearer)*\\s+${B64TOKEN}`, "gi"), "$1 [REDACTED:bearer]"],
  ["url_credentials", /(?<![a-z0-9+.-])([a-z][a-z0-9+.-]*:\/\/)[^\s/?#@]+@/gi, "$1[REDACTED:url_credentials]@"],
  ["aws_access_key_id", /(?:AKIA|ASIA|ABIA|ACCA|A3T[A-Z0-9])[A-Z0-9]{16}/g, "[REDACTED:aws_access_key_id]"],
  ["github_token", /(?:gh[pousr]_[A-Za-z0-9]{20,}|github_pat_[A-Za-z0-9_]{20,})/g, "[REDACTED:github_token]"],
  ["slack_token", /xox[abposre]-[A-Za-z0-9-]{10,}/g, "[REDACTED:slack_token]"],
  ["api_key", /(?:sk-|[sr]k_(?:live|test)_)[A-Za-z0-9_-]{16,}/g, "[REDACTED:api_key]"],
  ["google_api_key", /AIza[A-Za-z0-9_-]{30,}/g, "[REDACTED:google_api_key]"],
  // password=…, "client_secret": "…", X-Api-Key: …, AWS_SECRET_ACCESS_KEY=…: matched from the key word on, so
  // that the part of the key before it (kept as is) may be of any length (each key word scans at most 64 more).
  [
    "assignment",
    /((?:passw(?:or)?d|pwd|secret|token|api[_-]?key|access[_-]?key|private[_-]?key|credential)s?[A-Za-z0-9_.-]{0,64}["']?\s*[:=]\s*["']?)[^\s"',;&}]+/gi,
    "$1[REDACTED]",
  ],
];

/**
 * Replaces every secret of a known shape in `text` with `[REDACTED:kind]`.
 *
 * Scrubbed, matched anywhere in the text (also glued to other words) and case
 * as shown:
 * - `private_key`: PEM private key blocks (`-----BEGIN … PRIVATE KEY-----` to
 *   the matching `END` line or the end of the text), PGP private key blocks;
 * - `jwt`: JSON Web Tokens and JWE (`eyJ…` with one to four `.` parts);
 * - `authorization`: the value after `Authorization:` or `authorization=`
 *   (any scheme: Basic, Digest, AWS4-HMAC-SHA256…), to the end of the line;
 * - `bearer`: `Bearer <token>` (any case), the token per RFC 6750;
 * - `url_credentials`: the user info of a URL (`https://user:pass@host`);
 * - `aws_access_key_id`: `AKIA…`, `ASIA…` and the other 20-character key ids;
 * - `github_token`: `ghp_`, `gho_`, `ghu_`, `ghs_`, `ghr_`, `github_pat_`;
 * - `slack_token`: `xoxb-`, `xoxp-` and the other `xox?-` tokens;
 * - `api_key`: `sk-…` (OpenAI, Anthropic and the many that copied them),
 *   Stripe `sk_live_`, `sk_test_`, `rk_live_`, `rk_test_`;
 * - `google_api_key`: `AIza…`;
 * - assignments: the value of `password=`, `secret:`, `"api_key": "…"`,
 *   `access_token=`, `X-Api-Key:`, `AWS_SECRET_ACCESS_KEY=` and any key whose
 *   name holds password, passwd, pwd, secret, token, api key, access key,
 *   private key or credential (replaced by `[REDACTED]`, the key kept).
 *
 * Not scrubbed: secrets with no recognisable shape or key (a bare password,
 * a hex or base64 string on its own, an AWS secret access key without its
 * name), secrets encoded (percent-encoded, base64 of a whole header, JSON
 * with escaped quotes around the key), split over several strings, or in a
 * key named in another language. Scrubbing is a safety net, not a reason to
 * put secrets in error messages.
 *
 * @param text Free text, such as an error message.
 * @returns The text with each recognised secret replaced.
 *
 * @example
 * ```ts
 * import { scrubSecrets } from "@atd/audit";
 * import assert from "node:assert/strict";
 * assert.equal(
 *   scrubSecrets("401 for Bearer abc.DEF-123, key AKIAIOSFODNN7EXAMPLE"),
 *   "401 for Bearer [REDACTED:bearer], key [REDACTED:aws_access_key_id]",
 * );
 * ```
 */
export function scrubSecrets(text: string): string {
  let s = text;
  for (const [, pattern, replacement] of PATTERNS) {
    pattern.lastIndex = 0;
    if (pattern.test(s)) s = s.replace(pattern, replacement);
  }
  return s;
}
