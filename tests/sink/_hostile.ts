// Hostile disguises of a valid event for the sink's property tests: the same
// values behind getters, proxies (revoked ones too), prototypes and classes,
// with some fields that throw, or answer differently on their second read.

/** What a field does when it is read. */
export type Fault = "none" | "throw" | "revoke" | "stateful";

/** Choices drawn in traversal order; wraps around. */
export class Choices {
  #at = 0;
  readonly #seeds: readonly number[];
  /** Faults that were used. */
  readonly used = new Set<Fault>();
  /** Whether a field was put on a prototype (an encoder may read own properties only). */
  inherited = false;

  constructor(seeds: readonly number[], readonly faults: readonly Fault[]) {
    this.#seeds = seeds.length === 0 ? [0] : seeds;
  }

  next(n: number): number {
    return this.#seeds[this.#at++ % this.#seeds.length]! % n;
  }

  fault(): Fault {
    // Most fields behave: faults are the exception, as in a real attack.
    const pick = this.next(this.faults.length * 6);
    return pick < this.faults.length ? this.faults[pick]! : "none";
  }
}

/** A value the second read returns instead: a forged line where a string is written without escaping. */
function crafted(value: unknown): unknown {
  if (typeof value === "string") return 'success"}}\n{"ts":"forged","call_id":"forged","tool_id":"forged';
  if (typeof value === "number") return value + 1;
  if (typeof value === "boolean") return !value;
  if (value === null) return 7;
  if (Array.isArray(value)) return ["forged"];
  return { kind: "tool_not_found" };
}

function revoked(): object {
  const { proxy, revoke } = Proxy.revocable({}, {});
  revoke();
  return proxy;
}

/** `value`, disguised as `choices` say. */
export function disguise(value: unknown, choices: Choices): unknown {
  if (typeof value !== "object" || value === null) return value;
  const entries = Object.entries(value).map(([key, field]) => [key, disguise(field, choices)] as const);
  const descriptors: PropertyDescriptorMap = {};
  for (const [key, field] of entries) {
    const fault = choices.fault();
    choices.used.add(fault);
    if (fault === "throw") {
      descriptors[key] = {
        get() {
          throw new Error(`hostile getter ${key}`);
        },
        enumerable: true,
      };
    } else if (fault === "revoke") descriptors[key] = { value: revoked(), enumerable: true };
    else if (fault === "stateful") {
      let reads = 0;
      descriptors[key] = { get: () => (reads++ === 0 ? field : crafted(field)), enumerable: true };
    } else if (choices.next(2) === 0) descriptors[key] = { get: () => field, enumerable: true };
    else descriptors[key] = { value: field, enumerable: true, writable: true };
  }
  const shape = choices.next(Array.isArray(value) ? 2 : 4);
  if (Array.isArray(value)) {
    const array = Object.defineProperties(new Array(value.length), descriptors);
    return shape === 0 ? array : new Proxy(array, { get: (t, k, r) => Reflect.get(t, k, r) });
  }
  const own = Object.defineProperties({}, descriptors);
  switch (shape) {
    case 0:
      return own;
    case 1:
      return new Proxy(own, { get: (t, k, r) => Reflect.get(t, k, r) });
    case 2:
      choices.inherited = true;
      return Object.create(own);
    default:
      choices.inherited = true;
      return Object.create(new Proxy(own, {}));
  }
}
