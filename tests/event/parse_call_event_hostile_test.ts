import { describe, it } from "node:test";
import assert from "node:assert/strict";
import fc from "fast-check";
import {
  type CallEvent,
  type CallEventFields,
  CallEventSyntaxError,
  createCallEvent,
  encodeCallEvent,
  InvalidCallEventError,
  parseCallEvent,
} from "../../mod.ts";
import { strictJsonIssue } from "../../src/event/_strict_json.ts";
import { arbitraryHostileSpec, buildHostile } from "../_helpers/arbitrary.ts";
import { mkEvent } from "../_helpers/events.ts";

const BASE = mkEvent();
const LINE = encodeCallEvent(BASE);

/** The CallEventSyntaxError `parseCallEvent(input)` throws. */
function rejection(input: unknown): CallEventSyntaxError {
  try {
    parseCallEvent(input);
  } catch (error) {
    assert.ok(error instanceof CallEventSyntaxError, `not a CallEventSyntaxError: ${String(error)}`);
    assert.ok(!error.message.includes("\n"), error.message);
    return error;
  }
  assert.fail("parseCallEvent did not throw");
}

describe("parseCallEvent against hostile values", () => {
  it("parseCallEvent names a field whose getter throws, and never passes the raw error on", () => {
    const outcome = {
      get kind(): string {
        throw new Error("getter boom");
      },
    };
    const error = rejection({ ...BASE, outcome });
    assert.equal(error.path, "outcome.kind");
    assert.match(error.reason, /reading it threw "getter boom"/);
    const { proxy, revoke } = Proxy.revocable({}, {});
    revoke();
    assert.equal(rejection(proxy).path, "");
    assert.equal(rejection({ ...BASE, granted_capabilities: proxy }).path, "granted_capabilities");
  });

  it("parseCallEvent reads each field of a graph of getters and proxies once and returns its first reads (property)", () => {
    fc.assert(
      fc.property(arbitraryHostileSpec(), (spec) => {
        const graph = buildHostile(spec);
        let event: CallEvent | undefined;
        try {
          event = parseCallEvent(graph.value);
        } catch (error) {
          assert.ok(error instanceof CallEventSyntaxError, String(error));
          assert.ok(graph.tainted, error.message);
          assert.match(error.reason, /reading it threw/);
        }
        for (const [id, count] of graph.reads) assert.equal(count, 1, `read ${count} times: ${id}`);
        if (event !== undefined) {
          assert.ok(!graph.tainted);
          assert.deepEqual(event, parseCallEvent(spec.event));
        }
      }),
      { numRuns: 300 },
    );
  });

  it("parseCallEvent describes a bad value without running its code (toJSON, getters)", () => {
    const error = rejection({
      ts: 5,
      toJSON(): never {
        throw new Error("no");
      },
    });
    assert.equal(error.path, "ts");
    assert.equal(error.excerpt, "an object");
  });

  it("createCallEvent turns a hostile argument into an InvalidCallEventError, never a raw error", () => {
    const ownKeys = new Proxy({}, {
      ownKeys(): never {
        throw new Error("trap boom");
      },
    });
    const getter = Object.defineProperty(
      { call_id: "c", duration_ms: 1, outcome: { kind: "success" }, tier: "w" },
      "tool_id",
      {
        get: () => {
          throw new Error("getter boom");
        },
        enumerable: true,
      },
    );
    for (const fields of [ownKeys, getter, Symbol("s"), 10n]) {
      assert.throws(
        () => createCallEvent(fields as unknown as CallEventFields),
        (error: unknown) => error instanceof InvalidCallEventError && !error.message.includes("\n"),
      );
    }
  });
});

describe("parseCallEvent against hostile lines", () => {
  const withField = (key: string, token: string): string =>
    LINE.replace(new RegExp(`"${key}":[^,]*`), `"${key}":${token}`);

  const rejected: [string, string, string][] = [
    ["a duration beyond a double", withField("duration_ms", "1e400"), "duration_ms"],
    ["a duration past 2^53", withField("duration_ms", "9007199254740993"), "duration_ms"],
    ["a duration written 17.0", withField("duration_ms", "17.0"), "duration_ms"],
    ["a raw lone surrogate in a known field", LINE.replace('"ref:echo.say"', '"ref:\ud800"'), "tool_id"],
    ["an escaped lone surrogate in a known field", LINE.replace('"ref:echo.say"', '"ref:\\udc00"'), "tool_id"],
    ["a lone surrogate in an unknown key", `${LINE.slice(0, -1)},"\\ud800x":1}`, ""],
    ["a field given twice through an escape", `${LINE.slice(0, -1)},"t\\u0069er":"cold"}`, "tier"],
    [
      "a deep value inside outcome",
      LINE.replace('{"kind":"success"}', `{"kind":"success","x":${"[".repeat(300)}${"]".repeat(300)}}`),
      "outcome.x",
    ],
    // serde skips an unknown field unread at any depth; this reader does not (see src/event/_strict_json.ts).
    [
      "an unknown field nested 100,000 levels",
      `${LINE.slice(0, -1)},"x":${"[".repeat(100_000)}${"]".repeat(100_000)}}`,
      "x",
    ],
    ["an unknown field nested 128 levels", `${LINE.slice(0, -1)},"x":${"[".repeat(127)}${"]".repeat(127)}}`, "x"],
  ];
  for (const [what, line, path] of rejected) {
    it(`parseCallEvent rejects ${what}, naming "${path || "the event"}"`, () => {
      assert.equal(rejection(line).path, path);
    });
  }

  it("parseCallEvent never quotes an integer past 2^53-1 as a number the line does not hold", () => {
    for (const [key, token] of [["duration_ms", "9007199254740993"], ["cursor_page", "18446744073709551617"]]) {
      const line = key === "duration_ms" ? withField(key, token!) : `${LINE.slice(0, -1)},"${key}":${token}}`;
      const error = rejection(line);
      assert.equal(error.path, key);
      // JSON.parse reads them as 9007199254740992 and 18446744073709552000: not what the line says.
      assert.doesNotMatch(error.reason, /got \d/, error.reason);
      assert.match(error.reason, /got a number beyond 2\^53-1/);
    }
  });

  const accepted: [string, string][] = [
    ["a __proto__ key", `${LINE.slice(0, -1)},"__proto__":{"tool_id":"evil","outcome":{"kind":"tool_not_found"}}}`],
    ["keys named like Object.prototype's", `${LINE.slice(0, -1)},"constructor":1,"toString":2,"hasOwnProperty":3}`],
    ["a key given twice inside an unknown field", `${LINE.slice(0, -1)},"x":{"tool_id":1,"tool_id":2}}`],
    ["a number beyond a double in an unknown field", `${LINE.slice(0, -1)},"x":-1e999}`],
  ];
  for (const [what, line] of accepted) {
    it(`parseCallEvent accepts ${what} and reads the event as written`, () => {
      const event = parseCallEvent(line);
      assert.equal(encodeCallEvent(event), LINE);
      assert.equal(Object.getPrototypeOf(event), Object.prototype);
      assert.equal(Object.getPrototypeOf(event.outcome), Object.prototype);
    });
  }

  it("parseCallEvent gives one verdict on any JSON value in any field, known or not, at any depth (property)", () => {
    // Each place puts the JSON text `value` somewhere in an otherwise valid line.
    const at = (set: (event: Record<string, unknown>) => void) => (value: string): string => {
      const event = JSON.parse(LINE);
      set(event);
      return JSON.stringify(event).replace('"@@"', () => value);
    };
    const ucan = { kind: "ucan_chain", issuer_did: "d", chain_depth: 1 };
    const places = [
      ...Object.keys(BASE).map((key) => at((e) => (e[key] = "@@"))),
      at((e) => (e.cursor_page = "@@")),
      at((e) => (e.x = "@@")),
      at((e) => (e.outcome = { kind: "success", x: "@@" })),
      at((e) => (e.outcome = { kind: "capability_denied", missing: "@@" })),
      at((e) => (e.outcome = { kind: "rate_limited", retry_after_ms: "@@" })),
      at((e) => (e.outcome = { kind: "execution_failed", code: "c", retryable: "@@" })),
      at((e) => (e.capability_provenance = "@@")),
      at((e) => (e.capability_provenance = [{ cap: "@@", source: { kind: "string_allow_list" } }])),
      at((e) => (e.capability_provenance = [{ cap: "c", x: "@@", source: { kind: "string_allow_list" } }])),
      at((e) => (e.capability_provenance = [{ cap: "c", source: "@@" }])),
      at((e) => (e.capability_provenance = [{ cap: "c", source: { ...ucan, chain_depth: "@@" } }])),
      at((e) => (e.capability_provenance = [{ cap: "c", source: { ...ucan, x: "@@" } }])),
    ];
    fc.assert(
      fc.property(fc.nat(), fc.json({ depthSize: "large" }), (i, value) => {
        const line = places[i % places.length]!(value);
        JSON.parse(line);
        const issue = strictJsonIssue(line);
        assert.ok(issue === undefined || typeof issue.reason === "string");
        try {
          assert.equal(encodeCallEvent(parseCallEvent(line)).includes("\n"), false);
        } catch (error) {
          assert.ok(error instanceof CallEventSyntaxError, String(error));
        }
      }),
      { numRuns: 1000 },
    );
  });

  it("parseCallEvent rejects a byte order mark, as serde does", () => {
    assert.equal(rejection(`\ufeff${LINE}`).path, undefined);
  });
});
