import { describe, it } from "node:test";
import assert from "node:assert/strict";
import fc from "fast-check";
import { ByteSource } from "../../src/seal/_byte_source.ts";
import { chunkedStream } from "../_helpers/streams.ts";

describe("ByteSource", () => {
  it("gathers a stream of one-byte chunks into a few pieces, so that reading it stays linear", async () => {
    const bytes = new Uint8Array(200_000).map((_, i) => i % 251);
    const source = new ByteSource(chunkedStream(bytes, [1]));
    await source.fill(bytes.length);
    assert.equal(source.buffered, bytes.length);
    assert.ok(source.pieces <= 4, `${source.pieces} pieces for ${bytes.length} one-byte chunks`);
    assert.deepEqual(source.peek(bytes.length), bytes);
  });

  it("hands back exactly the stream's bytes, whatever its chunks and however it is read", async () => {
    await fc.assert(
      fc.asyncProperty(
        fc.uint8Array({ maxLength: 20_000 }),
        fc.array(fc.oneof(fc.integer({ min: 1, max: 16 }), fc.integer({ min: 4000, max: 9000 })), {
          minLength: 1,
          maxLength: 20,
        }),
        fc.array(fc.tuple(fc.integer({ min: 1, max: 70_000 }), fc.integer({ min: 0, max: 70_000 })), {
          minLength: 1,
          maxLength: 30,
        }),
        async (bytes, sizes, steps) => {
          const source = new ByteSource(chunkedStream(bytes, sizes));
          let at = 0;
          for (const [want, skip] of steps) {
            await source.fill(want);
            const seen = source.peek(want, want % 2 === 0);
            assert.deepEqual(seen, bytes.subarray(at, at + seen.length));
            const newline = source.indexOf(7);
            const expected = bytes.subarray(at, at + source.buffered).indexOf(7);
            assert.equal(newline, expected);
            const n = Math.min(skip, source.buffered);
            source.skip(n);
            at += n;
            assert.equal(source.position, at);
          }
          const rest: number[] = [];
          for await (const chunk of source.rest()) rest.push(...chunk);
          assert.deepEqual(new Uint8Array(rest), bytes.subarray(at));
        },
      ),
      { numRuns: 150 },
    );
  });
});
