// The one error the runtime drivers throw, whatever the runtime: callers match
// `code`, never a runtime's error class, errno name or message.

/**
 * What went wrong, the same on every runtime:
 * - `not_found`: no such file or folder (ENOENT);
 * - `permission_denied`: not allowed (EACCES, EPERM, EROFS; Deno's missing `--allow-*` flag);
 * - `is_directory` / `not_a_directory`: a folder where a file was expected, or the reverse (EISDIR, ENOTDIR);
 * - `exists`: the file already exists (EEXIST, ENOTEMPTY);
 * - `no_space`: the disk or the quota is full (ENOSPC, EDQUOT);
 * - `broken_pipe`: the reading end of a pipe or FIFO is gone (EPIPE);
 * - `no_reader`: a FIFO nobody has open for reading (ENXIO);
 * - `interrupted`: a signal interrupted the call (EINTR);
 * - `other`: anything else (the message keeps the runtime's words).
 */
export type IoErrorCode =
  | "not_found"
  | "permission_denied"
  | "is_directory"
  | "not_a_directory"
  | "exists"
  | "no_space"
  | "broken_pipe"
  | "no_reader"
  | "interrupted"
  | "other";

/** Options for {@linkcode IoError}. */
export interface IoErrorOptions {
  /**
   * What was being done, as it reads after "Cannot": `write to`, `open {path} for reading`
   * (`{path}` is where the quoted path goes; at the end when absent).
   */
  readonly action: string;
  /** The file the action was on, or a name such as `<stdout>`. @default {undefined} */
  readonly path?: string | undefined;
  /** Why, in words; for `other` usually the runtime's message. @default {the code's usual words} */
  readonly reason?: string | undefined;
  /** The runtime's own error. @default {undefined} */
  readonly cause?: unknown;
}

const REASONS: Record<IoErrorCode, string> = {
  not_found: "no such file or directory",
  permission_denied: "permission denied",
  is_directory: "is a directory",
  not_a_directory: "not a directory",
  exists: "already exists",
  no_space: "no space left on device",
  broken_pipe: "broken pipe: the reader has gone",
  no_reader: "no process has the FIFO open for reading",
  interrupted: "interrupted by a signal",
  other: "input/output error",
};

/**
 * A failed file or process I/O call, normalised across Deno, Bun and Node:
 * `code` says what happened, `path` where, and the message reads
 * `Cannot <action> "<path>": <reason>`. The runtime's own error is the `cause`.
 *
 * @example
 * ```ts
 * import { IoError } from "@atd/audit/file";
 * import assert from "node:assert/strict";
 * const error = new IoError("no_space", { action: "write to", path: "audit.jsonl" });
 * assert.equal(error.message, 'Cannot write to "audit.jsonl": no space left on device');
 * ```
 */
export class IoError extends Error {
  /** What went wrong. */
  readonly code: IoErrorCode;
  /** The file concerned, when there is one. */
  readonly path: string | undefined;
  /** Why, in words (the end of the message). */
  readonly reason: string;

  /**
   * Creates the error.
   *
   * @param code What went wrong.
   * @param options The action, the path, the reason and the cause.
   */
  constructor(code: IoErrorCode, options: IoErrorOptions) {
    const reason = options.reason ?? REASONS[code];
    const quoted = options.path === undefined ? "" : JSON.stringify(options.path);
    const action = options.action.includes("{path}")
      ? options.action.replace("{path}", () => quoted)
      : `${options.action}${quoted && " "}${quoted}`;
    super(`Cannot ${action.replace(/ +/g, " ").trim()}: ${reason}`, { cause: options.cause });
    this.name = "IoError";
    this.code = code;
    this.path = options.path;
    this.reason = reason;
  }
}

const CODES: Record<string, IoErrorCode> = {
  ENOENT: "not_found",
  EACCES: "permission_denied",
  EPERM: "permission_denied",
  EROFS: "permission_denied",
  EISDIR: "is_directory",
  ENOTDIR: "not_a_directory",
  EEXIST: "exists",
  ENOTEMPTY: "exists",
  ENOSPC: "no_space",
  EDQUOT: "no_space",
  EPIPE: "broken_pipe",
  ENXIO: "no_reader",
  EINTR: "interrupted",
};

// Deno's error classes, for errors that carry no errno name (a missing permission flag).
const DENO_NAMES: Record<string, IoErrorCode> = {
  NotFound: "not_found",
  PermissionDenied: "permission_denied",
  NotCapable: "permission_denied",
  IsADirectory: "is_directory",
  NotADirectory: "not_a_directory",
  AlreadyExists: "exists",
  BrokenPipe: "broken_pipe",
  Interrupted: "interrupted",
};

const SPECIFIC: Record<string, string> = {
  EROFS: "read-only file system",
  EDQUOT: "disk quota exceeded",
  ENOTEMPTY: "directory not empty",
};

/**
 * `error`, thrown by a runtime for `action` on `path`, as an {@linkcode IoError}
 * (returned as it is when it already is one).
 *
 * @param error What the runtime threw.
 * @param action What was being done (`append to`).
 * @param path The file, if any.
 * @returns The normalised error.
 */
export function toIoError(error: unknown, action: string, path?: string): IoError {
  if (error instanceof IoError) return error;
  const e = error as { code?: unknown; name?: unknown; message?: unknown } | null | undefined;
  const errno = typeof e?.code === "string" ? e.code : "";
  const code = CODES[errno] ?? (typeof e?.name === "string" ? DENO_NAMES[e.name] : undefined) ?? "other";
  let reason = SPECIFIC[errno];
  if (code === "other") reason = firstLine(typeof e?.message === "string" ? e.message : String(error));
  return new IoError(code, { action, path, reason, cause: error });
}

/**
 * How a path reads in a message: a `file:` URL as its decoded path.
 *
 * @param path A path or a `file:` URL.
 * @returns Text for a message.
 */
export function pathText(path: string | URL): string {
  if (typeof path === "string") return path;
  try {
    return decodeURIComponent(path.pathname);
  } catch {
    return path.pathname;
  }
}

function firstLine(text: string): string {
  // The runtime's words without the call and path they repeat: Deno's "Input/output error (os error 5): write '/x'",
  // Node's and Bun's "EIO: i/o error, write '/x'".
  const line = text.split("\n", 1)[0]!.trim().replace(/ \(os error \d+\).*$/, "").replace(/^E[A-Z]+: /, "")
    .replace(/, \w+ '.*'$/, "");
  return line || "input/output error";
}
