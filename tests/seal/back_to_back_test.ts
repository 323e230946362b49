import { describe, it } from "node:test";
import assert from "node:assert/strict";
import fc from "fast-check";
import { BackToBack } from "../../src/seal/_back_to_back.ts";
import { verifyAuditTrail } from "../../src/seal/verify_audit_trail.ts";
import { keys } from "./_trail.ts";

const encoder = new TextEncoder();
const decoder = new TextDecoder();

/** `texts` as files, each read in chunks of `size` bytes. */
async function* files(texts: readonly string[], size = 3): AsyncGenerator<AsyncIterable<Uint8Array>> {
  for (const text of texts) {
    yield (async function* () {
      const bytes = encoder.encode(text);
      for (let at = 0; at < bytes.length; at += size) yield bytes.slice(at, at + size);
    })();
  }
}

async function read(joined: BackToBack): Promise<string> {
  let text = "";
  for await (const chunk of joined) text += decoder.decode(chunk);
  return text;
}

describe("BackToBack", () => {
  it("ends a file's last line where the file ends, but for the last file's, and says which lines it ended", async () => {
    const joined = new BackToBack(files(["a\nb", "", "c\n", "d", "e\n\nf"]));
    assert.equal(await read(joined), "a\nb\nc\nd\ne\n\nf");
    assert.deepEqual(joined.unended, [2, 4]);
    assert.deepEqual(joined.firstLines, [1, 3, 3, 4, 5]);
  });

  it("holds the files' bytes, and a newline where a file that ends inside a line is followed by bytes", async () => {
    await fc.assert(
      fc.asyncProperty(
        fc.array(fc.stringMatching(/^[ab\n]{0,12}$/), { maxLength: 6 }),
        fc.integer({ min: 1, max: 5 }),
        async (texts, size) => {
          let expected = "";
          const unended: number[] = [];
          const firstLines: number[] = [];
          for (const text of texts) {
            const open = expected !== "" && !expected.endsWith("\n");
            firstLines.push(expected.split("\n").length + (open ? 1 : 0));
            if (open && text !== "") {
              unended.push(expected.split("\n").length);
              expected += "\n";
            }
            expected += text;
          }
          const joined = new BackToBack(files(texts, size));
          assert.equal(await read(joined), expected);
          assert.deepEqual(joined.unended, unended);
          assert.deepEqual(joined.firstLines, firstLines);
        },
      ),
    );
  });

  it("is read in band only: verifyAuditTrail refuses it with a seal stream", async () => {
    const key = await keys();
    assert.throws(
      () => verifyAuditTrail(new BackToBack(files([])), { keys: key.verify, seal: new Blob([]) }),
      TypeError,
    );
  });
});
