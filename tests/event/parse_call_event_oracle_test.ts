import { describe, it } from "node:test";
import assert from "node:assert/strict";
import { CallEventSyntaxError, encodeCallEvent, parseCallEvent } from "../../mod.ts";
import { readCallEvents } from "../../src/read/read_call_events.ts";
import { testdata, testdataLines } from "../_helpers/testdata.ts";

// oracle_expected.jsonl holds serde_json's own verdict on each line of
// oracle_input.jsonl (tests/testdata/make_golden.sh): the line it writes back,
// or "ERROR <its message>".
const inputs = testdataLines("oracle_input.jsonl");
const verdicts = testdataLines("oracle_expected.jsonl");

describe("parseCallEvent against serde_json's verdicts", () => {
  it("has a verdict for every input", () => {
    assert.equal(inputs.length, verdicts.length);
    assert.ok(verdicts.some((v) => v.startsWith("ERROR recursion limit exceeded")));
    assert.ok(verdicts.some((v, i) => !v.startsWith("ERROR") && inputs[i]!.length > 20_000));
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
