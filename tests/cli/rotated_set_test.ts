// Reading rotated sets: the naming contract's order, the small glob, and
// stats, validate and tail over sets (gzip included) through main(args, io).
import { after, before, describe, it } from "node:test";
import assert from "node:assert/strict";
import {
  appendFileSync,
  mkdirSync,
  mkdtempSync,
  readFileSync,
  renameSync,
  rmSync,
  symlinkSync,
  writeFileSync,
} from "node:fs";
import { execFileSync } from "node:child_process";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { main } from "../../src/cli/main.ts";
import { expandGlob, segmentPattern } from "../../src/cli/_glob.ts";
import { compareNatural, dataFile, orderSets, STDIN } from "../../src/cli/_rotated_set.ts";
import { open } from "../../src/cli/_io.ts";
import { runtime } from "../../src/runtime/runtime.ts";
import { gzip, writeSet } from "./_sets.ts";
import { line } from "./_cli.ts";

let dir = "";
before(() => {
  dir = mkdtempSync(join(tmpdir(), "audit-sets-test-"));
});
after(() => rmSync(dir, { recursive: true, force: true }));

/** A fresh folder for one test. */
function folder(name: string): string {
  const path = join(dir, name);
  mkdirSync(path, { recursive: true });
  return path;
}

/** Runs `audit ARGS` in process; what it printed, and its status. */
async function audit(args: string[]): Promise<{ status: number; stdout: string; stderr: string }> {
  let stdout = "";
  let stderr = "";
  const status = await main(args, {
    stdout: (text) => Promise.resolve(void (stdout += text)),
    stderr: (text) => Promise.resolve(void (stderr += text)),
    stdin: () => new ReadableStream({ start: (c) => c.close() }),
  });
  return { status, stdout, stderr };
}

const T1 = "2026-12-01T23-59-59.999Z";
const T2 = "2026-12-02T00-00-00Z";
const T3 = "2026-12-02T05-59-59.123Z";

describe("rotated sets: names and order", () => {
  it("dataFile reads closed and active names, their set, and where their seal is", () => {
    assert.deepEqual(dataFile(`logs/audit.${T3}.host-42_a.jsonl.gz`), {
      path: `logs/audit.${T3}.host-42_a.jsonl.gz`,
      gzip: true,
      stem: "logs/audit",
      time: "2026-12-02T05-59-59.123Z",
      writer: "host-42_a",
      seal: `logs/audit.${T3}.host-42_a.jsonl.seal`,
      listed: false,
    });
    assert.deepEqual(dataFile("logs/audit.jsonl"), {
      path: "logs/audit.jsonl",
      gzip: false,
      stem: "logs/audit",
      time: undefined,
      writer: undefined,
      seal: "logs/audit.jsonl.seal",
      listed: false,
    });
    assert.equal(dataFile(`audit.${T2}.w.jsonl`).time, "2026-12-02T00-00-00.000Z", "no milliseconds reads as .000");
    assert.equal(dataFile("notes.log").stem, "notes.log");
    assert.equal(
      dataFile(`audit.${T3}.${"w".repeat(65)}.jsonl`).time,
      undefined,
      "a writer id is at most 64 characters",
    );
  });

  it("orderSets puts each set in <T>, then <W>, order with the active file last, reading a file once", () => {
    const names = [
      "b/audit.jsonl",
      `b/audit.${T3}.w-10.jsonl`,
      "other.jsonl",
      `b/audit.${T3}.w-2.jsonl.gz`,
      `b/audit.${T1}.z.jsonl.gz`,
      `b/audit.${T3}.w.jsonl`,
      `b/audit.${T2}.a.jsonl`,
      `b/audit.${T2}.a.jsonl.gz`, // being compressed: the plain file is read
      "b/audit.jsonl",
    ];
    const ordered = orderSets([...names.map((name) => dataFile(name)), STDIN]).map((f) => f === STDIN ? "-" : f.path);
    assert.deepEqual(ordered, [
      `b/audit.${T1}.z.jsonl.gz`,
      `b/audit.${T2}.a.jsonl`,
      `b/audit.${T3}.w.jsonl`,
      `b/audit.${T3}.w-2.jsonl.gz`,
      `b/audit.${T3}.w-10.jsonl`,
      "b/audit.jsonl",
      "other.jsonl",
      "-",
    ]);
  });

  it("compareNatural compares runs of digits as numbers", () => {
    const sorted = ["w-10", "w", "w-2", "w-1", "host-0009", "host-10"].sort(compareNatural);
    assert.deepEqual(sorted, ["host-0009", "host-10", "w", "w-1", "w-2", "w-10"]);
  });
});

describe("rotated sets: the glob", () => {
  it("segmentPattern matches * and ? within a segment, literally otherwise, and no hidden file unless asked", () => {
    assert.ok(segmentPattern("audit.*.jsonl").test(`audit.${T1}.w.jsonl`));
    assert.ok(!segmentPattern("audit.*.jsonl").test("audit.jsonl.gz"));
    assert.ok(segmentPattern("a?c").test("abc") && !segmentPattern("a?c").test("ac"));
    assert.ok(segmentPattern("a+(b)[c]").test("a+(b)[c]") && !segmentPattern("a+(b)[c]").test("aab[c]"));
    assert.ok(!segmentPattern("*").test(".hidden") && segmentPattern(".*").test(".hidden"));
  });

  it("expandGlob finds files by *, ? and **, sorted, never folders", async () => {
    const root = folder("glob");
    mkdirSync(join(root, "a/b/c"), { recursive: true });
    mkdirSync(join(root, "x.jsonl")); // a folder with a log's name
    mkdirSync(join(root, ".hidden"));
    for (const path of ["one.jsonl", "two.jsonl.gz", "a/three.jsonl", "a/b/c/four.jsonl", ".hidden/five.jsonl"]) {
      writeFileSync(join(root, path), "");
    }
    const driver = runtime();
    const rel = (paths: string[]) => paths.map((p) => p.slice(root.length + 1));
    assert.deepEqual(rel(await expandGlob(driver, `${root}/*.jsonl*`)), ["one.jsonl", "two.jsonl.gz"]);
    assert.deepEqual(rel(await expandGlob(driver, `${root}/???.jsonl`)), ["one.jsonl"]);
    assert.deepEqual(rel(await expandGlob(driver, `${root}/**/*.jsonl`)), [
      "a/b/c/four.jsonl",
      "a/three.jsonl",
      "one.jsonl",
    ]);
    assert.deepEqual(rel(await expandGlob(driver, `${root}/a/*/c/*`)), ["a/b/c/four.jsonl"]);
    assert.deepEqual(rel(await expandGlob(driver, `${root}/a/**`)), ["a/b/c/four.jsonl", "a/three.jsonl"]);
    assert.deepEqual(await expandGlob(driver, `${root}/*.none`), []);
    // Links back up the tree: each folder is walked once, however many ways lead to it.
    for (const name of ["up1", "up2", "up3"]) symlinkSync(root, join(root, "a/b", name));
    assert.deepEqual(rel(await expandGlob(driver, `${root}/**/four.jsonl`)), ["a/b/c/four.jsonl"]);
  });
});

describe("rotated sets: stats, validate and tail", () => {
  it("audit stats reads a folder's set in time order, gzip included, with the seal files left out", async () => {
    const logs = folder("stats");
    const set = await writeSet(logs, "audit", [
      { time: T1, lines: 3, gzip: true },
      { time: T2, lines: 2 },
      { lines: 4 },
    ]);
    writeFileSync(join(logs, "audit.jsonl.seal"), "not data\n");
    const result = await audit(["stats", "--json", logs]);
    assert.equal(result.status, 0, result.stderr);
    const summary = JSON.parse(result.stdout);
    assert.equal(summary.total, set.all.length);
    assert.equal(summary.invalidLines, 0);
    const shown = await audit(["tail", logs]);
    assert.equal(shown.stdout, set.all.join(""), "every event once, in the set's order");
  });

  it("audit validate names the file and its own line numbers, in compressed files too", async () => {
    const logs = folder("validate");
    const set = await writeSet(logs, "audit", [{ time: T1, lines: 3, gzip: true }, { lines: 2 }]);
    const [closed] = set.files;
    const lines = [...closed!.lines];
    lines[1] = '{"schema_version":3}\n';
    writeFileSync(join(logs, closed!.name), await gzip(new TextEncoder().encode(lines.join(""))));
    const result = await audit(["validate", join(logs, "audit*")]);
    assert.equal(result.status, 1);
    assert.match(result.stdout, new RegExp(`^${join(logs, closed!.name).replace(/[.]/g, "\\.")}:2: `));
    assert.equal(result.stdout.trim().split("\n").length, 1, result.stdout);
    assert.match(result.stderr, /2 files: 1 of 5 lines invalid/);
  });

  it("a name a glob or a folder finds that cannot be looked at (a link loop) is an error naming it, not left out", async () => {
    const logs = folder("link-loop");
    writeFileSync(join(logs, "a.jsonl"), "");
    symlinkSync("b.jsonl", join(logs, "b.jsonl")); // a link to itself
    for (const arg of [join(logs, "*.jsonl"), logs]) {
      const result = await audit(["validate", arg]);
      assert.equal(result.status, 2, `${arg}: ${result.stdout}${result.stderr}`);
      assert.match(result.stderr, /^audit: cannot read .*b\.jsonl: /);
      assert.equal(result.stderr.trim().split("\n").length, 1, result.stderr);
    }
  });

  it("a glob leaves out the temporary archive a compression is writing (or a killed one left)", async () => {
    const logs = folder("temporary-archive");
    const set = await writeSet(logs, "audit", [{ time: T1, lines: 3 }, { lines: 2 }]);
    // As the rotation names it: <closed file>.gz.<W>.<8 hex>.tmp, here cut short as kill -9 leaves it.
    const whole = await gzip(new TextEncoder().encode(set.files[0]!.lines.join("")));
    writeFileSync(join(logs, `${set.files[0]!.name}.gz.w1.0badc0de.tmp`), whole.subarray(0, 10));
    for (const glob of ["audit*.jsonl*", `audit.${T1.slice(0, 4)}*`]) {
      const result = await audit(["validate", join(logs, glob)]);
      assert.equal(result.status, 0, `${glob}: ${result.stdout}${result.stderr}`);
      assert.equal(result.stdout, "");
    }
    const shown = await audit(["tail", join(logs, "audit*.jsonl*")]);
    assert.equal(shown.stdout, set.all.join(""), "every event once, in the set's order");
    const only = await audit(["stats", join(logs, "*.tmp")]);
    assert.equal(only.status, 2);
    assert.match(only.stderr, /no data file to read: .*temporary archives/);
  });

  it(
    "a folder's FIFO bearing a set's name is not read (it would wait for a writer forever)",
    { timeout: 30_000 },
    async () => {
      const logs = folder("fifo");
      const set = await writeSet(logs, "audit", [{ time: T1, lines: 3 }, { lines: 2 }]);
      execFileSync("mkfifo", [join(logs, `audit.${T2}.w1.jsonl`)]);
      const result = await audit(["validate", logs]);
      assert.equal(result.status, 0, result.stdout + result.stderr);
      assert.match(result.stderr, /2 files: all 5 lines valid/);
      assert.equal((await audit(["tail", logs])).stdout, set.all.join(""));
    },
  );

  it("never prints the control characters of a name found in a folder", async () => {
    const logs = folder("hostile-names");
    const name = `audit.${T1}.w1.jsonl`.replace("audit", "a\u001b]0;pwned\u0007\u202eb");
    writeFileSync(join(logs, name), '{"not":"an event"}\n');
    writeFileSync(join(logs, `${name.slice(0, -6)}.${T2}.w\u009b1.jsonl`), "x\n");
    const result = await audit(["validate", logs]);
    assert.equal(result.status, 1);
    assert.equal(result.stdout.trim().split("\n").length, 2, "one invalid line in each file");
    // deno-lint-ignore no-control-regex -- looking for control characters is the point
    assert.ok(!/[\u0000-\u0009\u000b-\u001f\u007f-\u009f\u202e]/.test(result.stdout + result.stderr), result.stdout);
    assert.match(result.stdout, /\\u001b\]0;pwned\\u0007\\u202eb/);
  });

  it("audit tail -n N gives the last N events of a set, across its files", async () => {
    const logs = folder("tail-n");
    const set = await writeSet(logs, "audit", [
      { time: T1, lines: 4, gzip: true },
      { time: T2, lines: 1 },
      { time: T3, lines: 2, gzip: true },
      { lines: 1 },
    ]);
    for (const n of [0, 1, 3, 5, 8, 50]) {
      const result = await audit(["tail", "-n", String(n), logs]);
      assert.equal(result.status, 0, result.stderr);
      assert.equal(result.stdout, set.all.slice(set.all.length - n).join(""), `-n ${n}`);
      if (n === 0) assert.equal(result.stdout, "");
    }
    const glob = await audit(["tail", "-n", "2", join(logs, `audit.${T1.slice(0, 4)}*`)]);
    assert.equal(glob.stdout, set.all.slice(5, 7).join(""), "the closed files only");
  });

  it("a compressed file that is cut short or not gzip is an error naming it, in one line", async () => {
    const logs = folder("bad-gzip");
    const set = await writeSet(logs, "audit", [{ time: T1, lines: 50, gzip: true }]);
    const path = join(logs, set.files[0]!.name);
    const whole = readFileSync(path);
    writeFileSync(path, whole.subarray(0, whole.length - 12));
    for (const bytes of [whole.subarray(0, whole.length - 12), new TextEncoder().encode("plain text\n")]) {
      writeFileSync(path, bytes);
      const result = await audit(["stats", logs]);
      assert.equal(result.status, 2);
      assert.match(result.stderr, /^audit: cannot read .*\.jsonl\.gz: not a complete gzip file \(.*\)\n$/);
    }
  });

  it("a listed file compressed since the listing is read from its .gz; one removed is skipped, saying so", async () => {
    const logs = folder("gone");
    const set = await writeSet(logs, "audit", [{ time: T1, lines: 3, gzip: true }, { time: T2, lines: 1 }]);
    const warnings: string[] = [];
    const warn = (text: string) => Promise.resolve(void warnings.push(text));
    const compressed = dataFile(join(logs, set.files[0]!.name.slice(0, -3)), true); // listed plain, now .gz only
    const opened = await open({}, compressed, warn);
    assert.ok(opened !== undefined && opened.file !== STDIN);
    assert.equal(opened.file.path, join(logs, set.files[0]!.name));
    const text = new TextDecoder().decode(
      await new Response(ReadableStream.from(opened.input.chunks({ follow: false })))
        .arrayBuffer(),
    );
    await opened.input.close();
    assert.equal(text, set.files[0]!.lines.join(""));
    assert.deepEqual(warnings, []);
    const removed = dataFile(join(logs, `audit.${T3}.w1.jsonl`), true);
    assert.equal(await open({}, removed, warn), undefined);
    assert.match(
      warnings[0]!,
      /^audit: .*audit\.2026-12-02T05-59-59\.123Z\.w1\.jsonl was removed while the set was read: skipped\n$/,
    );
    await assert.rejects(open({}, { ...removed, listed: false }, warn), /cannot read .*: no such file or directory/);
  });

  it("tail -f over a set follows the active file across a rotation", async () => {
    const logs = folder("follow");
    const set = await writeSet(logs, "audit", [{ time: T1, lines: 2, gzip: true }, { lines: 2 }]);
    const active = join(logs, "audit.jsonl");
    let stdout = "";
    let stderr = "";
    const stop = new AbortController();
    const done = main(["tail", "-f", logs], {
      stdout: (text) => Promise.resolve(void (stdout += text)),
      stderr: (text) => Promise.resolve(void (stderr += text)),
      signal: stop.signal,
    });
    const waitFor = async (what: string, ok: () => boolean) => {
      for (let i = 0; i < 500 && !ok(); i++) await new Promise((resolve) => setTimeout(resolve, 20));
      assert.ok(ok(), `${what}; stdout: ${stdout}; stderr: ${stderr}`);
    };
    try {
      await waitFor("the set so far", () => stdout === set.all.join(""));
      const next = await writeSet(logs, "more", [{ lines: 3 }], undefined, "after");
      const more = next.files[0]!.lines;
      // Rotate: the active file gets its closed name (one more line first), a new active file starts.
      appendFileSync(active, more[0]!);
      renameSync(active, join(logs, `audit.${T2}.w1.jsonl`));
      writeFileSync(active, more.slice(1).join(""));
      await waitFor("the lines after the rotation", () => stdout === set.all.join("") + more.join(""));
      assert.match(stderr, /audit\.jsonl was replaced: reading it from its start/);
    } finally {
      stop.abort();
    }
    assert.equal(await done, 0);
  });
});

describe("tail -n N -f and a long partial last line", () => {
  it("tail -n 1 -f reports a last line still being written, past the line limit, once, and numbers later lines right", async () => {
    const logs = folder("long-partial");
    const path = join(logs, "audit.jsonl");
    // Line 2 is being written when tail starts: 1.5 MiB so far, no newline yet.
    writeFileSync(path, `${line(1)}\n{"x":"${"a".repeat(1.5 * 1024 * 1024)}`);
    let stdout = "";
    let stderr = "";
    const stop = new AbortController();
    const done = main(["tail", "-n", "1", "-f", path], {
      stdout: (text) => Promise.resolve(void (stdout += text)),
      stderr: (text) => Promise.resolve(void (stderr += text)),
      signal: stop.signal,
    });
    const waitFor = async (what: string, ok: () => boolean) => {
      for (let i = 0; i < 500 && !ok(); i++) await new Promise((resolve) => setTimeout(resolve, 20));
      assert.ok(ok(), `${what}; stdout: ${stdout.slice(0, 300)}; stderr: ${stderr.slice(0, 600)}`);
    };
    try {
      await waitFor("the last event so far", () => stdout === `${line(1)}\n`);
      appendFileSync(path, `${"a".repeat(1024)}"}\n${line(3)}\nnot an event\n`);
      await waitFor("the lines after it", () => stdout === `${line(1)}\n${line(3)}\n` && /:4: /.test(stderr));
    } finally {
      stop.abort();
    }
    assert.equal(await done, 0);
    const reports = stderr.trim().split("\n");
    assert.equal(reports.length, 2, stderr);
    assert.match(reports[0]!, /audit\.jsonl:2: longer than the 1048576-byte limit \(1573896 bytes\), skipped$/);
    assert.match(reports[1]!, /audit\.jsonl:4: not valid JSON/);
  });
});
