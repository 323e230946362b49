// Child process for the stdio destination tests: two sinks on stdout record
// COUNT events of about BYTES bytes each, in turns, then close. Prints each
// problem told ("told <sink> <message>") and the sinks' stats
// ("stats <json> <json>") to stderr.
// Usage: <count> <bytes>
import { createCallEvent, JsonLinesAuditSink } from "../../mod.ts";
import process from "node:process";

const [count, bytes] = process.argv.slice(-2).map(Number) as [number, number];
const sinks = [0, 1].map((s) =>
  JsonLinesAuditSink.stdout({
    onError: (error) => process.stderr.write(`told ${s} ${error instanceof Error ? error.message : String(error)}\n`),
  })
);
for (let i = 0; i < count; i++) {
  sinks.forEach((sink, s) =>
    sink.onCall(createCallEvent({
      call_id: `sink${s}-${i}-${String(s).repeat(bytes)}`,
      tool_id: "ref:echo.say",
      duration_ms: i,
      outcome: { kind: "success" },
      tier: "warm",
    }))
  );
  await new Promise((resolve) => setTimeout(resolve, 1));
}
await Promise.all(sinks.map((sink) => sink.close()));
process.stderr.write(`stats ${sinks.map((sink) => JSON.stringify(sink.stats())).join(" ")}\n`);
