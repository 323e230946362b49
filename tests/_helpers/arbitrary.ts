// fast-check generators for valid CallEvents, built in canonical key order.
import fc from "fast-check";
import type { CallEvent, CapProvenance, Outcome } from "../../mod.ts";

const text = (): fc.Arbitrary<string> =>
  fc.oneof(
    fc.string(),
    fc.string({ unit: "grapheme" }),
    fc.string({ unit: "binary" }),
    fc.constantFrom("ref:echo.say", "warm"),
  );
const u64 = (): fc.Arbitrary<number> => fc.oneof(fc.nat(), fc.constant(Number.MAX_SAFE_INTEGER), fc.nat({ max: 100 }));

const outcome: fc.Arbitrary<Outcome> = fc.oneof(
  fc.constant({ kind: "success" as const }),
  fc.record({ kind: fc.constant("execution_failed" as const), code: text(), retryable: fc.boolean() }, {
    noNullPrototype: true,
  }),
  fc.record({ kind: fc.constant("invalid_args" as const), message: text() }, { noNullPrototype: true }),
  fc.record({ kind: fc.constant("capability_denied" as const), missing: fc.array(text(), { maxLength: 4 }) }, {
    noNullPrototype: true,
  }),
  fc.record({ kind: fc.constant("rate_limited" as const), retry_after_ms: fc.option(u64(), { nil: null }) }, {
    noNullPrototype: true,
  }),
  fc.constant({ kind: "tool_not_found" as const }),
);

const provenance: fc.Arbitrary<CapProvenance> = fc.record({
  cap: text(),
  source: fc.oneof(
    fc.constant({ kind: "string_allow_list" as const }),
    fc.record({
      kind: fc.constant("ucan_chain" as const),
      issuer_did: text(),
      chain_depth: fc.integer({ min: 0, max: 255 }),
    }, {
      noNullPrototype: true,
    }),
  ),
}, { noNullPrototype: true });

/** Random valid events, keys in wire order, optional fields present or absent. */
export function arbitraryEvent(options: { callId?: fc.Arbitrary<string> } = {}): fc.Arbitrary<CallEvent> {
  return fc.record({
    ts: text(),
    call_id: options.callId ?? text(),
    tool_id: text(),
    caller_id: fc.option(text(), { nil: undefined }),
    granted_capabilities: fc.array(text(), { maxLength: 4 }),
    duration_ms: u64(),
    outcome,
    tier: text(),
    dry_run: fc.boolean(),
    schema_version: fc.constantFrom(1, 2, 3),
    secrets_resolved: fc.boolean(),
    cursor_page: fc.option(fc.integer({ min: 0, max: 4294967295 }), { nil: undefined }),
    capability_provenance: fc.option(fc.array(provenance, { maxLength: 3 }), { nil: undefined }),
  }, { noNullPrototype: true }).map((event) => {
    const out: Record<string, unknown> = {};
    for (const [key, value] of Object.entries(event)) if (value !== undefined) out[key] = value;
    return out as unknown as CallEvent;
  });
}
