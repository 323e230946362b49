/**
 * A simulated agent tool server: a few thousand tool calls, with every outcome
 * kind, recorded through `JsonLinesAuditSink` into `demo/out/audit.jsonl`,
 * sealed (checkpoints in `demo/out/audit.jsonl.seal`, signed with a key made
 * by `audit keygen` in `demo/out/keys/`), and (one call in 500) to stdout;
 * then `audit stats` and `audit verify` of the file.
 *
 * Run: `deno run -A demo/tool_server.ts` (or `npm run demo`).
 *
 * @module
 */
import { type CallEvent, createCallEvent, JsonLinesAuditSink, type Outcome } from "../mod.ts";
import { fileDestination, fileSeal } from "../src/destination/file_destination.ts";
import { main } from "../src/cli/main.ts";

const CALLS = 5_000;
const STDOUT_EVERY = 500;
const path = new URL("./out/audit.jsonl", import.meta.url);
const outDir = new URL("./out/", import.meta.url);
const keysDir = new URL("./out/keys/", import.meta.url);
const fsPath = (url: URL): string => Deno.build.os === "windows" ? url.pathname.slice(1) : url.pathname;

// A fresh log each run (fileDestination appends; fileSeal would go on with the seal file's chain).
await Deno.mkdir(outDir, { recursive: true });
await Deno.remove(path).catch(() => {});
await Deno.remove(new URL("./out/audit.jsonl.seal", import.meta.url)).catch(() => {});
// The seal key: `audit keygen` makes it once (it never replaces a key).
const privateKey = new URL("audit-seal.private.jwk", keysDir);
if (!await Deno.stat(privateKey).then(() => true, () => false)) await main(["keygen", "--out", fsPath(keysDir)]);

// Three lines for a sealed log: the key, the seal file, the sink.
const seal = await fileSeal(path, { key: await Deno.readTextFile(privateKey), origin: "demo.example/tool-server" });
const fileSink = new JsonLinesAuditSink(fileDestination(path), { backpressure: "block", seal });
const stdoutSink = JsonLinesAuditSink.stdout();

const TOOLS = ["fs.read", "fs.write", "http.fetch", "db.query", "search.web", "email.send", "shell.exec"];
const CALLERS = ["agent-planner", "agent-coder", "agent-reviewer", "ci-bot"];
const TIERS = ["warm", "warm", "warm", "cold", "sandbox"];

// A small deterministic random source, so every run prints the same stats.
let seed = 42;
function random(): number {
  seed = (seed * 1_103_515_245 + 12_345) % 2_147_483_648;
  return seed / 2_147_483_648;
}
function pick<T>(items: readonly T[]): T {
  return items[Math.floor(random() * items.length)]!;
}

function outcomeFor(tool: string): Outcome {
  const r = random();
  if (r < 0.78) return { kind: "success" };
  if (r < 0.86) {
    return { kind: "execution_failed", code: pick(["FS_NOT_FOUND", "TIMEOUT", "HTTP_502"]), retryable: r < 0.83 };
  }
  if (r < 0.90) return { kind: "invalid_args", message: `${tool}: missing required argument "path"` };
  if (r < 0.95) {
    return {
      kind: "capability_denied",
      missing: tool === "shell.exec" ? ["shell:exec"] : [pick(["net:egress", "fs:write", "mail:send"])],
    };
  }
  if (r < 0.99) return { kind: "rate_limited", retry_after_ms: r < 0.97 ? 1_000 : null };
  return { kind: "tool_not_found" };
}

// Durations: mostly fast, a long tail.
function durationMs(): number {
  const r = random();
  return Math.round(r < 0.9 ? 2 + random() * 40 : 40 + random() * random() * 2_000);
}

const start = Date.parse("2026-05-29T09:00:00Z");
for (let i = 0; i < CALLS; i++) {
  const tool = random() < 0.02 ? "fs.delete_all" : pick(TOOLS);
  const caller = random() < 0.05 ? null : pick(CALLERS);
  const capabilities = ["read", ...(random() < 0.5 ? ["write"] : [])];
  const event: CallEvent = createCallEvent({
    ts: new Date(start + i * 700).toISOString().replace("Z", "+00:00"),
    call_id: `01J${String(i).padStart(23, "0")}`,
    tool_id: tool,
    caller_id: caller,
    granted_capabilities: capabilities,
    duration_ms: durationMs(),
    outcome: outcomeFor(tool),
    tier: pick(TIERS),
    dry_run: random() < 0.03,
    secrets_resolved: tool === "email.send" || tool === "http.fetch",
    cursor_page: tool === "db.query" && random() < 0.3 ? 1 + Math.floor(random() * 5) : null,
    capability_provenance: random() < 0.2
      ? capabilities.map((cap) =>
        cap === "write"
          ? { cap, source: { kind: "ucan_chain", issuer_did: "did:key:z6MkDemoIssuer", chain_depth: 2 } }
          : { cap, source: { kind: "string_allow_list" } }
      )
      : null,
  });
  await fileSink.ready; // "block": never lose an event in the demo
  fileSink.onCall(event);
  if (i % STDOUT_EVERY === 0) stdoutSink.onCall(event);
}

await stdoutSink.close();
await fileSink.close();
const { written, dropped } = fileSink.stats();
console.log(`\n${written} events written to demo/out/audit.jsonl (${dropped} dropped); audit stats:\n`);
const stats = await main(["stats", fsPath(path)]);
console.log(`\nSealed in demo/out/audit.jsonl.seal; audit verify:\n`);
const publicKey = fsPath(new URL("audit-seal.public.jwk", keysDir));
const verified = await main(["verify", fsPath(path), "--key", publicKey]);

// Someone with write access hides a denied call in a copy: audit verify names the line.
const tampered = new URL("./out/tampered.jsonl", import.meta.url);
const lines = (await Deno.readTextFile(path)).split("\n");
const victim = lines.findIndex((line) => line.includes('"kind":"capability_denied"'));
lines[victim] = lines[victim]!.replace(/"outcome":\{[^}]*\}/, '"outcome":{"kind":"success"}');
await Deno.writeTextFile(tampered, lines.join("\n"));
await Deno.copyFile(
  new URL("./out/audit.jsonl.seal", import.meta.url),
  new URL("./out/tampered.jsonl.seal", import.meta.url),
);
console.log(`\nA copy with line ${victim + 1} edited (demo/out/tampered.jsonl); audit verify:\n`);
const caught = await main(["verify", fsPath(tampered), "--key", publicKey]);
Deno.exitCode = stats || verified || (caught === 1 ? 0 : 1);
