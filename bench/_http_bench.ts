// What bench/fetch_bench.ts and bench/format_bench.ts share: the producer's
// pace, OpenTelemetry's logs SDK as a contender, control requests, medians.
import process from "node:process";
import { setImmediate } from "node:timers";
import { BatchLogRecordProcessor, LoggerProvider } from "@opentelemetry/sdk-logs";
import { OTLPLogExporter } from "@opentelemetry/exporter-logs-otlp-http";
import type { CallEvent } from "../mod.ts";

/** The producer yields to the event loop once every this many events (a server handling requests). */
export const YIELD_EVERY = 1000;

/**
 * How the producer yields: "timeout" = setTimeout(0), which runtimes clamp to
 * 1–4 ms once nested (a paced producer, the default); "immediate" =
 * setImmediate (a burst: delivery capacity is what is measured).
 */
export function yielder(mode: string): () => Promise<void> {
  return () => new Promise((resolve) => mode === "immediate" ? setImmediate(resolve) : setTimeout(resolve, 0));
}

/** The value after `name` on the command line, else `fallback`. */
export function flag(name: string, fallback: string): string {
  const args = process.argv.slice(2);
  const i = args.indexOf(name);
  return i === -1 ? fallback : args[i + 1]!;
}

/**
 * OpenTelemetry's logs SDK: BatchLogRecordProcessor (its defaults: queue
 * 2048, batch 512, 1 s delay; or a queue as large as the run) and the
 * OTLP/HTTP JSON exporter to `url`, each event's fields as attributes.
 * Returns the time from the first record to everything flushed, in ms.
 */
export async function runOtel(
  url: string,
  events: readonly CallEvent[],
  bigQueue: boolean,
  tick: () => Promise<void>,
): Promise<number> {
  const t0 = performance.now();
  const exporter = new OTLPLogExporter({ url });
  const options = bigQueue ? { exporter, maxQueueSize: events.length } : { exporter };
  const provider = new LoggerProvider({ processors: [new BatchLogRecordProcessor(options)] });
  const logger = provider.getLogger("audit");
  for (let i = 0; i < events.length; i++) {
    const e = events[i]!;
    logger.emit({
      body: "tool call",
      attributes: {
        ts: e.ts,
        call_id: e.call_id,
        tool_id: e.tool_id,
        caller_id: e.caller_id ?? "",
        granted_capabilities: [...e.granted_capabilities],
        duration_ms: e.duration_ms,
        "outcome.kind": e.outcome.kind,
        tier: e.tier,
        dry_run: e.dry_run,
        schema_version: e.schema_version,
        secrets_resolved: e.secrets_resolved,
      },
    });
    if (i % YIELD_EVERY === YIELD_EVERY - 1) await tick();
  }
  await provider.forceFlush();
  await provider.shutdown();
  return performance.now() - t0;
}

/** A bench control request (not measured), retried once on a network error. */
export async function control(url: string): Promise<string> {
  try {
    return await fetch(url).then((r) => r.text());
  } catch {
    return await fetch(url).then((r) => r.text());
  }
}

export function median(values: number[]): number {
  const s = [...values].sort((a, b) => a - b);
  const mid = s.length >> 1;
  return s.length % 2 ? s[mid]! : (s[mid - 1]! + s[mid]!) / 2;
}

/** "Deno 2.9.6", "Bun 1.4.5" or "Node v20.20.2". */
export function runtimeName(): string {
  const g = globalThis as { Deno?: { version: { deno: string } }; Bun?: { version: string } };
  if (g.Deno !== undefined) return `Deno ${g.Deno.version.deno}`;
  if (g.Bun !== undefined) return `Bun ${g.Bun.version}`;
  return `Node ${process.version}`;
}
