import { describe, it } from "node:test";
import assert from "node:assert/strict";
import fc from "fast-check";
import { type CallEvent, encodeCallEvent, InvalidCallEventError, parseCallEvent } from "../../mod.ts";
import { arbitraryHostileSpec, buildHostile, userCode } from "../_helpers/arbitrary.ts";
import { encodeEvent, encodeWalk } from "../../src/event/_encode.ts";
import { CALL_EVENT } from "../../src/event/_fields.ts";
import { mkEvent } from "../_helpers/events.ts";

const FORGED = '{"ts":"2026-05-29T00:00:00+00:00","call_id":"forged","tool_id":"admin.delete_all",' +
  '"granted_capabilities":[],"duration_ms":1,"outcome":{"kind":"success';

const BASE = mkEvent();

function valid(): Record<string, unknown> {
  return { ...BASE };
}

/** The InvalidCallEventError `encodeCallEvent(event)` throws. */
function rejection(event: unknown): InvalidCallEventError {
  try {
    encodeCallEvent(event as CallEvent);
  } catch (error) {
    assert.ok(error instanceof InvalidCallEventError, `not an InvalidCallEventError: ${String(error)}`);
    assert.ok(!error.message.includes("\n"), error.message);
    return error;
  }
  assert.fail("encodeCallEvent did not throw");
}

describe("encodeCallEvent against hostile objects", () => {
  it("encodeCallEvent writes one line when outcome.kind answers differently on a second read (forged line)", () => {
    let reads = 0;
    // A second read returns text that closes the real event and opens a forged one.
    const tail = '"},"tier":"warm","dry_run":false,"schema_version":3,"secrets_resolved":false}\n' + FORGED;
    const outcome = {
      get kind(): string {
        return reads++ === 0 ? "success" : `success${tail}`;
      },
    };
    const line = encodeCallEvent({ ...valid(), outcome } as unknown as CallEvent);
    assert.equal(reads, 1);
    assert.ok(!line.includes("\n"));
    assert.equal(line, encodeCallEvent(BASE));
    assert.equal(parseCallEvent(line).call_id, BASE.call_id);
  });

  it("encodeCallEvent writes the value it checked when a string field changes on a second read", () => {
    let reads = 0;
    const event = Object.defineProperty(valid(), "tool_id", {
      get: () => (reads++ === 0 ? "ref:echo.say" : 'x","call_id":"forged'),
      enumerable: true,
    });
    const line = encodeCallEvent(event as unknown as CallEvent);
    assert.equal(reads, 1);
    assert.equal(line, encodeCallEvent(BASE));
  });

  it("encodeCallEvent reads an array's length and each element once", () => {
    const reads = new Map<PropertyKey, number>();
    const caps = new Proxy(["read", "write"], {
      get(target, key, receiver) {
        reads.set(key, (reads.get(key) ?? 0) + 1);
        return (reads.get(key)! > 1 && key === "length") ? 1e6 : Reflect.get(target, key, receiver);
      },
    });
    const line = encodeCallEvent({ ...valid(), granted_capabilities: caps } as unknown as CallEvent);
    assert.equal(JSON.parse(line).granted_capabilities.length, 2);
    assert.deepEqual([reads.get("length"), reads.get("0"), reads.get("1")], [1, 1, 1]);
  });

  const unreadable: [string, () => unknown, string][] = [
    ["a throwing getter on outcome.kind", () => ({
      ...valid(),
      outcome: {
        get kind(): string {
          throw new Error("getter boom");
        },
      },
    }), "outcome.kind"],
    ["a throwing getter on a top-level field", () =>
      Object.defineProperty(valid(), "tier", {
        get: () => {
          throw new Error("getter boom");
        },
        enumerable: true,
      }), "tier"],
    ["a throwing element getter", () => {
      const caps = ["a", "b", "c"];
      Object.defineProperty(caps, 2, {
        get: () => {
          throw new Error("getter boom");
        },
      });
      return { ...valid(), granted_capabilities: caps };
    }, "granted_capabilities[2]"],
    ["a Proxy whose get trap throws", () =>
      new Proxy(valid(), {
        get: (target, key) => {
          if (key === "duration_ms") throw new Error("trap boom");
          return Reflect.get(target, key);
        },
      }), "duration_ms"],
    ["a revoked Proxy as the event", () => revoked({}), ""],
    ["a revoked Proxy as outcome", () => ({ ...valid(), outcome: revoked({}) }), "outcome"],
    [
      "a revoked Proxy as granted_capabilities",
      () => ({ ...valid(), granted_capabilities: revoked([]) }),
      "granted_capabilities",
    ],
    ["a revoked Proxy as a provenance entry", () => ({
      ...valid(),
      capability_provenance: [{ cap: "c", source: { kind: "string_allow_list" } }, revoked({})],
    }), "capability_provenance[1]"],
    ["a throwing getter on a provenance source kind", () => ({
      ...valid(),
      capability_provenance: [{
        cap: "c",
        source: {
          get kind(): string {
            throw new Error("getter boom");
          },
        },
      }],
    }), "capability_provenance[0].source.kind"],
  ];
  for (const [what, make, path] of unreadable) {
    it(`encodeCallEvent turns ${what} into an InvalidCallEventError naming "${path || "the event"}"`, () => {
      const error = rejection(make());
      assert.equal(error.path, path);
      assert.match(error.reason, /reading it threw/);
      assert.equal(error.cause, undefined);
    });
  }

  it("encodeCallEvent quotes a thrown message cut short, on one line, and never reads a thrown getter", () => {
    let messageRead = false;
    const thrown = Object.defineProperty({}, "message", {
      get: () => {
        messageRead = true;
        return "from a getter";
      },
    });
    const cases: [unknown, RegExp][] = [
      [new Error(`line one\nline two ${"x".repeat(200)}`), /reading it threw "line one\\nline two x+…"$/],
      ["a thrown string", /reading it threw "a thrown string"$/],
      [thrown, /reading it threw$/],
      [42, /reading it threw$/],
    ];
    for (const [value, reason] of cases) {
      const event = Object.defineProperty(valid(), "ts", {
        get: () => {
          throw value;
        },
      });
      const error = rejection(event);
      assert.match(error.reason, reason);
      assert.ok(error.reason.length < 120, error.reason);
    }
    assert.equal(messageRead, false);
  });

  it("encodeCallEvent describes bad values without running their code", () => {
    userCode.calls = 0;
    const spy = () => {
      userCode.calls++;
      return "spied";
    };
    const bad: unknown[] = [
      { toString: spy, valueOf: spy },
      { [Symbol.toPrimitive]: spy },
      Object.assign(() => 0, { toString: spy }),
      Symbol("line\nbreak"),
      new String("boxed"),
      10n ** 100n,
    ];
    for (const value of bad) {
      for (const field of ["tool_id", "duration_ms", "dry_run", "outcome"]) {
        const error = rejection({ ...valid(), [field]: value });
        assert.ok(error.path.startsWith(field), error.path);
      }
      assert.equal(rejection({ ...valid(), outcome: { kind: value } }).path, "outcome.kind");
    }
    assert.equal(userCode.calls, 0);
  });

  it("encodeCallEvent rejects an array Proxy that lies about its length", () => {
    for (const length of [-1, 1.5, "2", Infinity]) {
      const caps = new Proxy(["a"], { get: (t, k) => (k === "length" ? length : Reflect.get(t, k)) });
      assert.equal(rejection({ ...valid(), granted_capabilities: caps }).path, "granted_capabilities");
    }
  });

  // Both ways of writing a line, on every runtime (Bun's default is the copy).
  for (const byCopy of [false, true]) {
    const encode = (event: unknown): string => {
      const line = encodeEvent(event, byCopy);
      if (typeof line !== "string") throw new InvalidCallEventError([line]);
      return line;
    };
    const how = byCopy ? " (a checked copy, through JSON.stringify)" : " (a template)";
    it(`encodeCallEvent writes exactly the first reads of any graph of getters and proxies, or names the unreadable field${how} (property)`, () => {
      fc.assert(
        fc.property(arbitraryHostileSpec(), (spec) => {
          userCode.calls = 0;
          const graph = buildHostile(spec);
          let line: string | undefined;
          let failure: unknown;
          try {
            line = encode(graph.value);
          } catch (error) {
            failure = error;
          }
          for (const [id, count] of graph.reads) assert.equal(count, 1, `read ${count} times: ${id}`);
          assert.equal(userCode.calls, 0);
          if (graph.tainted) {
            assert.ok(failure instanceof InvalidCallEventError, String(failure));
            assert.match(failure.reason, /reading it threw/);
            assert.match(failure.path, /^(|[a-z_]+(\[\d+\]|\.[a-z_]+)*)$/);
            assert.ok(!failure.message.includes("\n"));
            return;
          }
          assert.equal(failure, undefined);
          assert.equal(line, encodeWalk(spec.event));
          assert.ok(!line!.includes("\n"));
          assert.equal(encode(parseCallEvent(line!)), line);
        }),
        { numRuns: 400 },
      );
    });
  }

  it("encodeCallEvent either writes one line that reads back as written or throws InvalidCallEventError (property)", () => {
    const hostile = fc.oneof(
      fc.anything(),
      fc.constantFrom("\n", "\u2028", "\ud800", '"}\n{', -0, 2 ** 53, 1e300, NaN, 10n),
    );
    fc.assert(
      fc.property(arbitraryHostileSpec(), fc.nat(), hostile, (spec, at, value) => {
        const event = JSON.parse(encodeCallEvent(spec.event)) as Record<string, unknown>;
        const keys = Object.keys(event);
        const key = keys[at % keys.length]!;
        const target = at % 3 === 0 && typeof event.outcome === "object"
          ? event.outcome as Record<string, unknown>
          : event;
        target[at % 3 === 0 ? "kind" : key] = value;
        const graph = buildHostile({ ...spec, event: event as unknown as CallEvent });
        let line: string;
        try {
          line = encodeCallEvent(graph.value as CallEvent);
        } catch (error) {
          assert.ok(error instanceof InvalidCallEventError, String(error));
          assert.ok(!error.message.includes("\n"));
          return;
        }
        assert.ok(!line.includes("\n") && !line.includes("\r"), line);
        const parsed = parseCallEvent(line);
        assert.equal(encodeCallEvent(parsed), line);
        assert.deepEqual(parsed, JSON.parse(line));
      }),
      { numRuns: 400 },
    );
  });
});

function revoked<T extends object>(target: T): T {
  const { proxy, revoke } = Proxy.revocable(target, {});
  revoke();
  return proxy;
}

describe("encodeEvent's first issue against the walk's", () => {
  // encodeEvent reads the thirteen top-level fields before it checks any (one
  // read each, into locals); the walk checks each field as it reads it. When a
  // read throws, the fields read before it are checked first, as the walk would.
  it("names the walk's first issue when a field is wrong and reading a later top-level field throws", () => {
    const event = Object.defineProperty({ ...valid(), granted_capabilities: "read" }, "tier", {
      get: () => {
        throw new Error("getter boom");
      },
      enumerable: true,
    });
    const walk = encodeWalk(event);
    assert.equal(typeof walk === "object" && walk.path, "granted_capabilities");
    for (const byCopy of [false, true]) assert.deepEqual(encodeEvent(event, byCopy), walk);
  });

  it("names the walk's first issue for every wrong field followed by every later field whose read throws", () => {
    const keys = CALL_EVENT.fields.map((f) => f.key);
    let cases = 0;
    for (let wrong = 0; wrong < keys.length; wrong++) {
      for (let throwing = wrong + 1; throwing < keys.length; throwing++) {
        // A symbol is wrong for every field, optional ones included.
        const event = Object.defineProperty({ ...valid(), [keys[wrong]!]: Symbol("wrong") }, keys[throwing]!, {
          get: () => {
            throw new Error("getter boom");
          },
          enumerable: true,
        });
        const walk = encodeWalk(event);
        assert.equal(typeof walk === "object" && walk.path, keys[wrong]);
        for (const byCopy of [false, true]) assert.deepEqual(encodeEvent(event, byCopy), walk, `${wrong} ${throwing}`);
        cases++;
      }
    }
    assert.equal(cases, 78);
  });
});

describe("encodeEvent against built-ins a getter of the event replaces", () => {
  // A getter is the caller's code, and it may replace the built-ins the
  // encoder calls while it runs (and put them back before it returns). A
  // check for text that needs escaping that says "none" would let the
  // template write a quote or a newline raw: a forged field or a second line.
  const forged = 'x","caller_id":"admin"}\n{"ts":"forged';
  const replacements: [string, object, PropertyKey, unknown][] = [
    ["RegExp.prototype.exec", RegExp.prototype, "exec", () => null],
    ["RegExp.prototype.test", RegExp.prototype, "test", () => false],
    ["JSON.stringify", JSON, "stringify", (v: unknown) => typeof v === "string" ? `"${v}"` : "null"],
    ["String", globalThis, "String", () => '1,"forged":true'],
    ["String.prototype.isWellFormed", String.prototype, "isWellFormed", () => true],
  ];
  for (const [name, holder, key, replacement] of replacements) {
    for (const byCopy of [false, true]) {
      it(`writes what the built-ins write when a getter replaced ${name} meanwhile${byCopy ? " (copy)" : ""}`, () => {
        for (const [field, value] of [["tool_id", forged], ["duration_ms", 17], ["tier", "bad\ud800"]] as const) {
          const plain = { ...valid(), [field]: value };
          const expected = encodeEvent(plain, byCopy);
          const original = Object.getOwnPropertyDescriptor(holder, key)!;
          const event = Object.defineProperty({ ...plain }, "ts", {
            get: () => {
              Object.defineProperty(holder, key, { ...original, value: replacement });
              return plain.ts;
            },
            enumerable: true,
          });
          let got: unknown;
          try {
            got = encodeEvent(event, byCopy);
          } catch (error) {
            got = error;
          } finally {
            Object.defineProperty(holder, key, original);
          }
          assert.deepEqual(got, expected, `${field}: ${String(got)}`);
          if (typeof got === "string") assert.equal(parseCallEvent(got)[field], value);
        }
      });
    }
  }
});
