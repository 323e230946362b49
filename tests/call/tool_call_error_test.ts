import { describe, it } from "node:test";
import assert from "node:assert/strict";
import { outcomeOfError, ToolCallError, UNKNOWN_ERROR_CODE } from "../../mod.ts";

describe("ToolCallError", () => {
  it("carries each failure outcome, with defaults and a message built from it", () => {
    const cases = [
      [{ kind: "execution_failed", code: "HTTP_502" }, {
        kind: "execution_failed",
        code: "HTTP_502",
        retryable: false,
      }],
      [{ kind: "execution_failed", code: "T", retryable: true }, {
        kind: "execution_failed",
        code: "T",
        retryable: true,
      }],
      [{ kind: "invalid_args", message: "path is required" }, { kind: "invalid_args", message: "path is required" }],
      [{ kind: "capability_denied", missing: ["fs:write"] }, { kind: "capability_denied", missing: ["fs:write"] }],
      [{ kind: "rate_limited" }, { kind: "rate_limited", retry_after_ms: null }],
      [{ kind: "rate_limited", retry_after_ms: 1000 }, { kind: "rate_limited", retry_after_ms: 1000 }],
      [{ kind: "tool_not_found" }, { kind: "tool_not_found" }],
    ] as const;
    for (const [given, expected] of cases) {
      const error = new ToolCallError(given);
      assert.deepEqual(error.outcome, expected);
      assert.equal(error.kind, expected.kind);
      assert.equal(error.name, "ToolCallError");
      assert.ok(error instanceof Error);
      assert.ok(Object.isFrozen(error.outcome));
      assert.ok(error.message.length > 0);
    }
    assert.equal(
      new ToolCallError({ kind: "capability_denied", missing: ["a", "b"] }).message,
      "Capability denied: missing a, b",
    );
    assert.equal(new ToolCallError({ kind: "tool_not_found" }, { message: "No tool x" }).message, "No tool x");
    const cause = new Error("root");
    assert.equal(new ToolCallError({ kind: "tool_not_found" }, { cause }).cause, cause);
  });

  it("copies missing, so a later change to the caller's array does not show", () => {
    const missing = ["a"];
    const error = new ToolCallError({ kind: "capability_denied", missing });
    missing.push("b");
    assert.deepEqual(error.outcome, { kind: "capability_denied", missing: ["a"] });
  });

  it("rejects shapes that are not failure outcomes", () => {
    const bad: unknown[] = [
      null,
      "tool_not_found",
      { kind: "success" },
      { kind: "nope" },
      { kind: "execution_failed" },
      { kind: "execution_failed", code: "X", retryable: "no" },
      { kind: "invalid_args", message: 5 },
      { kind: "capability_denied", missing: "fs:write" },
      { kind: "capability_denied", missing: [1] },
    ];
    for (const outcome of bad) {
      assert.throws(() => new ToolCallError(outcome as never), TypeError, JSON.stringify(outcome));
    }
    for (const retry_after_ms of [-1, 1.5, Number.MAX_SAFE_INTEGER + 1, NaN]) {
      assert.throws(() => new ToolCallError({ kind: "rate_limited", retry_after_ms }), RangeError);
    }
  });

  it("names the field and what it got without converting it (a Symbol, a toString that throws)", () => {
    const hostile = {
      toString() {
        throw new Error("toString");
      },
    };
    const cases: [unknown, RegExp][] = [
      [Symbol("outcome"), /outcome must be an object, got a symbol$/],
      [hostile, /outcome\.kind must be a failure kind, got undefined$/],
      [{ kind: hostile }, /outcome\.kind must be a failure kind, got an object$/],
      [{ kind: "rate_limited", retry_after_ms: Symbol("ms") }, /retry_after_ms must be .* or null, got a symbol$/],
      [{ kind: "rate_limited", retry_after_ms: hostile }, /retry_after_ms must be .* or null, got an object$/],
      [{ kind: "rate_limited", retry_after_ms: -1 }, /retry_after_ms must be .* or null, got -1$/],
    ];
    for (const [outcome, message] of cases) {
      assert.throws(() => new ToolCallError(outcome as never), (e: Error) => {
        assert.ok(e instanceof TypeError || e instanceof RangeError);
        assert.match(e.message, message);
        return true;
      });
    }
  });

  it("outcomeOf reads no property: proxies and throwing getters give undefined, subclasses their outcome", () => {
    let trapped = 0;
    const proxy = new Proxy(new ToolCallError({ kind: "tool_not_found" }), {
      get() {
        trapped++;
        throw new Error("trap");
      },
      getPrototypeOf() {
        trapped++;
        throw new Error("trap");
      },
    });
    assert.equal(ToolCallError.outcomeOf(proxy), undefined);
    assert.equal(trapped, 0);
    class Denied extends ToolCallError {
      constructor() {
        super({ kind: "capability_denied", missing: ["net"] });
      }
    }
    assert.deepEqual(ToolCallError.outcomeOf(new Denied()), { kind: "capability_denied", missing: ["net"] });
    for (const value of [undefined, null, 0, "x", Symbol("s"), () => {}]) {
      assert.equal(ToolCallError.outcomeOf(value), undefined);
    }
  });
});

describe("outcomeOfError", () => {
  it("takes code, else name, else UNKNOWN_ERROR, always retryable: false", () => {
    const cases: [unknown, string][] = [
      [Object.assign(new Error("x"), { code: "ENOENT" }), "ENOENT"],
      [Object.assign(new Error("x"), { code: -32603 }), "-32603"],
      [Object.assign(new Error("x"), { code: "" }), "Error"],
      [Object.assign(new Error("x"), { code: NaN }), "Error"],
      [Object.assign(new Error("x"), { code: { nested: true } }), "Error"],
      [new TypeError("x"), "TypeError"],
      [Object.assign(new Error("x"), { name: "" }), UNKNOWN_ERROR_CODE],
      [{ code: "E_PLAIN" }, "E_PLAIN"],
      [Object.create(null), UNKNOWN_ERROR_CODE],
      ["a string", UNKNOWN_ERROR_CODE],
      [undefined, UNKNOWN_ERROR_CODE],
      [12n, UNKNOWN_ERROR_CODE],
    ];
    for (const [error, code] of cases) {
      assert.deepEqual(outcomeOfError(error), { kind: "execution_failed", code, retryable: false });
    }
  });

  it("survives hostile errors: throwing getters, proxies that throw on every trap, revoked proxies", () => {
    const getters = Object.defineProperties(new Error("x"), {
      code: {
        get() {
          throw new Error("code getter");
        },
      },
      name: {
        get() {
          throw new Error("name getter");
        },
      },
    });
    const everyTrap = new Proxy({}, {
      get() {
        throw new Error("get");
      },
      has() {
        throw new Error("has");
      },
      getPrototypeOf() {
        throw new Error("proto");
      },
      getOwnPropertyDescriptor() {
        throw new Error("gopd");
      },
    });
    const { proxy: revoked, revoke } = Proxy.revocable({}, {});
    revoke();
    for (const error of [getters, everyTrap, revoked]) {
      assert.deepEqual(outcomeOfError(error), { kind: "execution_failed", code: UNKNOWN_ERROR_CODE, retryable: false });
    }
  });

  it("reads code and name once each and calls nothing on the error", () => {
    const reads: string[] = [];
    const error = new Proxy({ name: "Counted" }, {
      get(target, key) {
        reads.push(String(key));
        return Reflect.get(target, key);
      },
    });
    assert.equal((outcomeOfError(error) as { code: string }).code, "Counted");
    assert.deepEqual(reads, ["code", "name"]);
  });
});
