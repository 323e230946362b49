// Taking a stream's writer once, at construction, and checking that it is one.

/**
 * The writer of `stream`, checked to have the members a sink uses, so that a
 * wrong object fails at construction rather than at the first write. Its
 * `closed` promise is handled: a failure is reported through each write.
 *
 * @throws {TypeError} When `getWriter()` throws (a locked stream) or returns
 *   something that is not a writer. `what` names the stream in the message.
 */
export function writerOf<T>(stream: WritableStream<T>, what: string): WritableStreamDefaultWriter<T> {
  let writer: Partial<WritableStreamDefaultWriter<T>> | null | undefined;
  try {
    writer = stream.getWriter();
  } catch (cause) {
    throw new TypeError(`Cannot use ${what}: its getWriter() threw (is the stream locked?)`, { cause });
  }
  if (
    typeof writer?.write !== "function" || typeof writer.close !== "function" ||
    typeof writer.abort !== "function" || typeof writer.releaseLock !== "function" ||
    typeof writer.closed?.then !== "function"
  ) {
    throw new TypeError(
      `Cannot use ${what}: getWriter() must return a writer with write(), close(), abort(), releaseLock() and closed`,
    );
  }
  Promise.resolve(writer.closed).catch(() => {});
  return writer as WritableStreamDefaultWriter<T>;
}
