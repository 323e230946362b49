// Which engine runs this code, for the few paths that are fastest one way in
// JavaScriptCore (Bun) and another in V8 (Deno, Node, browsers, Workers), or
// where Bun's clock behaves differently. Web APIs only: loads in browsers and
// workerd too.

/** Whether this is Bun (JavaScriptCore). */
export const isBun: boolean = typeof (globalThis as { Bun?: unknown }).Bun === "object";
