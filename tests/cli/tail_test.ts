// deno-lint-ignore-file no-control-regex -- asserting that no control character reaches the terminal
// `audit tail` as a real child process under Deno and Bun: -n, following
// through truncation and rotation, stopping on signals whatever it is blocked
// on, and hostile input.
import { after, before, describe, it } from "node:test";
import assert from "node:assert/strict";
import { spawn } from "node:child_process";
import {
  appendFileSync,
  copyFileSync,
  existsSync,
  mkdirSync,
  mkdtempSync,
  readdirSync,
  readFileSync,
  renameSync,
  rmSync,
  truncateSync,
  writeFileSync,
} from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import process from "node:process";
import { gzipSync } from "node:zlib";
import { createCallEvent, encodeCallEvent } from "../../mod.ts";
import { mkfifo, skipLoudly } from "../_helpers/run_script.ts";
import { line, runCli, RUNTIMES, startCli } from "./_cli.ts";

let dir = "";
before(() => {
  dir = mkdtempSync(join(tmpdir(), "audit-tail-test-"));
});
after(() => rmSync(dir, { recursive: true, force: true }));

/** Each test runs several runtimes as children: more than bun test's 5 s default on a busy machine. */
const SLOW = { timeout: 120_000 };

const lines = (from: number, to: number): string[] => Array.from({ length: to - from + 1 }, (_, i) => line(from + i));
const text = (of: string[]): string => of.map((l) => l + "\n").join("");

/**
 * Resolves once some thread of process `pid` waits in the kernel for the other
 * end of a FIFO (blocked opening it); `false` where /proc cannot tell (no
 * /proc, or a kernel that hides wchan).
 */
async function blockedOnFifoOpen(pid: number): Promise<boolean> {
  for (let i = 0; i < 500; i++) { // 10 s: a runtime starts in well under that
    let states: string[];
    try {
      states = readdirSync(`/proc/${pid}/task`).map((task) => readFileSync(`/proc/${pid}/task/${task}/wchan`, "utf8"));
    } catch {
      return false;
    }
    if (states.some((state) => /wait_for_partner|fifo_open/.test(state))) return true;
    await new Promise((resolve) => setTimeout(resolve, 20));
  }
  return false;
}

for (const runtime of Object.keys(RUNTIMES)) {
  describe(`audit tail under ${runtime}`, () => {
    it(`tail -n N prints the last N matching events (${runtime})`, SLOW, async () => {
      const file = join(dir, `last-${runtime}.jsonl`);
      const all = Array.from({ length: 10 }, (_, i) => line(i + 1, i % 3 === 0 ? "http.fetch" : "fs.read"));
      writeFileSync(file, text(all));
      for (const args of [["-n", "3"], ["-n3"], ["--lines=3"], ["--lines", "3"]]) {
        const result = await runCli(runtime, ["tail", ...args, file]);
        assert.equal(result.status, 0, result.stderr);
        assert.equal(result.stdout, text(all.slice(-3)), args.join(" "));
      }
      const matching = await runCli(runtime, ["tail", "-n", "2", "--tool", "http.fetch", file]);
      assert.equal(matching.stdout, text([all[6]!, all[9]!]));
      assert.equal((await runCli(runtime, ["tail", "-n", "0", file])).stdout, "");
      assert.equal((await runCli(runtime, ["tail", "-n", "50", file])).stdout, text(all));
      const stdin = await runCli(runtime, ["tail", "-n", "1"], text(all));
      assert.equal(stdin.stdout, text(all.slice(-1)));
    });

    it(`tail -n rejects a count that is not a whole number, in one line (${runtime})`, SLOW, async () => {
      const file = join(dir, `last-${runtime}.jsonl`);
      for (const bad of ["x", "-1", "1.5", ""]) {
        const result = await runCli(runtime, ["tail", "-n", bad, file]);
        assert.equal(result.status, 2, bad);
        assert.match(result.stderr, /^audit: cannot read -n "[^"]*": expected a number of events/);
        assert.equal(result.stderr.trim().split("\n").length, 1);
      }
    });

    it(`tail -n N -f prints the last N, then follows, completing a partial last line (${runtime})`, SLOW, async () => {
      const file = join(dir, `last-follow-${runtime}.jsonl`);
      const half = line(5).length >> 1;
      writeFileSync(file, text(lines(1, 4)) + line(5).slice(0, half));
      const child = startCli(runtime, ["tail", "-n", "2", "-f", file]);
      try {
        await child.waitFor("the last two lines", (c) => c.lines.length >= 2);
        appendFileSync(file, line(5).slice(half) + "\n" + line(6) + "\n");
        await child.waitFor("lines 5 and 6", (c) => c.lines.length >= 4);
      } finally {
        process.kill(child.process.pid!, "SIGINT");
      }
      assert.equal((await child.exited()).code, 0);
      assert.equal(child.stdout, text(lines(3, 6)));
      assert.equal(child.stderr, "", "the partial line was read whole, not reported torn");
    });

    it(
      `tail -n N -f over a folder: the set's last N across files, then its active file through rotation and gzip (${runtime})`,
      SLOW,
      async () => {
        const logs = join(dir, `set-${runtime}`);
        mkdirSync(logs);
        const closed = join(logs, "audit.2026-12-01T00-00-00.000Z.w1.jsonl");
        writeFileSync(`${closed}.gz`, gzipSync(text(lines(1, 3))));
        writeFileSync(join(logs, "audit.jsonl"), text(lines(4, 5)));
        writeFileSync(join(logs, "audit.jsonl.seal"), "a seal file, never data\n");
        const child = startCli(runtime, ["tail", "-n", "4", "-f", logs]);
        try {
          await child.waitFor("the last 4 of the set", (c) => c.lines.length >= 4);
          // The writer rotates: the active file gets its closed name, is compressed, and a new one starts.
          appendFileSync(join(logs, "audit.jsonl"), text(lines(6, 6)));
          const rotated = join(logs, "audit.2026-12-02T00-00-00.000Z.w1.jsonl");
          renameSync(join(logs, "audit.jsonl"), rotated);
          writeFileSync(join(logs, "audit.jsonl"), text(lines(7, 8)));
          writeFileSync(`${rotated}.gz`, gzipSync(readFileSync(rotated)));
          rmSync(rotated);
          await child.waitFor("the lines after the rotation", (c) => c.lines.length >= 7);
        } finally {
          process.kill(child.process.pid!, "SIGTERM");
        }
        assert.equal((await child.exited()).code, 0);
        assert.equal(child.stdout, text(lines(2, 8)));
        assert.match(child.stderr, /^audit: .*audit\.jsonl was replaced: reading it from its start\n$/);
        const stats = await runCli(runtime, ["stats", "--json", logs]);
        assert.equal(JSON.parse(stats.stdout).total, 8, stats.stderr);
      },
    );

    it(`tail -f reads a copied-and-truncated file again from its start (${runtime})`, SLOW, async () => {
      const file = join(dir, `truncate-${runtime}.jsonl`);
      writeFileSync(file, text(lines(1, 5)));
      const child = startCli(runtime, ["tail", "-f", file]);
      try {
        await child.waitFor("5 lines", (c) => c.lines.length >= 5);
        copyFileSync(file, `${file}.1`); // logrotate's copytruncate
        truncateSync(file, 0);
        appendFileSync(file, text(lines(6, 8)));
        await child.waitFor("the 3 lines after the truncation", (c) => c.lines.length >= 8);
      } finally {
        process.kill(child.process.pid!, "SIGTERM");
      }
      assert.equal((await child.exited()).code, 0);
      assert.equal(child.stdout, text(lines(1, 8)));
      assert.match(child.stderr, /^audit: .*truncate-\w+\.jsonl was truncated: reading it from its start\n$/);
    });

    it(
      `tail -f notices a file truncated and written past its old size between two looks (${runtime})`,
      SLOW,
      async () => {
        const file = join(dir, `regrow-${runtime}.jsonl`);
        writeFileSync(file, text(lines(11, 13)));
        const child = startCli(runtime, ["tail", "-f", file]);
        try {
          await child.waitFor("3 lines", (c) => c.lines.length >= 3);
          writeFileSync(file, text(lines(21, 30))); // truncated and regrown at once: found by a hostile test
          await child.waitFor("the 10 new lines", (c) => c.lines.length >= 13);
        } finally {
          process.kill(child.process.pid!, "SIGTERM");
        }
        assert.equal((await child.exited()).code, 0);
        assert.equal(child.stdout, text([...lines(11, 13), ...lines(21, 30)]));
        assert.match(child.stderr, /was truncated: reading it from its start\n$/);
      },
    );

    it(`tail -f notices a file rewritten to exactly the same size (${runtime})`, SLOW, async () => {
      const file = join(dir, `same-size-${runtime}.jsonl`);
      writeFileSync(file, text(lines(11, 15)));
      const child = startCli(runtime, ["tail", "-f", file]);
      try {
        await child.waitFor("5 lines", (c) => c.lines.length >= 5);
        assert.equal(text(lines(21, 25)).length, text(lines(11, 15)).length);
        writeFileSync(file, text(lines(21, 25)));
        await child.waitFor("the 5 rewritten lines", (c) => c.lines.length >= 10);
      } finally {
        process.kill(child.process.pid!, "SIGTERM");
      }
      assert.equal((await child.exited()).code, 0);
      assert.equal(child.stdout, text([...lines(11, 15), ...lines(21, 25)]));
    });

    it(
      `tail -f follows a rotated file to the new one, after reading the old one to its end (${runtime})`,
      SLOW,
      async () => {
        const file = join(dir, `rotate-${runtime}.jsonl`);
        writeFileSync(file, text(lines(1, 2)));
        const child = startCli(runtime, ["tail", "-f", file]);
        try {
          await child.waitFor("2 lines", (c) => c.lines.length >= 2);
          renameSync(file, `${file}.1`);
          appendFileSync(`${file}.1`, text([line(3)])); // a writer that has not reopened yet
          writeFileSync(file, text(lines(4, 5)));
          await child.waitFor("the new file's lines", (c) => c.lines.length >= 5);
          rmSync(file); // removed, then created again
          await new Promise((resolve) => setTimeout(resolve, 300));
          writeFileSync(file, text([line(6)]));
          await child.waitFor("the recreated file's line", (c) => c.lines.length >= 6);
        } finally {
          process.kill(child.process.pid!, "SIGINT");
        }
        assert.equal((await child.exited()).code, 0);
        assert.equal(child.stdout, text(lines(1, 6)));
        assert.equal(child.stderr.match(/was replaced: reading it from its start/g)?.length, 2, child.stderr);
      },
    );

    for (const signal of ["SIGINT", "SIGTERM"] as const) {
      it(`tail -f on a FIFO nobody writes to exits 0 on ${signal} (${runtime})`, SLOW, async (t) => {
        const fifo = join(dir, `nobody-${runtime}-${signal}.fifo`);
        if (!mkfifo(t, fifo)) return;
        const child = startCli(runtime, ["tail", "-f", fifo]);
        try {
          if (!await blockedOnFifoOpen(child.process.pid!)) {
            return skipLoudly(t, "cannot see in /proc that the child is blocked opening the FIFO");
          }
          process.kill(child.process.pid!, signal);
          const { code, signal: killedBy } = await child.exited();
          assert.deepEqual([code, killedBy], [0, null], child.stderr);
        } finally {
          child.process.kill("SIGKILL");
        }
      });
    }

    it(`tail -f on a FIFO whose writer is silent exits 0 on SIGINT (${runtime})`, SLOW, async (t) => {
      const fifo = join(dir, `silent-${runtime}.fifo`);
      if (!mkfifo(t, fifo)) return;
      const writer = spawn("sh", ["-c", `exec 3>"${fifo}"; echo '${line(1)}' >&3; sleep 60`], { stdio: "ignore" });
      const child = startCli(runtime, ["tail", "-f", fifo]);
      try {
        await child.waitFor("the writer's line", (c) => c.lines.length >= 1);
        process.kill(child.process.pid!, "SIGINT"); // it is blocked reading the FIFO now
        assert.equal((await child.exited()).code, 0, child.stderr);
        assert.equal(child.stdout, text([line(1)]));
      } finally {
        child.process.kill("SIGKILL");
        writer.kill("SIGKILL");
      }
    });

    it(
      `tail shows hostile lines safely: escapes in --pretty and reports, garbage and huge lines skipped (${runtime})`,
      SLOW,
      async () => {
        const file = join(dir, `hostile-${runtime}.jsonl`);
        const evil = encodeCallEvent(createCallEvent({
          ts: "2026-05-29T10:00:00+00:00",
          call_id: "call-\u009b2J",
          tool_id: "\u001b]0;pwned\u0007\u202eevil",
          duration_ms: 1,
          outcome: { kind: "success" },
          tier: "warm",
        }));
        const garbage = Buffer.from(Array.from({ length: 3000 }, (_, i) => (i * 37 + 1) % 256).filter((b) => b !== 10));
        const huge = `{"ts":"${"x".repeat(2 << 20)}"}`;
        writeFileSync(
          file,
          Buffer.concat([
            Buffer.from(`${line(1)}\n`),
            garbage,
            Buffer.from(`\n${huge}\n${evil}\n{"tool_id":"\u001b[2J"}\n${line(2)}\n`),
          ]),
        );
        const json = await runCli(runtime, ["tail", file]);
        assert.equal(json.status, 0, json.stderr);
        assert.equal(json.stdout, text([line(1), evil, line(2)]), "JSON lines stay byte-identical to the encoder's");
        const reports = json.stderr.trim().split("\n");
        assert.equal(reports.length, 3, json.stderr);
        assert.match(reports[1]!, /:3: longer than the 1048576-byte limit/);
        assert.doesNotMatch(
          json.stderr,
          /[\u0000-\u0009\u000b-\u001f\u007f-\u009f]/,
          "no raw control character on stderr",
        );
        const pretty = await runCli(runtime, ["tail", "--pretty", "--outcome", "success", file]);
        const shown = pretty.stdout.split("\n")[1]!;
        assert.ok(shown.includes("\\u001b]0;pwned\\u0007\\u202eevil"), shown);
        assert.ok(shown.includes("call-\\u009b2J"), shown);
        assert.doesNotMatch(pretty.stdout, /[\u001b\u0007\u009b\u202e]/);
        const stats = await runCli(runtime, ["stats", file]);
        assert.match(stats.stdout, /\\u001b\]0;pwned\\u0007\\u202eevil/);
        assert.doesNotMatch(stats.stdout, /[\u001b\u0007\u009b\u202e]/);
      },
    );

    it(`tail exits 0 without a word when stdout closes early (${runtime})`, SLOW, async () => {
      const file = join(dir, `many-${runtime}.jsonl`);
      writeFileSync(file, text(lines(1, 20_000)));
      const child = startCli(runtime, ["tail", file]);
      child.process.stdout!.destroy();
      const result = await child.result();
      assert.deepEqual([result.code, result.stderr], [0, ""]);
    });

    it(`tail -f exits 0 on SIGTERM while its stdout is full and unread (${runtime})`, SLOW, async () => {
      const file = join(dir, `unread-${runtime}.jsonl`);
      writeFileSync(file, text(lines(1, 20_000))); // megabytes: far more than a pipe holds
      const child = startCli(runtime, ["tail", "-f", file]);
      try {
        // Its first output says it runs (its signal handlers come before any output); then nobody reads:
        // its writes block once the pipe is full.
        await new Promise((resolve) => child.process.stdout!.once("data", resolve));
        child.process.stdout!.pause();
        await new Promise((resolve) => setTimeout(resolve, 1_000));
        process.kill(child.process.pid!, "SIGTERM");
        assert.deepEqual(await child.exited(), { code: 0, signal: null }, child.stderr);
      } finally {
        child.process.kill("SIGKILL");
      }
    });

    it(`tail reports a folder without logs or a missing file in one line (${runtime})`, SLOW, async () => {
      const empty = join(dir, `empty-${runtime}`);
      mkdirSync(empty);
      writeFileSync(join(empty, "notes.txt"), "not a log\n");
      for (
        const [path, message] of [
          [empty, `no .jsonl or .jsonl.gz file in ${empty}`],
          [join(dir, "none"), `cannot read ${join(dir, "none")}: no such file or directory`],
        ]
      ) {
        const result = await runCli(runtime, ["tail", "-f", path!]);
        assert.equal(result.status, 2);
        assert.equal(result.stderr, `audit: ${message}\n`);
      }
      assert.ok(existsSync(dir));
    });
  });
}
