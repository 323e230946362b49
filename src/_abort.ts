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

/**
 * Resolves when `promise` settles or `ms` milliseconds passed, whichever comes
 * first; the timer is cleared as soon as the promise settles, so that it never
 * keeps a process alive. Never rejects.
 */
export function within(promise: Promise<unknown>, ms: number): Promise<void> {
  return new Promise<void>((resolve) => {
    const timer = setTimeout(resolve, ms);
    const done = (): void => {
      clearTimeout(timer);
      resolve();
    };
    promise.then(done, done);
  });
}
