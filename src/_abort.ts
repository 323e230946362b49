// Deadlines given as AbortSignals (flush and close take one).

/** Resolves when `promise` settles or `signal` aborts, whichever comes first. Never rejects. */
export function untilAborted(promise: Promise<unknown>, signal: AbortSignal | undefined): Promise<void> {
  if (signal === undefined) return promise.then(() => {}, () => {});
  if (signal.aborted) return Promise.resolve();
  return new Promise<void>((resolve) => {
    const done = (): void => {
      signal.removeEventListener("abort", done);
      resolve();
    };
    signal.addEventListener("abort", done);
    promise.then(done, done);
  });
}

/** A short wait after a deadline, shared by several steps. */
export interface GracePeriod {
  /** Resolves when `promise` settles or the period ends, whichever comes first. Never rejects. */
  wait(promise: Promise<unknown>): Promise<void>;
  /** Clears the timer, so that it never keeps a process alive. */
  end(): void;
}

/** Starts a grace period of `ms` milliseconds. */
export function gracePeriod(ms: number): GracePeriod {
  let timer: ReturnType<typeof setTimeout> | undefined;
  const over = new Promise<void>((resolve) => (timer = setTimeout(resolve, ms)));
  return {
    wait: (promise) => Promise.race([promise.then(() => {}, () => {}), over]),
    end: () => clearTimeout(timer),
  };
}

/** Why `signal` aborted; never throws (a subclass may override `reason`). */
export function reasonOf(signal: AbortSignal): unknown {
  try {
    return signal.reason;
  } catch (error) {
    return error;
  }
}

/**
 * A signal that aborts after `ms` milliseconds, on a timer that keeps the
 * process alive until then (Node does not for `AbortSignal.timeout`): a close
 * waiting out its grace period must not be cut short by the process ending.
 */
export function abortAfter(ms: number): AbortSignal {
  const controller = new AbortController();
  setTimeout(() => controller.abort(new DOMException("The grace period ended", "TimeoutError")), ms);
  return controller.signal;
}
