// The `oncall` contender of `_worker.ts`: synchronous ns per event of onCall,
// JSON.stringify, encodeCallEvent, createCallEvent and nowRfc3339, interleaved
// in one process. Also holds what both files share.
import {
  type CallEvent,
  type CallEventFields,
  createCallEvent,
  encodeCallEvent,
  JsonLinesAuditSink,
  nowRfc3339,
} from "../mod.ts";
import { fileDestination } from "../src/destination/file_destination.ts";
import { importAuditSealKey } from "../src/seal/audit_seal_key.ts";
import { generateAuditSealKey } from "../src/seal/generate_audit_seal_key.ts";
import { rmSync } from "node:fs";
import { eventFields, type Shape } from "./_shapes.ts";

/** One run's measurements, printed as one JSON line. */
export type Result = Record<string, number | string | boolean>;

/** Starts the clock on a collected heap, so that garbage from making the events is not billed to the contender. */
export function collectGarbage(): void {
  const g = globalThis as { gc?: () => void; Bun?: { gc(force: boolean): void } };
  if (g.Bun) g.Bun.gc(true);
  else g.gc?.(); // --expose-gc (run.mjs passes it to Deno and Node)
}

const LOOPS = ["onCall", "stringify", "encode", "create", "now"] as const;

/**
 * ns inside `onCall` only (block mode, file destination), against
 * `JSON.stringify` and `encodeCallEvent` of the same events, `createCallEvent`
 * of their fields (default `ts`, so `nowRfc3339` included) and `nowRfc3339`
 * alone, in the same process: chunks of 512 events, the loops interleaved
 * (order rotating per chunk), the sink drained between chunks outside the
 * clock. A first pass over 10% of the events warms the JIT. With `sealed`
 * (the `oncall_sealed` contender), the sink seals its trail into a seal file
 * beside: the same loops, so that the two contenders' onCall compare.
 */
export async function onCallCost(shape: Shape, total: number, outPath: string, sealed = false): Promise<Result> {
  const fields = new Array<CallEventFields>(total);
  const events = new Array<CallEvent>(total);
  for (let i = 0; i < total; i++) {
    fields[i] = eventFields(shape, i);
    events[i] = createCallEvent(fields[i]!);
  }
  const seal = sealed
    ? {
      key: await importAuditSealKey((await generateAuditSealKey()).privateJwk),
      to: fileDestination(`${outPath}.seal`),
    }
    : undefined;
  const sink = new JsonLinesAuditSink(fileDestination(outPath), { backpressure: "block", ...(seal ? { seal } : {}) });
  const chunk = 512;
  let keep = 0; // keeps the results alive
  const loop = (which: number, from: number, to: number): void => {
    switch (LOOPS[which]) {
      case "onCall":
        for (let i = from; i < to; i++) sink.onCall(events[i]!);
        break;
      case "stringify":
        for (let i = from; i < to; i++) keep += JSON.stringify(events[i]).length;
        break;
      case "encode":
        for (let i = from; i < to; i++) keep += encodeCallEvent(events[i]!).length;
        break;
      case "create":
        for (let i = from; i < to; i++) keep += createCallEvent(fields[i]!).duration_ms;
        break;
      default:
        for (let i = from; i < to; i++) keep += nowRfc3339().length;
    }
  };
  const measure = async (from: number, to: number): Promise<number[]> => {
    const ns = LOOPS.map(() => 0);
    for (let c = from; c < to; c += chunk) {
      const end = Math.min(c + chunk, to);
      for (let k = 0; k < LOOPS.length; k++) {
        const which = (k + c / chunk) % LOOPS.length;
        const t0 = performance.now();
        loop(which, c, end);
        ns[which]! += (performance.now() - t0) * 1e6;
      }
      if (sink.desiredSize <= 0) await sink.ready;
    }
    return ns.map((x) => x / (to - from));
  };
  const warm = Math.floor(total / 10 / chunk) * chunk;
  await measure(0, warm);
  await sink.flush();
  collectGarbage();
  const [onCallNs = NaN, stringifyNs = NaN, encodeNs = NaN, createNs = NaN, nowNs = NaN] = await measure(0, total);
  await sink.close();
  rmSync(`${outPath}.seal`, { force: true });
  const s = sink.stats();
  return {
    onCallNs,
    stringifyNs,
    encodeNs,
    createNs,
    nowNs,
    onCallOverStringify: onCallNs / stringifyNs,
    lineBytes: new TextEncoder().encode(encodeCallEvent(events[0]!)).length + 1, // with its newline
    accepted: s.accepted,
    expectedLines: warm + total,
    checksum: keep % 997,
  };
}
