import { describe, it } from "node:test";
import assert from "node:assert/strict";
import { writeFileSync } from "node:fs";
import { join } from "node:path";
import { Input } from "../../src/cli/_input.ts";
import { runtime } from "../../src/runtime/runtime.ts";
import { tempDir } from "../_helpers/temp_dir.ts";
import { gzip } from "./_sets.ts";

/** All of a stream's bytes, as one array. */
async function bytesOf(stream: ReadableStream<Uint8Array>): Promise<Uint8Array> {
  return new Uint8Array(await new Response(stream).arrayBuffer());
}

describe("Input", () => {
  it("readable() gives a file's bytes once, to its end, plain and through gunzip", async () => {
    const dir = tempDir("input");
    // More than one read's worth, and bytes that are not text.
    const bytes = Uint8Array.from({ length: 200_000 }, (_, i) => (i * 7919) % 251);
    const plain = join(dir, "a.jsonl");
    const packed = join(dir, "a.jsonl.gz");
    writeFileSync(plain, bytes);
    writeFileSync(packed, await gzip(bytes));
    for (const [path, unzip] of [[plain, false], [packed, true]] as const) {
      const input = await Input.file(runtime(), path, unzip);
      try {
        assert.deepEqual(await bytesOf(input.readable()), bytes, path);
        assert.equal(input.ended, "end");
      } finally {
        await input.close();
      }
    }
  });

  it("readable() cancelled part way stops reading, and the file closes", async () => {
    const dir = tempDir("input");
    const path = join(dir, "a.jsonl");
    writeFileSync(path, new Uint8Array(500_000).fill(0x61));
    const input = await Input.file(runtime(), path);
    const reader = input.readable().getReader();
    const first = await reader.read();
    assert.equal(first.done, false);
    assert.ok(first.value!.length > 0 && first.value!.length < 500_000);
    await reader.cancel();
    assert.deepEqual(await reader.read(), { done: true, value: undefined });
    await input.close();
  });
});
