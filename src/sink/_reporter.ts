// Where the sink's problems go: the user's onError, or the console report.
import type { CallEvent } from "../event/call_event.ts";
import { ConsoleReport } from "./_console_report.ts";
import { ignoreRejection } from "../_promise.ts";

/** Problems raised from within `onError` told at most, per outermost report. */
const MAX_NESTED_REPORTS = 100;

/**
 * Tells `onError` (or, without one, the console) about a problem. Never
 * throws. A problem raised while `onError` runs (it recorded or closed) is
 * told after it returns, up to a bound, so that an `onError` that keeps
 * causing problems cannot recurse or loop forever.
 */
export class Reporter {
  readonly #onError: ((error: unknown, event?: CallEvent) => void) | undefined;
  readonly #console: ConsoleReport | undefined;
  #telling = false;
  #nested: [unknown, CallEvent | undefined, string | undefined][] = [];
  #suppressed = 0;

  /**
   * @param onError The user's hook, if any.
   * @param interval Milliseconds before the console prints a repeated problem again.
   */
  constructor(onError: ((error: unknown, event?: CallEvent) => void) | undefined, interval: number) {
    this.#onError = onError;
    this.#console = onError === undefined ? new ConsoleReport(interval) : undefined;
  }

  /** Whether a problem is being told right now (`onError` is running). */
  get telling(): boolean {
    return this.#telling;
  }

  /**
   * Tells one problem.
   *
   * @param event The event it concerns (an invalid event, one a fallback refused).
   * @param what What happened, for the console, such as "skipped an invalid event".
   */
  tell(error: unknown, event?: CallEvent, what?: string): void {
    if (this.#telling) {
      if (this.#nested.length < MAX_NESTED_REPORTS) this.#nested.push([error, event, what]);
      else this.#suppressed++;
      return;
    }
    this.#telling = true;
    try {
      this.#tellNow(error, event, what);
      for (let told = 0; this.#nested.length > 0; told++) {
        const [nextError, nextEvent, nextWhat] = this.#nested.shift()!;
        if (told < MAX_NESTED_REPORTS) this.#tellNow(nextError, nextEvent, nextWhat);
        else this.#suppressed++;
      }
      if (this.#suppressed > 0) {
        const suppressed = this.#suppressed;
        this.#suppressed = 0;
        this.#tellNow(
          new Error(`${suppressed} more problems were raised while onError ran, and were not reported`),
          undefined,
          undefined,
        );
        this.#nested.length = 0;
      }
    } finally {
      this.#telling = false;
    }
  }

  /** Runs `step`, telling what it throws or rejects with as `what`. Never rejects. */
  async attempt(step: () => unknown, what: string): Promise<void> {
    try {
      await step();
    } catch (error) {
      this.tell(error, undefined, what);
    }
  }

  /** Prints the counts of repeated problems the console has not printed yet. */
  summarize(): void {
    this.#console?.summarize();
  }

  #tellNow(error: unknown, event: CallEvent | undefined, what: string | undefined): void {
    try {
      if (this.#onError === undefined) this.#console!.report(error, what);
      // An async onError's rejection: nothing is left to tell of it, and unhandled it would end the process.
      else if (event === undefined) ignoreRejection(this.#onError(error));
      else ignoreRejection(this.#onError(error, event));
    } catch {
      // onError must not throw; nothing is left to tell.
    }
  }
}
