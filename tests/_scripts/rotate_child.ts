// A child process for the rotation tests: writes events `call-<start>` on to a
// rotating file, `batch` at a time, and prints how many lines are written
// (flushed) after each batch, then "done". Killed with SIGKILL at random
// points by the parent.
// Arguments: path writerId maxBytes batch start count gzip(0|1)
import process from "node:process";
import { JsonLinesAuditSink } from "../../mod.ts";
import { fileDestination } from "../../src/destination/file_destination.ts";
import { numbered } from "../_helpers/events.ts";

const [path, writerId, maxBytes, batch, start, count, gzip] = process.argv.slice(2);
const sink = new JsonLinesAuditSink(
  fileDestination(path!, { rotate: { maxBytes: Number(maxBytes), writerId: writerId!, gzip: gzip === "1" } }),
  { backpressure: "block" },
);
const event = numbered(0);
const first = Number(start);
const end = first + Number(count);
for (let i = first; i < end;) {
  for (const stop = Math.min(end, i + Number(batch)); i < stop; i++) {
    await sink.record({ ...event, call_id: `call-${i}` });
  }
  await sink.flush();
  process.stdout.write(`${i - first}\n`);
}
await sink.close();
process.stdout.write("done\n");
