// A child process for the reopen test: the README's SIGHUP recipe for its
// runtime. Each "w" line on stdin writes the next event and prints "wrote N";
// a SIGHUP reopens the file and prints "hup"; "q" closes and prints "done".
// Arguments: path
import process from "node:process";
import { JsonLinesAuditSink } from "../../mod.ts";
import { fileDestination } from "../../src/destination/file_destination.ts";
import { numbered } from "../_helpers/events.ts";

interface DenoSignals {
  addSignalListener(signal: string, handler: () => void): void;
}

const file = fileDestination(process.argv[2]!);
const audit = new JsonLinesAuditSink(file);
const hup = (): void => {
  file.reopen();
  process.stdout.write("hup\n");
};
const deno = (globalThis as { Deno?: DenoSignals }).Deno;
if (deno !== undefined) deno.addSignalListener("SIGHUP", hup);
else process.on("SIGHUP", hup);

let n = 0;
let pending = "";
process.stdin.setEncoding("utf8");
process.stdin.on("data", async (chunk: string) => {
  pending += chunk;
  for (let end = pending.indexOf("\n"); end !== -1; end = pending.indexOf("\n")) {
    const command = pending.slice(0, end);
    pending = pending.slice(end + 1);
    if (command === "w") {
      audit.onCall(numbered(n++));
      await audit.flush();
      process.stdout.write(`wrote ${n}\n`);
    } else if (command === "q") {
      await audit.close();
      process.stdout.write("done\n");
      process.exit(0);
    }
  }
});
process.stdout.write("ready\n");
