import { describe, it } from "node:test";
import assert from "node:assert/strict";
import { existsSync, mkdtempSync, readdirSync, readFileSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { encodeCallEvent, JsonLinesAuditSink, parseCallEvent } from "../../mod.ts";
import { fileDestination } from "../../src/destination/file_destination.ts";
import { mkEvent } from "../_helpers/events.ts";
import { runScript } from "../_helpers/run_script.ts";

const tempFile = (name = "audit.jsonl") => join(mkdtempSync(join(tmpdir(), "atd-file-")), name);
const numbered = (i: number) => mkEvent({ kind: "success" }, `call-${i}`);

describe("fileDestination", () => {
  it("creates the file and round-trips every event", async () => {
    const path = tempFile();
    const sink = new JsonLinesAuditSink(fileDestination(path), { backpressure: "block" });
    const events = Array.from({ length: 5000 }, (_, i) => numbered(i));
    for (const event of events) sink.onCall(event);
    await sink.close();
    const lines = readFileSync(path, "utf8").split("\n");
    assert.equal(lines.pop(), "", "the file ends with a newline");
    assert.deepEqual(lines.map((line) => parseCallEvent(line)), events);
  });

  it("appends to an existing file", async () => {
    const path = tempFile();
    writeFileSync(path, "existing line\n");
    const sink = new JsonLinesAuditSink(fileDestination(path, { fsync: true }));
    const [one, two] = [numbered(1), numbered(2)];
    sink.onCall(one);
    await sink.flush(); // with fsync
    sink.onCall(two);
    await sink.close();
    assert.equal(readFileSync(path, "utf8"), `existing line\n${encodeCallEvent(one)}\n${encodeCallEvent(two)}\n`);
  });

  it("has every line on disk once flush resolves", async () => {
    const path = tempFile();
    const sink = new JsonLinesAuditSink(fileDestination(path));
    for (let i = 0; i < 100; i++) sink.onCall(numbered(i));
    await sink.flush();
    assert.equal(readFileSync(path, "utf8").split("\n").length - 1, 100);
    await sink.close();
  });

  it("throws a clear error for a path that cannot be opened", () => {
    const dir = mkdtempSync(join(tmpdir(), "atd-file-"));
    const missing = join(dir, "no", "such", "dir", "audit.jsonl");
    assert.throws(() => fileDestination(missing), (error: unknown) => {
      assert.ok(error instanceof Error);
      assert.ok(error.message.startsWith(`Cannot open audit file "${missing}" for appending: `), error.message);
      assert.ok(error.cause !== undefined);
      return true;
    });
    assert.throws(() => fileDestination(dir), /Cannot open audit file/); // a directory
  });

  it("writes every line of a block-mode script that ends without close()", async () => {
    const path = tempFile();
    const result = await runScript("tests/_scripts/record_and_exit.ts", [path, "3000", "block"]);
    assert.equal(result.code, 0, result.stderr);
    const ids = readFileSync(path, "utf8").trim().split("\n").map((line) => parseCallEvent(line).call_id);
    assert.deepEqual(ids, Array.from({ length: 3000 }, (_, i) => `call-${i}`));
  });

  it("writes exactly the accepted lines of a drop-mode burst that ends without close()", async () => {
    const path = tempFile();
    const result = await runScript("tests/_scripts/record_and_exit.ts", [path, "3000", "drop"]);
    assert.equal(result.code, 0, result.stderr);
    const ids = readFileSync(path, "utf8").trim().split("\n").map((line) => parseCallEvent(line).call_id);
    // One synchronous burst: the first `capacity` (1024) calls fit the queue, the rest are dropped.
    assert.deepEqual(ids, Array.from({ length: 1024 }, (_, i) => `call-${i}`));
  });
});

describe("JsonLinesAuditSink.stdout", () => {
  it("writes lines to the process's stdout, even when the script never closes the sink", async () => {
    const result = await runScript("tests/_scripts/record_and_exit.ts", ["-", "200", "block"]);
    assert.equal(result.code, 0, result.stderr);
    const ids = result.stdout.trim().split("\n").map((line) => parseCallEvent(line).call_id);
    assert.deepEqual(ids, Array.from({ length: 200 }, (_, i) => `call-${i}`));
  });
});

describe("fileDestination on a full disk", () => {
  it(
    "reports the failed write once, counts the loss and closes the file",
    { skip: !existsSync("/dev/full") },
    async () => {
      const errors: unknown[] = [];
      const sink = new JsonLinesAuditSink(fileDestination("/dev/full"), { onError: (error) => errors.push(error) });
      for (let i = 0; i < 10; i++) sink.onCall(numbered(i));
      await sink.close();
      const stats = sink.stats();
      assert.equal(stats.failed, 10);
      assert.equal(stats.written, 0);
      assert.equal(errors.length, 1, errors.map(String).join("\n"));
      assert.match(String(errors[0]), /ENOSPC|No space left/i);
    },
  );

  it("does not leak a file descriptor per failed sink", {
    skip: !existsSync("/proc/self/fd") || !existsSync("/dev/full"),
  }, async () => {
    const openFds = () => readdirSync("/proc/self/fd").length;
    const before = openFds();
    for (let n = 0; n < 20; n++) {
      const sink = new JsonLinesAuditSink(fileDestination("/dev/full"), { onError: () => {} });
      sink.onCall(numbered(n));
      await sink.close();
    }
    assert.ok(openFds() - before < 5, `${openFds() - before} more descriptors open after 20 failed sinks`);
  });
});
