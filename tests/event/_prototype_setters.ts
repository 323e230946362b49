// Imported first by _preloaded_setters_script.ts, so that it runs before the
// encoder's modules load: a setter on Object.prototype for every key a line
// holds, which drops the value (an object filled by assignment would lack
// the key, or get it out of order) and counts its runs. The keys are listed
// here, not read from the field table: importing the table would load it first.

/** Every key written anywhere in a line (the script checks this against the field table). */
export const POLLUTED_KEYS: readonly string[] = [
  "ts",
  "call_id",
  "tool_id",
  "caller_id",
  "granted_capabilities",
  "duration_ms",
  "outcome",
  "tier",
  "dry_run",
  "schema_version",
  "secrets_resolved",
  "cursor_page",
  "capability_provenance",
  "kind",
  "code",
  "retryable",
  "message",
  "missing",
  "retry_after_ms",
  "cap",
  "source",
  "issuer_did",
  "chain_depth",
];

let runs = 0;
for (const key of POLLUTED_KEYS) {
  Object.defineProperty(Object.prototype, key, {
    set() {
      runs++;
    },
    configurable: true,
  });
}

/** How many times a setter ran so far. */
export function setterRuns(): number {
  return runs;
}

/** Takes the setters off Object.prototype. */
export function restore(): void {
  for (const key of POLLUTED_KEYS) delete (Object.prototype as Record<string, unknown>)[key];
}
