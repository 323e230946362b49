// fetchDestination inside Cloudflare's runtime: the bundled Worker in
// tests/e2e/_fixtures/worker_entry.ts runs in `workerd serve` (npm `workerd`)
// and ships its events to a local receiver with ctx.waitUntil(sink.flush()).
import { after, before, describe, it } from "node:test";
import assert from "node:assert/strict";
import { execFile } from "node:child_process";
import { writeFileSync } from "node:fs";
import { join } from "node:path";
import { pathToFileURL } from "node:url";
import { promisify } from "node:util";
import {
  bundleModule,
  ChildServer,
  findExecutable,
  freePort,
  makeTempDir,
  NdjsonReceiver,
  removeDir,
  REPO_ROOT,
  skipUnless,
  waitFor,
} from "../_helpers/e2e_harness.ts";
import { ApiReceiver, otlpApi } from "../_helpers/api_receivers.ts";

const WORKERD = findExecutable("workerd", [join(REPO_ROOT, "node_modules/.bin")]);
const SKIP = skipUnless(WORKERD, "workerd not installed: npm install (it is a devDependency with an install script)");

const ARRIVAL_TIMEOUT_MS = 15_000;
const execFileAsync = promisify(execFile);

function ids(prefix: string, count: number): string[] {
  return Array.from({ length: count }, (_, i) => `${prefix}-${i}`);
}

function workerdConfig(port: number, ingestUrl: string, otlpUrl: string): string {
  return `using Workerd = import "/workerd/workerd.capnp";

const config :Workerd.Config = (
  services = [
    ( name = "main",
      worker = (
        modules = [ (name = "worker.mjs", esModule = embed "worker.mjs") ],
        compatibilityDate = "2025-01-01",
        bindings = [
          (name = "INGEST_URL", text = ${JSON.stringify(ingestUrl)}),
          (name = "OTLP_URL", text = ${JSON.stringify(otlpUrl)}),
        ],
      ),
    ),
    # The default "internet" service refuses private and local addresses.
    ( name = "internet", network = ( allow = ["public", "private", "local"] ) ),
  ],
  sockets = [ ( name = "http", address = "127.0.0.1:${port}", http = (), service = "main" ) ],
);
`;
}

describe("fetchDestination in workerd", () => {
  let dir: string | undefined;
  let receiver: NdjsonReceiver | undefined;
  let otlp: ApiReceiver | undefined;
  let workerd: ChildServer | undefined;
  let base = "";

  before(async () => {
    if (SKIP) return;
    receiver = await NdjsonReceiver.start();
    otlp = await ApiReceiver.start(otlpApi());
    dir = makeTempDir("workerd");
    const bundle = await bundleModule(join(REPO_ROOT, "tests/e2e/_fixtures/worker_entry.ts"), {
      platform: "neutral",
      define: { INGEST_URL_AT_BUILD: JSON.stringify(receiver.ingestUrl) },
    });
    writeFileSync(join(dir, "worker.mjs"), bundle);
    const port = await freePort();
    writeFileSync(join(dir, "config.capnp"), workerdConfig(port, receiver.ingestUrl, otlp.url));
    workerd = ChildServer.start(WORKERD!, ["serve", "config.capnp"], { cwd: dir });
    base = `http://127.0.0.1:${port}`;
    await waitFor("workerd to serve the Worker", async () => {
      if (workerd!.exited) throw new Error(`workerd exited:\n${workerd!.output}`);
      try {
        return (await fetch(`${base}/?n=0`)).ok;
      } catch {
        return false;
      }
    }, { timeoutMs: 20_000, detail: () => workerd!.output });
  });

  after(async () => {
    await workerd?.stop();
    await receiver?.close();
    await otlp?.close();
    removeDir(dir);
  });

  async function call(sink: "request" | "module", prefix: string, n: number, format = "ndjson"): Promise<void> {
    const response = await fetch(`${base}/?sink=${sink}&prefix=${prefix}&n=${n}&format=${format}`);
    const text = await response.text();
    assert.equal(response.status, 200, text);
    assert.equal(text, `recorded ${n}\n`);
  }

  function assertArrivedOnce(expected: readonly string[]): void {
    const got = receiver!.callIds().filter((id) => expected.includes(id));
    assert.deepEqual([...new Set(got)].sort(), [...expected].sort(), receiver!.progress(expected));
    assert.equal(got.length, expected.length, "some events arrived twice");
    assert.deepEqual(receiver!.tornBodies, [], "a request carried a partial line");
  }

  it("delivers every event a request records with ctx.waitUntil(sink.flush())", { skip: SKIP }, async () => {
    const expected: string[] = [];
    for (let r = 0; r < 4; r++) {
      await call("request", `seq${r}`, 50);
      expected.push(...ids(`seq${r}`, 50));
    }
    // Concurrent requests, each with its own sink; 600 events is more than one batch (512).
    await Promise.all([0, 1, 2, 3].map((r) => call("request", `par${r}`, r === 0 ? 600 : 50)));
    for (const r of [0, 1, 2, 3]) expected.push(...ids(`par${r}`, r === 0 ? 600 : 50));

    await waitFor("every event recorded in workerd", () => receiver!.hasAll(expected), {
      timeoutMs: ARRIVAL_TIMEOUT_MS,
      detail: () => `${receiver!.progress(expected)}\nworkerd output:\n${workerd!.output}`,
    });
    assertArrivedOnce(expected);
    for (const request of receiver!.requests) {
      assert.equal(request.headers["content-type"], "application/x-ndjson");
      assert.ok(request.headers["idempotency-key"], "a request had no Idempotency-Key");
    }
  });

  it("delivers through a sink built at module load, request after request", { skip: SKIP }, async () => {
    const expected: string[] = [];
    for (let r = 0; r < 5; r++) {
      await call("module", `mod${r}`, 40);
      expected.push(...ids(`mod${r}`, 40));
    }
    await waitFor("every event recorded through the module-scope sink", () => receiver!.hasAll(expected), {
      timeoutMs: ARRIVAL_TIMEOUT_MS,
      detail: () => `${receiver!.progress(expected)}\nworkerd output:\n${workerd!.output}`,
    });
    assertArrivedOnce(expected);
  });

  it("loading the Worker module does no I/O, sets no timers, draws no random values", { skip: SKIP }, async () => {
    // workerd forbids all three in global scope, and the Worker builds its
    // module-scope sink and fetchDestination there: it served the requests
    // above, so it loaded. Here the same bundle is imported again under Node
    // with those globals replaced by counters.
    assert.doesNotMatch(workerd!.output, /Disallowed operation|Uncaught/);
    // A fresh Node process, so that no other activity touches the counters.
    const probe = `
      const calls = [];
      const spy = (name) => () => { calls.push(name); throw new Error(name + " called at module load"); };
      for (const name of ["fetch", "setTimeout", "setInterval", "queueMicrotask", "addEventListener"]) {
        globalThis[name] = spy(name);
      }
      crypto.getRandomValues = spy("crypto.getRandomValues");
      crypto.randomUUID = spy("crypto.randomUUID");
      const worker = await import(${JSON.stringify(pathToFileURL(join(dir!, "worker.mjs")).href)});
      console.log(JSON.stringify({ calls, handler: typeof worker.default?.fetch }));
    `;
    const { stdout } = await execFileAsync(process.execPath, ["--input-type=module", "--eval", probe], {
      timeout: 20_000,
    });
    assert.deepEqual(JSON.parse(stdout.trim()), { calls: [], handler: "function" });
  });
  it(
    "delivers OTLP/HTTP JSON logs a collector would accept with ctx.waitUntil(sink.flush())",
    { skip: SKIP },
    async () => {
      const expected: string[] = [];
      for (let r = 0; r < 3; r++) {
        await call("request", `otlp${r}`, 50, "otlp");
        expected.push(...ids(`otlp${r}`, 50));
      }
      await Promise.all([0, 1].map((r) => call("request", `otlpar${r}`, r === 0 ? 600 : 30, "otlp")));
      for (const r of [0, 1]) expected.push(...ids(`otlpar${r}`, r === 0 ? 600 : 30));
      await waitFor("every OTLP record recorded in workerd", () => otlp!.hasAll(expected), {
        timeoutMs: ARRIVAL_TIMEOUT_MS,
        detail: () => `${otlp!.stored.size} of ${expected.length} stored\nworkerd output:\n${workerd!.output}`,
      });
      assert.deepEqual(otlp!.violations, [], "every request was a valid ExportLogsServiceRequest");
      assert.deepEqual(otlp!.duplicates(), []);
      assert.equal(otlp!.stored.size, expected.length);
      for (const request of otlp!.http.requests) {
        assert.equal(request.headers["content-type"], "application/json");
        assert.equal(request.headers["content-encoding"], "gzip");
      }
    },
  );
});
