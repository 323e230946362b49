// The runtime driver against the real file system and real processes, under
// each runtime: the same IoError codes everywhere.
import { after, before, describe, it } from "node:test";
import assert from "node:assert/strict";
import { spawn } from "node:child_process";
import {
  existsSync,
  linkSync,
  mkdirSync,
  mkdtempSync,
  renameSync,
  rmSync,
  symlinkSync,
  utimesSync,
  writeFileSync,
} from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import process from "node:process";
import { runtime } from "../../src/runtime/runtime.ts";
import { IoError, type IoErrorCode } from "../../src/runtime/io_error.ts";
import { mkfifo, mountTmpfs, startScript } from "../_helpers/run_script.ts";

const driver = runtime();
let dir = "";
before(() => {
  dir = mkdtempSync(join(tmpdir(), "atd-driver-"));
});
after(() => rmSync(dir, { recursive: true, force: true }));

/** Asserts that `run` fails with an IoError of `code` that names `path`. */
async function rejectsWith(run: () => unknown, code: IoErrorCode, path: string): Promise<void> {
  await assert.rejects(async () => await run(), (error: unknown) => {
    assert.ok(error instanceof IoError, `expected an IoError, got ${String(error)}`);
    assert.equal(error.code, code, error.message);
    assert.equal(error.path, path);
    assert.ok(error.message.includes(JSON.stringify(path)), error.message);
    assert.doesNotMatch(error.message, /\n/);
    return true;
  });
}

describe("runtime", () => {
  it("picks one driver, named after the runtime it runs on", () => {
    assert.equal(runtime(), driver);
    const expected = "Deno" in globalThis ? "deno" : "Bun" in globalThis ? "bun" : "node";
    assert.equal(driver.name, expected);
  });
});

describe("RuntimeDriver errors", () => {
  it("openRead and stat fail with not_found for a missing file", async () => {
    const missing = join(dir, "missing.jsonl");
    await rejectsWith(() => driver.openRead(missing), "not_found", missing);
    await rejectsWith(() => driver.stat(missing), "not_found", missing);
    await rejectsWith(() => driver.remove(missing), "not_found", missing);
  });

  it("openAppendSync fails with not_found for a missing folder and is_directory for a folder", async () => {
    const missing = join(dir, "no", "such", "audit.jsonl");
    await rejectsWith(() => driver.openAppendSync(missing), "not_found", missing);
    await rejectsWith(() => driver.openAppendSync(dir), "is_directory", dir);
    await rejectsWith(() => driver.openRead(dir), "is_directory", dir);
  });

  it("fails with not_a_directory for a path under a file", async () => {
    const file = join(dir, "plain.txt");
    writeFileSync(file, "x");
    await rejectsWith(() => driver.openRead(join(file, "x")), "not_a_directory", join(file, "x"));
    await rejectsWith(() => driver.openAppendSync(join(file, "x")), "not_a_directory", join(file, "x"));
  });

  it("openAppendSync with createNew fails with exists for an existing file", async () => {
    const file = join(dir, "exists.jsonl");
    writeFileSync(file, "");
    await rejectsWith(() => driver.openAppendSync(file, { createNew: true }), "exists", file);
    const fresh = driver.openAppendSync(join(dir, "fresh.jsonl"), { createNew: true });
    await fresh.close();
  });

  it("fails with permission_denied on a read-only file system (root) or an unreadable file", async (t) => {
    if (process.getuid?.() === 0) {
      const mount = mountTmpfs(t, "size=64k,ro");
      if (mount === undefined) return;
      try {
        const file = join(mount.path, "audit.jsonl");
        await rejectsWith(() => driver.openAppendSync(file), "permission_denied", file);
      } finally {
        mount.unmount();
      }
    } else {
      const file = join(dir, "secret.jsonl");
      writeFileSync(file, "x", { mode: 0o000 });
      await rejectsWith(() => driver.openRead(file), "permission_denied", file);
    }
  });

  it("writes to /dev/full fail with no_space, also through a symlink", { skip: !existsSync("/dev/full") }, async () => {
    const link = join(dir, "full-link");
    symlinkSync("/dev/full", link);
    for (const path of ["/dev/full", link]) {
      const handle = driver.openAppendSync(path);
      assert.equal(handle.kind, "character_device");
      await rejectsWith(() => handle.write(new Uint8Array(10)), "no_space", path);
      await handle.sync(); // nothing to sync on a device: no EINVAL
      await handle.close();
    }
  });

  it("openAppendSync fails at once with no_reader on a FIFO nobody reads", async (t) => {
    const fifo = join(dir, "lonely.fifo");
    if (!mkfifo(t, fifo)) return;
    // In a child with a deadline: a regression would block its thread for good.
    const child = await startScript("tests/_scripts/runtime_child.ts", ["open-append", fifo]);
    const result = await child.result();
    assert.equal(result.stdout, "no_reader\n", result.stderr);
  });

  it("writes to a FIFO whose reader left fail with broken_pipe", async (t) => {
    const fifo = join(dir, "left.fifo");
    if (!mkfifo(t, fifo)) return;
    const reader = spawn("sh", ["-c", `exec 3<"${fifo}"; read line <&3; echo "$line"`]);
    let got = "";
    reader.stdout.setEncoding("utf8").on("data", (chunk: string) => (got += chunk));
    const gone = new Promise((resolve) => reader.on("close", resolve));
    const handle = await openWhenReaderIsThere(fifo);
    assert.equal(handle.kind, "fifo");
    assert.equal(await handle.write(new TextEncoder().encode("hello\n")), 6);
    await gone;
    assert.equal(got, "hello\n");
    await rejectsWith(() => handle.write(new TextEncoder().encode("again\n")), "broken_pipe", fifo);
    await handle.close();
  });

  it("rejects every call on a closed handle, without touching a reused descriptor", async () => {
    const file = join(dir, "closed.jsonl");
    const handle = driver.openAppendSync(file);
    await handle.close();
    await handle.close(); // twice is harmless
    const other = driver.openAppendSync(join(dir, "other.jsonl")); // may get the same descriptor number
    await assert.rejects(handle.write(new Uint8Array([1])), IoError);
    await assert.rejects(handle.read(new Uint8Array(1), 0), IoError);
    await other.close();
    assert.equal((await driver.stat(join(dir, "other.jsonl"))).size, 0);
  });
});

describe("RuntimeDriver files", () => {
  it("appends, reads at a position, and tells size and kind", async () => {
    const file = join(dir, "rw.jsonl");
    const handle = driver.openAppendSync(file);
    const bytes = new TextEncoder().encode("one\ntwo\n");
    let written = 0;
    for (let i = 0; i < 10 && written < bytes.length; i++) written += await handle.write(bytes.subarray(written));
    assert.equal(written, bytes.length);
    await handle.sync();
    const info = await handle.stat();
    assert.deepEqual([info.kind, info.size], ["file", 8]);
    const buffer = new Uint8Array(3);
    assert.equal(await handle.read(buffer, 4), 3);
    assert.equal(new TextDecoder().decode(buffer), "two");
    assert.equal(await handle.read(buffer, 8), 0, "0 at the end");
    await handle.close();
    const reader = await driver.openRead(new URL(`file://${file}`));
    assert.equal(await reader.read(buffer, null), 3);
    assert.equal(await reader.read(buffer, null), 3, "null reads on from the last read");
    assert.equal(new TextDecoder().decode(buffer), "\ntw");
    await reader.close();
  });

  it("reads in order, at positions, and after appends, each read from where it was asked", async () => {
    const file = join(dir, "order.jsonl");
    const handle = driver.openAppendSync(file);
    const text = (bytes: Uint8Array, n: number): string => new TextDecoder().decode(bytes.subarray(0, n));
    const buffer = new Uint8Array(4);
    assert.equal(await handle.write(new TextEncoder().encode("abcdefgh")), 8);
    assert.equal(text(buffer, await handle.read(buffer, 0)), "abcd");
    assert.equal(text(buffer, await handle.read(buffer, 4)), "efgh", "on from the last read");
    assert.equal(await handle.write(new TextEncoder().encode("ijkl")), 4); // appending moves the file's offset
    assert.equal(text(buffer, await handle.read(buffer, 8)), "ijkl", "where asked, not where the append left it");
    assert.equal(text(buffer, await handle.read(buffer, 2)), "cdef", "back");
    await handle.close();
  });

  it("gives one identity to two names of one file and a new one after a rotation", async () => {
    const file = join(dir, "rotated.jsonl");
    writeFileSync(file, "a\n");
    linkSync(file, join(dir, "hard-link"));
    symlinkSync(file, join(dir, "soft-link"));
    const before = await driver.stat(file);
    assert.ok(before.identity !== undefined && before.identity.length > 0);
    assert.equal((await driver.stat(join(dir, "hard-link"))).identity, before.identity);
    assert.equal((await driver.stat(join(dir, "soft-link"))).identity, before.identity);
    const handle = await driver.openRead(file);
    assert.equal((await handle.stat()).identity, before.identity);
    renameSync(file, join(dir, "rotated.jsonl.1"));
    writeFileSync(file, "");
    assert.notEqual((await driver.stat(file)).identity, before.identity);
    assert.equal((await handle.stat()).identity, before.identity, "the handle keeps the old file");
    await handle.close();
  });

  it("renames, lists sorted, and removes files and empty folders", async () => {
    const folder = join(dir, "listing");
    mkdirSync(folder);
    for (const name of ["b", "c", "a"]) writeFileSync(join(folder, name), name);
    await driver.rename(join(folder, "c"), join(folder, "d"));
    assert.deepEqual(await driver.readDir(folder), ["a", "b", "d"]);
    mkdirSync(join(folder, "empty"));
    await driver.remove(join(folder, "empty"));
    await driver.remove(join(folder, "a"));
    assert.deepEqual(await driver.readDir(folder), ["b", "d"]);
    await rejectsWith(() => driver.remove(folder), "exists", folder); // not empty
    await rejectsWith(() => driver.readDir(join(folder, "b")), "not_a_directory", join(folder, "b"));
  });
});

describe("RuntimeDriver file times and process id", () => {
  it("stat and a handle's stat tell when a file last changed, to the millisecond; pid is the process's", async () => {
    const path = join(dir, "times.txt");
    writeFileSync(path, "x\n");
    const then = new Date(Date.UTC(2026, 11, 1, 23, 59, 58, 123));
    utimesSync(path, then, then);
    assert.equal((await driver.stat(path)).modifiedMs, then.getTime());
    const handle = await driver.openRead(path);
    try {
      assert.equal((await handle.stat()).modifiedMs, then.getTime());
    } finally {
      await handle.close();
    }
    assert.equal(driver.pid(), process.pid);
  });
});

describe("RuntimeDriver process", () => {
  it("hands SIGINT, SIGTERM and SIGHUP to handlers instead of dying", async () => {
    const child = await startScript("tests/_scripts/runtime_child.ts", ["signals"]);
    await child.waitFor("ready", (c) => c.stdout.includes("ready\n"));
    for (const signal of ["SIGINT", "SIGTERM", "SIGHUP"] as const) {
      process.kill(child.process.pid!, signal); // Deno's ChildProcess.kill sends only the first signal
      await child.waitFor(signal, (c) => c.stdout.includes(`${signal}\n`));
    }
    const result = await child.result();
    assert.deepEqual([result.code, result.stdout], [3, "ready\nSIGINT\nSIGTERM\nSIGHUP\n"]);
  });

  it("gives the arguments after the script and exits with a status", async () => {
    const child = await startScript("tests/_scripts/runtime_child.ts", ["args", "a b", "--c", ""]);
    const result = await child.result();
    assert.deepEqual([result.code, result.stdout], [7, `${JSON.stringify(["a b", "--c", ""])}\n`]);
  });

  it("reads stdin and reports a closed stdout as broken_pipe", async () => {
    const echo = await startScript("tests/_scripts/runtime_child.ts", ["stdin"], { stdin: "pipe" });
    echo.process.stdin!.end("bytes \u00e9\n");
    assert.deepEqual(await echo.result(), { code: 0, signal: null, stdout: "bytes \u00e9\n", stderr: "" });
    const epipe = await startScript("tests/_scripts/runtime_child.ts", ["epipe"]);
    epipe.process.stdout!.destroy();
    const result = await epipe.result();
    assert.equal(result.stderr, "broken_pipe\n");
  });
});

/** Opens `fifo` for appending once a reader has it open (bounded). */
async function openWhenReaderIsThere(fifo: string): Promise<ReturnType<typeof driver.openAppendSync>> {
  for (let i = 0; i < 500; i++) {
    try {
      return driver.openAppendSync(fifo);
    } catch (error) {
      if (!(error instanceof IoError) || error.code !== "no_reader") throw error;
      await new Promise((resolve) => setTimeout(resolve, 20));
    }
  }
  throw new Error("no reader came to the FIFO");
}
