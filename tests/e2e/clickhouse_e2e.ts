// fetchDestination into a real warehouse: Debian's ClickHouse (18.16), started
// here in the foreground on 127.0.0.1 with its data in a temp folder. Each
// line lands byte for byte in a String column (CSV with a \x01 delimiter, so
// no character of a JSON line is special), and MATERIALIZED columns pull the
// fields out with visitParamExtract* (18.16 has no JSONExtract). Needs
// `apt-get install -y --no-install-recommends clickhouse-server clickhouse-client`.
import { after, before, describe, it } from "node:test";
import assert from "node:assert/strict";
import { mkdirSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { type CallEvent, createCallEvent, encodeCallEvent, JsonLinesAuditSink, type Outcome } from "../../mod.ts";
import { fetchDestination } from "../../src/destination/fetch_destination.ts";
import {
  ChildServer,
  findExecutable,
  freePort,
  makeTempDir,
  removeDir,
  skipUnless,
  waitFor,
} from "../_helpers/e2e_harness.ts";

const CLICKHOUSE = findExecutable("clickhouse-server");
const SKIP = skipUnless(
  CLICKHOUSE,
  "clickhouse-server not installed: apt-get install -y --no-install-recommends clickhouse-server clickhouse-client",
);

/** The table the README shows. `kind`'s first occurrence is the outcome's (it precedes capability_provenance). */
export const AUDIT_EVENTS_TABLE = `CREATE TABLE audit_events
(
    line         String,
    ts           String   MATERIALIZED visitParamExtractString(line, 'ts'),
    time         DateTime MATERIALIZED parseDateTimeBestEffort(visitParamExtractString(line, 'ts')),
    call_id      String   MATERIALIZED visitParamExtractString(line, 'call_id'),
    tool_id      String   MATERIALIZED visitParamExtractString(line, 'tool_id'),
    caller_id    String   MATERIALIZED visitParamExtractString(line, 'caller_id'),
    duration_ms  UInt64   MATERIALIZED visitParamExtractUInt(line, 'duration_ms'),
    outcome_kind String   MATERIALIZED visitParamExtractString(line, 'kind'),
    outcome      String   MATERIALIZED visitParamExtractRaw(line, 'outcome'),
    tier         String   MATERIALIZED visitParamExtractString(line, 'tier'),
    dry_run      UInt8    MATERIALIZED visitParamExtractBool(line, 'dry_run')
)
ENGINE = MergeTree
PARTITION BY toYYYYMM(time)
ORDER BY (time, call_id)`;

/** The ingest URL's path and query, after `http://HOST:8123`. */
export const AUDIT_EVENTS_INGEST_PATH = "/?query=INSERT%20INTO%20audit_events%20FORMAT%20CSV&format_csv_delimiter=%01";

const OUTCOMES: readonly Outcome[] = [
  { kind: "success" },
  { kind: "execution_failed", code: "FS_NOT_FOUND", retryable: false },
  { kind: "invalid_args", message: 'missing "path", got {"x":1}\n\ttabbed' },
  { kind: "capability_denied", missing: ["write", "admin"] },
  { kind: "rate_limited", retry_after_ms: 1500 },
  { kind: "tool_not_found" },
];

/** Event `i` of a run: every outcome kind, absent and awkward caller_ids, provenance on some. */
function eventAt(prefix: string, i: number): CallEvent {
  return createCallEvent({
    ts: `2026-05-29T10:${String(Math.floor(i / 60) % 60).padStart(2, "0")}:${String(i % 60).padStart(2, "0")}.${
      String(i % 1000).padStart(3, "0")
    }+00:00`,
    call_id: `${prefix}-${i}`,
    tool_id: `ref:tool_${i % 7}.run`,
    caller_id: i % 5 === 0 ? undefined : i % 5 === 1 ? `agent-"é"-🙂-${i}` : `agent-${i % 13}`,
    granted_capabilities: i % 2 === 0 ? ["read"] : ["read", "write"],
    duration_ms: i * 3,
    outcome: OUTCOMES[i % OUTCOMES.length]!,
    tier: i % 3 === 0 ? "cold" : "warm",
    dry_run: i % 11 === 0,
    cursor_page: i % 4 === 0 ? i : undefined,
    capability_provenance: i % 9 === 0
      ? [{ cap: "read", source: { kind: "ucan_chain", issuer_did: "did:key:z6Mk", chain_depth: 2 } }]
      : undefined,
  });
}

describe("fetchDestination into ClickHouse", () => {
  let dir: string | undefined;
  let server: ChildServer | undefined;
  let base = "";

  async function query(sql: string): Promise<string> {
    const response = await fetch(`${base}/`, { method: "POST", body: sql, signal: AbortSignal.timeout(20_000) });
    const text = await response.text();
    if (!response.ok) throw new Error(`ClickHouse answered ${response.status} to ${sql.slice(0, 80)}: ${text}`);
    return text;
  }

  before(async () => {
    if (SKIP) return;
    dir = makeTempDir("clickhouse");
    for (const sub of ["data", "tmp", "user_files", "format_schemas"]) mkdirSync(join(dir, sub));
    const [httpPort, tcpPort] = [await freePort(), await freePort()];
    writeFileSync(
      join(dir, "config.xml"),
      `<?xml version="1.0"?>
<yandex>
  <logger><level>warning</level><console>1</console></logger>
  <listen_host>127.0.0.1</listen_host>
  <http_port>${httpPort}</http_port>
  <tcp_port>${tcpPort}</tcp_port>
  <path>${dir}/data/</path>
  <tmp_path>${dir}/tmp/</tmp_path>
  <user_files_path>${dir}/user_files/</user_files_path>
  <format_schema_path>${dir}/format_schemas/</format_schema_path>
  <mark_cache_size>5368709120</mark_cache_size>
  <users_config>users.xml</users_config>
  <default_profile>default</default_profile>
  <default_database>default</default_database>
  <timezone>UTC</timezone>
</yandex>
`,
    );
    writeFileSync(
      join(dir, "users.xml"),
      `<?xml version="1.0"?>
<yandex>
  <profiles><default></default></profiles>
  <users>
    <default>
      <password></password>
      <networks><ip>127.0.0.1</ip></networks>
      <profile>default</profile>
      <quota>default</quota>
    </default>
  </users>
  <quotas><default></default></quotas>
</yandex>
`,
    );
    server = ChildServer.start(CLICKHOUSE!, [`--config-file=${join(dir, "config.xml")}`], { cwd: dir });
    base = `http://127.0.0.1:${httpPort}`;
    await waitFor("clickhouse-server to answer /ping", async () => {
      if (server!.exited) throw new Error(`clickhouse-server exited:\n${server!.output}`);
      try {
        return (await fetch(`${base}/ping`)).ok;
      } catch {
        return false;
      }
    }, { timeoutMs: 30_000, detail: () => server!.output });
    await query(AUDIT_EVENTS_TABLE);
  });

  after(async () => {
    await server?.stop();
    removeDir(dir);
  });

  /** Sends `count` events through fetchDestination in block mode; returns the sink's and destination's stats. */
  async function ingest(prefix: string, count: number, gzip: boolean) {
    const errors: unknown[] = [];
    const destination = fetchDestination(`${base}${AUDIT_EVENTS_INGEST_PATH}`, {
      gzip,
      onError: (error) => errors.push(error),
    });
    const sink = new JsonLinesAuditSink(destination, {
      backpressure: "block",
      onError: (error) => errors.push(error),
    });
    for (let i = 0; i < count; i++) {
      await sink.ready; // the block-mode idiom: a slow endpoint holds the caller here
      sink.onCall(eventAt(prefix, i));
    }
    await sink.flush();
    const result = { sink: sink.stats(), destination: destination.stats(), errors };
    await sink.close();
    return result;
  }

  /** Every stored line of a run, as ClickHouse returns it (TSV-raw: one line per row, untouched). */
  async function storedLines(prefix: string): Promise<string[]> {
    const text = await query(
      `SELECT line FROM audit_events WHERE call_id LIKE '${prefix}-%' ORDER BY line FORMAT TabSeparatedRaw`,
    );
    return text.split("\n").filter((line) => line !== "");
  }

  it("stores 10,000 events sent in block mode, each line byte for byte", { skip: SKIP }, async () => {
    const count = 10_000;
    const { sink, destination, errors } = await ingest("ch", count, false);
    assert.deepEqual(errors, []);
    assert.equal(sink.written, count);
    assert.equal(sink.dropped + sink.failed + sink.invalid, 0);
    assert.equal(destination.delivered, count);
    assert.ok(destination.requests >= Math.ceil(count / 512), `only ${destination.requests} requests`);

    // flush() resolved after ClickHouse acknowledged, so the rows are there now.
    assert.equal(
      (await query(`SELECT count(), uniqExact(call_id) FROM audit_events WHERE call_id LIKE 'ch-%'`)).trim(),
      `${count}\t${count}`,
    );
    const expected = Array.from({ length: count }, (_, i) => encodeCallEvent(eventAt("ch", i))).sort();
    const stored = await storedLines("ch");
    assert.equal(stored.length, count);
    assert.ok(stored.every((line, i) => line === expected[i]), "a stored line differs from the line sent");
  });

  it("extracts tool_id, caller_id, duration_ms and outcome from the stored lines", { skip: SKIP }, async () => {
    const spot = [0, 1, 2, 3, 4, 5, 9, 4321, 9999];
    const rows = await query(
      `SELECT call_id, tool_id, caller_id, duration_ms, outcome_kind, outcome, tier, dry_run, ts FROM audit_events
       WHERE call_id IN (${spot.map((i) => `'ch-${i}'`).join(", ")}) ORDER BY duration_ms FORMAT JSONEachRow`,
    );
    const got = rows.split("\n").filter((row) => row !== "").map((row) => JSON.parse(row));
    assert.deepEqual(
      got,
      spot.map((i) => {
        const event = eventAt("ch", i);
        return {
          call_id: event.call_id,
          tool_id: event.tool_id,
          caller_id: event.caller_id ?? "", // absent caller_id reads as ""
          duration_ms: String(event.duration_ms), // 18.16 quotes UInt64 in JSON
          outcome_kind: event.outcome.kind,
          outcome: JSON.stringify(event.outcome),
          tier: event.tier,
          dry_run: event.dry_run ? 1 : 0,
          ts: event.ts,
        };
      }),
    );
    // Every row's fields, summed up against what was sent.
    const kinds = await query(
      `SELECT outcome_kind, count(), sum(duration_ms) FROM audit_events WHERE call_id LIKE 'ch-%'
       GROUP BY outcome_kind ORDER BY outcome_kind FORMAT TabSeparated`,
    );
    const want = new Map<string, [number, number]>();
    for (let i = 0; i < 10_000; i++) {
      const kind = OUTCOMES[i % OUTCOMES.length]!.kind;
      const [n, sum] = want.get(kind) ?? [0, 0];
      want.set(kind, [n + 1, sum + i * 3]);
    }
    assert.equal(
      kinds,
      [...want].sort(([a], [b]) => (a < b ? -1 : 1)).map(([kind, [n, sum]]) => `${kind}\t${n}\t${sum}\n`).join(""),
    );
  });

  it("stores gzip-compressed batches the same way", { skip: SKIP }, async () => {
    const count = 2_000;
    const { sink, destination, errors } = await ingest("gz", count, true);
    assert.deepEqual(errors, []);
    assert.equal(sink.written, count);
    assert.equal(destination.delivered, count);
    const expected = Array.from({ length: count }, (_, i) => encodeCallEvent(eventAt("gz", i))).sort();
    assert.deepEqual(await storedLines("gz"), expected);
  });
});
