// Child process for the byte-bound test: offers COUNT events with a 1 MiB
// invalid_args.message to a sink with maxQueueBytes = MAX whose destination
// never finishes a write, sampling RSS growth (MiB) as it goes; prints
// {accepted, dropped, growthMiB} as its last line.
// Usage: <count> <maxQueueBytes>
import { createCallEvent, JsonLinesAuditSink } from "../../mod.ts";
import process from "node:process";

const [count = "400", max = String(8 << 20)] = process.argv.slice(process.argv.length - 2);
// Collect garbage where the runtime lets a script ask (Node with --expose-gc, Bun); the bound is on live memory.
const bun = (globalThis as { Bun?: { gc(force: boolean): void } }).Bun;
const gc = bun === undefined ? (globalThis as { gc?: () => void }).gc : () => bun.gc(true);
const rss = (): number => process.memoryUsage().rss;
const sink = new JsonLinesAuditSink(new WritableStream({ write: () => new Promise(() => {}) }), {
  maxQueueBytes: Number(max),
  onError: () => {},
});
const message = "m".repeat(1 << 20);
const base = rss();
const growthMiB: number[] = [];
for (let i = 0; i < Number(count); i++) {
  // A new object (and line) each time, as a server would make.
  sink.onCall(createCallEvent({
    call_id: `call-${i}`,
    tool_id: "ref:echo.say",
    duration_ms: i,
    outcome: { kind: "invalid_args", message: message.slice(0, -1) + String(i % 10) },
    tier: "warm",
  }));
  if (i % 50 === 49) {
    await new Promise((resolve) => setTimeout(resolve, 0)); // the pump runs; garbage can go
    gc?.();
    growthMiB.push(Math.round((rss() - base) / (1 << 20)));
  }
}
const { accepted, dropped } = sink.stats();
console.log(JSON.stringify({ accepted, dropped, growthMiB }));
process.exit(0);
