// Sealed trails across every runtime: a trail sealed by JsonLinesAuditSink in
// workerd and one sealed in Chromium verify under Deno and Bun (the real
// `audit verify` command) and Node (verifyAuditTrail), and trails sealed under
// Deno, Bun and Node verify in workerd and in Chromium. The same application
// code (tests/e2e/_fixtures/seal_lab.ts) seals and verifies everywhere.
import { after, before, describe, it } from "node:test";
import assert from "node:assert/strict";
import { spawnSync } from "node:child_process";
import { writeFileSync } from "node:fs";
import { join } from "node:path";
import process from "node:process";
import { build } from "esbuild";
import { type BrowserContext, chromium, type Page } from "playwright-core";
import {
  bundleModule,
  ChildServer,
  findExecutable,
  freePort,
  makeTempDir,
  NdjsonReceiver,
  removeDir,
  REPO_ROOT,
  waitFor,
} from "../_helpers/e2e_harness.ts";
import { auditSealKeyFiles, generateAuditSealKey } from "../../mod.ts";
import { runCli } from "../cli/_cli.ts";
import type * as Lab from "./_fixtures/seal_lab.ts";
import { type SealedTrail, type Verdict, verifyTrail } from "./_fixtures/seal_lab.ts";

const WORKERD = findExecutable("workerd", [join(REPO_ROOT, "node_modules/.bin")]);
const CHROMIUM = findExecutable("chromium") ?? findExecutable("chromium-browser");
const NO_WORKERD = WORKERD === undefined && "workerd not installed: npm install (a devDependency)";
const NO_CHROMIUM = CHROMIUM === undefined && "chromium not installed: apt-get install -y chromium";
for (const reason of [NO_WORKERD, NO_CHROMIUM]) {
  if (reason) console.warn(`\n!!! SKIPPING END-TO-END TESTS: ${reason}\n`);
}

const PAGE = `<!doctype html><meta charset="utf-8"><title>seal e2e</title>
<script type="module">import * as lab from "/lab.js"; globalThis.lab = lab;</script>`;

function workerdConfig(port: number): string {
  return `using Workerd = import "/workerd/workerd.capnp";
const config :Workerd.Config = (
  services = [
    ( name = "main", worker = (
        modules = [ (name = "worker.mjs", esModule = embed "worker.mjs") ],
        compatibilityDate = "2025-01-01",
    ) ),
  ],
  sockets = [ ( name = "http", address = "127.0.0.1:${port}", http = (), service = "main" ) ],
);
`;
}

/** A sound trail's verdict: intact, every event either verified or in a declared gap, the losses the lab caused. */
function assertSound(verdict: Verdict, trail: SealedTrail, where: string): void {
  const at = `${trail.runtime} trail verified in ${where}: ${JSON.stringify(verdict)}`;
  assert.equal(verdict.intact, true, at);
  assert.ok(verdict.kinds.every((kind) => kind === "gap"), at);
  const lost = verdict.gaps.reduce((sum, g) => sum + g.count, 0);
  assert.equal(verdict.verified + lost, trail.offered, at);
  assert.equal(verdict.offered, trail.offered, at);
  assert.deepEqual(verdict.gaps.find((g) => g.reason === "invalid")?.count, 1, at);
  assert.ok(verdict.gaps.some((g) => g.reason === "queue_full" && g.count > 0), at);
  assert.equal(verdict.origin, `e2e.example/${trail.runtime}`, at);
}

describe("sealed trails across runtimes (end to end)", () => {
  let dir = "";
  let privatePath = "";
  let publicJwk = "";
  let privateJwk = "";
  let workerd: ChildServer | undefined;
  let base = "";
  let context: BrowserContext | undefined;
  let receiver: NdjsonReceiver | undefined;
  let page: Page | undefined;
  const local: SealedTrail[] = [];

  before(async () => {
    dir = makeTempDir("seal-e2e");
    const files = auditSealKeyFiles(await generateAuditSealKey());
    privateJwk = files[0]!.text;
    publicJwk = files[1]!.text;
    privatePath = join(dir, files[0]!.name);
    writeFileSync(privatePath, privateJwk);
    writeFileSync(join(dir, files[1]!.name), publicJwk);

    // Deno, Bun and Node each seal a trail (Node from a bundle, as tests/_run/node.mjs runs tests).
    const child = join(dir, "seal_child.mjs");
    await build({
      entryPoints: [join(REPO_ROOT, "tests/e2e/_fixtures/seal_child.ts")],
      outfile: child,
      bundle: true,
      platform: "node",
      format: "esm",
      target: "node20",
      logLevel: "error",
    });
    const bin = (name: string): string => join(REPO_ROOT, "node_modules/.bin", name);
    const source = join(REPO_ROOT, "tests/e2e/_fixtures/seal_child.ts");
    for (const argv of [[bin("deno"), "run", "-A", source], [bin("bun"), source], [process.execPath, child]]) {
      const run = spawnSync(argv[0]!, [...argv.slice(1), privatePath], {
        cwd: REPO_ROOT,
        encoding: "utf8",
        timeout: 60_000,
      });
      assert.equal(run.status, 0, `${argv.join(" ")}: ${run.stderr}`);
      local.push(JSON.parse(run.stdout.trim().split("\n").pop()!));
    }

    if (!NO_WORKERD) {
      writeFileSync(
        join(dir, "worker.mjs"),
        await bundleModule(join(REPO_ROOT, "tests/e2e/_fixtures/seal_worker_entry.ts"), { platform: "neutral" }),
      );
      const port = await freePort();
      writeFileSync(join(dir, "config.capnp"), workerdConfig(port));
      workerd = ChildServer.start(WORKERD!, ["serve", "config.capnp"], { cwd: dir });
      base = `http://127.0.0.1:${port}`;
      await waitFor("workerd to serve the Worker", async () => {
        if (workerd!.exited) throw new Error(`workerd exited:\n${workerd!.output}`);
        return await fetch(`${base}/nothing`, { method: "POST", body: "{}" }).then(
          (r) => r.status === 404,
          () => false,
        );
      }, { timeoutMs: 20_000, detail: () => workerd!.output });
    }
    if (!NO_CHROMIUM) {
      receiver = await NdjsonReceiver.start({
        "/": { type: "text/html; charset=utf-8", body: PAGE },
        "/lab.js": {
          type: "text/javascript",
          body: await bundleModule(join(REPO_ROOT, "tests/e2e/_fixtures/seal_lab.ts"), { platform: "browser" }),
        },
      });
      context = await chromium.launchPersistentContext(join(dir, "profile"), {
        executablePath: CHROMIUM!,
        headless: true,
        timeout: 30_000,
        args: ["--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run", "--disable-background-networking"],
      });
      context.setDefaultTimeout(30_000);
      page = await context.newPage();
      page.on("pageerror", (error) => console.error("page error:", error));
      await page.goto(`${receiver.origin}/`);
      await page.waitForFunction(() => (globalThis as { lab?: unknown }).lab !== undefined);
    }
  });

  after(async () => {
    await workerd?.stop();
    await context?.close().catch(() => {});
    await receiver?.close();
    removeDir(dir);
  });

  async function inWorkerd<T>(path: string, body: unknown): Promise<T> {
    const response = await fetch(`${base}${path}`, { method: "POST", body: JSON.stringify(body) });
    const text = await response.text();
    assert.equal(response.status, 200, `${path}: ${text}\n${workerd?.output}`);
    return JSON.parse(text) as T;
  }

  function inChromium<T>(
    call: (lab: typeof Lab, args: Record<string, string | undefined>) => Promise<T>,
    args: Record<string, string | undefined>,
  ): Promise<T> {
    return page!.evaluate(
      ({ source, args }) => {
        const lab = (globalThis as unknown as { lab: typeof Lab }).lab;
        return (new Function("lab", "args", `return (${source})(lab, args);`))(lab, args) as Promise<T>;
      },
      { source: call.toString(), args },
    );
  }

  /** Verifies `trail` with Node in process and with `audit verify` under Deno and Bun, seal stream and in band. */
  async function verifyEverywhereLocal(trail: SealedTrail): Promise<void> {
    assertSound(await verifyTrail(publicJwk, trail.data, trail.seal), trail, "node (seal stream)");
    assertSound(await verifyTrail(publicJwk, trail.inband), trail, "node (in band)");
    const file = join(dir, `${trail.runtime}.jsonl`);
    writeFileSync(file, trail.data);
    writeFileSync(`${file}.seal`, trail.seal);
    writeFileSync(join(dir, `${trail.runtime}.inband.jsonl`), trail.inband);
    for (const runtime of ["deno", "bun"]) {
      for (const args of [[file], [join(dir, `${trail.runtime}.inband.jsonl`), "--in-band"]]) {
        const result = await runCli(runtime, ["verify", ...args, "--key", join(dir, "audit-seal.public.jwk")]);
        assert.equal(
          result.status,
          0,
          `${trail.runtime} trail, audit verify under ${runtime}: ${result.stdout}${result.stderr}`,
        );
        assert.match(
          result.stdout,
          new RegExp(`: intact: .*; offered ${trail.offered} = written \\d+ \\+ lost \\d+\\n$`),
        );
        assert.match(result.stdout, /gap: 1 event lost between \S+ and \S+ because invalid/);
      }
    }
  }

  it(
    "a trail sealed in workerd verifies under Deno, Bun and Node",
    { skip: NO_WORKERD, timeout: 120_000 },
    async () => {
      const trail = await inWorkerd<SealedTrail>("/seal", { privateJwk });
      assert.equal(trail.runtime, "workerd");
      await verifyEverywhereLocal(trail);
    },
  );

  it(
    "a trail sealed in Chromium verifies under Deno, Bun and Node",
    { skip: NO_CHROMIUM, timeout: 120_000 },
    async () => {
      const trail = await inChromium((lab, args) => lab.sealTrail(args.privateJwk!, "chromium"), { privateJwk });
      await verifyEverywhereLocal(trail);
    },
  );

  it("trails sealed under Deno, Bun and Node verify in workerd and in Chromium", { timeout: 120_000 }, async (t) => {
    assert.deepEqual(local.map((trail) => trail.runtime), ["deno", "bun", "node"]);
    if (NO_WORKERD && NO_CHROMIUM) return t.skip("neither workerd nor chromium is installed");
    for (const trail of local) {
      for (const seal of [trail.seal, undefined]) {
        const data = seal === undefined ? trail.inband : trail.data;
        if (!NO_WORKERD) assertSound(await inWorkerd<Verdict>("/verify", { publicJwk, data, seal }), trail, "workerd");
        if (!NO_CHROMIUM) {
          const verdict = await inChromium(
            (lab, args) => lab.verifyTrail(args.publicJwk!, args.data!, args.seal),
            { publicJwk, data, seal },
          );
          assertSound(verdict, trail, "chromium");
        }
      }
    }
  });

  it("an edited line is caught in workerd and in Chromium alike", { timeout: 60_000 }, async (t) => {
    if (NO_WORKERD && NO_CHROMIUM) return t.skip("neither workerd nor chromium is installed");
    const trail = local[0]!;
    const data = trail.data.replace(`"call_id":"deno-3"`, `"call_id":"deno-X"`);
    assert.notEqual(data, trail.data);
    const verdicts: Verdict[] = [];
    if (!NO_WORKERD) verdicts.push(await inWorkerd<Verdict>("/verify", { publicJwk, data, seal: trail.seal }));
    if (!NO_CHROMIUM) {
      verdicts.push(
        await inChromium((lab, a) => lab.verifyTrail(a.publicJwk!, a.data!, a.seal), {
          publicJwk,
          data,
          seal: trail.seal,
        }),
      );
    }
    for (const verdict of verdicts) {
      assert.equal(verdict.intact, false);
      assert.ok(verdict.kinds.includes("edited"), JSON.stringify(verdict));
    }
  });
});
