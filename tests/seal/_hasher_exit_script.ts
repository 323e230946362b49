// Child process for the hasher tests: hashes one segment in shared memory, prints its SHA-256, its line count and
// how many segments the worker hashed, and just ends. With "answers" the worker answers and the watchdog is an hour
// away: once the job is answered, nothing may keep the process alive. With "silent" (the worker never answers) or
// "exits" (it ends itself, which Deno does not tell), the watchdog gives up after 100 ms: until then the pending job
// must keep the process alive.
// Usage: <answers|silent|exits>
import process from "node:process";
import { hashCounts, Hasher } from "../../src/seal/_hasher.ts";
import { exitingWorker, SILENT_WORKER } from "./_faulty_workers.ts";

const mode = process.argv[process.argv.length - 1];
const hasher = new Hasher(
  mode === "answers"
    ? { allowance: () => 3_600_000 }
    : { source: mode === "silent" ? SILENT_WORKER : exitingWorker(0), allowance: () => 100 },
);
const line = new TextEncoder().encode(`{"n":"${"x".repeat(90)}"}\n`);
const bytes = new Uint8Array(new SharedArrayBuffer(1000 * line.length));
for (let i = 0; i < 1000; i++) bytes.set(line, i * line.length);
const hash = await hasher.hash(bytes, undefined, false);
console.log(hash.sha, hash.count, hashCounts.offThread);
