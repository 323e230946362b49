import { describe, it } from "node:test";
import assert from "node:assert/strict";
import { createCallEvent, InvalidCallEventError, nowRfc3339, SCHEMA_VERSION } from "../../mod.ts";
import { mkEvent } from "../_helpers/events.ts";
import fc from "fast-check";
import { createEvent, FAILED } from "../../src/event/_create_event.ts";
import { isIssue, readEvent } from "../../src/event/_read_event.ts";
import { arbitraryEvent, arbitraryHostileSpec, buildHostile } from "../_helpers/arbitrary.ts";
import { CALL_EVENT } from "../../src/event/_fields.ts";

/** The fast path on `value`, given its fields as createCallEvent gives them (read once, defaults aside). */
function fastPath(value: Record<string, unknown>): ReturnType<typeof createEvent> {
  const copy = { ...value };
  return createEvent(
    copy,
    copy.ts,
    copy.granted_capabilities,
    copy.dry_run,
    copy.secrets_resolved ?? false,
    copy.schema_version,
  );
}

/** The same, merged as createCallEvent merges them for the table walk. */
function walk(value: Record<string, unknown>): ReturnType<typeof readEvent> {
  const copy = { ...value };
  return readEvent({ ...copy, secrets_resolved: copy.secrets_resolved ?? false });
}

/** The fast path and the table walk agree on `value`: the same event (keys in the same order), or both fail. */
function assertSamePath(value: Record<string, unknown>, again: Record<string, unknown> = value): void {
  const fast = fastPath(value);
  const walked = walk(again);
  if (isIssue(walked)) assert.equal(fast, FAILED, `fast path accepted what the walk rejects at ${walked.path}`);
  else {
    assert.notEqual(fast, FAILED, "fast path rejected a valid event");
    assert.deepEqual(fast, walked);
    assert.equal(JSON.stringify(fast), JSON.stringify(walked)); // key order, nested too
  }
}

/** A copy of `event` with the value at a random place (top level, in outcome or in provenance) replaced by `value`. */
function broken(event: Record<string, unknown>, value: unknown, at: number): Record<string, unknown> {
  const copy = structuredClone(event);
  const where = at % 3;
  if (where === 0) copy[CALL_EVENT.fields[at % CALL_EVENT.fields.length]!.key] = value;
  else if (where === 1) {
    const outcome = copy.outcome as Record<string, unknown>;
    const keys = [...Object.keys(outcome), "code", "retryable", "missing", "retry_after_ms"];
    outcome[keys[at % keys.length]!] = value;
  } else {
    const list = copy.capability_provenance as Record<string, unknown>[] | undefined;
    if (list === undefined || list.length === 0) copy.capability_provenance = value;
    else {
      const item = list[at % list.length]!;
      const source = item.source as Record<string, unknown>;
      if (at % 4 === 0) item.cap = value;
      else if (at % 4 === 1) item.source = value;
      else source[["kind", "issuer_did", "chain_depth"][at % 3]!] = value;
    }
  }
  return copy;
}

describe("createCallEvent", () => {
  it("fills the reference's defaults, then takes setters (reference: callevent_builder_defaults_then_setters)", () => {
    const e = createCallEvent({
      call_id: "cid",
      tool_id: "tool:x",
      duration_ms: 5,
      outcome: { kind: "success" },
      tier: "warm",
    });
    assert.equal(e.tool_id, "tool:x");
    assert.equal(e.duration_ms, 5);
    assert.equal(e.schema_version, SCHEMA_VERSION);
    assert.equal(e.caller_id, undefined);
    assert.deepEqual(e.granted_capabilities, []);
    assert.equal(e.dry_run, false);
    assert.equal(e.secrets_resolved, false);
    assert.equal(e.cursor_page, undefined);
    assert.equal(e.capability_provenance, undefined);
    const e2 = createCallEvent({ ...e, caller_id: "agent-A", cursor_page: 2, secrets_resolved: true });
    assert.equal(e2.caller_id, "agent-A");
    assert.equal(e2.cursor_page, 2);
    assert.equal(e2.secrets_resolved, true);
  });

  it("serializes a success event with its tag (reference: success_event_serializes)", () => {
    const j = JSON.parse(JSON.stringify(mkEvent({ kind: "success" })));
    assert.equal(j.tool_id, "ref:echo.say");
    assert.equal(j.outcome.kind, "success");
    assert.equal(j.schema_version, 3);
    assert.equal(j.dry_run, false);
  });

  it("tags capability_denied (reference: capability_denied_outcome_tagged_correctly)", () => {
    const j = JSON.parse(JSON.stringify(mkEvent({ kind: "capability_denied", missing: ["conformance.denied"] })));
    assert.equal(j.outcome.kind, "capability_denied");
    assert.equal(j.outcome.missing[0], "conformance.denied");
  });

  it("carries code and retryable (reference: execution_failed_carries_code_and_retryable)", () => {
    const j = JSON.parse(JSON.stringify(mkEvent({ kind: "execution_failed", code: "FS_NOT_FOUND", retryable: false })));
    assert.equal(j.outcome.kind, "execution_failed");
    assert.equal(j.outcome.code, "FS_NOT_FOUND");
    assert.equal(j.outcome.retryable, false);
  });

  it("writes a null retry_after_ms (reference: rate_limited_outcome_with_null_retry_after)", () => {
    const text = JSON.stringify(mkEvent({ kind: "rate_limited", retry_after_ms: null }));
    const j = JSON.parse(text);
    assert.equal(j.outcome.kind, "rate_limited");
    assert.equal(j.outcome.retry_after_ms, null);
    assert.ok(text.includes('"retry_after_ms":null'));
  });

  it("round-trips both provenance sources (reference: capability_provenance_roundtrips_both_sources)", () => {
    const e = createCallEvent({
      ...mkEvent(),
      capability_provenance: [
        { cap: "records:read", source: { kind: "string_allow_list" } },
        { cap: "records:write", source: { kind: "ucan_chain", issuer_did: "did:key:zABC", chain_depth: 1 } },
      ],
    });
    const prov = JSON.parse(JSON.stringify(e)).capability_provenance;
    assert.equal(prov[0].cap, "records:read");
    assert.equal(prov[0].source.kind, "string_allow_list");
    assert.equal(prov[1].source.kind, "ucan_chain");
    assert.equal(prov[1].source.issuer_did, "did:key:zABC");
    assert.equal(prov[1].source.chain_depth, 1);
  });

  it("omits absent provenance on the wire (reference: provenance_skipped_when_none)", () => {
    assert.ok(!JSON.stringify(mkEvent()).includes("capability_provenance"));
  });

  it("omits a null caller_id (reference: caller_id_skipped_when_none)", () => {
    const s = JSON.stringify(createCallEvent({ ...mkEvent(), caller_id: null }));
    assert.ok(!s.includes("caller_id"), s);
  });

  it("stamps ts with the current time in the reference's RFC 3339 format", () => {
    const before = Date.now();
    const e = createCallEvent({
      call_id: "c",
      tool_id: "t",
      duration_ms: 1,
      outcome: { kind: "success" },
      tier: "warm",
    });
    assert.match(e.ts, /^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d(\.\d{3})?\+00:00$/);
    const at = Date.parse(e.ts);
    assert.ok(at >= before - 1 && at <= Date.now() + 1);
  });

  it("formats nowRfc3339 like chrono (reference: now_rfc3339_format_is_parseable)", () => {
    const s = nowRfc3339();
    assert.ok(!Number.isNaN(Date.parse(s)), s);
    assert.ok(s.endsWith("+00:00"));
  });

  it("builds plain objects and dense arrays, as literals would", () => {
    const e = createCallEvent({
      ...mkEvent({ kind: "capability_denied", missing: ["a", "b"] }),
      granted_capabilities: ["x", "y", "z"],
      capability_provenance: [
        { cap: "x", source: { kind: "string_allow_list" } },
        { cap: "y", source: { kind: "ucan_chain", issuer_did: "did:key:z", chain_depth: 2 } },
      ],
    });
    const provenance = e.capability_provenance!;
    for (const o of [e, e.outcome, provenance[0]!, provenance[1]!, provenance[1]!.source]) {
      assert.equal(Object.getPrototypeOf(o), Object.prototype);
      assert.equal(o.constructor, Object);
    }
    assert.equal(e.outcome.kind, "capability_denied");
    const missing = e.outcome.kind === "capability_denied" ? e.outcome.missing : [];
    for (const a of [e.granted_capabilities, missing, provenance]) {
      assert.ok(Array.isArray(a));
      assert.deepEqual(Object.keys(a), a.map((_, i) => String(i))); // no holes
    }
    assert.deepEqual(Object.keys(e.outcome), ["kind", "missing"]);
    assert.deepEqual(Object.keys(provenance[1]!.source), ["kind", "issuer_did", "chain_depth"]);
  });

  it("rejects a wrong field with its path", () => {
    assert.throws(
      () =>
        createCallEvent({ call_id: "c", tool_id: "t", duration_ms: -3, outcome: { kind: "success" }, tier: "warm" }),
      (error: unknown) => error instanceof InvalidCallEventError && error.path === "duration_ms",
    );
    assert.throws(
      () => createCallEvent({ ...mkEvent(), outcome: { kind: "nope" } as never }),
      (error: unknown) => error instanceof InvalidCallEventError && error.path === "outcome.kind",
    );
  });

  it("rejects a ts that is not RFC 3339", () => {
    assert.throws(
      () => createCallEvent({ ...mkEvent(), ts: "Fri Nov 27 2026" }),
      (error: unknown) => error instanceof InvalidCallEventError && error.path === "ts",
    );
  });

  it("rejects a non-object", () => {
    assert.throws(() => createCallEvent(null as never), InvalidCallEventError);
  });

  it("takes a fast path that accepts and builds exactly what the table walk does (property)", () => {
    fc.assert(
      fc.property(arbitraryEvent(), fc.anything(), fc.nat(), (event, value, at) => {
        assertSamePath(event as unknown as Record<string, unknown>);
        assertSamePath(broken(event as unknown as Record<string, unknown>, value, at));
      }),
      { numRuns: 500 },
    );
    fc.assert(
      fc.property(arbitraryHostileSpec(), (spec) => {
        const first = buildHostile(spec).value;
        const second = buildHostile(spec).value;
        if (typeof first !== "object" || first === null) return;
        try {
          assertSamePath(first as Record<string, unknown>, second as Record<string, unknown>);
        } catch (error) {
          // A revoked proxy or throwing trap at the top level throws in both paths alike.
          if (error instanceof assert.AssertionError) throw error;
        }
      }),
      { numRuns: 300 },
    );
  });

  it("checks every ts, also after a rejected one, while reusing the check of a repeated one", () => {
    const ts = "2026-05-29T10:04:05.123+00:00";
    assert.equal(createCallEvent({ ...mkEvent(), ts }).ts, ts);
    assert.throws(() => createCallEvent({ ...mkEvent(), ts: `${ts}x` }), InvalidCallEventError);
    assert.equal(createCallEvent({ ...mkEvent(), ts }).ts, ts);
    assert.throws(() => createCallEvent({ ...mkEvent(), ts: `${ts}x` }), InvalidCallEventError);
  });

  it("gives an event in which a getter answers differently on a second read the value of one read", () => {
    let reads = 0;
    const outcome = {
      get kind(): string {
        return ++reads === 1 ? "nope" : "success";
      },
    };
    // The fast path reads "nope" and gives up; the walk reads "success": the event holds what was checked.
    const event = createCallEvent({ ...mkEvent(), outcome: outcome as never });
    assert.deepEqual(event.outcome, { kind: "success" });
    assert.equal(reads, 2);
  });
});
