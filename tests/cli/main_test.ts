// Runs the real `audit` command as a subprocess under Deno and Bun.
import { after, before, describe, it } from "node:test";
import assert from "node:assert/strict";
import { appendFileSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import process from "node:process";
import { line, runCli as run, RUNTIMES, startCli as start, testdata } from "./_cli.ts";

/** Each test runs the CLI several times as a child: more than bun test's 5 s default on a busy machine. */
const SLOW = { timeout: 120_000 };

let dir = "";
before(() => {
  dir = mkdtempSync(join(tmpdir(), "audit-cli-test-"));
});
after(() => rmSync(dir, { recursive: true, force: true }));

for (const runtime of Object.keys(RUNTIMES)) {
  describe(`audit CLI under ${runtime}`, () => {
    it(`main prints help at top level and for every command (${runtime})`, SLOW, async () => {
      const top = await run(runtime, ["--help"]);
      assert.equal(top.status, 0);
      assert.match(top.stdout, /Commands:\n\s+stats[\s\S]*tail[\s\S]*validate/);
      for (const command of ["stats", "tail", "validate"]) {
        const result = await run(runtime, [command, "--help"]);
        assert.equal(result.status, 0);
        assert.match(result.stdout, new RegExp(`^Usage: audit ${command}`));
      }
      const bare = await run(runtime, []);
      assert.equal(bare.status, 2, "no command is a usage error");
      assert.equal(bare.stdout, "");
      assert.match(bare.stderr, /^audit: read JSON Lines audit logs/);
    });

    it(
      `main rejects unknown commands and flags, and unreadable files, with one line and status 2 (${runtime})`,
      SLOW,
      async () => {
        for (
          const [args, message] of [
            [["frobnicate"], /^audit: unknown command "frobnicate"\n$/],
            [["stats", "--bogus"], /^audit: unknown option --bogus for stats/],
            [["tail", "--outcome", "exploded", join(testdata, "mixed_versions.jsonl")], /^audit: unknown outcome kind/],
            [
              ["tail", "--since", "yesterday-ish", join(testdata, "mixed_versions.jsonl")],
              /^audit: cannot read --since/,
            ],
            [
              ["validate", join(dir, "missing.jsonl")],
              /^audit: cannot read .*missing\.jsonl: no such file or directory\n$/,
            ],
            [["stats", testdata + "/formats"], /^audit: no \.jsonl or \.jsonl\.gz file in .*formats\n$/],
            [["validate", join(dir, "*.none")], /^audit: no file matches .*\*\.none\n$/],
          ] as const
        ) {
          const result = await run(runtime, [...args]);
          assert.equal(result.status, 2, `${args.join(" ")}: ${result.stderr}`);
          assert.match(result.stderr, message);
          assert.equal(result.stderr.trim().split("\n").length, 1, result.stderr);
        }
      },
    );

    it(`audit stats prints an aligned table, and JSON with --json (${runtime})`, SLOW, async () => {
      const file = join(testdata, "mixed_versions.jsonl");
      const table = await run(runtime, ["stats", file, join(testdata, "invalid.jsonl")]);
      assert.equal(table.status, 0, table.stderr);
      assert.match(table.stdout, /^events\s+8\ninvalid lines\s+4\n/);
      assert.match(table.stdout, /\noutcome\s+count\s+%\nsuccess\s+3\s+37\.5%\n/);
      assert.match(table.stdout, /\ndenied capability\s+count\ndb:write\s+2\n/);
      const json = await run(runtime, ["stats", "--json", file]);
      assert.equal(json.status, 0, json.stderr);
      const summary = JSON.parse(json.stdout);
      assert.equal(summary.total, 6);
      assert.deepEqual(summary.byTool, { "http.fetch": 2, "db.query": 2, "fs.read": 2 });
      assert.equal(summary.firstTs, "2026-05-29T10:00:01+00:00");
    });

    it(`audit stats reads stdin when given no file or "-" (${runtime})`, SLOW, async () => {
      const input = readFileSync(join(testdata, "mixed_versions.jsonl"), "utf8");
      for (const args of [["stats", "--json"], ["stats", "--json", "-"]]) {
        const result = await run(runtime, args, input);
        assert.equal(result.status, 0, result.stderr);
        assert.equal(JSON.parse(result.stdout).total, 6);
      }
    });

    it(`audit validate lists each invalid line with its field and exits 1 (${runtime})`, SLOW, async () => {
      const file = join(testdata, "invalid.jsonl");
      const bad = await run(runtime, ["validate", file]);
      assert.equal(bad.status, 1);
      const lines = bad.stdout.trim().split("\n");
      assert.equal(lines.length, 4);
      assert.match(lines[0]!, /invalid\.jsonl:2: not valid JSON/);
      assert.equal(lines[1], `${file}:3: expected "tool_id" to be a string, got 5`);
      assert.match(lines[2]!, /invalid\.jsonl:5: expected "outcome\.kind" to be one of/);
      assert.match(lines[3]!, /invalid\.jsonl:6: expected "granted_capabilities\[1\]" to be a string/);
      assert.match(bad.stderr, /4 of 7 lines invalid/);
      const torn = await run(runtime, ["validate", join(testdata, "torn.jsonl")]);
      assert.equal(torn.status, 1);
      assert.match(torn.stdout, /torn\.jsonl:3: torn last line/);
      const good = await run(runtime, [
        "validate",
        join(testdata, "mixed_versions.jsonl"),
        join(testdata, "empty.jsonl"),
      ]);
      assert.equal(good.status, 0, good.stdout);
      assert.equal(good.stdout, "");
    });

    it(`audit tail prints matching events as the encoder writes them (${runtime})`, SLOW, async () => {
      const file = join(dir, `tail-${runtime}.jsonl`);
      const lines = [line(1), line(2, "http.fetch"), line(3, "http.fetch", "tool_not_found"), line(4)];
      writeFileSync(file, lines.join("\n") + "\n");
      const all = await run(runtime, ["tail", file]);
      assert.equal(all.status, 0, all.stderr);
      assert.equal(all.stdout, lines.join("\n") + "\n");
      const filtered = await run(runtime, ["tail", file, "--tool", "http.fetch", "--outcome=tool_not_found"]);
      assert.equal(filtered.stdout, lines[2] + "\n");
      const byCaller = await run(runtime, ["tail", "--caller", "agent-B", "--since", "2026-05-29T10:00:03Z", file]);
      assert.equal(byCaller.stdout, lines[3] + "\n");
      const pretty = await run(runtime, ["tail", "--pretty", "--outcome", "tool_not_found", file]);
      assert.equal(
        pretty.stdout,
        "2026-05-29T10:00:03+00:00  http.fetch  agent-A  3ms  warm  tool_not_found  call-3\n",
      );
    });

    it(`audit tail -f follows a growing file until killed (${runtime})`, SLOW, async () => {
      const file = join(dir, `follow-${runtime}.jsonl`);
      writeFileSync(file, line(1) + "\n");
      const child = start(runtime, ["tail", "-f", file, "--tool", "fs.read"]);
      try {
        await child.waitFor("the first line", (c) => c.lines.length >= 1);
        appendFileSync(file, line(2, "http.fetch") + "\n" + line(3) + "\n");
        await child.waitFor("the third line", (c) => c.lines.length >= 2);
        assert.equal(child.stdout, `${line(1)}\n${line(3)}\n`);
      } finally {
        // Not child.kill(): under Deno 2.9, a child killed that way is reported
        // dead of the signal (code null) even when it handled it and exited 0.
        process.kill(child.process.pid!, "SIGINT");
      }
      // SIGINT ends following normally, under every runtime and test runner.
      const { code, signal } = await child.exited();
      assert.match(`${code ?? signal}`, /^(0|SIGINT)$/);
      assert.equal(code, 0);
    });
  });
}
