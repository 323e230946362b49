// Child process for the stdio destination tests, started with its stdout a
// pipe set non-blocking (O_NONBLOCK) and a parent that does not read it at
// first: two sinks on stdout record COUNT events of about 10 KB each (longer
// than a pipe takes whole), in turns, then close. Prints each problem told and
// the sinks' stats ("stats <json> <json>") to stderr.
// Usage: <count>
import { createCallEvent, JsonLinesAuditSink } from "../../mod.ts";
import process from "node:process";

const count = Number(process.argv.at(-1));
const sinks = [0, 1].map((s) =>
  JsonLinesAuditSink.stdout({
    onError: (error) => process.stderr.write(`told ${s} ${error instanceof Error ? error.message : String(error)}\n`),
  })
);
for (let i = 0; i < count; i++) {
  sinks.forEach((sink, s) =>
    sink.onCall(createCallEvent({
      call_id: `sink${s}-${i}-${String(s).repeat(10_000)}`,
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
