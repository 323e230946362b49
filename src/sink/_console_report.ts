// The default onError: one line per problem on console.error, and a problem
// that repeats is printed once, then counted ("… (and 784 more like it)").
import { InvalidCallEventError } from "../event/errors.ts";
import { describeError } from "./_describe_error.ts";
import { AuditLossError } from "./audit_loss_error.ts";

interface Seen {
  /** The line printed for this problem. */
  readonly line: string;
  /** Repeats not printed yet. */
  more: number;
  printedAt: number;
}

/** Distinct problems remembered at most; beyond, the oldest are summarized and forgotten. */
const MAX_KINDS = 256;

/**
 * Prints each problem as `@atd/audit: <what>: <error>` on one line. Never
 * prints a stack, never looks at the event (it may be hostile), never throws.
 */
export class ConsoleReport {
  readonly #interval: number;
  readonly #seen = new Map<string, Seen>();

  /** @param interval Milliseconds before a repeated problem is printed again, with its count. */
  constructor(interval: number) {
    this.#interval = interval;
  }

  /**
   * Prints `error`, or counts it when the same problem was printed less than
   * an interval ago.
   *
   * @param what What happened, such as "skipped 1 invalid event"; omitted for
   *   errors whose message says it all (loss reports).
   */
  report(error: unknown, what?: string): void {
    const path = invalidPath(error);
    // Our own errors' messages say it all; their class name would only repeat it.
    const text = isLoss(error)
      ? error.message
      : path === undefined
      ? describeError(error)
      : describeError((error as InvalidCallEventError).message.replace(/^Invalid call event: /, ""));
    const line = what === undefined ? text : `${what}: ${text}`;
    const key = path === undefined ? line : `${what}\u0000${path}`;
    const seen = this.#seen.get(key);
    const now = Date.now();
    if (seen === undefined) {
      if (this.#seen.size >= MAX_KINDS) this.#forgetOldest();
      this.#seen.set(key, { line, more: 0, printedAt: now });
      print(line);
    } else if (now - seen.printedAt >= this.#interval) {
      print(seen.more > 0 ? `${line} (and ${seen.more} more like it)` : line);
      seen.more = 0;
      seen.printedAt = now;
    } else seen.more++;
  }

  /** Prints the count of every repeated problem not printed yet. */
  summarize(): void {
    for (const seen of this.#seen.values()) this.#summarize(seen);
  }

  #summarize(seen: Seen): void {
    if (seen.more === 0) return;
    print(`${seen.line} (and ${seen.more} more like it)`);
    seen.more = 0;
    seen.printedAt = Date.now();
  }

  #forgetOldest(): void {
    const [key, seen] = this.#seen.entries().next().value!;
    this.#summarize(seen);
    this.#seen.delete(key);
  }
}

/**
 * The failing field of an invalid event: events whose text differs from one
 * to the next are "like" each other when the same field failed.
 */
function invalidPath(error: unknown): string | undefined {
  try {
    if (error instanceof InvalidCallEventError) return error.path;
  } catch {
    // A hostile value: described, not classified.
  }
  return undefined;
}

function isLoss(error: unknown): error is AuditLossError {
  try {
    return error instanceof AuditLossError;
  } catch {
    return false; // a hostile value
  }
}

function print(line: string): void {
  try {
    console.error(`@atd/audit: ${line}`);
  } catch {
    // Nowhere left to tell.
  }
}
