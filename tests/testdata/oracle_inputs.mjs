// Writes oracle_input.jsonl: lines at the edges of what serde_json accepts,
// where JSON.parse would take more (nesting, lone surrogates, numbers beyond
// a double, fields given twice, non-integer tokens), each placed where serde
// reads values differently: an unknown field of the event or of a provenance
// entry (skipped unread, at any depth) and the tagged enums `outcome` and
// `source` (buffered whole: every string, number and level parsed).
// make_golden.sh turns it into oracle_expected.jsonl with the reference's own
// serde types: the line serde writes back, or "ERROR <serde's message>".
// Known divergences, left out here: serde also reads a struct or tagged enum
// written as a JSON array, and integers up to 2^64-1 (JS numbers stop at 2^53-1).
const base =
  '{"ts":"2026-05-29T00:00:00+00:00","call_id":"c","tool_id":"t","granted_capabilities":[],"duration_ms":1,' +
  '"outcome":{"kind":"success"},"tier":"warm","dry_run":false,"schema_version":3,"secrets_resolved":false';
const top = (extra) => `${base},${extra}}`;
const outcome = (json) => base.replace('{"kind":"success"}', json) + "}";
const provenance = (entry) => `${base},"capability_provenance":[${entry}]}`;
const source = (json) => provenance(`{"cap":"c","source":${json}}`);
const arrays = (n) => "[".repeat(n) + "]".repeat(n);
const objects = (n) => '{"a":'.repeat(n - 1) + "{}" + "}".repeat(n - 1);
const S = "\\ud800";
const cases = [];
for (const n of [1, 123, 124, 125, 126, 127, 128, 129]) {
  cases.push(top(`"x":${arrays(n)}`), top(`"x":${objects(n)}`));
  cases.push(outcome(`{"kind":"success","x":${arrays(n)}}`), outcome(`{"kind":"success","x":${objects(n)}}`));
  cases.push(outcome(`{"x":${arrays(n)},"kind":"rate_limited","retry_after_ms":null}`));
  cases.push(provenance(`{"cap":"c","x":${arrays(n)},"source":{"kind":"string_allow_list"}}`));
  cases.push(source(`{"kind":"string_allow_list","x":${arrays(n)}}`));
  cases.push(source(`{"kind":"ucan_chain","issuer_did":"d","chain_depth":1,"x":${objects(n)}}`));
}
// The line: 10,000 nested arrays (20 KB) in an unknown field.
cases.push(top(`"x":${arrays(10000)}`), outcome(`{"kind":"success","x":${arrays(10000)}}`));
cases.push(provenance(`{"cap":"c","x":${arrays(10000)},"source":{"kind":"string_allow_list"}}`));
cases.push(source(`{"kind":"string_allow_list","x":${arrays(10000)}}`), top(`"x":${objects(3000)}`));
cases.push(
  outcome(`{"kind":"capability_denied","missing":${arrays(200)}}`),
  base.replace('"granted_capabilities":[]', `"granted_capabilities":${arrays(200)}`) + "}",
  // Lone surrogates, keys and values, in each kind of place.
  top(`"x${S}":1`),
  top(`"\\udc00":1`),
  top(`"x":"${S}"`),
  top(`"x":{"${S}":["${S}"]}`),
  top(`"x\\ud83d\\ude00":"\\ud83d\\ude00"`),
  outcome(`{"kind":"success","${S}":1}`),
  outcome(`{"kind":"success","x":"${S}"}`),
  outcome(`{"kind":"success","x":[{"y":"${S}"}]}`),
  outcome(`{"kind":"invalid_args","message":"${S}"}`),
  provenance(`{"cap":"c","${S}":1,"source":{"kind":"string_allow_list"}}`),
  provenance(`{"cap":"c","x":"${S}","source":{"kind":"string_allow_list"}}`),
  source(`{"kind":"string_allow_list","x":"${S}"}`),
  source(`{"kind":"ucan_chain","issuer_did":"${S}","chain_depth":1}`),
  // Numbers beyond a double, and tokens that are not integers.
  top(`"x":1e999`),
  top(`"x":-1${"0".repeat(400)}`),
  outcome(`{"kind":"success","x":1e999}`),
  outcome(`{"kind":"success","x":[-1${"0".repeat(400)}]}`),
  outcome(`{"kind":"success","x":1.7976931348623157e308}`),
  outcome(`{"kind":"success","x":123456789012345678901234567890}`),
  outcome(`{"kind":"success","x":-0}`),
  source(`{"kind":"string_allow_list","x":1e400}`),
  outcome(`{"kind":"success","retry_after_ms":1.5}`),
  outcome(`{"kind":"invalid_args","message":"m","retry_after_ms":-0}`),
  outcome(`{"kind":"rate_limited","retry_after_ms":1.5e3}`),
  source(`{"kind":"string_allow_list","chain_depth":1.5}`),
  source(`{"kind":"ucan_chain","issuer_did":"d","chain_depth":1e0}`),
  // A field given twice counts only where the variant knows it.
  outcome(`{"kind":"success","code":1,"code":2}`),
  outcome(`{"kind":"invalid_args","message":"m","code":1,"code":2}`),
  outcome(`{"kind":"execution_failed","code":"a","retryable":true,"code":"b"}`),
  outcome(`{"kind":"success","kind":"success"}`),
  outcome(`{"kind":"success","x":1,"x":2}`),
  source(`{"kind":"string_allow_list","issuer_did":"a","issuer_did":"b"}`),
  provenance(`{"cap":"c","x":1,"x":2,"source":{"kind":"string_allow_list"}}`),
  provenance(`{"cap":"c","cap":"d","source":{"kind":"string_allow_list"}}`),
  top(`"x":{"tool_id":1,"tool_id":2}`),
  top(`"ti\\u0065r":"x"`),
  outcome(`{"\\u006bind":"succ\\u0065ss"}`),
  // Given twice where JSON.parse leaves a canonical event: the reader's byte count
  // of keys must see the extra key behind quotes, backslashes and key-like strings.
  base.replace('"tool_id":"t"', '"tool_id":"a\\":","tool_id":"t"') + "}",
  base.replace('"call_id":"c"', '"call_id":"x\\\\","call_id":"c"') + "}",
  base.replace('"tier":"warm"', '"tier":"\\"","tier":"warm"') + "}",
  outcome(`{"kind":"invalid_args","message":"\\":","message":"m"}`),
  base.replace('"outcome":{"kind":"success"}', '"outcome":{"kind":"success"},"outcome":{"kind":"success"}') + "}",
  base.replace('"granted_capabilities":[]', '"granted_capabilities":["a"],"granted_capabilities":[]') + "}",
  provenance(`{"cap":"c","source":{"kind":"ucan_chain","issuer_did":"d","chain_depth":1,"chain_depth":2}}`),
  `${base},"secrets_resolved":false}`,
  base.replace('"dry_run":false', '"dry_run":false,"dry\\u005frun":false') + "}",
  // Integer fields of a canonical event, written in forms JSON.parse reads as integers.
  ...["1.0", "-0", "1E2", "1e+2", "0.0", "1e0"].map((n) => base.replace('"duration_ms":1', `"duration_ms":${n}`) + "}"),
  base.replace('"schema_version":3', '"schema_version":3.0') + "}",
  `${base},"cursor_page":1e0}`,
  provenance(`{"cap":"c","source":{"kind":"ucan_chain","issuer_did":"d","chain_depth":1E0}}`),
  // Keys JavaScript treats specially.
  top(`"__proto__":{"tool_id":"evil"}`),
  outcome(`{"kind":"success","__proto__":{"kind":"x"}}`),
  top(`"constructor":1,"toString":2,"":3`),
  // Whitespace serde and JSON both allow, and a BOM neither does.
  `${base.replace(/,/g, " ,\t").replace(/:/g, " \t:")} }`,
  `\ufeff${base}}`,
);
const fs = await import("node:fs");
fs.writeFileSync(new URL("oracle_input.jsonl", import.meta.url), cases.join("\n") + "\n");
console.log(`${cases.length} oracle cases`);
