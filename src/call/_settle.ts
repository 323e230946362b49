import { isObjectLike } from "./_read.ts";

const then = Promise.prototype.then;

/**
 * Calls `onValue` or `onError` once, when `value` settles (at once for a
 * plain value), and returns what the caller hands back: `value` itself, or,
 * for a thenable that is not a native promise, a native promise adopting it
 * (its `then` called exactly once, as `await` would). The callbacks must
 * never throw: a throw from a promise reaction would surface as an unhandled
 * rejection.
 */
export function whenSettled(
  value: unknown,
  onValue: (value: unknown) => void,
  onError: (error: unknown) => void,
): unknown {
  if (!isObjectLike(value)) {
    onValue(value);
    return value;
  }
  let own: unknown;
  try {
    own = (value as { then?: unknown }).then;
  } catch {
    onValue(value); // a `then` getter that throws: not a thenable we can follow; handed back as is
    return value;
  }
  if (typeof own !== "function") {
    onValue(value);
    return value;
  }
  try {
    then.call(value, onValue, onError); // throws at once, registering nothing, unless `value` is a native promise
    return value;
  } catch {
    // a foreign thenable
  }
  const adopted = new Promise((resolve, reject) => {
    (own as (this: unknown, ...args: unknown[]) => unknown).call(value, resolve, reject);
  });
  then.call(adopted, onValue, onError);
  return adopted;
}
