// A sealed sink in a Deno process run without --allow-sys (see in_place_attack_test.ts): writes 3,000 events to
// the file given (its public key to `<file>.pub`), prints how many segments the hashing worker hashed, waits for `<file>.done`, then closes.
import { createCallEvent, JsonLinesAuditSink } from "../../mod.ts";
import { fileDestination, fileSeal } from "../../src/destination/file_destination.ts";
import { hashCounts } from "../../src/seal/_hasher.ts";
import { generateAuditSealKey } from "../../src/seal/generate_audit_seal_key.ts";

const path = Deno.args[0]!;
const pair = await generateAuditSealKey({ algorithm: "Ed25519" });
Deno.writeTextFileSync(`${path}.pub`, JSON.stringify(pair.publicJwk));
const seal = await fileSeal(path, { key: pair.privateJwk, maxSegmentBytes: 300_000 });
const sink = new JsonLinesAuditSink(fileDestination(path), { seal, backpressure: "block", capacity: 64 });
for (let i = 0; i < 3_000; i++) {
  if (sink.desiredSize <= 0) await sink.ready;
  sink.onCall(createCallEvent({
    call_id: `nice-${i}`,
    tool_id: "ref:echo.say",
    duration_ms: i,
    outcome: { kind: "success" },
    tier: "warm",
    caller_id: "agent-".repeat(40),
    granted_capabilities: [],
  }));
}
await sink.flush();
console.log(JSON.stringify({ offThread: hashCounts.offThread, pid: Deno.pid }));
for (let waited = 0; waited < 20_000; waited += 20) {
  try {
    Deno.statSync(`${path}.done`);
    break;
  } catch {
    await new Promise((resolve) => setTimeout(resolve, 20));
  }
}
await sink.close();
