// Child process for the stdio destination tests: two sinks on stdout record
// COUNT events of about 100 KB each, in turns, then close.
// Usage: <count>
import { createCallEvent, JsonLinesAuditSink } from "../../mod.ts";
import process from "node:process";

const count = Number(process.argv.at(-1));
const sinks = [JsonLinesAuditSink.stdout(), JsonLinesAuditSink.stdout()];
for (let i = 0; i < count; i++) {
  sinks.forEach((sink, s) =>
    sink.onCall(createCallEvent({
      call_id: `sink${s}-${i}-${String(s).repeat(100_000)}`,
      tool_id: "ref:echo.say",
      duration_ms: i,
      outcome: { kind: "success" },
      tier: "warm",
    }))
  );
  await new Promise((resolve) => setTimeout(resolve, 1));
}
await Promise.all(sinks.map((sink) => sink.close()));
console.error(`written ${sinks.map((sink) => sink.stats().written).join(" ")}`);
