import { describe, it } from "node:test";
import assert from "node:assert/strict";
import { CallEventSyntaxError, encodeCallEvent, parseCallEvent } from "../../mod.ts";
import { readCallEvents } from "../../src/read/read_call_events.ts";
import { testdata, testdataLines } from "../_helpers/testdata.ts";

// oracle_expected.jsonl holds serde_json's own verdict on each line of
// oracle_input.jsonl (tests/testdata/make_golden.sh): the line it writes back,
// or "ERROR <its message>".
const inputs = testdataLines("oracle_input.jsonl");
const serdeVerdicts = testdataLines("oracle_expected.jsonl");

/** The deepest nesting of containers in JSON `text`. */
function depthOf(text: string): number {
  let depth = 0;
  let max = 0;
  for (let at = 0; at < text.length; at++) {
    const c = text[at];
    if (c === '"') {
      for (at++; text[at] !== '"'; at++) if (text[at] === "\\") at++;
    } else if (c === "{" || c === "[") max = Math.max(max, ++depth);
    else if (c === "}" || c === "]") depth--;
  }
  return max;
}

// One deliberate difference (src/event/_strict_json.ts): serde skips an
// unknown field unread at any depth, but this reader rejects any line nested
// past serde's own limit of 127 levels, wherever the nesting is.
const verdicts = serdeVerdicts.map((verdict, i) =>
  depthOf(inputs[i]!) > 127 ? "ERROR recursion limit exceeded (this reader's limit, everywhere)" : verdict
);

describe("parseCallEvent against serde_json's verdicts", () => {
  it("has a verdict for every input", () => {
    assert.equal(inputs.length, verdicts.length);
    assert.ok(verdicts.some((v) => v.startsWith("ERROR recursion limit exceeded")));
    assert.ok(serdeVerdicts.some((v, i) => !v.startsWith("ERROR") && depthOf(inputs[i]!) > 127));
    assert.ok(verdicts.some((v, i) => !v.startsWith("ERROR") && depthOf(inputs[i]!) === 127));
  });

  for (const [i, input] of inputs.entries()) {
    const verdict = verdicts[i]!;
    const what = `${input.length > 100 ? `${input.slice(0, 40)}…${input.slice(-40)}` : input}`;
    it(`parseCallEvent ${verdict.startsWith("ERROR") ? "rejects" : "accepts"} oracle case ${i + 1}, as serde does: ${what}`, () => {
      if (!verdict.startsWith("ERROR")) {
        assert.equal(encodeCallEvent(parseCallEvent(input)), verdict);
        return;
      }
      assert.throws(() => parseCallEvent(input, { line: i + 1 }), (error: unknown) => {
        assert.ok(error instanceof CallEventSyntaxError, String(error));
        assert.equal(error.line, i + 1);
        assert.ok(error.message.length < 400, error.message);
        if (verdict.includes("recursion limit")) assert.match(error.reason, /to nest at most 127 levels deep/);
        if (verdict.includes("surrogate")) assert.match(error.reason, /lone surrogate/);
        if (verdict.includes("out of range")) assert.match(error.reason, /range of a double/);
        if (verdict.includes("duplicate field")) assert.match(error.reason, /to appear once/);
        return true;
      });
    });
  }

  it("readCallEvents reads the whole oracle file with serde's verdicts, never stopping", async () => {
    const invalid: number[] = [];
    const ids: number[] = [];
    const reader = readCallEvents(new Blob([testdata("oracle_input.jsonl")]), {
      onInvalid: (error) => invalid.push(error.line!),
    });
    let line = 0;
    for await (const event of reader) {
      assert.equal(event.call_id, "c");
      ids.push(++line);
    }
    const rejected = verdicts.flatMap((v, i) => (v.startsWith("ERROR") ? [i + 1] : []));
    assert.deepEqual(invalid, rejected);
    assert.equal(ids.length, verdicts.length - rejected.length);
    assert.equal(reader.stats.lines, inputs.length);
  });
});
