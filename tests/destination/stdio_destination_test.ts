import { describe, it } from "node:test";
import assert from "node:assert/strict";
import { execFileSync, spawn } from "node:child_process";
import { type AuditSinkStats, JsonLinesAuditSink } from "../../mod.ts";
import { writingDestination } from "../../src/destination/_writing_destination.ts";
import { numbered } from "../_helpers/events.ts";
import { linePieces } from "../../src/runtime/_line_pieces.ts";
import { runScript, scriptCommand, skipLoudly } from "../_helpers/run_script.ts";

/** How `script` run with `args` ends when the reader of its stdout has gone. */
async function endIntoClosedPipe(script: string, args: string[]): Promise<number | null> {
  const [command, ...rest] = await scriptCommand(script);
  const child = spawn(command, [...rest, ...args], { stdio: ["ignore", "pipe", "ignore"] });
  child.stdout!.destroy(); // every write to the pipe fails (EPIPE), as when a reader goes away
  return await new Promise((resolve) => child.on("close", resolve));
}

describe("JsonLinesAuditSink.stdout() (subprocess)", () => {
  it("keeps every line whole while console.log writes to the same stdout (Bun tore lines the pipe took in part)", async () => {
    const count = 3000;
    const result = await runScript("tests/destination/_stdout_console_script.ts", [String(count)]);
    assert.equal(result.code, 0, result.stderr);
    const lines = result.stdout.split("\n");
    assert.equal(lines.pop(), "", "stdout ends with a whole line");
    const audit = lines.filter((line) => !line.startsWith("console line "));
    assert.equal(
      lines.filter((line) => /^console line c*$/.test(line)).length,
      count,
      "every console.log line is whole",
    );
    const torn = audit.filter((line) => !(line.startsWith('{"ts":') && line.endsWith("}")));
    assert.deepEqual(torn.map((line) => `${line.slice(0, 30)}…${line.slice(-30)}`), [], "no torn line");
    const ids = audit.map((line) => (JSON.parse(line) as { call_id: string }).call_id.split("-", 2).join("-"));
    assert.deepEqual(ids, Array.from({ length: count }, (_, i) => `call-${i}`));
    const stats = JSON.parse(result.stderr.trim().split("\n").at(-1)!.replace(/^stats /, "")) as AuditSinkStats;
    assert.equal(stats.written, count);
  });
});

describe("two JsonLinesAuditSink.stdout() in one process (subprocess)", () => {
  it("do not interleave their lines, even lines longer than a pipe takes whole", async () => {
    const result = await runScript("tests/destination/_stdout_two_sinks_script.ts", ["20", "100000"]);
    assert.equal(result.code, 0, result.stderr);
    const stats = result.stderr.match(/^stats (.*)$/m)![1]!.split(" ").map((s) => JSON.parse(s) as AuditSinkStats);
    assert.deepEqual(stats.map((s) => s.written), [20, 20]);
    const lines = result.stdout.split("\n");
    assert.equal(lines.pop(), "", "stdout ends with a whole line");
    const torn = lines.filter((line) => !(line.startsWith('{"ts":') && line.endsWith("}")));
    assert.deepEqual(torn.map((line) => `${line.slice(0, 30)}…${line.slice(-30)}`), [], "no torn line");
    const ids = lines.map((line) => (JSON.parse(line) as { call_id: string }).call_id.split("-", 2).join("-"));
    for (const s of [0, 1]) {
      assert.deepEqual(
        ids.filter((id) => id.startsWith(`sink${s}-`)),
        Array.from({ length: 20 }, (_, i) => `sink${s}-${i}`),
      );
    }
  });
});

describe("JsonLinesAuditSink.stdout() and the process's own writes (subprocess)", () => {
  it("leaves the process's own EPIPE as it is: a Node process still ends at it", async () => {
    const script = "tests/destination/_stdout_epipe_script.ts";
    const without = await endIntoClosedPipe(script, ["nosink"]);
    assert.equal(await endIntoClosedPipe(script, ["sink"]), without);
    if (!("Deno" in globalThis) && !("Bun" in globalThis)) assert.equal(without, 1, "Node ends at the first EPIPE");
  });
});

/** Whether perl (Debian's perl-base, an essential package) can set a descriptor's flags. */
function hasPerlFcntl(): boolean {
  try {
    execFileSync("perl", ["-MFcntl", "-e", "1"], { stdio: "ignore" });
    return true;
  } catch {
    return false;
  }
}

/**
 * Runs `script` with `args`, its stdout a pipe set non-blocking that is not
 * read for the first 500 ms, and returns how it ended and what it wrote.
 */
async function runIntoNonBlockingPipe(
  script: string,
  args: string[],
): Promise<{ code: unknown; stdout: string; stderr: string }> {
  // O_NONBLOCK is a flag of the pipe, not of the process: a parent that set it on the stdout it passes on (as
  // libuv does to its own) sets it for the child too. Perl sets it, then runs the child in its place.
  const [command, ...rest] = await scriptCommand(script);
  const setNonBlocking =
    "fcntl(STDOUT, F_SETFL, fcntl(STDOUT, F_GETFL, 0) | O_NONBLOCK) or die $!; exec @ARGV or die $!";
  const child = spawn("perl", ["-MFcntl", "-e", setNonBlocking, command, ...rest, ...args], {
    stdio: ["ignore", "pipe", "pipe"],
  });
  let stdout = "";
  let stderr = "";
  child.stderr!.setEncoding("utf8").on("data", (chunk: string) => (stderr += chunk));
  // Read nothing at first: the writes fill the pipe (64 KiB).
  child.stdout!.setEncoding("utf8").pause();
  const reading = setTimeout(() => child.stdout!.on("data", (chunk: string) => (stdout += chunk)).resume(), 500);
  const killer = setTimeout(() => child.kill("SIGKILL"), 20_000);
  const code = await new Promise((resolve) => child.on("close", resolve));
  clearTimeout(reading);
  clearTimeout(killer);
  return { code, stdout, stderr };
}

describe("JsonLinesAuditSink.stdout() into a non-blocking pipe (subprocess)", () => {
  it("waits for the reader when the pipe is full, as a blocking pipe does: nothing twice, nothing glued, the rest written", async (t) => {
    if (!hasPerlFcntl()) return skipLoudly(t, "needs perl with Fcntl (Debian's perl-base) to set O_NONBLOCK");
    // The first burst (about 300 KB) fills the pipe.
    const { code, stdout, stderr } = await runIntoNonBlockingPipe("tests/destination/_stdout_nonblocking_script.ts", [
      "3000",
      "100",
      "300",
    ]);
    assert.equal(code, 0, stderr);
    const stats = JSON.parse(stderr.match(/^stats (.*)$/m)?.[1] ?? "null") as AuditSinkStats;
    // Deno may have taken part of the write that met the full pipe first: that write is counted failed (its
    // lines told lost), never written again; Bun and Node wait for the reader themselves.
    const failures = stderr.split("\n").filter((line) => line.startsWith("told Lost"));
    assert.ok(failures.length <= ("Deno" in globalThis ? 1 : 0), stderr);
    assert.equal(stats.written + stats.failed, stats.accepted, "every accepted event written or counted failed");
    const lines = stdout.split("\n");
    assert.equal(lines.pop(), "", "stdout ends with a whole line");
    const events = lines.filter((line) => line.endsWith("}"));
    const torn = lines.filter((line) => !line.endsWith("}"));
    // A line the failed write tore is ended there: the next line is not glued to it (readers skip blank lines).
    assert.ok(torn.length <= failures.length, `torn lines: ${torn.length}`);
    for (const line of torn) {
      // Empty when the write failed right after a newline; else one event's start, never a second event.
      const shown = `${JSON.stringify(line.slice(0, 60))}…${JSON.stringify(line.slice(-60))}`;
      assert.ok(line === "" || line.lastIndexOf('{"ts":') === 0, `a torn line holds one event's start: ${shown}`);
    }
    const ids = events.map((line) => (JSON.parse(line) as { call_id: string }).call_id);
    assert.equal(new Set(ids).size, ids.length, "no line twice");
    assert.ok(ids.length >= stats.written, "every line counted written is there");
    assert.deepEqual(
      ids.filter((id) => id.startsWith("second-")),
      Array.from({ length: 100 }, (_, i) => `second-${i}`),
      "the burst after the pipe drained is written whole",
    );
  });
  it("waits with lines longer than the pipe takes whole too, and two sinks' lines stay whole (Deno lost them)", async (t) => {
    if (!hasPerlFcntl()) return skipLoudly(t, "needs perl with Fcntl (Debian's perl-base) to set O_NONBLOCK");
    const count = 20; // per sink, about 10 KB each: 400 KB into a pipe not read for a while
    const { code, stdout, stderr } = await runIntoNonBlockingPipe(
      "tests/destination/_stdout_two_sinks_script.ts",
      [String(count), "10000"],
    );
    assert.equal(code, 0, stderr);
    const stats = (stderr.match(/^stats (.*)$/m)?.[1] ?? "").split(" ").map((s) => JSON.parse(s) as AuditSinkStats);
    for (const s of stats) {
      assert.equal(s.written + s.failed, s.accepted, "every accepted event written or counted failed");
    }
    // On Deno, only the write that met the full pipe first is lost (one sink's, a line or a few); later ones wait.
    const failures = [...stderr.matchAll(/^told \d Lost (\d+) events?/gm)];
    assert.ok(failures.length <= ("Deno" in globalThis ? 1 : 0), stderr);
    assert.equal(stats[0]!.failed + stats[1]!.failed, Number(failures[0]?.[1] ?? 0), stderr);
    const lines = stdout.split("\n");
    assert.equal(lines.pop(), "", "stdout ends with a whole line");
    const torn = lines.filter((line) => !(line.startsWith('{"ts":') && line.endsWith("}")));
    assert.ok(torn.length <= failures.length, `torn lines: ${torn.map((line) => line.slice(0, 60)).join(", ")}`);
    const ids = lines.filter((line) => !torn.includes(line))
      .map((line) => (JSON.parse(line) as { call_id: string }).call_id.split("-", 2).join("-"));
    assert.equal(new Set(ids).size, ids.length, "no line twice");
    for (const s of [0, 1]) {
      const expected = Array.from({ length: count }, (_, i) => `sink${s}-${i}`);
      const seen = ids.filter((id) => id.startsWith(`sink${s}-`));
      assert.deepEqual(seen, expected.filter((id) => seen.includes(id)), "in order");
      assert.ok(seen.length >= stats[s]!.written, "every line counted written is there");
    }
  });
});

describe("stdioDestination after a failed write", () => {
  it("counts that write's lines failed and writes the next one (a stream that failed once is not lost for good)", async () => {
    const written: string[] = [];
    let calls = 0;
    const destination = writingDestination((bytes) => {
      if (++calls === 2) return Promise.reject(new Error("EAGAIN, say"));
      written.push(new TextDecoder().decode(bytes));
      return Promise.resolve();
    });
    const told: unknown[] = [];
    const sink = new JsonLinesAuditSink(destination, { onError: (error) => told.push(error) });
    for (const i of [0, 1, 2]) {
      sink.onCall(numbered(i));
      await sink.flush();
    }
    await sink.close();
    assert.equal(written.join("").split("\n").filter(Boolean).length, 2);
    assert.match(written.join(""), /call-2/);
    assert.deepEqual({ ...sink.stats(), accepted: 3 }, { ...sink.stats(), written: 2, failed: 1 });
    assert.equal(told.length, 1);
    assert.match(String(told[0]), /Lost 1 event.*EAGAIN, say/);
  });

  it("rejects the failed write when no sink reports for it (a plain stream)", async () => {
    const writer = writingDestination(() => Promise.reject(new Error("gone"))).getWriter();
    await assert.rejects(writer.write(new TextEncoder().encode("{}\n")), /gone/);
  });
});

describe("linePieces", () => {
  const text = (pieces: Iterable<Uint8Array>) => [...pieces].map((piece) => new TextDecoder().decode(piece));
  const bytes = (s: string) => new TextEncoder().encode(s);

  it("cuts after a newline into pieces of at most max bytes", () => {
    assert.deepEqual(text(linePieces(bytes("aa\nbb\ncc\n"), 6)), ["aa\nbb\n", "cc\n"]);
    assert.deepEqual(text(linePieces(bytes("aa\nbb\n"), 6)), ["aa\nbb\n"]);
    assert.deepEqual(text(linePieces(bytes(""), 6)), []);
  });

  it("cuts a line longer than max where it must", () => {
    assert.deepEqual(text(linePieces(bytes("a\nbbbbbbbbb\nc\n"), 4)), ["a\n", "bbbb", "bbbb", "b\nc\n"]);
  });

  it("keeps a line longer than max whole, as a piece of its own, with wholeLines", () => {
    assert.deepEqual(text(linePieces(bytes("a\nbbbbbbbbb\nc\n"), 4, true)), ["a\n", "bbbbbbbbb\n", "c\n"]);
    assert.deepEqual(text(linePieces(bytes("a\nbbbbbbbbb"), 4, true)), ["a\n", "bbbbbbbbb"]);
  });
});
