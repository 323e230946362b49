// A tool server for load_bench.mjs: `POST /call` parses a JSON tool call,
// answers it and (with `--audit on`) first does
// `await sink.record(createCallEvent({...}))` into a file in block mode.
// Serves on Deno.serve, Bun.serve or node:http, whichever runtime runs it, on
// 127.0.0.1 and a free port, which it prints as one JSON line.
//
//   <runtime> bench/load_server.ts --audit on|off|create|encode|stringify|discard|pino --file out.jsonl [--shape prov|ref]
//
// `GET /cpu` answers this process's CPU time so far; `POST /shutdown` closes
// the sink, answers its stats and the number of calls served, and exits.
import { createServer, type IncomingMessage, type ServerResponse } from "node:http";
import process from "node:process";
import pino from "pino";
import { createCallEvent, encodeCallEvent, JsonLinesAuditSink } from "../mod.ts";
import { fileDestination } from "../src/destination/file_destination.ts";
import { eventFields, parseShape } from "./_shapes.ts";

const arg = (name: string, fallback: string): string => {
  const i = process.argv.indexOf(`--${name}`);
  return i > 0 && i + 1 < process.argv.length ? process.argv[i + 1]! : fallback;
};
/**
 * `on`: the whole audit, into a file. The parts, to see where its cost goes: `create` (createCallEvent only),
 * `encode` (and encodeCallEvent), `discard` (the sink, into a stream that drops every chunk). And for
 * comparison: `stringify` (JSON.stringify of the same fields, what any JSON logger pays at least), `pino`
 * (pino logging the same fields into the file, asynchronously, as a user would instead).
 */
const audit = arg("audit", "on");
const shape = parseShape(arg("shape", "prov"));
const sink = audit === "on"
  ? new JsonLinesAuditSink(fileDestination(arg("file", "")), { backpressure: "block" })
  : audit === "discard"
  ? new JsonLinesAuditSink(new WritableStream(), { backpressure: "block" })
  : undefined;
let kept = 0;
const pinoDestination = audit === "pino" ? pino.destination({ dest: arg("file", ""), sync: false }) : undefined;
const logger = pinoDestination === undefined ? undefined : pino(pinoDestination);

let calls = 0;
const JSON_HEADERS = { "content-type": "application/json" };

/** The tool call itself: a little JSON work, as a real handler does, then the audit. */
async function toolCall(body: string): Promise<string> {
  const start = performance.now();
  const id = calls++;
  const { tool, args } = JSON.parse(body) as { tool: string; args: unknown };
  const answer = JSON.stringify({ ok: true, tool, result: args });
  if (sink !== undefined) {
    await sink.record(createCallEvent({
      ...eventFields(shape, id, tool),
      duration_ms: Math.round(performance.now() - start),
    }));
  } else if (logger !== undefined) {
    logger.info({ ...eventFields(shape, id, tool), duration_ms: Math.round(performance.now() - start) });
  } else if (audit === "stringify") {
    kept +=
      JSON.stringify({ ...eventFields(shape, id, tool), duration_ms: Math.round(performance.now() - start) }).length;
  } else if (audit !== "off") {
    const event = createCallEvent({
      ...eventFields(shape, id, tool),
      duration_ms: Math.round(performance.now() - start),
    });
    kept += audit === "encode" ? encodeCallEvent(event).length : event.call_id.length;
  }
  return answer;
}

async function shutdown(): Promise<string> {
  await sink?.close();
  if (pinoDestination !== undefined) {
    await new Promise((resolve) => {
      pinoDestination.once("close", resolve);
      pinoDestination.end();
    });
  }
  setTimeout(() => process.exit(0), 20); // after the answer went out
  return JSON.stringify({ calls, kept, stats: sink?.stats() ?? null });
}

const cpu = (): string => JSON.stringify(process.cpuUsage());

/** Route for Deno.serve and Bun.serve. */
async function handle(request: Request): Promise<Response> {
  const path = new URL(request.url).pathname;
  if (path === "/call") return new Response(await toolCall(await request.text()), { headers: JSON_HEADERS });
  if (path === "/cpu") return new Response(cpu(), { headers: JSON_HEADERS });
  if (path === "/shutdown") return new Response(await shutdown(), { headers: JSON_HEADERS });
  return new Response("not found", { status: 404 });
}

/** Route for node:http. */
function handleNode(request: IncomingMessage, response: ServerResponse): void {
  const chunks: Buffer[] = [];
  request.on("data", (chunk: Buffer) => chunks.push(chunk));
  request.on("end", async () => {
    const body = Buffer.concat(chunks).toString("utf8");
    const answer = request.url === "/call"
      ? await toolCall(body)
      : request.url === "/cpu"
      ? cpu()
      : request.url === "/shutdown"
      ? await shutdown()
      : undefined;
    if (answer === undefined) {
      response.writeHead(404).end("not found");
      return;
    }
    response.writeHead(200, { ...JSON_HEADERS, "content-length": Buffer.byteLength(answer) }).end(answer);
  });
}

const listening = (port: number): void => {
  process.stdout.write(JSON.stringify({ port }) + "\n");
};

interface BunLike {
  serve(options: { hostname: string; port: number; fetch: typeof handle }): { port: number };
}
const g = globalThis as { Deno?: typeof Deno; Bun?: BunLike };
if (g.Deno) {
  g.Deno.serve({ hostname: "127.0.0.1", port: 0, onListen: ({ port }) => listening(port) }, handle);
} else if (g.Bun) {
  listening(g.Bun.serve({ hostname: "127.0.0.1", port: 0, fetch: handle }).port);
} else {
  const server = createServer(handleNode);
  server.listen(0, "127.0.0.1", () => listening((server.address() as { port: number }).port));
}
