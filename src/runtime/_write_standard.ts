// stdout and stderr for both drivers: stdio.ts finds the stream (it must stay
// loadable in browsers), this file normalises its errors.
import { IoError, toIoError } from "./io_error.ts";
import { standardStreamWriter } from "./stdio.ts";

/**
 * Writes all of `bytes` to the process's stdout or stderr.
 *
 * @param which The stream.
 * @param bytes What to write.
 * @throws {IoError} `broken_pipe` when the reader has gone; `other` where there is no such stream.
 */
export async function writeStandard(which: "stdout" | "stderr", bytes: Uint8Array): Promise<void> {
  const write = standardStreamWriter(which);
  if (write === undefined) throw new IoError("other", { action: "write to", path: `<${which}>`, reason: "none" });
  try {
    await write(bytes);
  } catch (error) {
    throw toIoError(error, "write to", `<${which}>`);
  }
}
