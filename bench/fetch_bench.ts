// HTTP delivery throughput: JsonLinesAuditSink ("block") over fetchDestination,
// with and without gzip, against OpenTelemetry's logs SDK
// (BatchLogRecordProcessor + OTLP/HTTP JSON exporter, default settings), all
// sending the same events to the same kind of local server.
//
//   deno run -A bench/fetch_bench.ts [--events 100000] [--reps 5] [--yield timeout|immediate]
//                                    [--contenders sink,sink_gzip,otel,otel_big_queue,raw]
//   bun bench/fetch_bench.ts [...]
//
// The receiver is a separate Node process (node:http) that counts lines and
// distinct call_ids, so client and server do not share a thread. Each run
// builds its events beforehand, then times from the first record to the
// moment everything is flushed; delivered events/s = distinct call_ids the
// server got / that time. Runs are interleaved; the table shows medians.
//
// The producer is the same for every contender: it records events in a loop
// and yields to the event loop (see --yield) every 1,000 events (a server handling
// requests), and for the audit sink it also awaits `sink.ready` when the
// queue is full (block mode's backpressure). OpenTelemetry has no
// backpressure: what its queue cannot hold is dropped, and reported.
import { spawn } from "node:child_process";
import { type CallEvent, createCallEvent, encodeCallEvent, JsonLinesAuditSink } from "../mod.ts";
import { fetchDestination } from "../src/destination/fetch_destination.ts";
import { control, flag, median, runOtel, runtimeName, YIELD_EVERY, yielder } from "./_http_bench.ts";

const EVENTS = Number(flag("--events", "100000"));
const REPS = Number(flag("--reps", "5"));

// The receiver: counts NDJSON lines (gunzipping when asked) and OTLP JSON log
// records, and the distinct call_ids among them.
const SERVER = `
const http = require("node:http");
const zlib = require("node:zlib");
let lines = 0, requests = 0, ids = new Set();
const CALL_ID = /"call_id":"([^"]*)"/g;
const server = http.createServer((req, res) => {
  const chunks = [];
  req.on("data", (c) => chunks.push(c));
  req.on("end", () => {
    if (req.url === "/reset") { lines = 0; requests = 0; ids = new Set(); return res.end("ok"); }
    if (req.url === "/stats") return res.end(JSON.stringify({ lines, requests, unique: ids.size }));
    let body = Buffer.concat(chunks);
    if (req.headers["content-encoding"] === "gzip") body = zlib.gunzipSync(body);
    requests++;
    const text = body.toString("utf8");
    if (req.url === "/v1/logs") {
      for (const rl of JSON.parse(text).resourceLogs ?? []) for (const sl of rl.scopeLogs ?? []) {
        for (const r of sl.logRecords ?? []) {
          lines++;
          const a = (r.attributes ?? []).find((x) => x.key === "call_id");
          if (a) ids.add(a.value.stringValue);
        }
      }
      res.writeHead(200, { "content-type": "application/json" });
      return res.end("{}");
    }
    for (const m of text.matchAll(CALL_ID)) { lines++; ids.add(m[1]); }
    res.writeHead(204);
    res.end();
  });
});
server.keepAliveTimeout = 65_000; // longer than the clients' idle sockets live: no stale-socket races
server.listen(0, "127.0.0.1", function () { console.log(this.address().port); });
`;

interface RunResult {
  readonly ms: number;
  readonly delivered: number;
  readonly lines: number;
  readonly requests: number;
}

function mkEvents(n: number, rep: number): CallEvent[] {
  return Array.from({ length: n }, (_, i) =>
    createCallEvent({
      call_id: `r${rep}-${String(i).padStart(7, "0")}`,
      tool_id: "ref:echo.say",
      duration_ms: 17,
      outcome: { kind: "success" },
      tier: "warm",
      caller_id: "test-client",
      granted_capabilities: ["read", "write"],
    }));
}

// How the producer yields every 1,000 events (see yielder in _http_bench.ts).
const YIELD = flag("--yield", "timeout");
const tick = yielder(YIELD);

async function runSink(base: string, events: CallEvent[], gzip: boolean): Promise<number> {
  const t0 = performance.now();
  const sink = new JsonLinesAuditSink(
    fetchDestination(`${base}/ingest`, { gzip, maxInFlight: Number(flag("--in-flight", "1")) }),
    { backpressure: "block" },
  );
  for (let i = 0; i < events.length; i++) {
    if (sink.desiredSize <= 0) await sink.ready;
    sink.onCall(events[i]!);
    if (i % YIELD_EVERY === YIELD_EVERY - 1) await tick();
  }
  await sink.close();
  const stats = sink.stats();
  if (stats.written !== events.length || stats.dropped !== 0) {
    throw new Error(`sink lost events: ${JSON.stringify(stats)}`);
  }
  return performance.now() - t0;
}

/** The floor: encode every line, then POST 512-line bodies one at a time with plain fetch. */
async function runRaw(base: string, events: CallEvent[]): Promise<number> {
  const t0 = performance.now();
  const encoder = new TextEncoder();
  for (let i = 0; i < events.length; i += 512) {
    const text = events.slice(i, i + 512).map((e) => encodeCallEvent(e) + "\n").join("");
    const response = await fetch(`${base}/ingest`, { method: "POST", body: encoder.encode(text) });
    await response.arrayBuffer();
  }
  return performance.now() - t0;
}

type Contender = "sink" | "sink_gzip" | "otel" | "otel_big_queue" | "raw";
const CONTENDERS = flag("--contenders", "sink,sink_gzip,otel,otel_big_queue").split(",") as Contender[];

async function measure(base: string, contender: Contender, n: number, rep: number): Promise<RunResult> {
  const events = mkEvents(n, rep);
  await control(`${base}/reset`);
  const ms = contender === "raw"
    ? await runRaw(base, events)
    : contender.startsWith("otel")
    ? await runOtel(`${base}/v1/logs`, events, contender === "otel_big_queue", tick)
    : await runSink(base, events, contender === "sink_gzip");
  const stats = JSON.parse(await control(`${base}/stats`)) as {
    lines: number;
    requests: number;
    unique: number;
  };
  if (contender.startsWith("sink") && stats.unique !== n) {
    throw new Error(`${contender} lost events: the receiver got ${stats.unique} of ${n}`);
  }
  return { ms, delivered: stats.unique, lines: stats.lines, requests: stats.requests };
}

async function main(): Promise<void> {
  const server = spawn("node", ["-e", SERVER], { stdio: ["ignore", "pipe", "inherit"] });
  const port = await new Promise<string>((resolve) => server.stdout!.once("data", (d) => resolve(String(d).trim())));
  const base = `http://127.0.0.1:${port}`;
  try {
    for (const c of CONTENDERS) await measure(base, c, 5_000, -1); // warm-up
    const results: Record<Contender, RunResult[]> = { sink: [], sink_gzip: [], otel: [], otel_big_queue: [], raw: [] };
    for (let rep = 0; rep < REPS; rep++) {
      for (const c of CONTENDERS) {
        const r = await measure(base, c, EVENTS, rep);
        results[c].push(r);
        console.error(
          `rep ${rep} ${c}: ${r.delivered}/${EVENTS} delivered in ${r.ms.toFixed(0)} ms ` +
            `(${(r.delivered / r.ms * 1000).toFixed(0)} ev/s, ${r.requests} requests, ${r.lines} lines)`,
        );
      }
    }
    const runtime = runtimeName();
    const otelRate = median(
      (results.otel.length ? results.otel : results[CONTENDERS[0]!]).map((r) => r.delivered / r.ms * 1000),
    );
    console.log(`\n${runtime}, ${EVENTS} events, producer yields by ${YIELD}, median of ${REPS} interleaved runs\n`);
    console.log(
      "| contender | delivered events/s | ratio vs OTel | delivered (min of runs) | lost (max of runs) | requests |",
    );
    console.log("|---|---:|---:|---:|---:|---:|");
    const names: Record<Contender, string> = {
      sink: "JsonLinesAuditSink block + fetchDestination",
      sink_gzip: "JsonLinesAuditSink block + fetchDestination gzip",
      otel: "OTel BatchLogRecordProcessor (defaults) + OTLPLogExporter (http/json)",
      otel_big_queue: "OTel, maxQueueSize = all events (no drops)",
      raw: "floor: plain fetch of pre-batched 512-line bodies, 1 in flight",
    };
    for (const c of CONTENDERS) {
      const rs = results[c];
      const rate = median(rs.map((r) => r.delivered / r.ms * 1000));
      const delivered = Math.min(...rs.map((r) => r.delivered));
      const lost = Math.max(...rs.map((r) => EVENTS - r.delivered));
      const requests = median(rs.map((r) => r.requests));
      console.log(
        `| ${names[c]} | ${rate.toFixed(0)} | ${
          (rate / otelRate).toFixed(2)
        }× | ${delivered} | ${lost} | ${requests} |`,
      );
    }
  } finally {
    server.kill();
  }
}

await main();
