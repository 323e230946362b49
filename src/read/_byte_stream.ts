// The kinds of byte source a reader takes (a stream, a Response, a Blob, an
// async iterable of chunks), and the check of each chunk it gives, shared by
// readCallEvents and verifyAuditTrail.
import type { CallEventSource } from "./read_call_events.ts";

/** Whether `source` is one of the kinds `readCallEvents` accepts. */
export function isByteSource(source: unknown): source is CallEventSource {
  if (typeof source !== "object" || source === null) return false;
  return isStreamKind(source) || Symbol.asyncIterator in source;
}

/** Whether `source` is a stream, a Response or a Blob, not only an async iterable (the globals a runtime may lack are checked for first). */
export function isStreamKind(source: object): boolean {
  return source instanceof ReadableStream || (typeof Response === "function" && source instanceof Response) ||
    (typeof Blob === "function" && source instanceof Blob);
}

/** `source` as a byte stream (never `ReadableStream.from`: Chromium lacks it). */
export function toByteStream(source: CallEventSource): ReadableStream<Uint8Array> {
  if (source instanceof ReadableStream) return source;
  if (typeof Response === "function" && source instanceof Response) return source.body ?? new Blob([]).stream();
  if (typeof Blob === "function" && source instanceof Blob) return source.stream();
  const iterable = source as AsyncIterable<Uint8Array>;
  let iterator: AsyncIterator<Uint8Array> | undefined;
  return new ReadableStream<Uint8Array>({
    async pull(controller) {
      iterator ??= iterable[Symbol.asyncIterator]();
      const next = await iterator.next();
      if (next.done) controller.close();
      else controller.enqueue(next.value);
    },
    async cancel(reason) {
      await iterator?.return?.(reason);
    },
  }, { highWaterMark: 0 });
}

/** Whether `chunk` is a Uint8Array (a Buffer is one), from this realm or another. */
export function isBytes(chunk: unknown): chunk is Uint8Array {
  return chunk instanceof Uint8Array || Object.prototype.toString.call(chunk) === "[object Uint8Array]";
}

/** The error for a chunk that is not bytes; `doing` starts the message ("Cannot read lines"). */
export function notBytes(chunk: unknown, doing: string): TypeError {
  return new TypeError(
    `${doing}: the source gave ${describeChunk(chunk)} where bytes (a Uint8Array) were expected` +
      " (a stream of text needs a TextEncoderStream first)",
  );
}

/** What a chunk that is not bytes is, in a few words. */
function describeChunk(chunk: unknown): string {
  if (chunk === null) return "null";
  if (typeof chunk === "string") return "a string";
  if (typeof chunk !== "object") return typeof chunk === "undefined" ? "undefined" : `a ${typeof chunk}`;
  const tag = Object.prototype.toString.call(chunk).slice(8, -1);
  return /^[AEIO]/.test(tag) ? `an ${tag}` : `a ${tag}`;
}
