// Writes golden_input.jsonl: events in every shape the reference can carry,
// some with keys out of order, nulls for absent options, unknown keys, and
// schema 1/2 lines. make_golden.sh turns it into golden_expected.jsonl using
// the reference's own serde types.
const base = {
  ts: "2026-05-29T00:00:00.123+00:00",
  call_id: "01J000000000000000000000TEST",
  tool_id: "ref:echo.say",
  caller_id: "test-client",
  granted_capabilities: ["read", "write"],
  duration_ms: 17,
  outcome: { kind: "success" },
  tier: "warm",
  dry_run: false,
  schema_version: 3,
  secrets_resolved: false,
};
const cases = [
  base,
  { ...base, outcome: { kind: "execution_failed", code: "FS_NOT_FOUND", retryable: false } },
  { ...base, outcome: { kind: "execution_failed", code: "TIMEOUT", retryable: true } },
  { ...base, outcome: { kind: "invalid_args", message: 'missing "path"' } },
  { ...base, outcome: { kind: "capability_denied", missing: ["conformance.denied"] } },
  { ...base, outcome: { kind: "capability_denied", missing: [] } },
  { ...base, outcome: { kind: "rate_limited", retry_after_ms: null } },
  { ...base, outcome: { kind: "rate_limited", retry_after_ms: 1500 } },
  { ...base, outcome: { kind: "rate_limited" } },
  { ...base, outcome: { kind: "tool_not_found" } },
  { ...base, caller_id: undefined },
  { ...base, caller_id: null },
  { ...base, dry_run: true, secrets_resolved: true, cursor_page: 2 },
  { ...base, cursor_page: 0 },
  { ...base, cursor_page: 4294967295 },
  { ...base, cursor_page: null, capability_provenance: null },
  {
    ...base,
    capability_provenance: [
      { cap: "records:read", source: { kind: "string_allow_list" } },
      { cap: "records:write", source: { kind: "ucan_chain", issuer_did: "did:key:zABC", chain_depth: 1 } },
    ],
  },
  { ...base, capability_provenance: [] },
  {
    ...base,
    capability_provenance: [{ source: { chain_depth: 255, issuer_did: "did:x", kind: "ucan_chain" }, cap: "c" }],
  },
  // Escapes: quotes, backslashes, every control character, DEL, non-ASCII, emoji, U+2028.
  { ...base, tool_id: 'quote " backslash \\ slash /', caller_id: "tab\tnewline\ncr\rbs\bff\f" },
  { ...base, call_id: Array.from({ length: 32 }, (_, i) => String.fromCharCode(i)).join("") + "\u007f" },
  { ...base, tool_id: "héllo wörld ñ 日本語 Ελληνικά", tier: "😀🚀👩‍💻", caller_id: "\u2028\u2029\ufeff" },
  { ...base, outcome: { kind: "invalid_args", message: "</script><!-- & ' \u0000" } },
  { ...base, granted_capabilities: ["", "a,b", "{}", '["x"]'] },
  { ...base, ts: "", call_id: "", tool_id: "", tier: "" },
  { ...base, duration_ms: 0 },
  { ...base, duration_ms: 9007199254740991 },
  // Key order and unknown keys do not matter on input.
  Object.fromEntries(Object.entries(base).reverse()),
  { ...base, extra: "ignored", outcome: { kind: "success", note: "ignored" } },
  // Older schema versions: secrets_resolved and the later options missing.
  (({ secrets_resolved: _s, ...rest }) => ({ ...rest, schema_version: 1 }))(base),
  { ...base, schema_version: 2 },
  (({ caller_id: _c, ...rest }) => ({ ...rest, schema_version: 2 }))(base),
];
const lines = cases.map((c) => JSON.stringify(c));
await import("node:fs").then((fs) =>
  fs.writeFileSync(new URL("golden_input.jsonl", import.meta.url), lines.join("\n") + "\n")
);
console.log(`${lines.length} cases`);
