import { describe, it } from "node:test";
import assert from "node:assert/strict";
import { CallEventSyntaxError, encodeCallEvent, parseCallEvent, readCallEvents } from "../../mod.ts";
import { testdataLines } from "../_helpers/testdata.ts";

// Numbers against serde_json's verdicts. The reference buffers `outcome` and
// a provenance `source` whole (tagged enums), so serde parses every number in
// them, and its default float parsing (no `float_roundtrip`) is not correctly
// rounded: it multiplies a u64 significand by a power of ten and reports
// "number out of range" when the product overflows, so some finite doubles
// near f64::MAX are rejected (1.7976931348623158e308, which JavaScript reads
// as Number.MAX_VALUE; even f64::MAX written out in full), and an integer part
// past u64 followed by exactly as many fraction digits as it had extra digits
// is an "invalid number". An unknown field of the event or of a provenance
// entry is skipped unread by serde: there the same numbers are accepted.
//
// Every `serde` verdict below, and tests/testdata/serde_numbers.tsv (600
// seeded tokens near those edges: near f64::MAX, near 2^64 with fractions,
// large, tiny and huge exponents, zeros), is the output of the reference's
// own serde types (serde_json 1.0.87, Debian's, built offline as
// tests/testdata/make_golden.sh does) for the token inside `outcome`: "OK", or
// its error without the position. None comes from this module. Found by a
// differential fuzz (2026-12-03: 29,881 mutated lines on each runtime; this
// was the one disagreement not documented as deliberate).

const base =
  '{"ts":"2026-05-29T00:00:00+00:00","call_id":"c","tool_id":"t","granted_capabilities":[],"duration_ms":1,' +
  '"outcome":{"kind":"success"},"tier":"warm","dry_run":false,"schema_version":3,"secrets_resolved":false';
const top = (extra: string): string => `${base},${extra}}`;
const outcome = (json: string): string => base.replace('{"kind":"success"}', json) + "}";
const provenance = (entry: string): string => `${base},"capability_provenance":[${entry}]}`;
const source = (json: string): string => provenance(`{"cap":"c","source":${json}}`);
/** f64::MAX written out exactly: 309 digits. */
const F64_MAX_DIGITS =
  "1797693134862315708145274237317043567980705675258449965989174768031572607800285387605895586327668781" +
  "7154045895351438246423432132688946418276846754670353751698604991057655128207624549009038932894407586" +
  "8508455133942304583236903222948165808559332123348274797826204144723168738177180919299881250404026184" +
  "124858368";
const SUCCESS_LINE = `OK ${base}}`;

const cases: readonly { input: string; serde: string }[] = [
  {
    input: outcome('{"kind":"success","x":1.7976931348623158e308}'),
    serde: "ERROR number out of range at line 1 column 158",
  },
  {
    input: outcome('{"kind":"success","x":-1.7976931348623158e308}'),
    serde: "ERROR number out of range at line 1 column 159",
  },
  {
    input: outcome(`{"kind":"success","x":${F64_MAX_DIGITS}}`),
    serde: "ERROR number out of range at line 1 column 445",
  },
  {
    input: outcome('{"kind":"invalid_args","message":"m","x":[1.797693134862315708e308]}'),
    serde: "ERROR number out of range at line 1 column 180",
  },
  {
    input: source('{"kind":"string_allow_list","x":1.7976931348623158e308}'),
    serde: "ERROR number out of range at line 1 column 306",
  },
  {
    input: source(`{"kind":"ucan_chain","issuer_did":"d","chain_depth":1,"x":${F64_MAX_DIGITS}}`),
    serde: "ERROR number out of range at line 1 column 619",
  },
  // Controls, on either side of the edge: serde reads these (and so does parseCallEvent).
  { input: outcome('{"kind":"success","x":1.7976931348623157e308}'), serde: SUCCESS_LINE },
  { input: outcome('{"kind":"success","x":1.79769313486231570e308}'), serde: SUCCESS_LINE },
  { input: top('"x":1.7976931348623158e308'), serde: SUCCESS_LINE },
  { input: top(`"x":${F64_MAX_DIGITS}`), serde: SUCCESS_LINE },
];

describe("numbers inside outcome and source, against serde_json's verdicts", () => {
  it("the exact digits are f64::MAX", () => {
    assert.equal(F64_MAX_DIGITS.length, 309);
    assert.equal(Number(F64_MAX_DIGITS), Number.MAX_VALUE);
    assert.equal(Number("1.7976931348623158e308"), Number.MAX_VALUE);
  });

  for (const [i, { input, serde }] of cases.entries()) {
    const at = input.indexOf('"x":');
    const what = `…${input.slice(Math.max(0, at - 40), at + 45)}…`;
    if (serde.startsWith("OK ")) {
      it(`case ${i + 1}: accepts, as serde does, and writes serde's line: ${what}`, () => {
        assert.equal(encodeCallEvent(parseCallEvent(input)), serde.slice(3));
      });
      continue;
    }
    it(`case ${i + 1}: rejects, as serde does (${serde}): ${what}`, () => {
      // Finite in JavaScript, out of range for serde_json.
      assert.throws(() => parseCallEvent(input, { line: i + 1 }), (error: unknown) => {
        assert.ok(error instanceof CallEventSyntaxError, String(error));
        assert.equal(error.line, i + 1);
        return true;
      });
    });
  }

  it("readCallEvents gives every line serde's verdict", async () => {
    const invalid: number[] = [];
    const reader = readCallEvents(new Blob([cases.map((c) => c.input + "\n").join("")]), {
      onInvalid: (error) => invalid.push(error.line!),
    });
    let events = 0;
    for await (const event of reader) {
      assert.equal(event.call_id, "c");
      events++;
    }
    const rejected = cases.flatMap((c, i) => (c.serde.startsWith("ERROR") ? [i + 1] : []));
    assert.deepEqual(invalid, rejected);
    assert.equal(events, cases.length - rejected.length);
  });

  const corpus = testdataLines("serde_numbers.tsv").map((row) => {
    const [token, verdict] = row.split("\t");
    return { token: token!, rejected: verdict !== "OK" };
  });

  it("gives serde's verdict on 600 numbers near its edges, inside outcome, and accepts each in an unknown field", () => {
    assert.equal(corpus.length, 600);
    assert.ok(corpus.filter((c) => c.rejected).length > 100 && corpus.filter((c) => !c.rejected).length > 100);
    for (const { token, rejected } of corpus) {
      const inside = outcome(`{"kind":"success","x":${token}}`);
      if (rejected) assert.throws(() => parseCallEvent(inside), CallEventSyntaxError, token);
      else assert.equal(parseCallEvent(inside).call_id, "c", token);
      assert.equal(parseCallEvent(top(`"x":${token}`)).call_id, "c", `unknown top-level field: ${token}`);
    }
  });

  it("readCallEvents, which checks lines on their bytes first, gives the same verdicts", async () => {
    const lines = corpus.map(({ token }) => outcome(`{"kind":"success","x":${token}}`));
    const invalid: number[] = [];
    let events = 0;
    for await (
      const _ of readCallEvents(new Blob([lines.join("\n") + "\n"]), { onInvalid: (e) => invalid.push(e.line!) })
    ) {
      events++;
    }
    assert.deepEqual(invalid, corpus.flatMap((c, i) => (c.rejected ? [i + 1] : [])));
    assert.equal(events, corpus.filter((c) => !c.rejected).length);
  });
});
