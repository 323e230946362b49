import { describe, it } from "node:test";
import assert from "node:assert/strict";
import { IoError, pathText, toIoError } from "../../src/runtime/io_error.ts";
import { IoError as FromMod } from "../../mod.ts";
import { IoError as FromFile } from "../../src/destination/file_destination.ts";

describe("toIoError", () => {
  it("is one class, exported by @atd/audit (stdout and stderr fail with it too) and @atd/audit/file", () => {
    assert.equal(FromMod, IoError);
    assert.equal(FromFile, IoError);
  });

  it("maps errno names and Deno's error classes to one code, keeping the cause", () => {
    const cases: [unknown, string, string][] = [
      [
        Object.assign(new Error("ENOENT: no such file or directory, open '/x'"), { code: "ENOENT" }),
        "not_found",
        "no such file or directory",
      ],
      [Object.assign(new Error("x"), { code: "EROFS" }), "permission_denied", "read-only file system"],
      [Object.assign(new Error("x"), { code: "EDQUOT" }), "no_space", "disk quota exceeded"],
      [Object.assign(new Error("x"), { code: "EPIPE" }), "broken_pipe", "broken pipe: the reader has gone"],
      [
        Object.assign(new Error("Requires write access"), { name: "NotCapable" }),
        "permission_denied",
        "permission denied",
      ],
      [Object.assign(new Error("x"), { name: "Interrupted" }), "interrupted", "interrupted by a signal"],
    ];
    for (const [cause, code, reason] of cases) {
      const error = toIoError(cause, "write to", "/x");
      assert.deepEqual([error.code, error.reason, error.path, error.cause], [code, reason, "/x", cause]);
      assert.equal(error.message, `Cannot write to "/x": ${reason}`);
    }
  });

  it("keeps the runtime's first words for anything else, without the path or the call it repeats", () => {
    const deno = toIoError(new Error("Input/output error (os error 5): write '/x'"), "write to", "/x");
    assert.deepEqual([deno.code, deno.reason], ["other", "Input/output error"]);
    const node = toIoError(Object.assign(new Error("EIO: i/o error, write '/x'\nmore"), { code: "EIO" }), "write to");
    assert.deepEqual([node.code, node.reason, node.message], ["other", "i/o error", "Cannot write to: i/o error"]);
    assert.equal(toIoError("a string", "read").reason, "a string");
    const same = new IoError("exists", { action: "rename" });
    assert.equal(toIoError(same, "other action"), same);
  });
});

describe("IoError", () => {
  it("puts the quoted path where the action says, or at its end", () => {
    const inside = new IoError("not_found", { action: "open {path} for reading", path: 'a "b"' });
    assert.equal(inside.message, 'Cannot open "a \\"b\\"" for reading: no such file or directory');
    assert.equal(
      new IoError("no_reader", { action: "open" }).message,
      "Cannot open: no process has the FIFO open for reading",
    );
    assert.equal(new IoError("other", { action: "sync", path: "f", reason: "odd" }).message, 'Cannot sync "f": odd');
  });
});

describe("pathText", () => {
  it("shows a file: URL as its decoded path", () => {
    assert.equal(pathText("/a b"), "/a b");
    assert.equal(pathText(new URL("file:///tmp/a%20b/%E2%9C%93.jsonl")), "/tmp/a b/\u2713.jsonl");
    assert.equal(pathText(new URL("file:///tmp/%E2%9C")), "/tmp/%E2%9C");
  });
});
