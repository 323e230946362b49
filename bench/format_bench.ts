// Delivered events/s of each body format of fetchDestination, each against a
// local receiver of its API, beside NDJSON and beside OpenTelemetry's logs SDK
// (BatchLogRecordProcessor + OTLP/HTTP JSON exporter) sending to the same
// receiver's /v1/logs.
//
//   deno run -A bench/format_bench.ts [--events 100000] [--reps 5] [--yield timeout|immediate]
//                                     [--contenders ndjson,otlp,otlp_gzip,otlp_4,loki,bulk,hec,datadog,
//                                                   ndjson_padded,otel,otel_big_queue]
//   bun bench/format_bench.ts [...]
//
// The receiver (bench/_format_receiver.mjs) is a separate Node process that
// counts the lines each request carries and their distinct call_ids, and
// answers as each API does. The producer is the same for every contender (a
// loop that yields every 1,000 events; the audit sink, in "block" mode, also
// awaits `sink.ready`). Time runs from the first record to "everything
// flushed"; delivered events/s = distinct call_ids the receiver got / that
// time. Runs are interleaved; the table shows medians and the worst loss.
import { spawn } from "node:child_process";
import { fileURLToPath } from "node:url";
import {
  type CallEvent,
  createCallEvent,
  datadogLogs,
  elasticsearchBulk,
  type FetchBodyFormat,
  fetchDestination,
  JsonLinesAuditSink,
  lokiPush,
  ndjson,
  otlpLogs,
  splunkHec,
} from "../mod.ts";
import { control, flag, median, runOtel, runtimeName, YIELD_EVERY, yielder } from "./_http_bench.ts";

const EVENTS = Number(flag("--events", "100000"));
const REPS = Number(flag("--reps", "5"));
const YIELD = flag("--yield", "timeout");
const tick = yielder(YIELD);

interface Format {
  readonly name: string;
  readonly path: string;
  readonly format: () => FetchBodyFormat;
  readonly gzip?: boolean;
  readonly maxInFlight?: number;
  readonly headers?: Record<string, string>;
}

const FORMATS: Record<string, Format> = {
  ndjson: { name: "NDJSON (default)", path: "/ingest", format: ndjson },
  otlp: { name: "otlpLogs", path: "/v1/logs", format: () => otlpLogs() },
  otlp_gzip: { name: "otlpLogs, gzip", path: "/v1/logs", format: () => otlpLogs(), gzip: true },
  otlp_4: { name: "otlpLogs, maxInFlight 4", path: "/v1/logs", format: () => otlpLogs(), maxInFlight: 4 },
  loki: { name: "lokiPush", path: "/loki/api/v1/push", format: () => lokiPush() },
  bulk: { name: "elasticsearchBulk", path: "/_bulk", format: () => elasticsearchBulk({ index: "audit" }) },
  hec: {
    name: "splunkHec",
    path: "/services/collector/event",
    format: () => splunkHec(),
    headers: { authorization: "Splunk 00000000-0000-0000-0000-000000000000" },
  },
  datadog: { name: "datadogLogs", path: "/api/v2/logs", format: () => datadogLogs(), headers: { "dd-api-key": "k" } },
};
/** Lines parsed as by any format, then sent padded to an OTLP record's size: what parsing and bytes alone cost. */
const PAD = " ".repeat(1000);
FORMATS.ndjson_padded = {
  name: "control: each line parsed, sent padded to an OTLP record's size",
  path: "/ingest",
  format: () => ({ ...ndjson(), item: (line) => ({ text: `${line.text}${PAD}`, group: "", id: "" }) }),
};

const OTEL: Record<string, string> = {
  otel: "OTel BatchLogRecordProcessor (defaults) + OTLPLogExporter (http/json)",
  otel_big_queue: "OTel, maxQueueSize = all events (no drops)",
};

function mkEvents(n: number, rep: number): CallEvent[] {
  return Array.from({ length: n }, (_, i) =>
    createCallEvent({
      call_id: `r${rep}-${String(i).padStart(7, "0")}`,
      tool_id: "ref:echo.say",
      duration_ms: 17,
      outcome: i % 10 === 0
        ? { kind: "execution_failed", code: "FS_NOT_FOUND", retryable: false }
        : { kind: "success" },
      tier: "warm",
      caller_id: "test-client",
      granted_capabilities: ["read", "write"],
    }));
}

async function runSink(base: string, f: Format, events: CallEvent[]): Promise<number> {
  const t0 = performance.now();
  const sink = new JsonLinesAuditSink(
    fetchDestination(`${base}${f.path}`, {
      format: f.format(),
      gzip: f.gzip ?? false,
      maxInFlight: f.maxInFlight ?? 1,
      headers: f.headers ?? {},
    }),
    { backpressure: "block" },
  );
  for (let i = 0; i < events.length; i++) {
    if (sink.desiredSize <= 0) await sink.ready;
    sink.onCall(events[i]!);
    if (i % YIELD_EVERY === YIELD_EVERY - 1) await tick();
  }
  await sink.close();
  const stats = sink.stats();
  if (stats.written !== events.length) throw new Error(`${f.name} lost events: ${JSON.stringify(stats)}`);
  return performance.now() - t0;
}

interface RunResult {
  readonly ms: number;
  readonly delivered: number;
  readonly requests: number;
}

async function measure(base: string, contender: string, n: number, rep: number): Promise<RunResult> {
  const events = mkEvents(n, rep);
  await control(`${base}/reset`);
  const f = FORMATS[contender];
  const ms = f === undefined
    ? await runOtel(`${base}/v1/logs`, events, contender === "otel_big_queue", tick)
    : await runSink(base, f, events);
  const stats = JSON.parse(await control(`${base}/stats`)) as { requests: number; unique: number };
  if (f !== undefined && stats.unique !== n) {
    throw new Error(`${contender} lost events: the receiver got ${stats.unique} of ${n}`);
  }
  return { ms, delivered: stats.unique, requests: stats.requests };
}

async function main(): Promise<void> {
  const contenders = flag("--contenders", [...Object.keys(FORMATS), ...Object.keys(OTEL)].join(",")).split(",");
  const receiver = fileURLToPath(new URL("./_format_receiver.mjs", import.meta.url));
  const server = spawn("node", [receiver], { stdio: ["ignore", "pipe", "inherit"] });
  const port = await new Promise<string>((resolve) => server.stdout!.once("data", (d) => resolve(String(d).trim())));
  const base = `http://127.0.0.1:${port}`;
  try {
    for (const c of contenders) await measure(base, c, 5_000, -1); // warm-up
    const results = new Map<string, RunResult[]>(contenders.map((c) => [c, []]));
    for (let rep = 0; rep < REPS; rep++) {
      for (const c of contenders) {
        const r = await measure(base, c, EVENTS, rep);
        results.get(c)!.push(r);
        console.error(
          `rep ${rep} ${c}: ${r.delivered}/${EVENTS} in ${r.ms.toFixed(0)} ms (${
            (r.delivered / r.ms * 1000).toFixed(0)
          } ev/s)`,
        );
      }
    }
    const rate = (c: string): number => median(results.get(c)?.map((r) => r.delivered / r.ms * 1000) ?? [NaN]);
    const otel = rate("otel");
    const otelBig = rate("otel_big_queue");
    console.log(
      `\n${runtimeName()}, ${EVENTS} events, producer yields by ${YIELD}, median of ${REPS} interleaved runs\n`,
    );
    console.log(
      "| contender | delivered events/s | ÷ NDJSON | ÷ OTel SDK | ÷ OTel SDK, no drops | lost (max of runs) | requests |",
    );
    console.log("|---|---:|---:|---:|---:|---:|---:|");
    for (const c of contenders) {
      const rs = results.get(c)!;
      const r = rate(c);
      const lost = Math.max(...rs.map((x) => EVENTS - x.delivered));
      console.log(
        `| ${FORMATS[c]?.name ?? OTEL[c]} | ${r.toFixed(0)} | ${(r / rate("ndjson")).toFixed(2)}× | ${
          (r / otel).toFixed(2)
        }× | ${(r / otelBig).toFixed(2)}× | ${lost} | ${median(rs.map((x) => x.requests))} |`,
      );
    }
  } finally {
    server.kill();
  }
}

await main();
