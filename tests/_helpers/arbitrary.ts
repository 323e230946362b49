// fast-check generators for valid CallEvents, built in canonical key order.
import fc from "fast-check";
import type { CallEvent, CapProvenance, Outcome } from "../../mod.ts";

const text = (): fc.Arbitrary<string> =>
  fc.oneof(
    fc.string(),
    fc.string({ unit: "grapheme" }),
    fc.string({ unit: "binary" }),
    fc.constantFrom("ref:echo.say", "warm"),
  );
const u64 = (): fc.Arbitrary<number> => fc.oneof(fc.nat(), fc.constant(Number.MAX_SAFE_INTEGER), fc.nat({ max: 100 }));

const outcome: fc.Arbitrary<Outcome> = fc.oneof(
  fc.constant({ kind: "success" as const }),
  fc.record({ kind: fc.constant("execution_failed" as const), code: text(), retryable: fc.boolean() }, {
    noNullPrototype: true,
  }),
  fc.record({ kind: fc.constant("invalid_args" as const), message: text() }, { noNullPrototype: true }),
  fc.record({ kind: fc.constant("capability_denied" as const), missing: fc.array(text(), { maxLength: 4 }) }, {
    noNullPrototype: true,
  }),
  fc.record({ kind: fc.constant("rate_limited" as const), retry_after_ms: fc.option(u64(), { nil: null }) }, {
    noNullPrototype: true,
  }),
  fc.constant({ kind: "tool_not_found" as const }),
);

const provenance: fc.Arbitrary<CapProvenance> = fc.record({
  cap: text(),
  source: fc.oneof(
    fc.constant({ kind: "string_allow_list" as const }),
    fc.record({
      kind: fc.constant("ucan_chain" as const),
      issuer_did: text(),
      chain_depth: fc.integer({ min: 0, max: 255 }),
    }, {
      noNullPrototype: true,
    }),
  ),
}, { noNullPrototype: true });

/** Random valid events, keys in wire order, optional fields present or absent. */
export function arbitraryEvent(options: { callId?: fc.Arbitrary<string> } = {}): fc.Arbitrary<CallEvent> {
  return fc.record({
    ts: text(),
    call_id: options.callId ?? text(),
    tool_id: text(),
    caller_id: fc.option(text(), { nil: undefined }),
    granted_capabilities: fc.array(text(), { maxLength: 4 }),
    duration_ms: u64(),
    outcome,
    tier: text(),
    dry_run: fc.boolean(),
    schema_version: fc.constantFrom(1, 2, 3),
    secrets_resolved: fc.boolean(),
    cursor_page: fc.option(fc.integer({ min: 0, max: 4294967295 }), { nil: undefined }),
    capability_provenance: fc.option(fc.array(provenance, { maxLength: 3 }), { nil: undefined }),
  }, { noNullPrototype: true }).map((event) => {
    const out: Record<string, unknown> = {};
    for (const [key, value] of Object.entries(event)) if (value !== undefined) out[key] = value;
    return out as unknown as CallEvent;
  });
}

/** How one object or array of a hostile event graph answers reads. */
export type HostileWrap = "plain" | "getters" | "proxy" | "prototype" | "class" | "revoked" | "throwing";

/** A recipe for a hostile event: rebuilt fresh for each run, since its getters keep state. */
export interface HostileSpec {
  /** A valid event: what every first read returns. */
  readonly event: CallEvent;
  /** Wraps, used in turn for the graph's objects and arrays (event first). */
  readonly wraps: readonly HostileWrap[];
  /** Values handed out by second and later reads. */
  readonly later: readonly unknown[];
}

/** A hostile graph built from a spec, and what reading it did. */
export interface HostileGraph {
  readonly value: unknown;
  /** Reads of each (node, key), for the "read once" check. */
  readonly reads: Map<string, number>;
  /** Whether a revoked proxy or a throwing getter sits anywhere in the graph. */
  readonly tainted: boolean;
}

/** Set when a value's own code (toString, valueOf, Symbol.toPrimitive) runs. */
export const userCode = { calls: 0 };

const trap = (): unknown => {
  userCode.calls++;
  throw new Error("user code ran");
};
const hostileValues: readonly unknown[] = [
  "\n",
  'success"}\n{"ts":"forged","call_id":"forged',
  "forged",
  "\ud800",
  5,
  -1,
  1.5,
  NaN,
  2 ** 60,
  null,
  undefined,
  true,
  10n,
  Symbol("a\nb"),
  [],
  { toString: trap, valueOf: trap, [Symbol.toPrimitive]: trap },
  Object.assign(() => 0, { toString: trap }),
];

/** Specs for hostile events: getters that change per read, proxies, revoked proxies, prototypes, classes. */
export function arbitraryHostileSpec(): fc.Arbitrary<HostileSpec> {
  return fc.record({
    event: arbitraryEvent(),
    wraps: fc.array(
      fc.constantFrom<HostileWrap>("plain", "getters", "proxy", "prototype", "class", "revoked", "throwing"),
      { minLength: 1, maxLength: 12 },
    ),
    later: fc.array(fc.constantFrom(...hostileValues), { minLength: 1, maxLength: 6 }),
  }, { noNullPrototype: true });
}

/** Builds the graph a spec describes: each first read returns the spec's value, later reads `later`'s. */
export function buildHostile(spec: HostileSpec): HostileGraph {
  const reads = new Map<string, number>();
  let nodes = 0;
  let tainted = false;
  const build = (value: unknown): unknown => {
    if (typeof value !== "object" || value === null) return value;
    const node = nodes++;
    const wrap = spec.wraps[node % spec.wraps.length]!;
    const source = value as Record<string, unknown>;
    const keys = Object.keys(source);
    const children = new Map(keys.map((key) => [key, build(source[key])]));
    if (Array.isArray(value)) children.set("length", value.length);
    const answer = (key: string): unknown => {
      const id = `${node}:${key}`;
      const count = (reads.get(id) ?? 0) + 1;
      reads.set(id, count);
      return count === 1 ? children.get(key) : spec.later[(node + count) % spec.later.length];
    };
    const blank = (): object => (Array.isArray(value) ? [] : {});
    const withGetters = (target: object, throwKey?: string): object => {
      for (const key of keys) {
        Object.defineProperty(target, key, {
          get: () => {
            if (key === throwKey) throw new Error(`getter boom\non ${key}`);
            return answer(key);
          },
          enumerable: true,
          configurable: true,
        });
      }
      return target;
    };
    switch (wrap) {
      case "plain":
        return Array.isArray(value) ? keys.map((key) => children.get(key)) : Object.fromEntries(children);
      case "getters":
        return withGetters(blank());
      case "proxy":
        return new Proxy(blank(), {
          get: (_target, key) => (typeof key === "string" && children.has(key) ? answer(key) : undefined),
        });
      case "prototype":
        if (Array.isArray(value)) return withGetters([]);
        return Object.create(withGetters({}));
      case "class": {
        if (Array.isArray(value)) return withGetters([]);
        const Shape = class {};
        withGetters(Shape.prototype);
        return new Shape();
      }
      case "revoked": {
        tainted = true;
        const { proxy, revoke } = Proxy.revocable(blank(), {});
        revoke();
        return proxy;
      }
      case "throwing":
        if (keys.length === 0) return Array.isArray(value) ? [] : {};
        tainted = true;
        return withGetters(blank(), keys[node % keys.length]);
    }
  };
  const value = build(spec.event);
  return { value, reads, tainted };
}
