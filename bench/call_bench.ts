// What auditing a call costs: auditCall over calling the function directly,
// and auditMcpServer per tools/call over the SDK's in-memory transport.
//
//   deno run -A bench/call_bench.ts [--runtimes deno,bun,node] [--runs 5]
//
// The parent runs one child process per runtime and run (Node runs an esbuild
// bundle), then prints Markdown tables of medians; see bench/README_call.md.
// Within a child every variant is measured in alternating rounds, so that
// a noisy neighbour slows all of them alike; results are ratios and
// differences taken within the same child.
import process from "node:process";
// @ts-types="@modelcontextprotocol/sdk/server/mcp"
import { McpServer } from "@modelcontextprotocol/sdk/server/mcp.js";
// @ts-types="@modelcontextprotocol/sdk/client/index"
import { Client } from "@modelcontextprotocol/sdk/client/index.js";
// @ts-types="@modelcontextprotocol/sdk/inMemory"
import { InMemoryTransport } from "@modelcontextprotocol/sdk/inMemory.js";
import { z } from "zod";
import { auditCall, type AuditSink, JsonLinesAuditSink } from "../mod.ts";
import { auditMcpServer } from "../src/mcp/audit_mcp_server.ts";
import { median, runChildren } from "./_children.ts";

const args = process.argv.slice(2);
const flag = (name: string, fallback: string): string => {
  const i = args.indexOf(name);
  return i === -1 ? fallback : args[i + 1]!;
};

// ---------------------------------------------------------------- child

/** A sink that keeps nothing: auditCall's own cost. */
const nullSink: AuditSink = { onCall() {} };
/** The real sink into a stream that discards: auditCall plus the sink's encode and queue. */
function jsonSink(): JsonLinesAuditSink {
  return new JsonLinesAuditSink(new WritableStream({ write() {} }), { capacity: 1 << 16 });
}

let sink = 0;
function work(i: number): number {
  return (i * 2654435761) % 1000003;
}

/** ns per call of `body`, over `n` calls. */
function timeSync(n: number, body: (i: number) => void): number {
  const t0 = performance.now();
  for (let i = 0; i < n; i++) body(i);
  return ((performance.now() - t0) * 1e6) / n;
}

async function timeAsync(n: number, body: (i: number) => Promise<unknown>): Promise<number> {
  const t0 = performance.now();
  for (let i = 0; i < n; i++) await body(i);
  return ((performance.now() - t0) * 1e6) / n;
}

/**
 * Runs every variant `rounds` times in rotating order, `n` calls a time, and
 * returns for each the median ns per call and the median, over rounds, of its
 * difference from `base` measured in the same round.
 */
async function compare(
  variants: Record<string, (n: number) => Promise<number> | number>,
  base: string,
  rounds: number,
  n: number,
): Promise<Record<string, { ns: number; min: number; delta: number; best: number }>> {
  const names = Object.keys(variants);
  const samples: Record<string, number[]> = Object.fromEntries(names.map((k) => [k, []]));
  for (let round = 0; round < rounds + 5; round++) {
    const perRound: Record<string, number> = {};
    for (let j = 0; j < names.length; j++) {
      const name = names[(j + round) % names.length]!;
      perRound[name] = await variants[name]!(n);
    }
    if (round < 5) continue; // warm-up: the JIT, the caches
    for (const name of names) samples[name]!.push(perRound[name]!);
  }
  // On a shared machine noise only adds time: the fastest rounds estimate the cost without neighbours.
  return Object.fromEntries(names.map((k) => [k, {
    ns: median(samples[k]!),
    min: Math.min(...samples[k]!),
    delta: median(samples[k]!.map((v, i) => v - samples[base]![i]!)),
    best: Math.min(...samples[k]!) - Math.min(...samples[base]!),
  }]));
}

async function auditCallNumbers(): Promise<Record<string, number>> {
  const real = jsonSink();
  const fields = { tool_id: "math.hash", caller_id: "agent-A", granted_capabilities: ["read"] };
  const sync = await compare(
    {
      direct: (n) => timeSync(n, (i) => (sink += work(i))),
      audited: (n) => timeSync(n, (i) => (sink += auditCall(nullSink, fields, () => work(i)))),
      audited_json_sink: async (n) => {
        const ns = timeSync(n, (i) => (sink += auditCall(real, fields, () => work(i))));
        await real.flush(); // outside the timing: the lines are written after the calls return
        return ns;
      },
    },
    "direct",
    25,
    20_000,
  );
  const asynchronous = await compare(
    {
      direct: (n) => timeAsync(n, async (i) => (sink += await Promise.resolve(work(i)))),
      audited: (n) =>
        timeAsync(n, async (i) => (sink += await auditCall(nullSink, fields, () => Promise.resolve(work(i))))),
    },
    "direct",
    25,
    5_000,
  );
  await real.close();
  return {
    directNs: sync.direct!.ns,
    overheadNs: sync.audited!.delta,
    overheadBestNs: sync.audited!.best,
    overheadJsonSinkNs: sync.audited_json_sink!.delta,
    overheadJsonSinkBestNs: sync.audited_json_sink!.best,
    asyncDirectNs: asynchronous.direct!.ns,
    asyncOverheadNs: asynchronous.audited!.delta,
    asyncOverheadBestNs: asynchronous.audited!.best,
  };
}

function mcpServer(): McpServer {
  const server = new McpServer({ name: "bench", version: "1.0.0" });
  server.registerTool("add", { inputSchema: { a: z.number(), b: z.number() } }, ({ a, b }) => ({
    content: [{ type: "text", text: String(a + b) }],
  }));
  return server;
}

async function connected(server: McpServer): Promise<Client> {
  const [clientSide, serverSide] = InMemoryTransport.createLinkedPair();
  await server.connect(serverSide!);
  const client = new Client({ name: "bench", version: "1.0.0" });
  await client.connect(clientSide!);
  return client;
}

async function adapterNumbers(): Promise<Record<string, number>> {
  const plain = await connected(mcpServer());
  const auditedNull = mcpServer();
  auditMcpServer(auditedNull, nullSink);
  const auditedJson = mcpServer();
  const real = jsonSink();
  auditMcpServer(auditedJson, real);
  const nullClient = await connected(auditedNull);
  const jsonClient = await connected(auditedJson);
  const calls = (client: Client) => (n: number) =>
    timeAsync(n, (i) => client.callTool({ name: "add", arguments: { a: i, b: 1 } }));
  const r = await compare(
    {
      plain: calls(plain),
      audited: calls(nullClient),
      audited_json_sink: async (n) => {
        const ns = await calls(jsonClient)(n);
        await real.flush();
        return ns;
      },
    },
    "plain",
    300,
    40,
  );
  await real.close();
  const plainNs = r.plain!.ns;
  return {
    callUs: plainNs / 1000,
    overheadUs: r.audited!.delta / 1000,
    overheadPct: (100 * r.audited!.delta) / plainNs,
    overheadJsonSinkUs: r.audited_json_sink!.delta / 1000,
    overheadJsonSinkPct: (100 * r.audited_json_sink!.delta) / plainNs,
    bestCallUs: r.plain!.min / 1000,
    overheadBestUs: r.audited!.best / 1000,
    overheadJsonSinkBestUs: r.audited_json_sink!.best / 1000,
  };
}

async function child(): Promise<void> {
  const call = await auditCallNumbers();
  const mcp = await adapterNumbers();
  console.log(JSON.stringify({ ...call, ...mcp, sink }));
  process.exit(0); // the in-memory clients keep nothing alive, but be sure
}

// ---------------------------------------------------------------- parent

function parent(): void {
  const runs = Number(flag("--runs", "5"));
  const runtimes = flag("--runtimes", "deno,bun,node").split(",");
  const results = runChildren("call_bench.ts", runtimes, runs);
  const med = (runtime: string, key: string): number => median(results[runtime]!.map((r) => r[key]!));
  const f = (x: number, digits = 0): string => x.toFixed(digits);
  console.log(`medians of ${runs} runs; "median": of per-round differences (25 or 300 rotating rounds),`);
  console.log(`"best": fastest round of each variant minus the fastest baseline round\n`);
  console.log(
    "| runtime | direct ns | `auditCall` overhead ns, median (best) | with `JsonLinesAuditSink` ns | async direct ns | async overhead ns |",
  );
  console.log("| --- | ---: | ---: | ---: | ---: | ---: |");
  for (const r of runtimes) {
    console.log(
      `| ${r} | ${f(med(r, "directNs"))} | ${f(med(r, "overheadNs"))} (${f(med(r, "overheadBestNs"))}) | ${
        f(med(r, "overheadJsonSinkNs"))
      } (${f(med(r, "overheadJsonSinkBestNs"))}) | ${f(med(r, "asyncDirectNs"))} | ${f(med(r, "asyncOverheadNs"))} (${
        f(med(r, "asyncOverheadBestNs"))
      }) |`,
    );
  }
  console.log(
    "\n| runtime | `tools/call` µs, median (best) | adapter µs, median (best) | % of the call, median (best) | with `JsonLinesAuditSink` µs | % |",
  );
  console.log("| --- | ---: | ---: | ---: | ---: | ---: |");
  for (const r of runtimes) {
    const bestPct = (100 * med(r, "overheadBestUs")) / med(r, "bestCallUs");
    console.log(
      `| ${r} | ${f(med(r, "callUs"), 1)} (${f(med(r, "bestCallUs"), 1)}) | ${f(med(r, "overheadUs"), 2)} (${
        f(med(r, "overheadBestUs"), 2)
      }) | ${f(med(r, "overheadPct"), 1)} (${f(bestPct, 1)}) | ${f(med(r, "overheadJsonSinkUs"), 2)} (${
        f(med(r, "overheadJsonSinkBestUs"), 2)
      }) | ${f(med(r, "overheadJsonSinkPct"), 1)} |`,
    );
  }
}

if (args.includes("--child")) await child();
else parent();
