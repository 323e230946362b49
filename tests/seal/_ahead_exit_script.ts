// Child process for the ahead tests: segments sent ahead to the hashing worker, and never sealed, then the process
// just ends; nothing may keep it alive. With "piece", one piece of a segment goes to a Hasher's worker by itself.
// With "stalled", a sealed sink writes more than a piece's worth to a destination that never settles a line, so that
// no segment is ever sealed (the process ended without close(): it exited before pieces were sent, too).
// Prints how many pieces were sent. Usage: <piece|stalled>
import process from "node:process";
import { createCallEvent, JsonLinesAuditSink } from "../../mod.ts";
import { hashCounts, Hasher } from "../../src/seal/_hasher.ts";
import { keys } from "./_trail.ts";

const mode = process.argv[process.argv.length - 1];
if (mode === "piece") {
  const line = new TextEncoder().encode(`{"n":"${"x".repeat(90)}"}\n`);
  const lines = 6000;
  const bytes = new Uint8Array(new SharedArrayBuffer(lines * line.length));
  const ends = new Uint32Array(lines);
  for (let i = 0; i < lines; i++) (bytes.set(line, i * line.length), ends[i] = (i + 1) * line.length - 1);
  new Hasher({ idleMs: 100 }).ahead(bytes, 0, lines, ends);
} else {
  const stalled = new WritableStream<Uint8Array>({ write: () => new Promise<void>(() => {}) });
  const seal = new WritableStream<Uint8Array>();
  const sink = new JsonLinesAuditSink(stalled, {
    seal: { key: (await keys()).seal, to: seal, intervalMs: 200 },
    capacity: 10_000,
    maxQueueBytes: 64 << 20,
  });
  for (let i = 0; i < 3000; i++) {
    sink.onCall(createCallEvent({
      call_id: `call-${i}`,
      tool_id: "ref:echo.say",
      duration_ms: 1,
      outcome: { kind: "success" },
      tier: "warm",
      caller_id: "agent-".repeat(60),
      granted_capabilities: ["read"],
    }));
  }
  await new Promise((resolve) => setTimeout(resolve, 50));
}
console.log(hashCounts.ahead);
