// Child process for the sealing-at-exit tests: records COUNT events to the
// file PATH, sealed with a new key (its public JWK written to PATH.pub.jwk),
// and then just ends: no flush(), no close(). With COUNT 0 and heartbeats on,
// nothing waits to be sealed and the process must end on its own.
// Usage: <path> <count> <intervalMs> <heartbeat: yes|no>
import { writeFileSync } from "node:fs";
import process from "node:process";
import { createCallEvent, JsonLinesAuditSink } from "../../mod.ts";
import { fileDestination, fileSeal } from "../../src/destination/file_destination.ts";
import { generateAuditSealKey } from "../../src/seal/generate_audit_seal_key.ts";

const [path = "", count = "0", intervalMs = "200", heartbeat = "no"] = process.argv.slice(process.argv.length - 4);
const { privateJwk, publicJwk } = await generateAuditSealKey();
writeFileSync(`${path}.pub.jwk`, JSON.stringify(publicJwk));
const seal = await fileSeal(path, {
  key: privateJwk,
  origin: "test.example/exit",
  intervalMs: Number(intervalMs),
  heartbeat: heartbeat === "yes",
});
const sink = new JsonLinesAuditSink(fileDestination(path), { backpressure: "block", seal });
for (let i = 0; i < Number(count); i++) {
  await sink.record(createCallEvent({
    call_id: `call-${i}`,
    tool_id: "ref:echo.say",
    duration_ms: i,
    outcome: { kind: "success" },
    tier: "warm",
  }));
}
