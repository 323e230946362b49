// Encodes events by the copy path (Bun's) while Object.prototype has setters
// for every key of a line, put there before the encoder loaded
// (_prototype_setters.ts, imported first), and by the template once they are
// gone; prints both, and how many times a setter ran while encoding.
import { POLLUTED_KEYS, restore, setterRuns } from "./_prototype_setters.ts";
import { encodeEvent } from "../../src/event/_encode.ts";
import { CALL_EVENT, type Shape } from "../../src/event/_fields.ts";

const tableKeys = new Set<string>();
const visit = (shape: Shape): void => {
  if (shape.type === "array") visit(shape.of);
  if (shape.type === "struct") { for (const f of shape.fields) tableKeys.add(f.key), visit(f.shape); }
  if (shape.type === "tagged") {
    for (const v of shape.variants) for (const f of v.wire) tableKeys.add(f.key), visit(f.shape);
  }
};
visit(CALL_EVENT);

// Object literals (and spreads) define their keys: the setters do not touch the events. Every variant and optional
// field is among them.
const event = (outcome: unknown, extra: Record<string, unknown> = {}): unknown => ({
  ts: "2026-12-03T10:00:00Z",
  call_id: "c-1",
  tool_id: "search",
  caller_id: "agent-7",
  granted_capabilities: ["fs:read", "net:fetch", "a", "b", "c", "d"],
  duration_ms: 42,
  outcome,
  tier: "warm",
  dry_run: false,
  schema_version: 3,
  secrets_resolved: true,
  ...extra,
});
const provenance = [
  { cap: "fs:read", source: { kind: "ucan_chain", issuer_did: "did:key:z6Mk", chain_depth: 2 } },
  { cap: "net:fetch", source: { kind: "string_allow_list" } },
];
const events = [
  event({ kind: "success" }),
  event({ kind: "execution_failed", code: "E_IO", retryable: true }, { cursor_page: 3 }),
  event({ kind: "invalid_args", message: "bad" }, { capability_provenance: provenance }),
  event({ kind: "capability_denied", missing: ["x", "y", "z", "w", "v"] }),
  event({ kind: "rate_limited", retry_after_ms: null }),
  event({ kind: "rate_limited", retry_after_ms: 1500 }, { caller_id: null }),
  event({ kind: "tool_not_found" }, { capability_provenance: provenance, cursor_page: 0 }),
];

const before = setterRuns();
const copied = events.map((e) => encodeEvent(e, true));
const runsWhileEncoding = setterRuns() - before;
restore();
const template = events.map((e) => encodeEvent(e, false));
console.log(JSON.stringify({
  copied,
  template,
  runsWhileEncoding,
  keysNotPolluted: [...tableKeys].filter((key) => !POLLUTED_KEYS.includes(key)),
}));
