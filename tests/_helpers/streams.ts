// Shared helpers for the reader and CLI tests: hand-built byte streams (no
// ReadableStream.from: Chromium lacks it), fixtures, and collecting events.
import { existsSync, readFileSync } from "node:fs";
import { dirname, join } from "node:path";
import type { CallEvent } from "../../mod.ts";
import type { InvalidLineError } from "../../src/read/invalid_line_error.ts";
import { readCallEvents, type ReadCallEventsOptions } from "../../src/read/read_call_events.ts";

/** The repository root: the nearest folder above the working directory holding deno.json. */
export function repoRoot(): string {
  let dir = process.cwd();
  while (!existsSync(join(dir, "deno.json"))) {
    const up = dirname(dir);
    if (up === dir) throw new Error("cannot find the repository root (no deno.json above the working directory)");
    dir = up;
  }
  return dir;
}

/** The bytes of `tests/testdata/NAME`. */
export function fixture(name: string): Uint8Array<ArrayBuffer> {
  return new Uint8Array(readFileSync(join(repoRoot(), "tests", "testdata", name)));
}

/** A stream that hands out `bytes` in chunks of the given sizes (the last size repeats). */
export function chunkedStream(
  bytes: Uint8Array,
  sizes: readonly number[] = [bytes.length || 1],
): ReadableStream<Uint8Array> {
  let at = 0;
  let i = 0;
  return new ReadableStream<Uint8Array>({
    pull(controller) {
      if (at >= bytes.length) {
        controller.close();
        return;
      }
      const size = Math.max(1, sizes[Math.min(i++, sizes.length - 1)]!);
      controller.enqueue(bytes.slice(at, at + size));
      at += size;
    },
  });
}

/**
 * A stream that hands out `bytes` in chunks of `size`, each a view of one
 * buffer it fills again when the next chunk is asked for (as a reader into
 * one buffer does): a consumer that keeps a chunk past asking for the next
 * sees it change.
 */
export function reusingStream(bytes: Uint8Array, size: number): ReadableStream<Uint8Array> {
  const buffer = new Uint8Array(size);
  let at = 0;
  return new ReadableStream<Uint8Array>({
    pull(controller) {
      if (at >= bytes.length) return controller.close();
      const n = Math.min(size, bytes.length - at);
      buffer.set(bytes.subarray(at, at + n));
      at += n;
      controller.enqueue(buffer.subarray(0, n));
    },
  }, { highWaterMark: 0 });
}

/** Every event and every invalid-line report of a source. */
export async function readAll(
  source: Parameters<typeof readCallEvents>[0],
  options: Omit<ReadCallEventsOptions, "onInvalid"> = {},
): Promise<{ events: CallEvent[]; invalid: InvalidLineError[] }> {
  const events: CallEvent[] = [];
  const invalid: InvalidLineError[] = [];
  for await (const event of readCallEvents(source, { ...options, onInvalid: (e) => invalid.push(e) })) {
    events.push(event);
  }
  return { events, invalid };
}

/** Reads a whole stream into an array. */
export async function collect<T>(stream: ReadableStream<T>): Promise<T[]> {
  const out: T[] = [];
  const reader = stream.getReader();
  for (let r = await reader.read(); !r.done; r = await reader.read()) out.push(r.value);
  return out;
}
