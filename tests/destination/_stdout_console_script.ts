// Child process for the stdio destination tests: records COUNT events of
// about 1.5 KB each to stdout through JsonLinesAuditSink.stdout() and writes a
// line with console.log after each, then closes and prints its counters on
// stderr as a last line "stats {...}".
// Usage: <count>
import { createCallEvent, JsonLinesAuditSink } from "../../mod.ts";
import process from "node:process";

const count = Number(process.argv.at(-1));
const sink = JsonLinesAuditSink.stdout({ backpressure: "block" });
const pad = "p".repeat(1500);
for (let i = 0; i < count; i++) {
  await sink.record(createCallEvent({
    call_id: `call-${i}-${pad}`,
    tool_id: "ref:echo.say",
    duration_ms: i,
    outcome: { kind: "success" },
    tier: "warm",
  }));
  console.log(`console line ${"c".repeat(i % 10 === 0 ? 20_000 : i % 500)}`);
  if (i % 50 === 0) await new Promise((resolve) => setTimeout(resolve, 0));
}
await sink.close();
console.error(`stats ${JSON.stringify(sink.stats())}`);
