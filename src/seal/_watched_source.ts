// A byte source that notes when reading it fails, so that a set's verifier
// can tell a file it cannot read (a finding) from a fault of its own.
import type { CallEventSource } from "../read/read_call_events.ts";
import { toByteStream } from "../read/_byte_stream.ts";

/**
 * `source` as a stream that stores the error it fails with in `failure.error`.
 * Its reader is taken at once, so cancelling the stream unread still
 * cancels `source`.
 */
export function watchedSource(source: CallEventSource, failure: { error?: unknown }): ReadableStream<Uint8Array> {
  const reader = toByteStream(source).getReader();
  return new ReadableStream<Uint8Array>({
    async pull(controller) {
      let next: ReadableStreamReadResult<Uint8Array>;
      try {
        next = await reader.read();
      } catch (error) {
        failure.error = error;
        throw error;
      }
      if (next.done) controller.close();
      else controller.enqueue(next.value);
    },
    cancel: (reason) => reader.cancel(reason),
  }, { highWaterMark: 0 });
}
