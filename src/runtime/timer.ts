// Timers that must not keep a process alive (a sink's sealing interval and
// heartbeat): Node and Bun have `unref()` on the timer, Deno has
// `Deno.unrefTimer`; browsers and Workers have neither and need neither. No
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
