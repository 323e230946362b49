// Child process for the stdio destination tests, started with its stdout a
// pipe set non-blocking (O_NONBLOCK) and a parent that does not read it at
// first: a burst of events fills the pipe, so writes fail (EAGAIN on Deno);
// once the parent reads, a second burst must still be written. Prints the
// sink's stats and each problem told to stderr.
// Usage: <first burst> <second burst> <pause ms>
import { JsonLinesAuditSink } from "../../mod.ts";
import process from "node:process";
import { mkEvent } from "../_helpers/events.ts";

const [first, second, pause] = process.argv.slice(-3).map(Number) as [number, number, number];
const sink = JsonLinesAuditSink.stdout({
  onError: (error) => process.stderr.write(`told ${error instanceof Error ? error.message : String(error)}\n`),
});
for (let i = 0; i < first; i++) sink.onCall(mkEvent(undefined, `first-${i}`));
await sink.flush();
await new Promise((resolve) => setTimeout(resolve, pause));
for (let i = 0; i < second; i++) sink.onCall(mkEvent(undefined, `second-${i}`));
await sink.close();
process.stderr.write(`stats ${JSON.stringify(sink.stats())}\n`);
