// The copy path of encodeEvent (Bun's default: checked values copied into
// objects of the encoder's own, written by JSON.stringify) against code that
// changed the built-in prototypes those objects and arrays inherit from. The
// template path reads only the caller's event, so its line is the one the
// copy must write; and no code of the caller's may run while it is written.
import { describe, it } from "node:test";
import assert from "node:assert/strict";
import fc from "fast-check";
import { type CallEvent, parseCallEvent } from "../../mod.ts";
import { type Encoded, encodeEvent, encodeWalk } from "../../src/event/_encode.ts";
import { CALL_EVENT, type Shape } from "../../src/event/_fields.ts";
import { mkEvent } from "../_helpers/events.ts";
import { arbitraryEvent } from "../_helpers/arbitrary.ts";
import { runScript } from "../_helpers/run_script.ts";

const BASE = mkEvent();

/**
 * Events that hold every field and every variant's fields between them, with
 * arrays short (up to 4 items: the copy makes them as array literals) and
 * long (defined item by item).
 */
const LONG = ["a", "b", "c", "d", "e", "f"];
const EVENTS: CallEvent[] = [
  { kind: "execution_failed", code: "E", retryable: true },
  { kind: "invalid_args", message: "m" },
  { kind: "capability_denied", missing: ["a", "b"] },
  { kind: "capability_denied", missing: LONG },
  { kind: "rate_limited", retry_after_ms: null },
  { kind: "rate_limited", retry_after_ms: 5 },
].map((outcome, i) =>
  parseCallEvent({
    ...BASE,
    granted_capabilities: LONG.slice(0, i), // every length from 0 to 5
    outcome,
    cursor_page: 2,
    capability_provenance: [
      { cap: "c", source: { kind: "ucan_chain", issuer_did: "did:x", chain_depth: 3 } },
      { cap: "d", source: { kind: "string_allow_list" } },
    ],
  })
);

/** Every key written anywhere in a line, from the field table. */
const KEYS: string[] = (() => {
  const keys = new Set<string>();
  const visit = (shape: Shape): void => {
    if (shape.type === "array") visit(shape.of);
    if (shape.type === "struct") {
      for (const f of shape.fields) keys.add(f.key), visit(f.shape);
    }
    if (shape.type === "tagged") {
      for (const v of shape.variants) for (const f of v.wire) keys.add(f.key), visit(f.shape);
    }
  };
  visit(CALL_EVENT);
  return [...keys];
})();

/** `encodeEvent(event, true)` for each event while `pollute` holds; what it returned or threw. */
function copiedWhile(events: unknown[], pollute: () => () => void): unknown[] {
  // Own slots made before polluting: filling them runs no inherited setter.
  const out: unknown[] = events.map(() => undefined);
  const restore = pollute();
  try {
    for (let i = 0; i < events.length; i++) {
      try {
        out[i] = encodeEvent(events[i], true);
      } catch (error) {
        out[i] = `threw ${String(error)}`;
      }
    }
  } finally {
    restore();
  }
  return out;
}

function define(target: object, key: PropertyKey, descriptor: PropertyDescriptor): () => void {
  Object.defineProperty(target, key, { ...descriptor, configurable: true });
  return () => delete (target as Record<PropertyKey, unknown>)[key];
}

describe("encodeEvent's copy path against changed built-in prototypes", () => {
  const expected = EVENTS.map((event) => encodeEvent(event, false));

  it("writes the template's line when toJSON sits further up Array.prototype's chain", () => {
    const got = copiedWhile(EVENTS, () => {
      const original = Object.getPrototypeOf(Array.prototype);
      const forger = Object.create(original, { toJSON: { value: () => "forged" } });
      Object.setPrototypeOf(Array.prototype, forger);
      return () => Object.setPrototypeOf(Array.prototype, original);
    });
    assert.deepEqual(got, expected);
  });

  for (const [name, proto] of [["Object.prototype", Object.prototype], ["Array.prototype", Array.prototype]] as const) {
    it(`writes the template's line when a getter of the event puts toJSON on ${name} mid-encode`, () => {
      let restore = (): unknown => undefined;
      const got = EVENTS.map((event) => {
        const outcome = { ...event.outcome };
        Object.defineProperty(outcome, "kind", {
          get: () => {
            restore = define(proto, "toJSON", { value: () => "forged", writable: true });
            return event.outcome.kind;
          },
          enumerable: true,
        });
        try {
          return encodeEvent({ ...event, outcome }, true);
        } catch (error) {
          return `threw ${String(error)}`;
        } finally {
          restore();
        }
      });
      assert.deepEqual(got, expected);
    });
  }

  for (const key of KEYS) {
    it(`writes the template's line, running no setter, when Object.prototype has a setter or a read-only "${key}"`, () => {
      let setterRuns = 0;
      const pollutions: PropertyDescriptor[] = [
        {
          set(this: object) {
            // Forges: an own property with another value on the object being built.
            setterRuns++;
            Object.defineProperty(this, key, { value: "forged", enumerable: true, writable: true, configurable: true });
          },
        },
        {
          set() {
            setterRuns++; // drops the value
          },
        },
        { value: "inherited", writable: false },
      ];
      for (const pollution of pollutions) {
        assert.deepEqual(copiedWhile(EVENTS, () => define(Object.prototype, key, pollution)), expected);
      }
      assert.equal(setterRuns, 0);
    });
  }

  for (const [name, proto] of [["Object.prototype", Object.prototype], ["Array.prototype", Array.prototype]] as const) {
    it(`writes the template's line, running no setter, when ${name} has setters or read-only values at indices`, () => {
      let setterRuns = 0;
      const pollutions: PropertyDescriptor[] = [
        {
          set(this: object) {
            setterRuns++;
            Object.defineProperty(this, 0, { value: "forged", enumerable: true, writable: true, configurable: true });
          },
        },
        {
          set() {
            setterRuns++;
          },
        },
        { value: "inherited", writable: false },
      ];
      for (const pollution of pollutions) {
        for (const index of [0, 1, 4, 5]) {
          assert.deepEqual(copiedWhile(EVENTS, () => define(proto, index, pollution)), expected);
        }
      }
      assert.equal(setterRuns, 0);
    });
  }

  it("writes the template's line when Object.prototype has getters for what Object.defineProperty reads", () => {
    let getterRuns = 0;
    for (const key of ["get", "set", "value", "writable", "enumerable", "configurable"]) {
      const got = copiedWhile(EVENTS, () =>
        define(Object.prototype, key, {
          get: () => {
            getterRuns++;
            throw new Error(`${key} read`);
          },
        }));
      assert.deepEqual(got, expected, key);
    }
    assert.equal(getterRuns, 0);
  });

  it("writes the template's line when Object.prototype had a setter for every key before the encoder loaded", async () => {
    // In a child process: the setters must be in place before the field table is built.
    const result = await runScript("tests/event/_preloaded_setters_script.ts");
    assert.equal(result.code, 0, result.stderr);
    const out = JSON.parse(result.stdout) as {
      copied: unknown[];
      template: unknown[];
      runsWhileEncoding: number;
      keysNotPolluted: string[];
    };
    assert.deepEqual(out.keysNotPolluted, [], "the script pollutes every key of the field table");
    assert.equal(out.copied.length, 7);
    assert.ok(out.template.every((line) => typeof line === "string"), "the template writes each event");
    assert.deepEqual(out.copied, out.template);
    assert.equal(out.runsWhileEncoding, 0);
  });

  it("writes the template's line when Array.prototype.push was replaced", () => {
    const got = copiedWhile(EVENTS, () => {
      const push = Array.prototype.push;
      Array.prototype.push = function (this: unknown[]) {
        return push.call(this, 'forged"');
      };
      return () => {
        Array.prototype.push = push;
      };
    });
    assert.deepEqual(got, expected);
  });

  // The longest string is 2**29-24 characters in V8 and 2**31-1 in JavaScriptCore:
  // this builds lines of 0.6 and 2.4 GB (about 25 s and 2.3 GB of memory in Bun).
  it("returns the template's issue, not a RangeError, when the line is longer than a string can be", () => {
    const piece = "x".repeat(3_000_000);
    const isBun = typeof (globalThis as { Bun?: unknown }).Bun === "object";
    const event = { ...BASE, granted_capabilities: new Array<string>(isBun ? 800 : 200).fill(piece) };
    const template = encodeEvent(event, false);
    assert.equal(typeof template, "object");
    let copied: Encoded | string;
    try {
      copied = encodeEvent(event, true);
    } catch (error) {
      copied = `threw ${String(error)}`;
    }
    assert.deepEqual(copied, template);
    assert.deepEqual(copied, encodeWalk(event));
  });
});

/** An event with one value, anywhere in it (`at` picks where), replaced by `value`. */
function broken(event: CallEvent, at: number, value: unknown): unknown {
  const out = structuredClone(event) as unknown as Record<string, unknown>;
  const slots: [Record<string | number, unknown>, string | number][] = [];
  const visit = (o: unknown): void => {
    if (typeof o !== "object" || o === null) return;
    for (const key of Object.keys(o)) {
      slots.push([o as Record<string, unknown>, Array.isArray(o) ? Number(key) : key]);
      visit((o as Record<string, unknown>)[key]);
    }
  };
  visit(out);
  const [holder, key] = slots[at % slots.length]!;
  holder[key] = value;
  return out;
}

const hostileValue = fc.oneof(
  fc.anything(),
  fc.constantFrom("\ud800", '"}\n{', -0, -1, 1.5, NaN, 2 ** 53, 2 ** 32, 256, 4, null, undefined, 10n),
);
const someEvent = fc.oneof(
  arbitraryEvent(),
  fc.tuple(arbitraryEvent(), fc.nat(), hostileValue).map(([event, at, value]) => broken(event, at, value)),
);

/** `value` rebuilt of getters, each of which first encodes `others` (both ways) and sometimes a getter graph of them. */
function reentrant(value: unknown, others: readonly unknown[], calls: { n: number }, depth = 0): unknown {
  if (typeof value !== "object" || value === null) return value;
  const source = value as Record<string, unknown>;
  const target: Record<string, unknown> = Array.isArray(value) ? [] as unknown as Record<string, unknown> : {};
  for (const key of Object.keys(source)) {
    const child = reentrant(source[key], others, calls, depth + 1);
    Object.defineProperty(target, key, {
      get: () => {
        const other = others[calls.n++ % others.length];
        encodeEvent(other, true);
        encodeEvent(other, false);
        if (calls.n % 5 === 0 && depth < 2) encodeEvent(reentrant(other, others, calls, 9), true);
        return child;
      },
      enumerable: true,
    });
  }
  return target;
}

/** `value` rebuilt of proxies that log every trap, answering `get` only. */
function watched(value: unknown, log: string[], id = "event"): unknown {
  if (typeof value !== "object" || value === null) return value;
  const source = value as Record<string, unknown>;
  const children = new Map<string, unknown>(Object.keys(source).map((k) => [k, watched(source[k], log, `${id}.${k}`)]));
  if (Array.isArray(value)) children.set("length", value.length);
  const handler: ProxyHandler<object> = {
    get: (_target, key) => {
      log.push(`get ${id} ${String(key)}`);
      return typeof key === "string" ? children.get(key) : undefined;
    },
  };
  const traps = [
    "getPrototypeOf",
    "setPrototypeOf",
    "isExtensible",
    "preventExtensions",
    "getOwnPropertyDescriptor",
    "defineProperty",
    "has",
    "set",
    "deleteProperty",
    "ownKeys",
  ] as const;
  for (const trap of traps) {
    (handler as Record<string, unknown>)[trap] = (...args: unknown[]) => {
      log.push(`${trap} ${id} ${String(args[1])}`);
      return (Reflect[trap] as (...a: unknown[]) => unknown)(...args);
    };
  }
  return new Proxy(Array.isArray(value) ? [] : {}, handler);
}

describe("encodeEvent's copy path, re-entered and watched", () => {
  // copy() leaves why it failed in a module-level variable, read back by each caller right away.
  it("gives the walk's line or issue when every getter encodes other events first, both ways (property)", () => {
    fc.assert(
      fc.property(
        someEvent,
        fc.array(fc.oneof(someEvent, fc.anything()), { minLength: 1, maxLength: 4 }),
        (e, others) => {
          const expected = encodeWalk(e);
          for (const byCopy of [true, false]) {
            assert.deepEqual(encodeEvent(reentrant(e, others, { n: 0 }), byCopy), expected);
          }
        },
      ),
      { numRuns: 300 },
    );
  });

  it("touches the caller's objects by get only, each key once, both ways: JSON.stringify never sees them (property)", () => {
    fc.assert(
      fc.property(someEvent, (e) => {
        for (const byCopy of [true, false]) {
          const log: string[] = [];
          assert.deepEqual(encodeEvent(watched(e, log), byCopy), encodeWalk(e));
          assert.deepEqual(log.filter((entry) => !entry.startsWith("get ")), []);
          assert.equal(new Set(log).size, log.length, log.join(", "));
        }
      }),
      { numRuns: 200 },
    );
  });
});

describe("encodeEvent's copy path against lists and absent fields", () => {
  /**
   * `n` capabilities, a provenance list of `n` entries and a denied outcome missing `n`: every list the copy builds
   * (and every field present, so that nothing is read from a prototype).
   */
  const withLists = (n: number): CallEvent =>
    parseCallEvent({
      ...BASE,
      cursor_page: n,
      granted_capabilities: LONG.concat(LONG).slice(0, n),
      outcome: { kind: "capability_denied", missing: LONG.concat(LONG).slice(0, n) },
      capability_provenance: Array.from({ length: n }, (_, i) => ({
        cap: `c${i}`,
        source: i % 2 === 0
          ? { kind: "ucan_chain", issuer_did: "did:x", chain_depth: i }
          : { kind: "string_allow_list" },
      })),
    });
  const LENGTHS = [0, 1, 2, 3, 4, 5, 6, 7];

  it("writes the template's line, running no setter, when every index 0 to 6 and every key is read-only or a setter on both prototypes at once", () => {
    const events = [...EVENTS, ...LENGTHS.map(withLists)];
    const expected = events.map((event) => encodeEvent(event, false));
    let setterRuns = 0;
    const pollutions: PropertyDescriptor[] = [
      { value: "inherited", writable: false },
      {
        set: () => {
          setterRuns++;
        },
      },
    ];
    for (const pollution of pollutions) {
      const got = copiedWhile(events, () => {
        // Listed before polluting: once index 0 is read-only, pushing onto a list throws.
        const indices = [0, 1, 2, 3, 4, 5, 6];
        const restores = [
          ...indices.map((index) => define(Object.prototype, index, pollution)),
          ...indices.map((index) => define(Array.prototype, index, pollution)),
          ...KEYS.map((key) => define(Object.prototype, key, pollution)),
        ];
        return () => restores.forEach((restore) => restore());
      });
      assert.deepEqual(got, expected);
    }
    assert.equal(setterRuns, 0);
  });

  it("writes the template's line for lists of every length whose item getters shrink, grow or refill the list, or encode other events", () => {
    const tricks: Record<string, (list: unknown[], n: number) => void> = {
      shrink: (list) => {
        list.length = 1;
      },
      grow: (list) => {
        list.push("late", "later");
      },
      refill: (list, n) => {
        for (let i = 0; i < n; i++) Object.defineProperty(list, i, { value: `refilled${i}`, writable: true });
      },
      reenter: (_list, n) => {
        for (const other of LENGTHS) {
          encodeEvent(withLists((other + n) % 8), true);
          encodeEvent(withLists(other), false);
        }
      },
    };
    for (const n of LENGTHS) {
      for (const [name, trick] of Object.entries(tricks)) {
        // Built afresh for each way of writing: the getters change the lists they sit in.
        const build = (): { event: unknown; runs: { n: number } } => {
          const runs = { n: 0 };
          const event = structuredClone(withLists(n)) as unknown as Record<string, unknown>;
          const lists = [
            event.granted_capabilities,
            (event.outcome as { missing: unknown[] }).missing,
            event.capability_provenance,
          ] as unknown[][];
          for (const list of lists) {
            for (let i = 0; i < n; i++) {
              const item = list[i];
              Object.defineProperty(list, i, {
                get: () => {
                  runs.n++;
                  trick(list, n);
                  return item;
                },
                enumerable: true,
                configurable: true,
              });
            }
          }
          return { event, runs };
        };
        const template = build();
        const copied = build();
        const want = encodeEvent(template.event, false);
        assert.deepEqual(encodeEvent(copied.event, true), want, `${n} items, ${name}`);
        // The template goes on past a problem (keeping the first), the copy stops: their getters run alike only
        // when there is none.
        if (typeof want === "string") assert.equal(copied.runs.n, template.runs.n, `${n} items, ${name}: getter runs`);
      }
    }
  });

  it("writes the template's line for sparse lists, proxies of lists and frozen lists, whose holes read through Array.prototype", () => {
    const text = (i: number): unknown => `inherited${i}`;
    const entry = (i: number): unknown => ({ cap: `x${i}`, source: { kind: "string_allow_list" } });
    const mixed = (i: number): unknown => (i % 2 === 0 ? text(i) : entry(i));
    for (const n of LENGTHS) {
      const event = withLists(n);
      // How each is made, and what Array.prototype's indices 0 to 6 answer meanwhile.
      const variants: [string, () => unknown, (i: number) => unknown][] = [
        ["proxies", () => ({
          ...event,
          granted_capabilities: new Proxy([...event.granted_capabilities], {}),
          capability_provenance: new Proxy([...event.capability_provenance!], {}),
        }), mixed],
        ["frozen", () => Object.freeze(structuredClone(event)), mixed],
        ["sparse strings", () => ({
          ...event,
          granted_capabilities: new Array(n),
          outcome: { kind: "capability_denied", missing: new Array(n) },
        }), text],
        ["sparse entries", () => ({ ...event, capability_provenance: new Array(n) }), entry],
        ["sparse, wrong items", () => ({ ...event, granted_capabilities: new Array(n) }), mixed],
      ];
      for (const [name, make, inherit] of variants) {
        const restores = [0, 1, 2, 3, 4, 5, 6].map((i) => define(Array.prototype, i, { get: () => inherit(i) }));
        let template: Encoded, copied: Encoded, walked: Encoded;
        try {
          template = encodeEvent(make(), false);
          copied = encodeEvent(make(), true);
          walked = encodeWalk(make());
        } finally {
          restores.forEach((restore) => restore());
        }
        assert.deepEqual(copied, template, `${n} items, ${name}`);
        assert.deepEqual(copied, walked, `${n} items, ${name}`);
        // Every hole (up to index 6) is answered: a line, but for a wrong item at index 1.
        const wrong = name === "sparse, wrong items" && n >= 2;
        assert.equal(typeof copied, wrong ? "object" : "string", `${n} items, ${name}`);
      }
    }
  });

  it("leaves an optional field out whether it is absent, undefined or null, and writes null for a none retry_after_ms, in the template's bytes (both ways, read back)", () => {
    const optional = ["caller_id", "cursor_page", "capability_provenance"] as const;
    const full = withLists(2);
    for (let mask = 0; mask < 27; mask++) {
      for (const retry of ["absent", undefined, null, 0, 7] as const) {
        const event: Record<string, unknown> = { ...full, cursor_page: 0 };
        const how = optional.map((key, i) => {
          const pick = Math.floor(mask / 3 ** i) % 3;
          if (pick === 0) delete event[key];
          else if (pick === 1) event[key] = undefined;
          else event[key] = null;
          return `${key} ${["absent", "undefined", "null"][pick]}`;
        });
        event.outcome = retry === "absent" ? { kind: "rate_limited" } : { kind: "rate_limited", retry_after_ms: retry };
        const line = encodeEvent(event, true);
        const context = `${how.join(", ")}, retry_after_ms ${String(retry)}`;
        assert.equal(line, encodeEvent(event, false), context);
        assert.equal(typeof line, "string", context);
        for (const key of optional) assert.ok(!(line as string).includes(`"${key}"`), context);
        assert.ok((line as string).includes(`"retry_after_ms":${typeof retry === "number" ? retry : "null"}`), context);
        const parsed = parseCallEvent(line as string);
        assert.equal(encodeEvent(parsed, true), line, context);
        assert.equal(JSON.stringify(parsed), line, context);
      }
    }
    // Present, each optional field sits where the reference puts it, the falsy values included.
    const present = encodeEvent({ ...full, caller_id: "", cursor_page: 0 }, true);
    assert.equal(present, encodeEvent({ ...full, caller_id: "", cursor_page: 0 }, false));
    assert.deepEqual(Object.keys(JSON.parse(present as string)), CALL_EVENT.fields.map((f) => f.key));
  });

  it("writes the template's line, or issue, for -0, the largest integers and text that needs escaping", () => {
    const cases: Record<string, unknown>[] = [
      { duration_ms: -0, cursor_page: -0, outcome: { kind: "rate_limited", retry_after_ms: -0 } },
      { duration_ms: Number.MAX_SAFE_INTEGER, cursor_page: 4_294_967_295 },
      { duration_ms: Number.MAX_SAFE_INTEGER + 1 },
      { cursor_page: 4_294_967_296 },
      { tool_id: 'a\u2028b\u2029\x7f\ud83d\ude00"\\\n\x00\x1f' },
      { tool_id: "a\udc00" },
      { outcome: { kind: "execution_failed", code: "\ud83d", retryable: false } },
      { tool_id: new String("x") },
      { duration_ms: Object.assign(new Number(5), { [Symbol.toPrimitive]: () => 7 }) },
      { granted_capabilities: Object.assign(["a"], { toJSON: () => ["forged"] }) },
      { outcome: { kind: "success", toJSON: () => ({ kind: "forged" }) } },
    ];
    for (const fields of cases) {
      const event = { ...BASE, ...fields };
      const template = encodeEvent(event, false);
      assert.deepEqual(encodeEvent(event, true), template);
      assert.deepEqual(encodeWalk(event), template);
      if (typeof template === "string") assert.equal(encodeEvent(parseCallEvent(template), true), template);
    }
  });
});
