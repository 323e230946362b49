// The load generator for load_bench.mjs, run by Node in its own process:
// `connections` keep-alive connections, each sending its next `POST /call` as
// soon as the previous answer is complete, first `warmup` untimed requests,
// then `requests` timed ones. Prints one JSON line: requests/s, latency
// percentiles and the server's CPU time per timed request.
//
//   node bench/load_client.mjs --port N [--connections 64] [--requests 20000] [--warmup 2000] [--client net|http]
//
// `net` (the default) writes HTTP/1.1 on raw sockets and reads each answer's
// status line and Content-Length: the lightest client, so that on a shared
// machine the server, not the generator, is what gets measured. `http` uses
// node:http with a keep-alive Agent, as a cross-check.
import { Agent, request as httpRequest } from "node:http";
import { connect } from "node:net";
import process from "node:process";
import { option } from "./_bench_util.mjs";

const port = Number(option("port", "0"));
const connections = Number(option("connections", "64"));
const requests = Number(option("requests", "20000"));
const warmup = Number(option("warmup", "2000"));
const client = option("client", "net");
const BODY = JSON.stringify({ tool: "mcp:filesystem.read_file", args: { path: "/srv/data/reports/2026-q3.txt" } });
const REQUEST = Buffer.from(
  `POST /call HTTP/1.1\r\nHost: 127.0.0.1:${port}\r\nContent-Type: application/json\r\n` +
    `Content-Length: ${Buffer.byteLength(BODY)}\r\n\r\n${BODY}`,
);

/** One keep-alive connection on a raw socket; `send()` resolves when the whole answer arrived. */
async function netConnection() {
  const socket = connect({ host: "127.0.0.1", port, noDelay: true });
  await new Promise((resolve, reject) => {
    socket.once("connect", resolve);
    socket.once("error", reject);
  });
  let buffered = Buffer.alloc(0);
  let waiting; // { resolve, reject } of the request in flight
  const complete = () => {
    const end = buffered.indexOf("\r\n\r\n");
    if (end === -1) return;
    const head = buffered.subarray(0, end).toString("latin1");
    const length = /\r\ncontent-length:\s*(\d+)/i.exec(head);
    if (length === null) return fail(new Error(`answer without Content-Length: ${head}`));
    const total = end + 4 + Number(length[1]);
    if (buffered.length < total) return;
    const status = Number(head.slice(9, 12));
    buffered = buffered.subarray(total);
    const w = waiting;
    waiting = undefined;
    if (status !== 200) w.reject(new Error(`status ${status}`));
    else w.resolve();
  };
  const fail = (error) => {
    const w = waiting;
    waiting = undefined;
    w?.reject(error);
  };
  socket.on("data", (chunk) => {
    buffered = buffered.length === 0 ? chunk : Buffer.concat([buffered, chunk]);
    if (waiting) complete();
  });
  socket.on("error", fail);
  socket.on("close", () => fail(new Error("connection closed")));
  return {
    send: () =>
      new Promise((resolve, reject) => {
        waiting = { resolve, reject };
        socket.write(REQUEST);
      }),
    close: () => socket.destroy(),
  };
}

/** The same through node:http and one keep-alive Agent shared by all connections. */
const agent = new Agent({ keepAlive: true, maxSockets: connections });
function httpConnection() {
  const send = () =>
    new Promise((resolve, reject) => {
      const req = httpRequest({
        host: "127.0.0.1",
        port,
        path: "/call",
        method: "POST",
        agent,
        headers: { "content-type": "application/json", "content-length": Buffer.byteLength(BODY) },
      }, (res) => {
        res.resume();
        res.on("end", () => (res.statusCode === 200 ? resolve() : reject(new Error(`status ${res.statusCode}`))));
      });
      req.on("error", reject);
      req.end(BODY);
    });
  return { send, close: () => {} };
}

/** Sends `count` requests over the connections, each connection one at a time; latencies in ms. */
async function phase(conns, count) {
  const latencies = new Float64Array(count);
  let next = 0;
  const start = performance.now();
  await Promise.all(conns.map(async (conn) => {
    for (let i = next++; i < count; i = next++) {
      const t0 = performance.now();
      await conn.send();
      latencies[i] = performance.now() - t0;
    }
  }));
  return { wallMs: performance.now() - start, latencies: latencies.sort() };
}

const serverCpu = async () => {
  const { user, system } = await (await fetch(`http://127.0.0.1:${port}/cpu`)).json();
  return user + system;
};

const conns = await Promise.all(
  Array.from({ length: connections }, () => (client === "http" ? httpConnection() : netConnection())),
);
await phase(conns, warmup);
const cpu0 = await serverCpu();
const { wallMs, latencies } = await phase(conns, requests);
const cpu1 = await serverCpu();
for (const conn of conns) conn.close();
agent.destroy();
const at = (q) => latencies[Math.min(latencies.length - 1, Math.floor(q * latencies.length))];
process.stdout.write(
  JSON.stringify({
    client,
    connections,
    requests,
    warmup,
    wallMs,
    requestsPerSec: requests / (wallMs / 1000),
    p50Ms: at(0.5),
    p90Ms: at(0.9),
    p99Ms: at(0.99),
    maxMs: latencies[latencies.length - 1],
    meanMs: latencies.reduce((a, b) => a + b, 0) / latencies.length,
    serverCpuUsPerRequest: (cpu1 - cpu0) / requests,
  }) + "\n",
);
