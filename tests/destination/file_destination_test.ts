import { describe, it } from "node:test";
import assert from "node:assert/strict";
import { spawn } from "node:child_process";
import { existsSync, readdirSync, readFileSync, renameSync, rmSync, symlinkSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import {
  AuditLossError,
  type CallEvent,
  encodeCallEvent,
  JsonLinesAuditSink,
  parseCallEvent,
  readCallEvents,
} from "../../mod.ts";
import { fileDestination, IoError } from "../../src/destination/file_destination.ts";
import type { DeliveryReport } from "../../src/destination/audit_destination.ts";
import { mkEvent } from "../_helpers/events.ts";
import { mkfifo, mountTmpfs, runScript } from "../_helpers/run_script.ts";
import { tempDir } from "../_helpers/temp_dir.ts";

const tempFile = (name = "audit.jsonl") => join(tempDir("file"), name);
const numbered = (i: number) => mkEvent({ kind: "success" }, `call-${i}`);
const made = new Map<number, CallEvent>();
/** `numbered(i)`, the same object (and timestamp) every call. */
const stable = (i: number): CallEvent => made.get(i) ?? made.set(i, numbered(i)).get(i)!;

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
    const dir = tempDir("file");
    const missing = join(dir, "no", "such", "dir", "audit.jsonl");
    assert.throws(() => fileDestination(missing), (error: unknown) => {
      assert.ok(error instanceof Error);
      assert.ok(error.message.startsWith(`Cannot open audit file "${missing}" for appending: `), error.message);
      assert.ok(error.cause !== undefined);
      return true;
    });
    assert.throws(() => fileDestination(dir), /Cannot open audit file/); // a directory
    assert.throws(() => fileDestination(dir), (error: unknown) => {
      assert.ok(error instanceof IoError);
      assert.equal(error.code, "is_directory");
      assert.equal(error.message, `Cannot open audit file ${JSON.stringify(dir)} for appending: is a directory`);
      return true;
    });
    assert.throws(() => fileDestination(missing), (error: unknown) => (error as IoError).code === "not_found");
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

/** Every valid event and the number of invalid lines in the file at `path`. */
async function readBack(path: string): Promise<{ events: CallEvent[]; invalid: number }> {
  const events: CallEvent[] = [];
  const reader = readCallEvents(new Blob([readFileSync(path)]), { maxLineBytes: 64 << 20 });
  for await (const event of reader) events.push(event);
  return { events, invalid: reader.stats.invalid };
}

/**
 * A sink on `fileDestination(path)` that keeps what reaches its `onError`: the
 * destination's own error for a loss (the cause of the sink's AuditLossError),
 * anything else as it came.
 */
function sinkOn(path: string | URL, options: { fsync?: boolean } = {}) {
  const errors: unknown[] = [];
  const sink = new JsonLinesAuditSink(fileDestination(path, options), {
    backpressure: "block",
    onError: (error) => errors.push(error instanceof AuditLossError ? error.cause : error),
  });
  return { sink, errors };
}

describe("fileDestination arguments", () => {
  it("rejects a path that is not a non-empty string or a file: URL with a TypeError, creating nothing", () => {
    const before = readdirSync(".");
    for (
      const bad of [
        undefined,
        null,
        "",
        42,
        {},
        ["audit.jsonl"],
        new URL("https://example.com/audit.jsonl"),
        new URL("file://example.com/audit.jsonl"),
        "a\0b",
      ]
    ) {
      assert.throws(
        () => fileDestination(bad as string),
        (error: unknown) => {
          assert.ok(error instanceof TypeError, `${String(bad)}: ${String(error)}`);
          assert.match(error.message, /^Cannot open audit file/);
          assert.doesNotMatch(error.message, /example\.com/, "a URL is not quoted whole");
          return true;
        },
      );
    }
    assert.deepEqual(readdirSync("."), before, "no file named undefined (or anything else) was created");
    assert.throws(() => fileDestination(tempFile(), { fsync: "yes" as unknown as boolean }), TypeError);
  });

  it("accepts a file: URL", async () => {
    const path = tempFile();
    const { sink } = sinkOn(new URL(`file://${path}`));
    sink.onCall(stable(1));
    await sink.close();
    assert.equal(readFileSync(path, "utf8"), encodeCallEvent(stable(1)) + "\n");
  });
});

describe("fileDestination after a crash", () => {
  it("starts on a fresh line when the file ends mid-line, and says so once", async () => {
    const path = tempFile();
    const torn = '{"ts":"2026-05-29T10:00:00+00:00","call_id":"crashed-wri';
    writeFileSync(path, `${encodeCallEvent(stable(0))}\n${torn}`);
    const { sink, errors } = sinkOn(path);
    sink.onCall(stable(1));
    await sink.flush();
    sink.onCall(stable(2));
    await sink.close();
    assert.equal(
      readFileSync(path, "utf8"),
      `${encodeCallEvent(stable(0))}\n${torn}\n${encodeCallEvent(stable(1))}\n${encodeCallEvent(stable(2))}\n`,
    );
    assert.equal(errors.length, 1, errors.map(String).join("\n"));
    assert.match(String(errors[0]), new RegExp(`${JSON.stringify(path).replace(/[\\/.]/g, "\\$&")} ended mid-line`));
    assert.deepEqual([sink.stats().written, sink.stats().failed], [2, 0]);
    const back = await readBack(path);
    assert.deepEqual(back.events.map((e) => e.call_id), ["call-0", "call-1", "call-2"]);
    assert.equal(back.invalid, 1, "the torn line stays one invalid line, glued to nothing");

    const again = sinkOn(path); // the file now ends with a newline: nothing to repair, nothing to say
    again.sink.onCall(stable(3));
    await again.sink.close();
    assert.deepEqual(again.errors, []);
    assert.ok(readFileSync(path, "utf8").endsWith(`${encodeCallEvent(stable(2))}\n${encodeCallEvent(stable(3))}\n`));
  });

  it("starts on a fresh line after binary garbage", async () => {
    const path = tempFile();
    const garbage = new Uint8Array(4096).map((_, i) => (i * 131 + 7) % 256).filter((b) => b !== 0x0a);
    writeFileSync(path, garbage);
    const { sink, errors } = sinkOn(path);
    for (let i = 0; i < 3; i++) sink.onCall(stable(i));
    await sink.close();
    assert.equal(errors.length, 1);
    const back = await readBack(path);
    assert.deepEqual(back.events.map((e) => e.call_id), ["call-0", "call-1", "call-2"]);
    assert.equal(back.invalid, 1);
  });

  it("leaves an empty file and a file ending with a newline as they are", async () => {
    for (const start of ["", "existing\n"]) {
      const path = tempFile();
      writeFileSync(path, start);
      const { sink, errors } = sinkOn(path);
      sink.onCall(stable(1));
      await sink.close();
      assert.equal(readFileSync(path, "utf8"), `${start}${encodeCallEvent(stable(1))}\n`);
      assert.deepEqual(errors, []);
    }
  });
});

describe("fileDestination on a real full file system", () => {
  it("counts the lines of a partly written batch that reached the disk as written, and recovers once space is freed", async (t) => {
    const mount = mountTmpfs(t, "size=64k");
    if (mount === undefined) return;
    try {
      const filler = join(mount.path, "filler");
      writeFileSync(filler, new Uint8Array(40 * 1024));
      const path = join(mount.path, "audit.jsonl");
      const { sink, errors } = sinkOn(path);
      const pad = "p".repeat(200);
      const event = (i: number): CallEvent => mkEvent({ kind: "invalid_args", message: pad }, `call-${i}`);
      // One burst: one write of ~70 KB into ~24 KB of free space stops part way.
      for (let i = 0; i < 250; i++) sink.onCall(event(i));
      await sink.flush();
      const full = sink.stats();
      assert.ok(full.written > 0, "the lines before the disk filled are written");
      assert.ok(full.failed > 0, "the rest failed");
      assert.equal(full.written + full.failed, 250);
      const onDisk = await readBack(path);
      assert.deepEqual(
        onDisk.events.map((e) => e.call_id),
        Array.from({ length: full.written }, (_, i) => `call-${i}`),
      );
      assert.ok(errors.length > 0);
      assert.ok(errors.every((e) => e instanceof IoError && e.code === "no_space" && e.path === path), String(errors));

      rmSync(filler); // the disk is no longer full: later writes go through
      for (let i = 250; i < 260; i++) sink.onCall(event(i));
      await sink.close();
      const after = sink.stats();
      assert.equal(after.written, full.written + 10);
      const back = await readBack(path);
      assert.equal(back.events.length, after.written, "the file holds exactly the lines counted written");
      assert.deepEqual(
        back.events.slice(-10).map((e) => e.call_id),
        Array.from({ length: 10 }, (_, i) => `call-${250 + i}`),
      );
      assert.ok(back.invalid <= 1, "at most the one torn line, on a line of its own");
    } finally {
      mount.unmount();
    }
  });

  it("reports a partial write line by line to the destination's report", async (t) => {
    const mount = mountTmpfs(t, "size=64k");
    if (mount === undefined) return;
    try {
      writeFileSync(join(mount.path, "filler"), new Uint8Array(56 * 1024));
      const path = join(mount.path, "audit.jsonl");
      const destination = fileDestination(path);
      const reported: string[] = [];
      const report: DeliveryReport = {
        delivered: (n) => reported.push(`delivered ${n}`),
        rerouted: (n) => reported.push(`rerouted ${n}`),
        failed: (n, error) => reported.push(`failed ${n} ${(error as IoError).code}`),
        warn: (error) => reported.push(`warn ${String(error)}`),
      };
      destination.attach(report);
      const line = "x".repeat(99) + "\n";
      const writer = destination.getWriter();
      await writer.write(new TextEncoder().encode(line.repeat(200))); // 20,000 bytes into 8 KiB
      await writer.close();
      const size = readFileSync(path).length;
      const whole = Math.floor(size / 100);
      assert.ok(size > 0 && size < 20_000, `${size} bytes reached the file`);
      assert.deepEqual(reported, [`delivered ${whole}`, `failed ${200 - whole} no_space`]);
    } finally {
      mount.unmount();
    }
  });
});

describe("fileDestination on special files", () => {
  it(
    "fails with no_space through a symlink to /dev/full, naming the link",
    { skip: !existsSync("/dev/full") },
    async () => {
      const link = tempFile("full-link");
      symlinkSync("/dev/full", link);
      const { sink, errors } = sinkOn(link);
      sink.onCall(stable(1));
      await sink.close();
      assert.deepEqual([sink.stats().written, sink.stats().failed], [0, 1]);
      assert.ok(errors[0] instanceof IoError);
      assert.equal((errors[0] as IoError).code, "no_space");
      assert.equal((errors[0] as IoError).path, link);
    },
  );

  it(
    "keeps trying after a failure: each write to /dev/full fails on its own",
    { skip: !existsSync("/dev/full") },
    async () => {
      const { sink, errors } = sinkOn("/dev/full");
      for (let i = 0; i < 3; i++) {
        sink.onCall(stable(i));
        await sink.flush();
      }
      await sink.close();
      assert.equal(sink.stats().failed, 3);
      assert.equal(errors.length, 3);
      assert.equal(new Set(errors).size, 3, "each write tried the file again, rather than repeating a first failure");
    },
  );

  it(
    "rejects a write to /dev/full when used as a plain stream, without a sink",
    { skip: !existsSync("/dev/full") },
    async () => {
      const writer = fileDestination("/dev/full").getWriter();
      await assert.rejects(writer.write(new TextEncoder().encode("line\n")), (error: unknown) => {
        assert.ok(error instanceof IoError);
        assert.equal(error.code, "no_space");
        return true;
      });
    },
  );

  it("syncs nothing and says nothing on flush with fsync to a device", async () => {
    const errors: unknown[] = [];
    const sink = new JsonLinesAuditSink(fileDestination("/dev/null", { fsync: true }), {
      onError: (e) => errors.push(e),
    });
    sink.onCall(stable(1));
    await sink.close();
    assert.deepEqual([errors, sink.stats().written], [[], 1]);
  });

  it("writes to a FIFO a process reads, counts the lines lost once it leaves, and writes again to the next reader (fsync: a no-op)", async (t) => {
    const fifo = tempFile("audit.fifo");
    if (!mkfifo(t, fifo)) return;
    const readLines = (count: number) => {
      const reader = spawn("head", ["-n", String(count), fifo]);
      let text = "";
      reader.stdout.setEncoding("utf8").on("data", (chunk: string) => (text += chunk));
      return new Promise<string>((resolve) => reader.on("close", () => resolve(text)));
    };
    const first = readLines(2);
    const { sink, errors } = await openWhenRead(fifo);
    sink.onCall(stable(1));
    sink.onCall(stable(2));
    assert.equal(await first, `${encodeCallEvent(stable(1))}\n${encodeCallEvent(stable(2))}\n`);
    sink.onCall(stable(3)); // nobody reads now
    await sink.flush();
    assert.equal(sink.stats().failed, 1);
    assert.match((errors[0] as IoError).code, /^(broken_pipe|no_reader)$/);
    const second = readLines(1);
    // The next write opens the FIFO again: once `head` has it open, the line goes through.
    for (let i = 0; i < 500 && sink.stats().written < 3; i++) {
      sink.onCall(stable(4));
      await sink.flush();
      if (sink.stats().written < 3) await new Promise((resolve) => setTimeout(resolve, 20));
    }
    assert.equal(await second, `${encodeCallEvent(stable(4))}\n`);
    await sink.close();
    assert.equal(sink.stats().written, 3);
    // Only lines nobody read failed; no fdatasync error (EINVAL on a FIFO) came from fsync.
    const codes = new Set(errors.map((e) => (e as IoError).code));
    assert.ok([...codes].every((c) => c === "broken_pipe" || c === "no_reader"), [...codes].join());
    assert.equal(sink.stats().failed, errors.length);
  });

  it("fails at once, without blocking, on a FIFO nobody reads", async (t) => {
    const fifo = tempFile("lonely.fifo");
    if (!mkfifo(t, fifo)) return;
    // In a child with a deadline: a regression would block its only thread for good.
    const result = await runScript("tests/_scripts/record_and_exit.ts", [fifo, "1", "drop"]);
    assert.notEqual(result.code, 0);
    assert.match(result.stderr, /Cannot open audit file ".*lonely\.fifo" for appending: no process has the FIFO open/);
  });

  it("keeps writing to a file renamed while open (the open file, not the path)", async () => {
    const path = tempFile();
    const { sink } = sinkOn(path);
    sink.onCall(stable(1));
    await sink.flush();
    renameSync(path, `${path}.1`);
    sink.onCall(stable(2));
    await sink.close();
    assert.equal(existsSync(path), false);
    assert.equal(readFileSync(`${path}.1`, "utf8"), `${encodeCallEvent(stable(1))}\n${encodeCallEvent(stable(2))}\n`);
    assert.equal(sink.stats().written, 2);
  });

  it("writes a huge single line whole", async () => {
    const path = tempFile();
    const big = mkEvent({ kind: "invalid_args", message: "\u00e9".repeat(4 << 20) }, "huge"); // 8 MiB of UTF-8
    const { sink, errors } = sinkOn(path);
    sink.onCall(big);
    sink.onCall(stable(1));
    await sink.close();
    assert.deepEqual(errors, []);
    const back = await readBack(path);
    assert.deepEqual(back.events, [big, stable(1)]);
  });
});

/** A sink on a FIFO, once a reader has it open (bounded). */
async function openWhenRead(fifo: string): Promise<ReturnType<typeof sinkOn>> {
  for (let i = 0; i < 500; i++) {
    try {
      return sinkOn(fifo, { fsync: true });
    } catch (error) {
      if (!(error instanceof IoError) || error.code !== "no_reader") throw error;
      await new Promise((resolve) => setTimeout(resolve, 20));
    }
  }
  throw new Error("no reader came to the FIFO");
}
