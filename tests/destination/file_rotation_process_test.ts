import { describe, it } from "node:test";
import assert from "node:assert/strict";
import { readdirSync, readFileSync, renameSync } from "node:fs";
import { join } from "node:path";
import process from "node:process";
import { type Child, startScript } from "../_helpers/run_script.ts";
import { closedPattern, contents, setFiles } from "./_rotation_files.ts";
import { inTempDir } from "../_helpers/temp_dir.ts";

const CHILD = "tests/_scripts/rotate_child.ts";

function inDir(test: (dir: string) => Promise<void>): Promise<void> {
  return inTempDir("rotate-proc", test);
}

/** Every line of a set, file by file, as [file, line] pairs. */
function linesOf(dir: string, stem: string): { file: string; line: string; last: boolean }[] {
  return setFiles(dir, stem).flatMap((file) => {
    const text = contents(dir, file);
    const lines = text.split("\n");
    if (lines.at(-1) === "") lines.pop();
    return lines.map((line, i) => ({ file, line, last: i === lines.length - 1 }));
  });
}

function parses(line: string): boolean {
  try {
    JSON.parse(line);
    return true;
  } catch {
    return false;
  }
}

describe("fileDestination rotate across processes", () => {
  it(
    "fileDestination keeps whole lines through kill -9 at random points during rotation: lines out are the lines flushed, plus at most the batch in flight",
    {
      timeout: 120_000,
    },
    async () => {
      const batch = 7;
      for (let round = 0; round < 4; round++) {
        await inDir(async (dir) => {
          const path = join(dir, "audit.jsonl");
          const gzip = round % 2 === 0 ? "1" : "0";
          const child = await startScript(CHILD, [path, "k", "600", String(batch), "0", "1000000", gzip]);
          await child.waitFor("five batches", (c) => c.lines.length >= 5);
          await new Promise((resolve) => setTimeout(resolve, 20 + Math.floor(Math.random() * 400)));
          child.process.kill("SIGKILL");
          await child.exited();
          const flushed = Number(child.lines.filter((line) => /^\d+$/.test(line)).at(-1) ?? 0);
          const lines = linesOf(dir, "audit");
          for (const { file, line, last } of lines) {
            assert.ok(last || parses(line), `${file} holds a torn line before its last: ${line.slice(0, 80)}`);
          }
          const whole = lines.filter(({ line }) => parses(line)).map(({ line }) => JSON.parse(line).call_id);
          assert.ok(
            whole.length >= flushed && whole.length <= flushed + batch,
            `${whole.length} lines, ${flushed} flushed`,
          );
          whole.forEach((id, i) => assert.equal(id, `call-${i}`));
          assert.ok(setFiles(dir).length > 3, "it rotated");
          if (round === 3) {
            // A new process goes on in the same folder: nothing of the old one is lost or overwritten.
            const next = await startScript(CHILD, [path, "k2", "600", String(batch), String(whole.length), "500", "1"]);
            const result = await next.result();
            assert.equal(result.stdout.trim().split("\n").at(-1), "done", result.stderr);
            const after = linesOf(dir, "audit").filter(({ line }) => parses(line)).map(({ line }) =>
              JSON.parse(line).call_id
            );
            assert.equal(after.length, whole.length + 500);
            after.forEach((id, i) => assert.equal(id, `call-${i}`));
            assert.deepEqual(readdirSync(dir).filter((name) => name.endsWith(".jsonl") && name !== "audit.jsonl"), []);
          }
        });
      }
    },
  );

  it("fileDestination lets two processes rotate in one folder at once: no file overwritten, every line of each once", {
    timeout: 120_000,
  }, async () => {
    await inDir(async (dir) => {
      const count = 5000;
      const children = await Promise.all(
        ["a", "b"].map((id) =>
          startScript(CHILD, [join(dir, `audit-${id}.jsonl`), id, "4096", "50", "0", String(count), "1"])
        ),
      );
      for (const child of children) {
        const result = await child.result(60_000);
        assert.equal(result.stdout.trim().split("\n").at(-1), "done", result.stderr);
      }
      for (const id of ["a", "b"]) {
        const ids = linesOf(dir, `audit-${id}`).map(({ line }) => JSON.parse(line).call_id);
        assert.equal(ids.length, count);
        ids.forEach((callId, i) => assert.equal(callId, `call-${i}`));
        assert.ok(setFiles(dir, `audit-${id}`).length > 10);
      }
      const ours = (name: string) =>
        ["a", "b"].some((id) =>
          name === `audit-${id}.jsonl` ||
          closedPattern(`audit-${id}`, ".jsonl").exec(name)?.[2]?.replace(/-\d+$/, "") === id
        );
      const stray = readdirSync(dir).filter((name) => !ours(name));
      assert.deepEqual(stray, []);
    });
  });

  it("fileDestination reopen() on SIGHUP (the README's recipe for this runtime) follows logrotate's create mode", {
    timeout: 60_000,
  }, async () => {
    await inDir(async (dir) => {
      const path = join(dir, "audit.jsonl");
      const child: Child = await startScript("tests/_scripts/reopen_child.ts", [path], { stdin: "pipe" });
      const command = async (line: string, expect: string) => {
        child.process.stdin!.write(`${line}\n`);
        await child.waitFor(expect, (c) => c.lines.includes(expect));
      };
      await child.waitFor("ready", (c) => c.lines.includes("ready"));
      await command("w", "wrote 1");
      await command("w", "wrote 2");
      renameSync(path, join(dir, "audit.jsonl.1")); // logrotate moves the file, then signals
      await command("w", "wrote 3"); // before the signal: still the moved file
      process.kill(child.process.pid!, "SIGHUP"); // not ChildProcess.kill: Deno's sends its first signal only
      await child.waitFor("hup", (c) => c.lines.includes("hup"));
      await command("w", "wrote 4");
      await command("q", "done");
      assert.equal((await child.exited()).code, 0, child.stderr);
      const ids = (name: string) =>
        readFileSync(join(dir, name), "utf8").split("\n").slice(0, -1).map((line) => JSON.parse(line).call_id);
      assert.deepEqual(ids("audit.jsonl.1"), ["call-0", "call-1", "call-2"]);
      assert.deepEqual(ids("audit.jsonl"), ["call-3"]);
    });
  });
});
