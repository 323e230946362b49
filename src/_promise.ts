// Promises a user's callback may return where a plain value is expected.

const then = Promise.prototype.then;

/**
 * Handles the rejection of `value` when it is a native promise (what an async
 * callback returns where a plain value is expected), so that it never becomes
 * an unhandled rejection, which ends the process in Deno and Node. Never
 * throws; anything else is left alone.
 */
export function handleRejection(value: unknown, onRejected: (error: unknown) => void): void {
  if (!isPromise(value)) return; // the usual case, and cheap: no error built for a plain value
  try {
    then.call(value, undefined, onRejected);
  } catch {
    // a promise of another kind (a hostile subclass's species)
  }
}

/** Whether `value` is a promise (never throws: a proxy's prototype trap may). */
export function isPromise(value: unknown): boolean {
  if (typeof value !== "object" || value === null) return false;
  try {
    return value instanceof Promise;
  } catch {
    return false;
  }
}

/** Handles a rejection of `value` by ignoring it: an async hook's failure that nothing is left to tell of. */
export function ignoreRejection(value: unknown): void {
  handleRejection(value, ignore);
}

function ignore(): void {}
