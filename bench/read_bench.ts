// Reader throughput: readCallEvents (full validation) against the bare limit
// (split lines + JSON.parse) on a generated 1,000,000-line file.
//
//   deno run -A bench/read_bench.ts [--lines N] [--runs N] [--runtimes deno,bun,node]
//
// The parent generates the file in a temp dir, then runs each mode in its own
// child process (so each peak RSS, read from /proc/self/status VmHWM, is that
// mode's alone) once per runtime. Times are medians of --runs runs.
import { spawnSync } from "node:child_process";
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { type CallEvent, createCallEvent, encodeCallEvent, type Outcome } from "../mod.ts";
import { readCallEvents } from "../src/read/read_call_events.ts";
import { LineSplitter } from "../src/read/_line_splitter.ts";
import { runtime } from "../src/runtime/runtime.ts";
import { Input } from "../src/cli/_input.ts";

const MODES = ["idle", "bare", "split", "split+json", "reader"] as const;
type Mode = typeof MODES[number];

const args = process.argv.slice(2);
const flag = (name: string, fallback: string): string => {
  const i = args.indexOf(name);
  return i === -1 ? fallback : args[i + 1]!;
};

function parent(): void {
  const lines = Number(flag("--lines", "1000000"));
  const runs = Number(flag("--runs", "5"));
  const runtimes = flag("--runtimes", "deno,bun,node").split(",");
  const dir = mkdtempSync(join(tmpdir(), "audit-read-bench-"));
  const file = join(dir, "audit.jsonl");
  try {
    const bytes = generate(file, lines);
    console.log(`file: ${lines} lines, ${(bytes / 2 ** 20).toFixed(1)} MiB; ${runs} runs per mode, median`);
    const root = new URL("..", import.meta.url).pathname;
    const bin = (name: string): string => join(root, "node_modules/.bin", name);
    const commands: Record<string, string[]> = {
      deno: [bin("deno"), "run", "-A", join(root, "bench/read_bench.ts")],
      bun: [bin("bun"), join(root, "bench/read_bench.ts")],
      node: ["node", join(root, ".build/bench/read_bench.mjs")],
    };
    if (runtimes.includes("node")) {
      const built = spawnSync(bin("esbuild"), [
        join(root, "bench/read_bench.ts"),
        "--bundle",
        "--platform=node",
        "--format=esm",
        "--target=node20",
        "--packages=external",
        `--outfile=${join(root, ".build/bench/read_bench.mjs")}`,
        "--log-level=warning",
      ], { stdio: "inherit" });
      if (built.status !== 0) throw new Error("esbuild failed");
    }
    console.log("| runtime | mode | median ms | lines/s | % of bare | peak RSS MiB |");
    console.log("|---|---|---:|---:|---:|---:|");
    for (const runtime of runtimes) {
      const results = new Map<Mode, { ms: number; rss: number }>();
      for (const mode of MODES) {
        const [cmd, ...rest] = commands[runtime]!;
        const out = spawnSync(cmd!, [...rest, "--child", mode, file, String(runs)], {
          cwd: root,
          encoding: "utf8",
          maxBuffer: 1 << 20,
        });
        if (out.status !== 0) throw new Error(`${runtime} ${mode} failed: ${out.stderr}`);
        const result = JSON.parse(out.stdout.trim().split("\n").at(-1)!) as {
          times: number[];
          rss: number;
          count: number;
        };
        if (mode === "idle") {
          console.log(`| ${runtime} | idle (runtime + file open) | | | | ${(result.rss / 2 ** 20).toFixed(1)} |`);
          continue;
        }
        if (result.count !== lines) throw new Error(`${runtime} ${mode} read ${result.count} lines, not ${lines}`);
        const ms = median(result.times);
        results.set(mode, { ms, rss: result.rss });
        const bare = results.get("bare")!.ms;
        console.log(
          `| ${runtime} | ${mode} | ${ms.toFixed(0)} | ${Math.round(lines / (ms / 1000)).toLocaleString("en-US")} | ${
            ((100 * bare) / ms).toFixed(0)
          }% | ${(result.rss / 2 ** 20).toFixed(1)} |`,
        );
      }
    }
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
}

/** Writes `lines` varied events (every outcome kind, some optional fields). */
function generate(file: string, lines: number): number {
  const kinds: Outcome[] = [
    { kind: "success" },
    { kind: "success" },
    { kind: "success" },
    { kind: "execution_failed", code: "FS_NOT_FOUND", retryable: false },
    { kind: "invalid_args", message: 'missing "path"' },
    { kind: "capability_denied", missing: ["net:egress"] },
    { kind: "rate_limited", retry_after_ms: 1000 },
    { kind: "tool_not_found" },
  ];
  let text = "";
  let bytes = 0;
  writeFileSync(file, "");
  for (let i = 0; i < lines; i++) {
    const event: CallEvent = createCallEvent({
      ts: "2026-05-29T09:00:00.123+00:00",
      call_id: `01J${String(i).padStart(23, "0")}`,
      tool_id: ["fs.read", "http.fetch", "db.query"][i % 3]!,
      caller_id: i % 10 === 0 ? null : "agent-planner",
      granted_capabilities: ["read", "write"],
      duration_ms: i % 997,
      outcome: kinds[i % kinds.length]!,
      tier: "warm",
      cursor_page: i % 7 === 0 ? 2 : null,
      capability_provenance: i % 5 === 0 ? [{ cap: "read", source: { kind: "string_allow_list" } }] : null,
    });
    text += encodeCallEvent(event) + "\n";
    if (text.length > 4 << 20 || i === lines - 1) {
      writeFileSync(file, text, { flag: "a" });
      bytes += new TextEncoder().encode(text).length;
      text = "";
    }
  }
  return bytes;
}

async function child(mode: Mode, file: string, runs: number): Promise<void> {
  const times: number[] = [];
  let count = 0;
  for (let run = 0; run < runs; run++) {
    const stream = await openFileStream(file);
    const start = performance.now();
    count = await MODE_RUNNERS[mode](stream);
    times.push(performance.now() - start);
  }
  const rss = Number(/VmHWM:\s+(\d+) kB/.exec(readFileSync("/proc/self/status", "utf8"))![1]) * 1024;
  console.log(JSON.stringify({ times, rss, count }));
}

/** The file as the CLI reads it, as a byte stream (left open until the process ends). */
async function openFileStream(path: string): Promise<ReadableStream<Uint8Array>> {
  return (await Input.file(runtime(), path)).readable();
}

const MODE_RUNNERS: Record<Mode, (stream: ReadableStream<Uint8Array>) => Promise<number>> = {
  // The runtime's own footprint: open the file, read nothing.
  async idle(stream) {
    await stream.cancel();
    return 0;
  },
  // The limit: stream-decode the text, split on "\n", JSON.parse every line.
  async bare(stream) {
    const reader = stream.getReader();
    const decoder = new TextDecoder();
    let carry = "";
    let count = 0;
    for (;;) {
      const { done, value } = await reader.read();
      const text = carry + (done ? decoder.decode() : decoder.decode(value, { stream: true }));
      let start = 0;
      for (let nl = text.indexOf("\n"); nl !== -1; nl = text.indexOf("\n", start)) {
        if (nl > start) {
          JSON.parse(text.slice(start, nl));
          count++;
        }
        start = nl + 1;
      }
      carry = text.slice(start);
      if (done) return count;
    }
  },
  // The reader's byte splitter and per-line UTF-8 decoding, no parsing.
  async split(stream) {
    const reader = stream.getReader();
    const splitter = new LineSplitter(1 << 20);
    let count = 0;
    const emit = (): void => void count++;
    for (;;) {
      const { done, value } = await reader.read();
      if (done) {
        splitter.end(emit);
        return count;
      }
      splitter.push(value, emit);
    }
  },
  // The splitter plus JSON.parse: what the reader costs without the schema check.
  async "split+json"(stream) {
    const reader = stream.getReader();
    const splitter = new LineSplitter(1 << 20);
    let count = 0;
    const emit = (line: { text: string }): void => {
      JSON.parse(line.text);
      count++;
    };
    for (;;) {
      const { done, value } = await reader.read();
      if (done) {
        splitter.end(emit);
        return count;
      }
      splitter.push(value, emit);
    }
  },
  // The real thing: readCallEvents with full schema validation, via for await.
  async reader(stream) {
    let count = 0;
    const events = readCallEvents(stream, { strict: true });
    for await (const _ of events) count++;
    return count;
  },
};

function median(values: number[]): number {
  const sorted = [...values].sort((a, b) => a - b);
  return sorted[Math.floor(sorted.length / 2)]!;
}

if (args[0] === "--child") await child(args[1] as Mode, args[2]!, Number(args[3]));
else parent();
