// The only place that touches a browser page's globals: document, navigator,
// location and the global addEventListener. No imports: this file must load
// in browsers and workerd, and finds nothing on servers. Globals are looked up
// at each call, never at import.

/** What became of the page: hidden or shown again (`visibilitychange`), left (`pagehide`), back (`pageshow`). */
export type PageEvent = "hidden" | "visible" | "left" | "shown";

type Listener = (event: { type: string }) => void;

interface EventHost {
  addEventListener?: (type: string, listener: Listener) => void;
  removeEventListener?: (type: string, listener: Listener) => void;
}

interface PageGlobals extends EventHost {
  document?: EventHost & { readonly visibilityState?: string } | null;
  navigator?: { sendBeacon?: (url: string, data: Blob) => boolean };
  location?: { readonly href?: string };
}

function globals(): PageGlobals {
  return globalThis as PageGlobals;
}

/**
 * Whether this code runs in a page: there is a `document` and a global
 * `addEventListener`.
 *
 * @returns `true` in a browser window.
 */
export function inPage(): boolean {
  const g = globals();
  return typeof g.document === "object" && g.document !== null && typeof g.addEventListener === "function";
}

/** The page's address (`location.href`), against which a relative URL resolves; `undefined` outside a page. */
export function pageHref(): string | undefined {
  const href = globals().location?.href;
  return typeof href === "string" ? href : undefined;
}

/**
 * Calls `listener` on every change of the page's lifecycle, from the
 * document's `visibilitychange` and the window's `pagehide` and `pageshow`
 * (whichever of them exist).
 *
 * @param listener Told what happened; a throw is swallowed.
 * @returns A function that removes the listeners.
 */
export function onPageEvent(listener: (event: PageEvent) => void): () => void {
  const g = globals();
  const doc = g.document ?? undefined;
  const handle: Listener = (event) => {
    try {
      if (event.type === "pagehide") listener("left");
      else if (event.type === "pageshow") listener("shown");
      else listener(globals().document?.visibilityState === "hidden" ? "hidden" : "visible");
    } catch {
      // A listener must not throw into the browser's event dispatch.
    }
  };
  doc?.addEventListener?.("visibilitychange", handle);
  g.addEventListener?.("pagehide", handle);
  g.addEventListener?.("pageshow", handle);
  return () => {
    doc?.removeEventListener?.("visibilitychange", handle);
    g.removeEventListener?.("pagehide", handle);
    g.removeEventListener?.("pageshow", handle);
  };
}

/**
 * Queues `body` with `navigator.sendBeacon`, which outlives the page.
 *
 * @param url Where to POST.
 * @param body The bytes to send.
 * @param type Their content type.
 * @returns `true` when the browser queued it; `false` when it refused or has no beacons.
 * @throws What `sendBeacon` throws (a bad URL, a closed page).
 */
export function sendBeacon(url: string, body: Uint8Array<ArrayBuffer>, type: string): boolean {
  const navigator = globals().navigator;
  const beacon = navigator?.sendBeacon;
  return typeof beacon === "function" && beacon.call(navigator, url, new Blob([body], { type })) === true;
}
