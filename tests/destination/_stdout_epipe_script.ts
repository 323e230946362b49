// Child process for the stdio destination tests: makes (or not) a sink on
// stdout that records nothing, then writes 2,000 lines with console.log and
// ends with exit code 9. Piped into a reader that has gone, Node ends it at
// the first failed write (EPIPE, exit code 1); the sink must not change that.
// Usage: <sink|nosink>
import { JsonLinesAuditSink } from "../../mod.ts";
import process from "node:process";

if (process.argv.at(-1) === "sink") JsonLinesAuditSink.stdout();
let lines = 0;
const timer = setInterval(() => {
  for (let i = 0; i < 100; i++) console.log(`line ${lines++}`);
  if (lines < 2000) return;
  clearInterval(timer);
  process.exitCode = 9;
}, 1);
