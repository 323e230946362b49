import { isObjectLike } from "./_read.ts";

const then = Promise.prototype.then;

/**
 * Calls `onValue` or `onError` once, when `value` settles (at once for a
 * plain value), and returns what the caller hands back: `value` itself, or,
 * for a thenable that is not a native promise, a native promise adopting it
 * (its `then` called exactly once, as `await` would). The callbacks must not
 * throw; they are guarded anyway, since a throw there would surface as an
 * unhandled rejection.
 */
export function whenSettled(
  value: unknown,
  onValue: (value: unknown) => void,
  onError: (error: unknown) => void,
): unknown {
  const ok = (v: unknown): void => {
    try {
      onValue(v);
    } catch {
      // guarded: see above
    }
  };
  const fail = (e: unknown): void => {
    try {
      onError(e);
    } catch {
      // guarded: see above
    }
  };
  if (!isObjectLike(value)) {
    ok(value);
    return value;
  }
  let own: unknown;
  try {
    own = (value as { then?: unknown }).then;
  } catch {
    ok(value); // a `then` getter that throws: not a thenable we can follow; handed back as is
    return value;
  }
  if (typeof own !== "function") {
    ok(value);
    return value;
  }
  try {
    then.call(value, ok, fail); // throws at once, registering nothing, unless `value` is a native promise
    return value;
  } catch {
    // a foreign thenable
  }
  const adopted = new Promise((resolve, reject) => {
    (own as (this: unknown, ...args: unknown[]) => unknown).call(value, resolve, reject);
  });
  then.call(adopted, ok, fail);
  return adopted;
}
