// Timers that must not keep a process alive (a sink's sealing heartbeat), or
// only while they have work (a segment waiting to be sealed): Node and Bun
// have `unref()`/`ref()` on the timer, Deno has `Deno.unrefTimer`/
// `Deno.refTimer`; browsers and Workers have neither and need neither. No
// imports: this file loads in browsers and workerd.

/**
 * Lets the process exit while `timer` is pending, where the runtime can.
 *
 * @param timer What `setTimeout` returned.
 */
export function unrefTimer(timer: ReturnType<typeof setTimeout>): void {
  const handle = timer as unknown as { unref?: () => void } | number;
  if (typeof handle === "object" && handle !== null && typeof handle.unref === "function") {
    handle.unref();
    return;
  }
  const deno = (globalThis as { Deno?: { unrefTimer?: (id: number) => void } }).Deno;
  if (typeof handle === "number" && typeof deno?.unrefTimer === "function") deno.unrefTimer(handle);
}

/**
 * Makes `timer` keep the process alive again after {@linkcode unrefTimer}.
 *
 * @param timer What `setTimeout` returned.
 */
export function refTimer(timer: ReturnType<typeof setTimeout>): void {
  const handle = timer as unknown as { ref?: () => void } | number;
  if (typeof handle === "object" && handle !== null && typeof handle.ref === "function") {
    handle.ref();
    return;
  }
  const deno = (globalThis as { Deno?: { refTimer?: (id: number) => void } }).Deno;
  if (typeof handle === "number" && typeof deno?.refTimer === "function") deno.refTimer(handle);
}
