import { describe, it } from "node:test";
import assert from "node:assert/strict";
import fc from "fast-check";
import { type CallEvent, createCallEvent, encodeCallEvent, InvalidCallEventError, parseCallEvent } from "../../mod.ts";
import { testdataLines } from "../_helpers/testdata.ts";
import { arbitraryEvent, arbitraryHostileSpec, buildHostile } from "../_helpers/arbitrary.ts";
import { encodeEvent, encodeWalk } from "../../src/event/_encode.ts";
import { CALL_EVENT } from "../../src/event/_fields.ts";

describe("encodeCallEvent", () => {
  // golden_expected.jsonl was written by the reference's serde types (make_golden.sh).
  const inputs = testdataLines("golden_input.jsonl");
  const expected = testdataLines("golden_expected.jsonl");

  it("has a golden line for every input", () => {
    assert.equal(inputs.length, expected.length);
    assert.ok(inputs.length >= 30);
  });

  for (const [i, input] of inputs.entries()) {
    it(`writes the reference's bytes for golden case ${i + 1}`, () => {
      assert.equal(encodeCallEvent(parseCallEvent(input)), expected[i]);
      // Both ways of writing it, whichever this runtime uses by default.
      assert.equal(encodeEvent(parseCallEvent(input), false), expected[i]);
      assert.equal(encodeEvent(parseCallEvent(input), true), expected[i]);
    });
  }

  it("writes the same bytes through JSON.stringify when toJSON was put on Object.prototype or Array.prototype", () => {
    const event = parseCallEvent(expected.find((line) => line.includes("capability_provenance"))!);
    const line = encodeEvent(event, false);
    for (const proto of [Object.prototype, Array.prototype]) {
      Object.defineProperty(proto, "toJSON", { value: () => "forged", configurable: true, writable: true });
      try {
        assert.equal(encodeEvent(event, true), line);
        assert.equal(encodeCallEvent(event), line);
      } finally {
        delete (proto as { toJSON?: unknown }).toJSON;
      }
    }
    assert.equal(encodeEvent(event, true), line);
  });

  it("writes the same bytes as JSON.stringify of a parsed event (canonical key order)", () => {
    for (const line of expected) assert.equal(JSON.stringify(parseCallEvent(line)), line);
  });

  it("writes events built with createCallEvent in the reference's field order", () => {
    const event = createCallEvent({
      tier: "warm",
      outcome: { retryable: true, code: "E", kind: "execution_failed" },
      duration_ms: 5,
      tool_id: "tool:x",
      call_id: "cid",
      ts: "2026-05-29T00:00:00+00:00",
      cursor_page: 2,
      caller_id: "agent-A",
    });
    assert.equal(
      encodeCallEvent(event),
      '{"ts":"2026-05-29T00:00:00+00:00","call_id":"cid","tool_id":"tool:x","caller_id":"agent-A",' +
        '"granted_capabilities":[],"duration_ms":5,"outcome":{"kind":"execution_failed","code":"E","retryable":true},' +
        '"tier":"warm","dry_run":false,"schema_version":3,"secrets_resolved":false,"cursor_page":2}',
    );
  });

  it("round-trips random valid events through parseCallEvent", () => {
    fc.assert(
      fc.property(arbitraryEvent(), (event: CallEvent) => {
        const line = encodeCallEvent(event);
        const parsed = parseCallEvent(JSON.parse(line));
        assert.deepEqual(parsed, event);
        assert.equal(encodeCallEvent(parsed), line);
        assert.equal(JSON.stringify(parsed), line);
      }),
      { numRuns: 300 },
    );
  });

  it("writes the event's fields in the field table's order, as a plain walk of the table does (property)", () => {
    const full = parseCallEvent(expected.find((line) => line.includes("cursor_page") && line.includes("caller_id"))!);
    const withAll = { ...full, capability_provenance: [] };
    assert.deepEqual(Object.keys(JSON.parse(encodeCallEvent(withAll))), CALL_EVENT.fields.map((f) => f.key));
    fc.assert(
      fc.property(arbitraryEvent(), fc.anything(), fc.nat(), (event, value, at) => {
        assert.equal(encodeEvent(event, false), encodeWalk(event));
        assert.equal(encodeEvent(event, true), encodeWalk(event));
        const broken: Record<string, unknown> = { ...event };
        broken[CALL_EVENT.fields[at % CALL_EVENT.fields.length]!.key] = value;
        assert.deepEqual(encodeEvent(broken, false), encodeWalk(broken));
        assert.deepEqual(encodeEvent(broken, true), encodeWalk(broken));
      }),
      { numRuns: 300 },
    );
    fc.assert(
      fc.property(arbitraryHostileSpec(), (spec) => {
        const b = encodeWalk(buildHostile(spec).value);
        for (const byCopy of [false, true]) {
          const a = encodeEvent(buildHostile(spec).value, byCopy);
          assert.deepEqual(typeof a === "string" ? a : a.path, typeof b === "string" ? b : b.path);
        }
      }),
      { numRuns: 200 },
    );
  });

  const bad: [string, unknown, string][] = [
    ["a non-object", 42, ""],
    ["null", null, ""],
    ["a missing ts", { ...valid(), ts: undefined }, "ts"],
    ["a numeric tool_id", { ...valid(), tool_id: 7 }, "tool_id"],
    ["a BigInt duration", { ...valid(), duration_ms: 5n }, "duration_ms"],
    ["a negative duration", { ...valid(), duration_ms: -1 }, "duration_ms"],
    ["a fractional duration", { ...valid(), duration_ms: 1.5 }, "duration_ms"],
    ["an unsafe integer duration", { ...valid(), duration_ms: 2 ** 64 }, "duration_ms"],
    ["NaN duration", { ...valid(), duration_ms: NaN }, "duration_ms"],
    ["a string in capabilities", { ...valid(), granted_capabilities: ["a", 1] }, "granted_capabilities[1]"],
    ["capabilities not an array", { ...valid(), granted_capabilities: "read" }, "granted_capabilities"],
    ["an unknown outcome kind", { ...valid(), outcome: { kind: "exploded" } }, "outcome.kind"],
    ["an outcome that is a string", { ...valid(), outcome: "success" }, "outcome"],
    [
      "execution_failed without code",
      { ...valid(), outcome: { kind: "execution_failed", retryable: true } },
      "outcome.code",
    ],
    ["a cyclic missing list", cyclicOutcome(), "outcome.missing[0]"],
    [
      "a string retry_after_ms",
      { ...valid(), outcome: { kind: "rate_limited", retry_after_ms: "5" } },
      "outcome.retry_after_ms",
    ],
    ["a string dry_run", { ...valid(), dry_run: "false" }, "dry_run"],
    ["a missing secrets_resolved", { ...valid(), secrets_resolved: undefined }, "secrets_resolved"],
    ["schema_version 4", { ...valid(), schema_version: 4 }, "schema_version"],
    ["cursor_page over u32", { ...valid(), cursor_page: 2 ** 32 }, "cursor_page"],
    [
      "chain_depth over u8",
      {
        ...valid(),
        capability_provenance: [{ cap: "c", source: { kind: "ucan_chain", issuer_did: "d", chain_depth: 256 } }],
      },
      "capability_provenance[0].source.chain_depth",
    ],
    [
      "an unknown provenance kind",
      { ...valid(), capability_provenance: [{ cap: "c", source: { kind: "x" } }] },
      "capability_provenance[0].source.kind",
    ],
    ["a lone surrogate", { ...valid(), tool_id: "bad \ud800 text" }, "tool_id"],
  ];
  for (const [what, event, path] of bad) {
    it(`rejects ${what}, naming "${path || "the event"}"`, () => {
      assert.throws(() => encodeCallEvent(event as CallEvent), (error: unknown) => {
        assert.ok(error instanceof InvalidCallEventError);
        assert.equal(error.path, path);
        assert.match(error.message, /^Invalid call event: expected /);
        return true;
      });
    });
  }
});

function valid(): Record<string, unknown> {
  return { ...parseCallEvent(testdataLines("golden_expected.jsonl")[0]!) };
}

function cyclicOutcome(): Record<string, unknown> {
  const missing: unknown[] = [];
  missing.push(missing);
  return { ...valid(), outcome: { kind: "capability_denied", missing } };
}
