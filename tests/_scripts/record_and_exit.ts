// Child process for the sink tests: records events and simply ends, without
// close() or flush(), like a script that forgets to.
// Usage: <file|-> <count> <drop|block>
import { createCallEvent, JsonLinesAuditSink } from "../../mod.ts";
import { fileDestination } from "../../src/destination/file_destination.ts";
import process from "node:process";

const [target = "-", count = "5", mode = "drop"] = process.argv.slice(process.argv.length - 3);
const options = { backpressure: mode === "block" ? "block" as const : "drop" as const };
const sink = target === "-"
  ? JsonLinesAuditSink.stdout(options)
  : new JsonLinesAuditSink(fileDestination(target), options);
for (let i = 0; i < Number(count); i++) {
  sink.onCall(createCallEvent({
    call_id: `call-${i}`,
    tool_id: "ref:echo.say",
    duration_ms: i,
    outcome: { kind: "success" },
    tier: "warm",
  }));
}
