// A fuzzer over sealed logs: random trails (segments, heartbeats, an
// unsealed tail; seal stream or in band; Ed25519 or HMAC), one random change
// each, and the finding the verifier must give: the right kind, over a line
// range that holds the change. Clean trails must never be flagged.
import { describe, it } from "node:test";
import assert from "node:assert/strict";
import fc from "fast-check";
import type { AuditTrailFinding } from "../../src/seal/verify_audit_trail.ts";
import { eventLine, keys, problems, sealTrail, show, type Trail, verify } from "./_trail.ts";

const encoder = new TextEncoder();
const decoder = new TextDecoder();

/** One line of the data stream (a data line or, in band, a checkpoint), and what it is. */
interface Line {
  readonly bytes: Uint8Array;
  readonly checkpoint: boolean;
  /** A data line some checkpoint seals. */
  readonly sealed: boolean;
}

interface Log {
  readonly data: Line[];
  readonly seal: Uint8Array[];
  readonly inBand: boolean;
  readonly trail: Trail;
}

function layout(trail: Trail, inBand: boolean): Log {
  const line = (text: string, checkpoint: boolean, sealed: boolean): Line => ({
    bytes: encoder.encode(text),
    checkpoint,
    sealed,
  });
  const data: Line[] = [];
  trail.segments.forEach((lines, i) => {
    for (const text of lines) data.push(line(text, false, true));
    if (inBand) data.push(line(trail.checkpoints[i]!, true, false));
  });
  for (const text of trail.tail) data.push(line(text, false, false));
  const seal = inBand ? [] : trail.checkpoints.map((text) => encoder.encode(text));
  return { data, seal, inBand, trail };
}

/** What the verifier must say about a changed log. */
interface Expected {
  /** The kinds allowed; `undefined`: no problem at all (the change cannot be seen). */
  readonly kinds?: readonly string[];
  /** A finding of an allowed kind must satisfy this. */
  readonly covers?: (f: AuditTrailFinding) => boolean;
  readonly what: string;
}

const within = (line: number) => (f: AuditTrailFinding): boolean => f.line <= line && line <= f.lastLine;
const at = (line: number) => (f: AuditTrailFinding): boolean => f.line === line && f.lastLine === line - 1;
const near = (line: number) => (f: AuditTrailFinding): boolean =>
  f.line <= line && line <= Math.max(f.line, f.lastLine);

type Mutation =
  | { op: "byte"; line: number; at: number; byte: number }
  | { op: "field"; line: number; field: number }
  | { op: "insert"; at: number; copy: number | null }
  | { op: "delete"; line: number }
  | { op: "swap"; a: number; b: number }
  | { op: "truncate"; at: number }
  | { op: "remove_segment"; segment: number }
  | { op: "checkpoint"; checkpoint: number; at: number; byte: number };

const mutation: fc.Arbitrary<Mutation> = fc.oneof(
  fc.record({ op: fc.constant("byte" as const), line: fc.nat(), at: fc.nat(), byte: fc.nat(255) }),
  fc.record({ op: fc.constant("field" as const), line: fc.nat(), field: fc.nat() }),
  fc.record({ op: fc.constant("insert" as const), at: fc.nat(), copy: fc.option(fc.nat(), { nil: null }) }),
  fc.record({ op: fc.constant("delete" as const), line: fc.nat() }),
  fc.record({ op: fc.constant("swap" as const), a: fc.nat(), b: fc.nat() }),
  fc.record({ op: fc.constant("truncate" as const), at: fc.nat() }),
  fc.record({ op: fc.constant("remove_segment" as const), segment: fc.nat() }),
  fc.record({ op: fc.constant("checkpoint" as const), checkpoint: fc.nat(), at: fc.nat(), byte: fc.nat(255) }),
).map((m) => ({ ...m }) as Mutation);

const FIELDS: [RegExp, string][] = [
  [/"duration_ms":\d+/, '"duration_ms":99999'],
  [/"tier":"warm"/, '"tier":"cold"'],
  [/"caller_id":"agent-A"/, '"caller_id":"agent-Z"'],
  [/"dry_run":false/, '"dry_run":true'],
  [/"tool_id":"[^"]*"/, '"tool_id":"evil.tool"'],
  [/"call_id":"([^"]*)"/, '"call_id":"$1x"'],
];

/** A byte other than `old` and the newline. */
function otherByte(old: number, wanted: number): number {
  let b = wanted;
  while (b === old || b === 0x0a) b = (b + 1) % 256;
  return b;
}

/** Applies `m` to `log`: the changed data and seal, and what the verifier must find. */
function mutate(log: Log, m: Mutation): { data: Line[]; seal: Uint8Array[]; expected: Expected } {
  const data = [...log.data];
  const seal = [...log.seal];
  const dataIndexes = data.flatMap((l, i) => (l.checkpoint ? [] : [i]));
  const lastSealed = data.findLastIndex((l) => (log.inBand ? l.checkpoint : l.sealed)) + 1; // position after it
  const none = (what: string): Expected => ({ what });
  switch (m.op) {
    case "byte":
    case "field": {
      const i = dataIndexes[m.line % dataIndexes.length]!;
      let bytes: Uint8Array;
      if (m.op === "byte") {
        bytes = data[i]!.bytes.slice();
        const p = m.at % (bytes.length - 1);
        bytes[p] = otherByte(bytes[p]!, m.byte);
      } else {
        const [pattern, value] = FIELDS[m.field % FIELDS.length]!;
        bytes = encoder.encode(decoder.decode(data[i]!.bytes).replace(pattern, value));
      }
      data[i] = { ...data[i]!, bytes };
      if (!data[i]!.sealed) return { data, seal, expected: none(`${m.op} of unsealed line ${i + 1}`) };
      return { data, seal, expected: { kinds: ["edited"], covers: within(i + 1), what: `${m.op} of line ${i + 1}` } };
    }
    case "insert": {
      const q = m.at % (data.length + 1);
      const bytes = m.copy === null
        ? encoder.encode(eventLine(90_000 + m.at % 1000, "inserted"))
        : data[dataIndexes[m.copy % dataIndexes.length]!]!.bytes;
      data.splice(q, 0, { bytes, checkpoint: false, sealed: false });
      // Before a line equal to it, a line might as well have been inserted after that one.
      let after = q;
      while (data[after + 1] !== undefined && equal(data[after + 1]!.bytes, bytes)) after++;
      if (after >= lastSealed) return { data, seal, expected: none(`insert at ${q + 1}, after the sealed lines`) };
      // A copy next to its original may be taken for either.
      const same = (j: number): boolean => data[j - 1] !== undefined && equal(data[j - 1]!.bytes, bytes);
      const covers = (f: AuditTrailFinding): boolean =>
        [q, q + 1, q + 2].some((j) => (j === q + 1 || same(j)) && within(j)(f));
      return { data, seal, expected: { kinds: ["inserted"], covers, what: `insert at ${q + 1}` } };
    }
    case "delete": {
      const i = dataIndexes[m.line % dataIndexes.length]!;
      const wasSealed = data[i]!.sealed;
      data.splice(i, 1);
      if (!wasSealed) return { data, seal, expected: none(`delete of unsealed line ${i + 1}`) };
      const last = !log.inBand && i === lastSealed - 1;
      if (last && log.trail.tail.length === 0) {
        return {
          data,
          seal,
          expected: { kinds: ["truncated", "deleted"], covers: at(i + 1), what: `delete last ${i + 1}` },
        };
      }
      if (last) {
        // The last sealed line gone, unsealed lines after it: as if that line were edited into the next.
        return { data, seal, expected: { kinds: ["deleted", "edited"], covers: near(i + 1), what: `delete ${i + 1}` } };
      }
      return { data, seal, expected: { kinds: ["deleted"], covers: at(i + 1), what: `delete of line ${i + 1}` } };
    }
    case "swap": {
      const x = dataIndexes[m.a % dataIndexes.length]!;
      const y = dataIndexes[m.b % dataIndexes.length]!;
      const a = Math.min(x, y);
      const b = Math.max(x, y);
      if (a === b || equal(data[a]!.bytes, data[b]!.bytes)) return { data, seal, expected: none("no swap") };
      const [la, lb] = [data[a]!, data[b]!];
      data[a] = { ...la, bytes: lb.bytes };
      data[b] = { ...lb, bytes: la.bytes };
      if (!la.sealed) return { data, seal, expected: none(`swap of unsealed lines ${a + 1}, ${b + 1}`) };
      if (!lb.sealed) {
        // A sealed line traded for an unsealed one: edited, or (the last sealed line moved on) lines inserted before it.
        const kinds = log.inBand ? ["edited"] : ["edited", "inserted"];
        return { data, seal, expected: { kinds, covers: within(a + 1), what: `swap ${a + 1} with unsealed ${b + 1}` } };
      }
      const covers = (f: AuditTrailFinding): boolean => f.line <= a + 1 && f.lastLine >= b + 1;
      return { data, seal, expected: { kinds: ["reordered"], covers, what: `swap ${a + 1} and ${b + 1}` } };
    }
    case "truncate": {
      const joined = concat(data.map((l) => l.bytes));
      const keep = 1 + m.at % (joined.length - 1);
      let start = 0;
      let line = 0; // the line the cut falls in, or the first line cut off
      while (start + data[line]!.bytes.length <= keep) start += data[line++]!.bytes.length;
      const cut = decoder.decode(joined.subarray(0, keep));
      const cutData: Line[] = [{ bytes: encoder.encode(cut), checkpoint: false, sealed: false }];
      // In band, a cut inside a checkpoint line is what a crash while writing it leaves: a torn write, its lines unsealed.
      if (log.inBand) return { data: cutData, seal, expected: none(`in-band cut in line ${line + 1}`) };
      if (line >= lastSealed) return { data: cutData, seal, expected: none(`cut in unsealed line ${line + 1}`) };
      return {
        data: cutData,
        seal,
        expected: { kinds: ["truncated"], covers: (f) => f.line === line + 1, what: `cut in line ${line + 1}` },
      };
    }
    case "remove_segment": {
      const k = m.segment % log.trail.segments.length;
      const lines = log.trail.segments[k]!.length;
      // Where segment k starts in the data stream.
      let start = 0;
      for (let j = 0; j < k; j++) start += log.trail.segments[j]!.length + (log.inBand ? 1 : 0);
      data.splice(start, lines + (log.inBand ? 1 : 0));
      if (!log.inBand) seal.splice(k, 1);
      if (k === log.trail.segments.length - 1) return { data, seal, expected: none("the last segment removed") };
      if (lines === 0) return { data, seal, expected: { kinds: ["broken_chain"], what: `heartbeat ${k} removed` } };
      if (log.trail.segments.slice(k + 1).every((later) => later.length === 0) && log.trail.tail.length > 0) {
        // Only heartbeats after it, then unsealed lines: those may as well be its lines, their checkpoint alone gone.
        return { data, seal, expected: { kinds: ["deleted", "broken_chain"], what: `segment ${k} removed` } };
      }
      return { data, seal, expected: { kinds: ["deleted"], covers: at(start + 1), what: `segment ${k} removed` } };
    }
    case "checkpoint": {
      const k = m.checkpoint % log.trail.checkpoints.length;
      const original = encoder.encode(log.trail.checkpoints[k]!);
      const bytes = original.slice();
      const p = 20 + m.at % (bytes.length - 21); // past the prefix, before the newline
      bytes[p] = otherByte(bytes[p]!, m.byte);
      if (log.inBand) {
        const i = data.findIndex((l) => l.checkpoint && equal(l.bytes, original));
        data[i] = { ...data[i]!, bytes };
      } else seal[k] = bytes;
      const kinds = ["bad_signature", "malformed", "unknown_key", "broken_chain", "foreign_seal"];
      return { data, seal, expected: { kinds, what: `byte ${p} of checkpoint ${k}` } };
    }
  }
}

function equal(a: Uint8Array, b: Uint8Array): boolean {
  return a.length === b.length && a.every((x, i) => x === b[i]);
}

function concat(parts: readonly Uint8Array[]): Uint8Array {
  const out = new Uint8Array(parts.reduce((n, p) => n + p.length, 0));
  let offset = 0;
  for (const p of parts) (out.set(p, offset), offset += p.length);
  return out;
}

const trailArb: fc.Arbitrary<TrailSpec> = fc.record({
  plan: fc.array(fc.oneof(fc.nat(6), fc.constant(0)), { minLength: 1, maxLength: 6 })
    .filter((plan) => plan.reduce((a, b) => a + b, 0) >= 3),
  tail: fc.nat(3),
  inBand: fc.boolean(),
  hmac: fc.boolean(),
});

interface TrailSpec {
  readonly plan: number[];
  readonly tail: number;
  readonly inBand: boolean;
  readonly hmac: boolean;
}

async function run(t: TrailSpec, m?: Mutation): Promise<void> {
  const key = await keys(t.hmac ? "HMAC-SHA256" : "Ed25519");
  const log = layout(await sealTrail(key.seal, t.plan, t.tail), t.inBand);
  const changed = m === undefined ? { data: log.data, seal: log.seal, expected: { what: "clean" } } : mutate(log, m);
  const data = decoder.decode(concat(changed.data.map((l) => l.bytes)));
  const seal = t.inBand ? undefined : decoder.decode(concat(changed.seal));
  const { findings } = await verify(data, { keys: key.verify, ...(seal === undefined ? {} : { seal }) });
  const found = problems(findings);
  const { kinds, covers, what } = changed.expected;
  const context = `${what} (${t.inBand ? "in band" : "seal stream"}, plan ${t.plan}, tail ${t.tail}):\n${
    show(findings)
  }`;
  if (kinds === undefined) {
    assert.deepEqual(found, [], context);
    return;
  }
  assert.ok(found.length > 0, `nothing found: ${context}`);
  for (const f of found) assert.ok(kinds.includes(f.kind), `unexpected ${f.kind}: ${context}`);
  if (covers !== undefined) assert.ok(found.some(covers), `wrong line range: ${context}`);
}

describe("verifyAuditTrail fuzzer", () => {
  it("never flags a clean trail, and reports its unsealed tail as such", async () => {
    await fc.assert(fc.asyncProperty(trailArb, (t) => run(t)), { numRuns: 60 });
  });

  it("detects every single change to a sealed trail, with the right kind and line range", async () => {
    await fc.assert(fc.asyncProperty(trailArb, mutation, (t, m) => run(t, m)), { numRuns: 400 });
  });
});
