// Child process for the sink's stdout tests: records COUNT events to stdout
// through JsonLinesAuditSink.stdout() with the default onError, then closes
// (or not) and prints its counters on stderr as a last line "stats {...}".
// Usage: <count> <drop|block> <close|end>
import { createCallEvent, JsonLinesAuditSink } from "../../mod.ts";
import process from "node:process";

const [count = "10", mode = "block", end = "close"] = process.argv.slice(process.argv.length - 3);
const sink = JsonLinesAuditSink.stdout({ backpressure: mode === "block" ? "block" : "drop" });
for (let i = 0; i < Number(count); i++) {
  const event = createCallEvent({
    call_id: `call-${i}`,
    tool_id: "ref:echo.say",
    duration_ms: i,
    outcome: { kind: "success" },
    tier: "warm",
  });
  if (mode === "block") await sink.record(event);
  else sink.onCall(event);
}
if (end === "close") {
  await sink.close();
  console.error(`stats ${JSON.stringify(sink.stats())}`);
}
