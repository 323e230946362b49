// `audit validate` in-process, through main(args, io).
import { describe, it } from "node:test";
import assert from "node:assert/strict";
import { main } from "../../src/cli/main.ts";
import { jsonForTerminal, terminalSafe } from "../../src/cli/_format.ts";
import { IoError } from "../../src/runtime/io_error.ts";
import { mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { generateAuditSealKey } from "../../src/seal/generate_audit_seal_key.ts";
import { importAuditSealKey } from "../../src/seal/audit_seal_key.ts";
import { dataLines, sealTrail } from "../seal/_trail.ts";
import { line } from "./_cli.ts";

/** stdin holding `text`, in one chunk. */
function stdinOf(text: string): () => ReadableStream<Uint8Array> {
  return () =>
    new ReadableStream({
      start(controller) {
        controller.enqueue(new TextEncoder().encode(text));
        controller.close();
      },
    });
}

describe("audit validate", () => {
  it("exits 1 for invalid lines even when stdout closes early (audit validate | head -1)", async () => {
    // 3,000 invalid lines: more than one 64 KiB write of reports.
    const text = Array.from({ length: 3_000 }, (_, i) => (i % 2 ? line(i) : `{"not":"an event ${i}"}`)).join("\n");
    let writes = 0;
    const stderr: string[] = [];
    const status = await main(["validate"], {
      stdin: stdinOf(text + "\n"),
      stdout: () => {
        writes++;
        return Promise.reject(new IoError("broken_pipe", { action: "write to", path: "<stdout>" }));
      },
      stderr: (t) => {
        stderr.push(t);
        return Promise.resolve();
      },
    });
    assert.equal(status, 1);
    assert.equal(writes, 1, "nothing more is written once stdout is gone");
    assert.match(stderr.join(""), /1500 of 3000 lines invalid/);
  });

  it("exits 0 for a valid file whose output nobody reads", async () => {
    const status = await main(["validate"], {
      stdin: stdinOf(`${line(1)}\n${line(2)}\n`),
      stdout: () => Promise.reject(new IoError("broken_pipe", { action: "write to" })),
      stderr: () => Promise.resolve(),
    });
    assert.equal(status, 0);
  });
});

describe("audit verify and a reader that goes away", () => {
  it("audit verify exits 1 for a log that is not intact even when stdout closes early (audit verify | head -1)", async () => {
    const dir = mkdtempSync(join(tmpdir(), "audit-verify-pipe-"));
    try {
      const pair = await generateAuditSealKey();
      const key = await importAuditSealKey(pair.privateJwk);
      const trail = await sealTrail(key, [4, 4]);
      const lines = dataLines(trail);
      lines[1] = lines[1]!.replace('"agent-A"', '"agent-B"'); // an edited line
      writeFileSync(join(dir, "audit.jsonl"), lines.join(""));
      writeFileSync(join(dir, "audit.jsonl.seal"), trail.checkpoints.join(""));
      writeFileSync(join(dir, "public.jwk"), JSON.stringify(pair.publicJwk));
      const args = ["verify", join(dir, "audit.jsonl"), "--key", join(dir, "public.jwk")];
      const read = await main(args, { stdout: () => Promise.resolve(), stderr: () => Promise.resolve() });
      assert.equal(read, 1, "not intact");
      const gone = await main(args, {
        stdout: () => Promise.reject(new IoError("broken_pipe", { action: "write to", path: "<stdout>" })),
        stderr: () => Promise.resolve(),
      });
      assert.equal(gone, 1, "still not intact when nobody reads the findings");
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });
});

describe("audit output on a terminal", () => {
  it("main never echoes a file name's control characters raw (found by a hostile test)", async () => {
    const stderr: string[] = [];
    const name = "/nonexistent/\u001b]0;pwned\u0007\u009b31m\u202eevil.jsonl";
    const status = await main(["validate", name], {
      stdout: () => Promise.resolve(),
      stderr: (t) => {
        stderr.push(t);
        return Promise.resolve();
      },
    });
    assert.equal(status, 2);
    const text = stderr.join("");
    assert.match(text, /^audit: cannot read /);
    // deno-lint-ignore no-control-regex -- looking for control characters is the point
    assert.ok(!/[\u0000-\u0009\u000b-\u001f\u007f-\u009f\u202e]/.test(text), JSON.stringify(text));
  });

  it("terminalSafe escapes every bidi formatting character, the Arabic letter mark U+061C too", () => {
    // Unicode's bidi controls (UAX #9): ALM, LRM, RLM, the embeddings and overrides, the isolates.
    const controls = "\u061c\u200e\u200f\u202a\u202b\u202c\u202d\u202e\u2066\u2067\u2068\u2069";
    const safe = terminalSafe(`fs.read${controls}`);
    assert.ok(!/[\u061c\u200e\u200f\u202a-\u202e\u2066-\u2069]/.test(safe), JSON.stringify(safe));
    assert.match(safe, /^fs\.read\\u061c\\u200e/);
  });

  it("jsonForTerminal escapes what a terminal acts on and reads back as the same JSON value", () => {
    const value = { tool_id: "a\u009b31mb\u202ec\u2028d\u007fe", code: "ok" };
    const line = JSON.stringify(value);
    const safe = jsonForTerminal(line);
    assert.ok(!/[\u007f-\u009f\u202e\u2028]/.test(safe), safe);
    assert.deepEqual(JSON.parse(safe), value);
  });
});

describe("audit tail's reports", () => {
  it("main resolves only once every report reached a slow stderr, in order", async () => {
    const text = [line(1), "not json", line(2), '{"tool_id":"x"}', line(3)].join("\n") + "\n";
    const written: string[] = [];
    const status = await main(["tail"], {
      stdin: stdinOf(text),
      stdout: () => Promise.resolve(),
      // Each write takes a few turns of the event loop, as a pipe's does when its reader is slow.
      stderr: async (t) => {
        await new Promise((resolve) => setTimeout(resolve, 20));
        written.push(t);
      },
    });
    assert.equal(status, 0);
    const reports = written.join("").split("\n").slice(0, -1); // several reports may go out in one write
    assert.equal(reports.length, 2, written.join(""));
    assert.match(reports[0]!, /^audit: <stdin>:2: /);
    assert.match(reports[1]!, /^audit: <stdin>:4: /);
  });
});

describe("audit tail's output", () => {
  it("audit tail without -n prints events as it reads them, holding none of a file's events until its end", async () => {
    const chunk = new TextEncoder().encode(Array.from({ length: 1000 }, (_, i) => line(i) + "\n").join(""));
    let printed = 0;
    let printedBeforeEnd: number | undefined;
    let pulls = 0;
    const status = await main(["tail"], {
      // Two chunks, each given only when asked for (highWaterMark 0): the second is asked for
      // once the events of the first were handled.
      stdin: () =>
        new ReadableStream<Uint8Array>({
          pull(controller) {
            if (pulls++ === 0) return controller.enqueue(chunk.slice());
            printedBeforeEnd = printed;
            controller.close();
          },
        }, { highWaterMark: 0 }),
      stdout: (text) => Promise.resolve(void (printed += text.length)),
      stderr: () => Promise.resolve(),
    });
    assert.equal(status, 0);
    assert.equal(printed, chunk.length, "every event printed, byte for byte");
    // Output goes out in writes of at least 64 KiB: most of the ~300 KB is out before the input ends.
    assert.ok(printedBeforeEnd! >= chunk.length - 64 * 1024, `${printedBeforeEnd} of ${chunk.length}`);
  });
});

/**
 * stdin giving `chunk`, then ending, each only when asked for (highWaterMark 0):
 * the end is asked for once what the chunk's lines led to was handled.
 * `atEnd` runs as the end is asked for.
 */
function twoStep(chunk: Uint8Array, atEnd: () => void): () => ReadableStream<Uint8Array> {
  let pulls = 0;
  return () =>
    new ReadableStream<Uint8Array>({
      pull(controller) {
        if (pulls++ === 0) return controller.enqueue(chunk.slice());
        atEnd();
        controller.close();
      },
    }, { highWaterMark: 0 });
}

describe("audit reports of invalid lines", () => {
  const garbage = new TextEncoder().encode("not an event\n".repeat(3000));

  it("audit validate prints the reports of a chunk of invalid lines before it reads on, holding none until the end", async () => {
    let printed = "";
    let printedBeforeEnd = -1;
    const status = await main(["validate"], {
      stdin: twoStep(garbage, () => void (printedBeforeEnd = printed.length)),
      stdout: (text) => Promise.resolve(void (printed += text)),
      stderr: () => Promise.resolve(),
    });
    assert.equal(status, 1);
    assert.equal(printed.split("\n").length - 1, 3000, "one report a line");
    // Output goes out in writes of at least 64 KiB: most of it before the input ends.
    assert.ok(printedBeforeEnd >= printed.length - 64 * 1024, `${printedBeforeEnd} of ${printed.length}`);
  });

  it("audit tail tells the reports of a chunk of invalid lines before it reads on, holding none until the end", async () => {
    let told = "";
    let toldBeforeEnd = -1;
    const status = await main(["tail"], {
      stdin: twoStep(garbage, () => void (toldBeforeEnd = told.length)),
      stdout: () => Promise.resolve(),
      stderr: (text) => Promise.resolve(void (told += text)),
    });
    assert.equal(status, 0);
    assert.equal(told.split("\n").length - 1, 3000, "one report a line");
    assert.equal(toldBeforeEnd, told.length, "every report told before the end was read");
  });
});
