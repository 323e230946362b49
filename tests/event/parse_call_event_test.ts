import { describe, it } from "node:test";
import assert from "node:assert/strict";
import fc from "fast-check";
import { CallEventSyntaxError, encodeCallEvent, parseCallEvent } from "../../mod.ts";
import { strictJsonIssue } from "../../src/event/_strict_json.ts";
import { arbitraryEvent } from "../_helpers/arbitrary.ts";
import { mkEvent } from "../_helpers/events.ts";

const V3 = encodeCallEvent(mkEvent());

describe("parseCallEvent", () => {
  it("reads a schema 2 line without provenance as absent provenance (reference: v2_event_without_provenance_deserializes_to_none)", () => {
    const line = `{"ts":"2026-05-29T00:00:00+00:00","call_id":"01J","tool_id":"x",
"granted_capabilities":[],"duration_ms":1,"outcome":{"kind":"success"},
"tier":"warm","dry_run":false,"schema_version":2,"secrets_resolved":false}`;
    const event = parseCallEvent(line);
    assert.equal(event.capability_provenance, undefined);
    assert.equal(event.cursor_page, undefined);
    assert.equal("capability_provenance" in event, false);
    assert.equal(event.schema_version, 2);
  });

  it("reads a schema 1 line without secrets_resolved as false", () => {
    const { secrets_resolved: _, ...v1 } = { ...JSON.parse(V3), schema_version: 1 };
    const event = parseCallEvent(JSON.stringify(v1));
    assert.equal(event.secrets_resolved, false);
    assert.equal(event.schema_version, 1);
  });

  it("accepts a parsed value as well as text", () => {
    assert.deepEqual(parseCallEvent(JSON.parse(V3)), parseCallEvent(V3));
  });

  it("turns null options into absent fields and drops unknown keys", () => {
    const event = parseCallEvent({ ...JSON.parse(V3), caller_id: null, cursor_page: null, extra: 1 });
    assert.deepEqual(Object.keys(event), [
      "ts",
      "call_id",
      "tool_id",
      "granted_capabilities",
      "duration_ms",
      "outcome",
      "tier",
      "dry_run",
      "schema_version",
      "secrets_resolved",
    ]);
  });

  it("fills retry_after_ms with null when a rate_limited outcome leaves it out", () => {
    const event = parseCallEvent({ ...JSON.parse(V3), outcome: { kind: "rate_limited" } });
    assert.deepEqual(event.outcome, { kind: "rate_limited", retry_after_ms: null });
  });

  it("does not share arrays with its input", () => {
    const input = JSON.parse(V3);
    const event = parseCallEvent(input);
    input.granted_capabilities.push("admin");
    assert.deepEqual(event.granted_capabilities, ["read", "write"]);
  });

  // Each malformed line is rejected with the right field; its neighbours still parse.
  const base = JSON.parse(V3);
  const malformed: [string, string, string | undefined][] = [
    ["empty text", "", undefined],
    ["not JSON", "hello", undefined],
    ["truncated JSON", V3.slice(0, 40), undefined],
    ["trailing garbage", V3 + "x", undefined],
    ["a JSON array", "[]", ""],
    ["a JSON string", '"event"', ""],
    ["JSON null", "null", ""],
    ["missing ts", JSON.stringify({ ...base, ts: undefined }), "ts"],
    ["numeric call_id", JSON.stringify({ ...base, call_id: 1 }), "call_id"],
    ["missing tool_id", JSON.stringify({ ...base, tool_id: undefined }), "tool_id"],
    ["numeric caller_id", JSON.stringify({ ...base, caller_id: 5 }), "caller_id"],
    ["capabilities as a string", JSON.stringify({ ...base, granted_capabilities: "read" }), "granted_capabilities"],
    [
      "a number among capabilities",
      JSON.stringify({ ...base, granted_capabilities: ["a", 2] }),
      "granted_capabilities[1]",
    ],
    ["negative duration", JSON.stringify({ ...base, duration_ms: -1 }), "duration_ms"],
    ["fractional duration", JSON.stringify({ ...base, duration_ms: 1.5 }), "duration_ms"],
    ["duration as a string", JSON.stringify({ ...base, duration_ms: "17" }), "duration_ms"],
    ["missing outcome", JSON.stringify({ ...base, outcome: undefined }), "outcome"],
    ["unknown outcome kind", JSON.stringify({ ...base, outcome: { kind: "boom" } }), "outcome.kind"],
    ["outcome without kind", JSON.stringify({ ...base, outcome: {} }), "outcome.kind"],
    [
      "execution_failed without retryable",
      JSON.stringify({ ...base, outcome: { kind: "execution_failed", code: "E" } }),
      "outcome.retryable",
    ],
    [
      "capability_denied with numbers",
      JSON.stringify({ ...base, outcome: { kind: "capability_denied", missing: [1] } }),
      "outcome.missing[0]",
    ],
    [
      "negative retry_after_ms",
      JSON.stringify({ ...base, outcome: { kind: "rate_limited", retry_after_ms: -5 } }),
      "outcome.retry_after_ms",
    ],
    ["dry_run as a string", JSON.stringify({ ...base, dry_run: "false" }), "dry_run"],
    ["missing dry_run", JSON.stringify({ ...base, dry_run: undefined }), "dry_run"],
    ["missing schema_version", JSON.stringify({ ...base, schema_version: undefined }), "schema_version"],
    ["schema_version 4", JSON.stringify({ ...base, schema_version: 4 }), "schema_version"],
    ["secrets_resolved null", JSON.stringify({ ...base, secrets_resolved: null }), "secrets_resolved"],
    ["cursor_page over u32", JSON.stringify({ ...base, cursor_page: 4294967296 }), "cursor_page"],
    ["provenance not an array", JSON.stringify({ ...base, capability_provenance: {} }), "capability_provenance"],
    [
      "provenance with an unknown source",
      JSON.stringify({ ...base, capability_provenance: [{ cap: "c", source: { kind: "magic" } }] }),
      "capability_provenance[0].source.kind",
    ],
    [
      "chain_depth 256",
      JSON.stringify({
        ...base,
        capability_provenance: [{ cap: "c", source: { kind: "ucan_chain", issuer_did: "d", chain_depth: 256 } }],
      }),
      "capability_provenance[0].source.chain_depth",
    ],
  ];

  for (const [what, line, path] of malformed) {
    it(`rejects ${what} with the line number and ${path === undefined ? "no field" : `field "${path}"`}`, () => {
      const lines = [V3, line, V3];
      const parsed: unknown[] = [];
      const errors: CallEventSyntaxError[] = [];
      lines.forEach((text, i) => {
        try {
          parsed.push(parseCallEvent(text, { line: i + 1, offset: i * 100 }));
        } catch (error) {
          assert.ok(error instanceof CallEventSyntaxError, String(error));
          errors.push(error);
        }
      });
      assert.equal(parsed.length, 2, "the neighbours parse");
      assert.equal(errors.length, 1);
      const error = errors[0]!;
      assert.equal(error.line, 2);
      assert.equal(error.offset, 100);
      assert.equal(error.path, path);
      assert.ok(error.message.startsWith("Cannot parse line 2: "), error.message);
      if (path) assert.ok(error.message.includes(`expected "${path}"`), error.message);
      assert.ok((error.excerpt ?? "").length <= 81);
    });
  }

  it("says which versions it supports when schema_version is newer", () => {
    assert.throws(() => parseCallEvent({ ...base, schema_version: 9 }), /newer versions are not supported/);
  });
});

describe("parseCallEvent and lone surrogates", () => {
  it("rejects a lone surrogate escape, as serde does, and accepts a paired one", () => {
    const base = JSON.parse(V3);
    const lone = JSON.stringify({ ...base, tool_id: "x" }).replace('"tool_id":"x"', '"tool_id":"a\\ud800b"');
    assert.throws(
      () => parseCallEvent(lone),
      (error: unknown) => error instanceof CallEventSyntaxError && error.path === "tool_id",
    );
    const paired = JSON.stringify({ ...base, tool_id: "x" }).replace('"tool_id":"x"', '"tool_id":"\\ud83d\\ude00"');
    assert.equal(parseCallEvent(paired).tool_id, "😀");
    assert.throws(() => parseCallEvent({ ...base, caller_id: "\udc00" }), /"caller_id"/);
  });
});

describe("parseCallEvent and what JSON.parse forgives", () => {
  // Each verdict was checked against the reference's serde types (the oracle
  // built by tests/testdata/make_golden.sh): serde rejects these lines.
  const line = (o: { dur?: string; out?: string; sv?: string; extra?: string } = {}) =>
    `{"ts":"2026-05-29T00:00:00+00:00","call_id":"c","tool_id":"t","granted_capabilities":[],"duration_ms":${
      o.dur ?? "1"
    },"outcome":${o.out ?? '{"kind":"success"}'},"tier":"warm","dry_run":false,"schema_version":${
      o.sv ?? "3"
    },"secrets_resolved":false${o.extra ?? ""}}`;
  const rejected: [string, string, string][] = [
    ["a duplicated top-level field", line({ extra: ',"tool_id":"x"' }), "tool_id"],
    ["a second outcome", line({ extra: ',"outcome":{"kind":"tool_not_found"}' }), "outcome"],
    [
      "a duplicated field inside outcome",
      line({ out: '{"kind":"invalid_args","message":"a","message":"b"}' }),
      "outcome.message",
    ],
    ["a duplicated kind", line({ out: '{"kind":"success","kind":"tool_not_found"}' }), "outcome.kind"],
    ["1.0 for an integer", line({ dur: "1.0" }), "duration_ms"],
    ["1.0 after a space", line({ dur: " 1.0" }), "duration_ms"],
    ["a duplicated field after a space", line({ extra: ', "tool_id" : "x"' }), "tool_id"],
    ["an exponent for an integer", line({ dur: "1e2" }), "duration_ms"],
    ["-0 for an integer", line({ dur: "-0" }), "duration_ms"],
    ["3.0 for schema_version", line({ sv: "3.0" }), "schema_version"],
    ["5.0 for retry_after_ms", line({ out: '{"kind":"rate_limited","retry_after_ms":5.0}' }), "outcome.retry_after_ms"],
    ["2.0 for cursor_page", line({ extra: ',"cursor_page":2.0' }), "cursor_page"],
    [
      "1.0 for chain_depth",
      line({
        extra:
          ',"capability_provenance":[{"cap":"c","source":{"kind":"ucan_chain","issuer_did":"d","chain_depth":1.0}}]',
      }),
      "capability_provenance[0].source.chain_depth",
    ],
    [
      "a duplicated cap",
      line({ extra: ',"capability_provenance":[{"cap":"c","cap":"d","source":{"kind":"string_allow_list"}}]' }),
      "capability_provenance[0].cap",
    ],
  ];
  for (const [what, text, path] of rejected) {
    it(`rejects ${what}, as serde does`, () => {
      assert.throws(
        () => parseCallEvent(text, { line: 9 }),
        (error: unknown) => error instanceof CallEventSyntaxError && error.path === path && error.line === 9,
      );
    });
  }

  const accepted: [string, string][] = [
    ["a float in an unknown field", line({ extra: ',"x":1.5e400' })],
    ["a duplicated unknown field", line({ extra: ',"x":1,"x":2' })],
    ["spaces after commas", line().replace(/,/g, ", ")],
    ["keys in another order", JSON.stringify(Object.fromEntries(Object.entries(JSON.parse(line())).reverse()))],
  ];
  for (const [what, text] of accepted) {
    it(`accepts ${what}, as serde does`, () => {
      assert.equal(parseCallEvent(text).call_id, "c");
    });
  }
});

describe("parseCallEvent's fast path", () => {
  it("accepts a mutated line exactly when the full scan finds nothing (property)", () => {
    const mutations = ["none", "spaces", "duplicate", "float", "minus-zero", "escape"] as const;
    fc.assert(
      fc.property(arbitraryEvent(), fc.constantFrom(...mutations), fc.nat(), (event, mutation, seed) => {
        let text = encodeCallEvent(event);
        const value = JSON.parse(text) as Record<string, unknown>;
        const keys = Object.keys(value);
        const key = keys[seed % keys.length]!;
        if (mutation === "spaces") text = text.replace(/":/g, seed % 2 ? '" :' : '": ').replace(/,"/g, ', "');
        if (mutation === "duplicate") text = `${text.slice(0, -1)},"${key}":${JSON.stringify(value[key])}}`;
        if (mutation === "float") text = text.replace(/"duration_ms":(\d+)/, '"duration_ms":$1.0');
        if (mutation === "minus-zero") text = text.replace(/"duration_ms":\d+/, '"duration_ms":-0');
        if (mutation === "escape") text = text.replace('"tier":"', '"tier":"\\u0041');
        const expectOk = strictJsonIssue(text) === undefined;
        let ok = true;
        try {
          parseCallEvent(text);
        } catch (error) {
          assert.ok(error instanceof CallEventSyntaxError, String(error));
          ok = false;
        }
        assert.equal(ok, expectOk, `${mutation}: ${text}`);
        if (mutation === "duplicate" || mutation === "float" || mutation === "minus-zero") assert.equal(ok, false);
      }),
      { numRuns: 400 },
    );
  });
});
