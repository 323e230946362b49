import { describe, it } from "node:test";
import assert from "node:assert/strict";
import { execFileSync } from "node:child_process";
import { mkdirSync, readdirSync, readFileSync, renameSync, rmSync, statSync, utimesSync, writeFileSync } from "node:fs";
import { gzipSync } from "node:zlib";
import { join } from "node:path";
import { AuditLossError, encodeCallEvent, JsonLinesAuditSink, readCallEvents } from "../../mod.ts";
import { fileDestination } from "../../src/destination/file_destination.ts";
import { runtime } from "../../src/runtime/runtime.ts";
import { numbered } from "../_helpers/events.ts";
import { callIds, closedPattern, contents, setFiles, setLines } from "./_rotation_files.ts";
import { inTempDir } from "../_helpers/temp_dir.ts";

function inDir(test: (dir: string) => Promise<void> | void): Promise<void> {
  return inTempDir("rotate", test);
}

const ids = (from: number, to: number) => Array.from({ length: to - from }, (_, i) => `call-${from + i}`);

describe("fileDestination rotate: arguments", () => {
  it("fileDestination rejects every malformed rotate field at construction, creating nothing", async () => {
    await inDir((dir) => {
      const path = join(dir, "audit.jsonl");
      const bad: [unknown, ErrorConstructor, RegExp][] = [
        [null, TypeError, /rotate must be an object/],
        [[], TypeError, /rotate must be an object/],
        [{}, TypeError, /needs maxBytes or every/],
        [{ maxBytes: 0 }, RangeError, /maxBytes must be an integer of at least 1, got 0/],
        [{ maxBytes: 1.5 }, RangeError, /maxBytes/],
        [{ maxBytes: "1" }, TypeError, /maxBytes must be a number/],
        [{ every: "week" }, TypeError, /every must be "hour" or "day"/],
        [{ every: "day", keep: -1 }, RangeError, /keep must be an integer of at least 0/],
        [{ every: "day", maxAgeMs: 0 }, RangeError, /maxAgeMs/],
        [{ every: "day", gzip: "yes" }, TypeError, /gzip must be a boolean/],
        [{ every: "day", writerId: "a/b" }, TypeError, /writerId must be 1 to 64/],
        [{ every: "day", writerId: "x".repeat(65) }, TypeError, /writerId/],
        [{ every: "day", now: 5 }, TypeError, /now must be a function/],
        [{ every: "day", maxbytes: 5 }, TypeError, /unknown field "maxbytes"/],
      ];
      for (const [rotate, kind, message] of bad) {
        assert.throws(
          () => fileDestination(path, { rotate: rotate as never }),
          (error: unknown) => error instanceof kind && message.test((error as Error).message),
          JSON.stringify(rotate),
        );
      }
      assert.deepEqual(readdirSync(dir), []);
    });
  });
});

describe("fileDestination rotate: by size", () => {
  it(
    "fileDestination rotates 1,000,000 events by size: no line lost, duplicated or torn, each file within maxBytes plus one batch",
    {
      timeout: 300_000,
    },
    async () => {
      await inDir(async (dir) => {
        const maxBytes = 4 << 20;
        const capacity = 1024;
        const sink = new JsonLinesAuditSink(
          fileDestination(join(dir, "audit.jsonl"), { rotate: { maxBytes, writerId: "w1" } }),
          { backpressure: "block", capacity },
        );
        const event = numbered(0);
        const total = 1_000_000;
        let longest = 0;
        for (let i = 0; i < total; i++) {
          const next = { ...event, call_id: `call-${i}` };
          if (i % 100_000 === 0) longest = Math.max(longest, encodeCallEvent(next).length + 1);
          if (sink.desiredSize <= 0) await sink.ready;
          sink.onCall(next);
        }
        await sink.close();
        assert.equal(sink.stats().written, total);
        const files = setFiles(dir);
        assert.ok(files.length >= 30, `${files.length} files`);
        assert.equal(files.at(-1), "audit.jsonl");
        for (const name of files) {
          const size = statSync(join(dir, name)).size;
          // Within maxBytes plus one batch (a write takes at most `capacity` lines); in fact within maxBytes, as no
          // batch here is larger than it.
          assert.ok(size <= maxBytes + capacity * longest, `${name}: ${size} bytes`);
          assert.ok(size <= maxBytes, `${name}: ${size} bytes`);
          assert.ok(contents(dir, name).endsWith("\n"), `${name} ends with a whole line`);
          assert.match(name, /^audit(\.\d{4}-\d\d-\d\dT\d\d-\d\d-\d\d\.\d{3}Z\.w1(-\d+)?)?\.jsonl$/);
        }
        const lines = setLines(dir);
        assert.equal(lines.length, total);
        const got = callIds(lines);
        for (let i = 0; i < total; i++) if (got[i] !== `call-${i}`) assert.fail(`line ${i} is ${got[i]}`);
      });
    },
  );

  it("fileDestination never overwrites a closed file: a taken name gets -1, and names follow the set's newest by a millisecond at least", async () => {
    await inDir(async (dir) => {
      const now = () => Date.UTC(2026, 11, 2, 5, 59, 59, 123);
      const taken = join(dir, "audit.2026-12-02T05-59-59.124Z.w.jsonl");
      const sink = new JsonLinesAuditSink(
        fileDestination(join(dir, "audit.jsonl"), { rotate: { maxBytes: 10, writerId: "w", now } }),
      );
      for (let i = 0; i < 4; i++) {
        sink.onCall(numbered(i));
        await sink.flush();
        if (i === 1) writeFileSync(taken, "taken\n"); // by someone else, where the next rotation would go
      }
      await sink.close();
      assert.deepEqual(readdirSync(dir).sort(), [
        "audit.2026-12-02T05-59-59.123Z.w.jsonl",
        "audit.2026-12-02T05-59-59.124Z.w-1.jsonl",
        "audit.2026-12-02T05-59-59.124Z.w.jsonl",
        "audit.2026-12-02T05-59-59.125Z.w.jsonl",
        "audit.jsonl",
      ]);
      assert.equal(readFileSync(taken, "utf8"), "taken\n");
      const expected = [["123Z.w", 0], ["124Z.w-1", 1], ["125Z.w", 2]] as const;
      for (const [name, i] of expected) {
        const lines = contents(dir, `audit.2026-12-02T05-59-59.${name}.jsonl`).split("\n").slice(0, -1);
        assert.deepEqual(callIds(lines), [`call-${i}`]);
      }
    });
  });
});

describe("fileDestination rotate: by time", () => {
  it("fileDestination rotates at the UTC day boundary with a fake clock, naming the closed file by when it started", async () => {
    await inDir(async (dir) => {
      let clock = Date.UTC(2026, 11, 1, 23, 59, 58, 500);
      const sink = new JsonLinesAuditSink(
        fileDestination(join(dir, "audit.jsonl"), {
          fsync: true,
          rotate: { every: "day", writerId: "w", now: () => clock },
        }),
      );
      for (let i = 0; i < 3; i++) sink.onCall(numbered(i));
      await sink.flush();
      clock = Date.UTC(2026, 11, 1, 23, 59, 59, 999); // the same day: no rotation
      sink.onCall(numbered(3));
      await sink.flush();
      clock = Date.UTC(2026, 11, 2, 0, 0, 0, 0);
      sink.onCall(numbered(4));
      await sink.flush();
      clock = Date.UTC(2026, 11, 2, 23, 0, 0, 0); // later the same day: no rotation
      sink.onCall(numbered(5));
      await sink.close();
      assert.deepEqual(readdirSync(dir).sort(), ["audit.2026-12-01T23-59-58.500Z.w.jsonl", "audit.jsonl"]);
      assert.deepEqual(callIds(setLines(dir)), ids(0, 6));
      assert.deepEqual(callIds(contents(dir, "audit.jsonl").split("\n").slice(0, -1)), ids(4, 6));
    });
  });

  it("fileDestination rotates hourly, and rotates a file left from an earlier hour at the first write", async () => {
    await inDir(async (dir) => {
      writeFileSync(join(dir, "audit.jsonl"), `${encodeCallEvent(numbered(100))}\n`);
      const then = new Date(Date.UTC(2026, 11, 2, 3, 15, 0, 123)); // last written in an earlier hour
      utimesSync(join(dir, "audit.jsonl"), then, then);
      let clock = Date.UTC(2026, 11, 2, 4, 59, 0);
      const sink = new JsonLinesAuditSink(
        fileDestination(join(dir, "audit.jsonl"), { rotate: { every: "hour", writerId: "w", now: () => clock } }),
      );
      sink.onCall(numbered(0));
      await sink.flush();
      clock = Date.UTC(2026, 11, 2, 5, 0, 0);
      sink.onCall(numbered(1));
      await sink.close();
      assert.deepEqual(readdirSync(dir).sort(), [
        "audit.2026-12-02T03-15-00.123Z.w.jsonl",
        "audit.2026-12-02T04-59-00.000Z.w.jsonl",
        "audit.jsonl",
      ]);
      assert.deepEqual(callIds(setLines(dir)), ["call-100", "call-0", "call-1"]);
    });
  });
});

describe("fileDestination rotate: a clock that jumps", () => {
  it("fileDestination rotates hourly on after the clock jumped a day ahead and was set back, names still in order", async () => {
    await inDir(async (dir) => {
      let clock = Date.UTC(2026, 11, 2, 10, 30);
      const sink = new JsonLinesAuditSink(
        fileDestination(join(dir, "audit.jsonl"), { rotate: { every: "hour", writerId: "w", now: () => clock } }),
      );
      const write = async (i: number) => {
        sink.onCall(numbered(i));
        await sink.flush();
      };
      await write(0);
      clock += 24 * 3_600_000; // a day ahead (a wrong clock)
      await write(1);
      clock -= 24 * 3_600_000 - 60_000; // set right again: 10:31, the first file's hour, before the second file's
      await write(2);
      for (let i = 3; i < 6; i++) {
        clock += 3_600_000; // then each hour
        await write(i);
      }
      await sink.close();
      const files = setFiles(dir);
      assert.deepEqual(files, [
        "audit.2026-12-02T10-30-00.000Z.w.jsonl",
        "audit.2026-12-03T10-30-00.000Z.w.jsonl",
        "audit.2026-12-03T10-30-00.001Z.w.jsonl",
        "audit.2026-12-03T10-30-00.002Z.w.jsonl",
        "audit.2026-12-03T10-30-00.003Z.w.jsonl",
        "audit.jsonl",
      ]);
      assert.deepEqual(files.map((name) => callIds(contents(dir, name).split("\n").slice(0, -1))), [
        ["call-0"],
        ["call-1"],
        ["call-2"],
        ["call-3"],
        ["call-4"],
        ["call-5"],
      ]);
    });
  });
});

describe("fileDestination rotate: retention and compression", () => {
  it("fileDestination keeps the newest closed files of every writer, compressed, readable by readCallEvents and gzip -d", async () => {
    await inDir(async (dir) => {
      // Files an earlier process (another writer id) left: the oldest of the set, pruned too.
      writeFileSync(join(dir, "audit.2026-01-01T00-00-00.000Z.999.jsonl"), `${encodeCallEvent(numbered(-2))}\n`);
      writeFileSync(join(dir, "audit.2026-01-01T00-00-00.000Z.999.jsonl.seal"), "");
      writeFileSync(join(dir, "audit.2026-01-02T00-00-00.000Z.999.jsonl.gz"), "");
      writeFileSync(join(dir, "other.2026-01-01T00-00-00.000Z.999.jsonl"), "not of the set\n");
      let clock = Date.UTC(2026, 11, 2, 0, 0, 0);
      const sink = new JsonLinesAuditSink(
        fileDestination(join(dir, "audit.jsonl"), {
          rotate: { maxBytes: 1, keep: 3, gzip: true, writerId: "w", now: () => clock++ },
        }),
      );
      for (let i = 0; i < 8; i++) {
        sink.onCall(numbered(i));
        await sink.flush();
      }
      await sink.close();
      const names = readdirSync(dir).sort();
      const pattern = closedPattern("audit", ".jsonl");
      assert.deepEqual(
        names.map((name) => (pattern.test(name) ? name.replace(pattern, "closed.$2.jsonl$3") : name)).sort(),
        [
          "audit.jsonl",
          "closed.w.jsonl.gz",
          "closed.w.jsonl.gz",
          "closed.w.jsonl.gz",
          "other.2026-01-01T00-00-00.000Z.999.jsonl",
        ],
      );
      const archives = setFiles(dir).filter((name) => name.endsWith(".gz"));
      const read: string[] = [];
      for (const name of archives) {
        const bytes = readFileSync(join(dir, name));
        const stream = new Blob([bytes]).stream().pipeThrough(new DecompressionStream("gzip"));
        for await (const event of readCallEvents(stream)) read.push(event.call_id);
        const viaGzip = execFileSync("gzip", ["-dc", join(dir, name)], { encoding: "utf8" });
        assert.equal(viaGzip, contents(dir, name));
      }
      assert.deepEqual(read, ids(4, 7));
      assert.deepEqual(callIds(contents(dir, "audit.jsonl").split("\n").slice(0, -1)), ["call-7"]);
    });
  });

  it("fileDestination removes closed files older than maxAgeMs, and keeps younger ones and other sets", async () => {
    await inDir(async (dir) => {
      const old = join(dir, "audit.2026-01-01T00-00-00.000Z.7.jsonl.gz");
      const young = join(dir, "audit.2026-01-02T00-00-00.000Z.7.jsonl");
      const otherSet = join(dir, "audit2.2026-01-01T00-00-00.000Z.7.jsonl");
      for (const path of [old, young, otherSet, `${old.slice(0, -3)}.seal`]) writeFileSync(path, "");
      const now = Date.now();
      for (const path of [old, otherSet, `${old.slice(0, -3)}.seal`]) {
        utimesSync(path, new Date(now - 3_600_000), new Date(now - 3_600_000));
      }
      const destination = fileDestination(join(dir, "audit.jsonl"), {
        rotate: { every: "day", maxAgeMs: 600_000, writerId: "w" },
      });
      const sink = new JsonLinesAuditSink(destination);
      sink.onCall(numbered(0));
      await sink.close(); // waits for the tidying that construction started
      assert.deepEqual(readdirSync(dir).sort(), [
        "audit.2026-01-02T00-00-00.000Z.7.jsonl",
        "audit.jsonl",
        "audit2.2026-01-01T00-00-00.000Z.7.jsonl",
      ]);
    });
  });
});

describe("fileDestination rotate: another writer of the same path", () => {
  it("fileDestination never rotates a file that replaced its own at the path, and says its own was moved or removed", async () => {
    await inDir(async (dir) => {
      const path = join(dir, "audit.jsonl");
      const told: string[] = [];
      const now = () => Date.UTC(2026, 11, 2, 10, 0, 0);
      const sink = new JsonLinesAuditSink(
        fileDestination(path, { rotate: { maxBytes: 1, writerId: "w", now } }),
        { onError: (error) => void told.push(String(error)) },
      );
      sink.onCall(numbered(0));
      await sink.flush();
      // Another writer rotated it (or logrotate moved it and created a new one, without reopen()).
      renameSync(path, join(dir, "theirs.jsonl"));
      writeFileSync(path, "their line\n");
      sink.onCall(numbered(1)); // due: the path is not the file written, so it is not rotated
      await sink.flush();
      rmSync(path); // removed this time
      sink.onCall(numbered(2));
      await sink.close();
      assert.deepEqual(readdirSync(dir).sort(), ["audit.jsonl", "theirs.jsonl"]);
      assert.deepEqual(callIds(readFileSync(join(dir, "theirs.jsonl"), "utf8").split("\n").slice(0, -1)), ["call-0"]);
      assert.deepEqual(callIds(contents(dir, "audit.jsonl").split("\n").slice(0, -1)), ["call-2"]);
      assert.equal(told.length, 1, told.join("\n"));
      assert.match(told[0]!, /audit\.jsonl" was moved or removed by someone else while it was written/);
    });
  });

  it("fileDestination tells each write lost to a removed folder once: as its loss, not also as a warning", async () => {
    await inDir(async (dir) => {
      const folder = join(dir, "logs");
      mkdirSync(folder);
      const told: unknown[] = [];
      const sink = new JsonLinesAuditSink(
        fileDestination(join(folder, "audit.jsonl"), { rotate: { maxBytes: 1, writerId: "w" } }),
        { onError: (error) => void told.push(error) },
      );
      sink.onCall(numbered(0));
      await sink.flush();
      rmSync(folder, { recursive: true });
      for (let i = 1; i <= 3; i++) {
        sink.onCall(numbered(i));
        await sink.flush();
      }
      await sink.close();
      const s = sink.stats();
      assert.deepEqual([s.written, s.failed], [1, 3]);
      const losses = told.filter((e) => e instanceof AuditLossError);
      assert.equal(losses.length, 3, told.map(String).join("\n"));
      const others = told.filter((e) => !(e instanceof AuditLossError)).map(String);
      assert.ok(others.length <= 1, others.join("\n"));
      for (const other of others) assert.match(other, /was moved or removed by someone else/);
    });
  });

  it("fileDestination rotates where the runtime cannot tell files apart (no identity: Windows under Deno)", async () => {
    await inDir(async (dir) => {
      const driver = runtime();
      const stat = driver.stat;
      driver.stat = async (path) => ({ ...(await stat.call(driver, path)), identity: undefined });
      try {
        const sink = new JsonLinesAuditSink(
          fileDestination(join(dir, "audit.jsonl"), { rotate: { maxBytes: 1, writerId: "w" } }),
          { onError: (error) => assert.fail(String(error)) },
        );
        for (let i = 0; i < 3; i++) {
          sink.onCall(numbered(i));
          await sink.flush();
        }
        await sink.close();
      } finally {
        driver.stat = stat;
      }
      assert.equal(setFiles(dir).length, 3);
      assert.deepEqual(callIds(setLines(dir)), ids(0, 3));
    });
  });

  it("two rotating destinations of one process on the same path lose no line: names are never taken twice", async () => {
    for (const gzip of [false, true]) {
      await inDir(async (dir) => {
        const path = join(dir, "audit.jsonl");
        const now = () => Date.UTC(2026, 11, 2, 10, 0, 0);
        const sinks = ["a", "b"].map(() =>
          new JsonLinesAuditSink(fileDestination(path, { rotate: { maxBytes: 1, writerId: "w", gzip, now } }), {
            onError: () => {},
          })
        );
        for (let i = 0; i < 30; i++) {
          sinks[0]!.onCall({ ...numbered(i), call_id: `a-${i}` });
          sinks[1]!.onCall({ ...numbered(i), call_id: `b-${i}` });
          if (i % 3 === 2) await Promise.all(sinks.map((sink) => sink.flush()));
        }
        await Promise.all(sinks.map((sink) => sink.close()));
        const got = new Set(callIds(setLines(dir)));
        const want = ["a", "b"].flatMap((p) => Array.from({ length: 30 }, (_, i) => `${p}-${i}`));
        assert.deepEqual(want.filter((id) => !got.has(id)), [], `gzip ${gzip}`);
      });
    }
  });
});

describe("fileDestination rotate: files that are not regular files", () => {
  it("fileDestination refuses rotate for a device at construction: it cannot be renamed away", () => {
    assert.throws(
      () => fileDestination("/dev/null", { rotate: { maxBytes: 10 } }),
      (error: unknown) =>
        error instanceof TypeError &&
        /"\/dev\/null": rotate needs a regular file, not a character device/.test(error.message),
    );
  });

  it("fileDestination close() ends when the set's folder holds a FIFO bearing a closed file's name (gzip)", {
    timeout: 30_000,
  }, async () => {
    await inDir(async (dir) => {
      const fifo = join(dir, "audit.2026-01-01T00-00-00.000Z.x.jsonl");
      execFileSync("mkfifo", [fifo]);
      const sink = new JsonLinesAuditSink(
        fileDestination(join(dir, "audit.jsonl"), { rotate: { maxBytes: 1, gzip: true, writerId: "w" } }),
      );
      for (let i = 0; i < 3; i++) {
        sink.onCall(numbered(i));
        await sink.flush();
      }
      await sink.close(); // compressing the FIFO would wait for a writer forever
      assert.equal(sink.stats().written, 3);
      assert.ok(statSync(fifo).isFIFO());
      rmSync(fifo);
      assert.deepEqual(callIds(setLines(dir)), ids(0, 3));
    });
  });
});

describe("fileDestination rotate: what a killed compression left", () => {
  it("fileDestination compresses a closed file left plain and removes stale temporary archives, keeping fresh ones", async () => {
    await inDir(async (dir) => {
      const left = "audit.2026-12-01T00-00-00.000Z.1.jsonl";
      writeFileSync(join(dir, left), `${encodeCallEvent(numbered(0))}\n`);
      // A compression killed after its rename: both names, the same lines.
      const both = "audit.2026-12-01T01-00-00.000Z.1.jsonl";
      writeFileSync(join(dir, both), `${encodeCallEvent(numbered(1))}\n`);
      writeFileSync(join(dir, `${both}.gz`), gzipSync(`${encodeCallEvent(numbered(1))}\n`));
      const stale = `${left}.gz.1.0123abcd.tmp`;
      const fresh = `${left}.gz.2.4567cdef.tmp`;
      const foreign = "notes.gz.1.0123abcd.tmp";
      for (const name of [stale, fresh, foreign]) writeFileSync(join(dir, name), "partial");
      const hourAgo = new Date(Date.now() - 3_600_000);
      for (const name of [stale, foreign]) utimesSync(join(dir, name), hourAgo, hourAgo);
      const sink = new JsonLinesAuditSink(
        fileDestination(join(dir, "audit.jsonl"), { rotate: { every: "day", gzip: true, writerId: "w" } }),
      );
      await sink.close();
      assert.deepEqual(readdirSync(dir).sort(), [`${left}.gz`, `${both}.gz`, fresh, "audit.jsonl", foreign].sort());
      assert.deepEqual(callIds(contents(dir, `${left}.gz`).split("\n").slice(0, -1)), ["call-0"]);
    });
  });
});

describe("fileDestination rotate without a sink", () => {
  it("fileDestination rotates when written as a plain WritableStream, between writes", async () => {
    await inDir(async (dir) => {
      const writer = fileDestination(join(dir, "audit.jsonl"), { rotate: { maxBytes: 100, writerId: "p" } })
        .getWriter();
      const encoder = new TextEncoder();
      const lines = Array.from({ length: 6 }, (_, i) => encodeCallEvent(numbered(i)) + "\n");
      await writer.write(encoder.encode(lines[0]! + lines[1]!)); // one batch over maxBytes: one file
      for (const line of lines.slice(2)) await writer.write(encoder.encode(line));
      await writer.close();
      const files = setFiles(dir);
      assert.equal(files.length, 5);
      assert.deepEqual(files.map((name) => contents(dir, name).split("\n").length - 1), [2, 1, 1, 1, 1]);
      assert.deepEqual(callIds(setLines(dir)), ids(0, 6));
    });
  });
});

describe("fileDestination reopen", () => {
  it("fileDestination reopen() after an external mv writes the next lines to a new file at the configured path", async () => {
    await inDir(async (dir) => {
      const path = join(dir, "audit.jsonl");
      const destination = fileDestination(path);
      const sink = new JsonLinesAuditSink(destination);
      sink.onCall(numbered(0));
      await sink.flush();
      renameSync(path, join(dir, "audit.jsonl.1"));
      sink.onCall(numbered(1)); // still the moved file: nobody said reopen
      await sink.flush();
      destination.reopen();
      sink.onCall(numbered(2));
      await sink.flush();
      destination.reopen(); // not moved this time: the same file goes on
      sink.onCall(numbered(3));
      await sink.close();
      assert.deepEqual(callIds(readFileSync(join(dir, "audit.jsonl.1"), "utf8").split("\n").slice(0, -1)), ids(0, 2));
      assert.deepEqual(callIds(readFileSync(path, "utf8").split("\n").slice(0, -1)), ids(2, 4));
    });
  });

  it("fileDestination reopen() onto a new file that ends mid-line starts on a fresh line, and says so", async () => {
    await inDir(async (dir) => {
      const path = join(dir, "audit.jsonl");
      const destination = fileDestination(path);
      const errors: unknown[] = [];
      const sink = new JsonLinesAuditSink(destination, { onError: (error) => errors.push(error) });
      sink.onCall(numbered(0));
      await sink.flush();
      renameSync(path, join(dir, "audit.jsonl.1"));
      const torn = '{"ts":"2026-05-29T10:00:00+00:00","call_id":"crashed-wri';
      writeFileSync(path, torn); // another writer made the new file and died mid-line
      destination.reopen();
      const event = numbered(1);
      sink.onCall(event);
      await sink.close();
      assert.equal(readFileSync(path, "utf8"), `${torn}\n${encodeCallEvent(event)}\n`);
      assert.equal(errors.length, 1, errors.map(String).join("\n"));
      assert.match(String(errors[0]), /ended mid-line/);
    });
  });

  it("fileDestination reopen() with rotate starts the new file's time afresh", async () => {
    await inDir(async (dir) => {
      const path = join(dir, "audit.jsonl");
      let clock = Date.UTC(2026, 11, 2, 10, 0, 0);
      const destination = fileDestination(path, { rotate: { maxBytes: 1 << 20, writerId: "w", now: () => clock } });
      const sink = new JsonLinesAuditSink(destination);
      sink.onCall(numbered(0));
      await sink.flush();
      renameSync(path, join(dir, "moved.jsonl"));
      destination.reopen();
      clock += 1000;
      sink.onCall(numbered(1));
      await sink.close();
      assert.deepEqual(readdirSync(dir).sort(), ["audit.jsonl", "moved.jsonl"]);
      assert.deepEqual(callIds(setLines(dir)), ["call-1"]);
    });
  });
});
