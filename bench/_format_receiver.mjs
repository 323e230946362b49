// The receiver of bench/format_bench.ts, in its own Node process: one route
// per API, each counting the audit lines a request carried and their distinct
// call_ids, and answering as the API does (a `_bulk` response lists each item).
// GET /reset and GET /stats control it. Prints its port.
import http from "node:http";
import zlib from "node:zlib";

let lines = 0;
let requests = 0;
let ids = new Set();

/** How each route finds the call_ids in a body: the line as is, or embedded in a JSON string. */
const PLAIN = /"call_id":"([^"]*)"/g;
const ESCAPED = /\\"call_id\\":\\"([^\\"]*)\\"/g;
const OTLP = /"key":"(?:gen_ai\.tool\.call\.id|call_id)","value":\{"stringValue":"([^"]*)"\}/g;
const BULK_ID = /\{"create":\{(?:"_index":"[^"]*",)?"_id":"([^"]*)"\}\}/g;

function count(text, pattern) {
  const found = [];
  for (const m of text.matchAll(pattern)) found.push(m[1]);
  lines += found.length;
  for (const id of found) ids.add(id);
  return found;
}

/** Counts what a route's body carries; returns the status and body to answer. */
const answer = (pattern, status, reply) => (text) => {
  count(text, pattern);
  return [status, reply];
};

const ROUTES = {
  "/ingest": answer(PLAIN, 204, ""),
  "/v1/logs": answer(OTLP, 200, '{"partialSuccess":{}}'),
  "/loki/api/v1/push": answer(ESCAPED, 204, ""),
  "/_bulk": (text) => {
    const found = count(text, BULK_ID);
    const items = found.map((id) => `{"create":{"_index":"audit","_id":"${id}","result":"created","status":201}}`);
    return [200, `{"took":1,"errors":false,"items":[${items.join(",")}]}`];
  },
  "/services/collector/event": answer(ESCAPED, 200, '{"text":"Success","code":0}'),
  "/api/v2/logs": answer(ESCAPED, 202, "{}"),
};

const server = http.createServer((req, res) => {
  const chunks = [];
  req.on("data", (c) => chunks.push(c));
  req.on("end", () => {
    if (req.url === "/reset") {
      lines = 0;
      requests = 0;
      ids = new Set();
      return res.end("ok");
    }
    if (req.url === "/stats") return res.end(JSON.stringify({ lines, requests, unique: ids.size }));
    let body = Buffer.concat(chunks);
    if (req.headers["content-encoding"] === "gzip") body = zlib.gunzipSync(body);
    requests++;
    const route = ROUTES[new URL(req.url, "http://x").pathname];
    if (route === undefined) return res.writeHead(404).end();
    const [status, reply] = route(body.toString("utf8"));
    res.writeHead(status, reply === "" ? {} : { "content-type": "application/json" });
    res.end(reply);
  });
});
server.keepAliveTimeout = 65_000; // longer than the clients' idle sockets live: no stale-socket races
server.listen(0, "127.0.0.1", () => console.log(server.address().port));
