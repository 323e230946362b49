import { describe, it } from "node:test";
import assert from "node:assert/strict";
import { spawn } from "node:child_process";
import type { AuditSinkStats } from "../../mod.ts";
import { linePieces } from "../../src/runtime/stdio.ts";
import { runScript, scriptCommand } from "../_helpers/run_script.ts";

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
    const result = await runScript("tests/destination/_stdout_two_sinks_script.ts", ["20"]);
    assert.equal(result.code, 0, result.stderr);
    assert.match(result.stderr, /written 20 20/);
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
});
