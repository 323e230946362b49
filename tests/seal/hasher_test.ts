import { describe, it } from "node:test";
import assert from "node:assert/strict";
import { hashCounts, hashSegment } from "../../src/seal/_hasher.ts";
import { lineDigests, splitLines } from "../../src/seal/_lines.ts";
import { sha256Hex } from "../../src/seal/_encoding.ts";
import { eventLine } from "./_trail.ts";

const encoder = new TextEncoder();

/** `text` in shared memory, as the sink's segment buffers hold it. */
function shared(text: string): Uint8Array {
  const bytes = encoder.encode(text);
  const out = new Uint8Array(new SharedArrayBuffer(bytes.length + 16), 8, bytes.length);
  out.set(bytes);
  return out;
}

describe("hashSegment", () => {
  it("hashSegment off the main thread gives what the verifier computes: tags, SHA-256, line digests", async () => {
    // Lines of every length mod 4, non-ASCII included, over the off-thread threshold.
    let text = "";
    for (let i = 0; text.length < 200_000; i++) text += eventLine(i).replace("agent-A", "agent-ü".repeat(i % 5));
    const bytes = shared(text);
    const plain = encoder.encode(text);
    const before = hashCounts.offThread;
    for (const digests of [false, true]) {
      const hash = await hashSegment(bytes, undefined, digests);
      const lines = splitLines(plain);
      assert.equal(hash.count, lines.count);
      assert.deepEqual([...hash.tags], [...lines.tags]);
      assert.deepEqual([...hash.ends], [...lines.ends]);
      assert.equal(hash.sha, await sha256Hex(plain));
      assert.deepEqual(hash.digests, digests ? await lineDigests(plain, lines) : undefined);
      assert.equal(hash.torn, false);
    }
    assert.equal(hashCounts.offThread - before, 2, "both went to the worker");
  });

  it("hashSegment in place for a small or unshared segment, with the same result", async () => {
    const text = eventLine(1) + eventLine(2) + "torn";
    const before = hashCounts.inPlace;
    const hash = await hashSegment(encoder.encode(text), undefined, false);
    assert.equal(hashCounts.inPlace - before, 1);
    assert.deepEqual([hash.count, hash.torn], [3, true]);
    assert.deepEqual([...hash.tags], [...splitLines(encoder.encode(text)).tags]);
  });
});
