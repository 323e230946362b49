// The request body each format sends for the same 35 lines (the reference's
// own golden lines and four with other timestamps), compared byte for byte
// with tests/testdata/formats/*.body (exact bodies, an extension deno fmt
// leaves alone). UPDATE_GOLDEN=1 rewrites the files instead.
import { describe, it } from "node:test";
import assert from "node:assert/strict";
import { existsSync, mkdirSync, readFileSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import process from "node:process";
import {
  datadogLogs,
  elasticsearchBulk,
  type FetchBodyFormat,
  fetchDestination,
  lokiPush,
  ndjson,
  otlpLogs,
  splunkHec,
} from "../../../../mod.ts";
import { ApiReceiver, bulkApi, datadogApi, hecApi, lokiApi, otlpApi } from "../../../_helpers/api_receivers.ts";
import { HttpReceiver } from "../../../_helpers/http_receiver.ts";
import { testdata } from "../../../_helpers/testdata.ts";
import { fast } from "../_fetch_helpers.ts";

const DIR = join(process.cwd(), "tests", "testdata", "formats");
const INPUT = testdata("formats_input.jsonl").trimEnd();

interface Golden {
  readonly file: string;
  readonly format: FetchBodyFormat;
  readonly api: () => Parameters<typeof ApiReceiver.start>[0];
  readonly headers?: Record<string, string>;
}

const GOLDEN: Golden[] = [
  {
    file: "otlp_logs.body",
    format: otlpLogs({
      serviceName: "tools",
      resource: { "deployment.environment.name": "test" },
      scopeVersion: "0.1.0",
    }),
    api: otlpApi,
  },
  { file: "loki_push.body", format: lokiPush({ labels: { service_name: "tools" } }), api: lokiApi },
  { file: "elasticsearch_bulk.body", format: elasticsearchBulk({ index: "audit" }), api: bulkApi },
  {
    file: "splunk_hec.body",
    format: splunkHec({ index: "audit", host: "tools-1" }),
    api: hecApi,
    headers: { authorization: "Splunk 00000000-0000-0000-0000-000000000000" },
  },
  {
    file: "datadog_logs.body",
    format: datadogLogs({ service: "tools", hostname: "tools-1", tags: "env:test" }),
    api: datadogApi,
    headers: { "dd-api-key": "0123456789abcdef" },
  },
];

/** Sends INPUT in one batch; returns the one request's body as the receiver read it. */
async function bodyOf(receiver: { url: string; http: HttpReceiver }, golden: Golden): Promise<string> {
  const destination = fetchDestination(receiver.url, fast({ format: golden.format, headers: golden.headers ?? {} }));
  const writer = destination.getWriter();
  await writer.write(new TextEncoder().encode(INPUT + "\n"));
  await writer.close();
  assert.equal(receiver.http.requests.length, 1);
  assert.equal(destination.stats().delivered, INPUT.split("\n").length);
  return receiver.http.requests[0]!.text;
}

describe("fetchDestination golden bodies", () => {
  for (const golden of GOLDEN) {
    it(`${golden.format.name} sends the golden body tests/testdata/formats/${golden.file}`, async () => {
      const receiver = await ApiReceiver.start(golden.api());
      try {
        const body = await bodyOf(receiver, golden);
        assert.deepEqual(receiver.violations, []);
        const path = join(DIR, golden.file);
        if (process.env.UPDATE_GOLDEN === "1" || !existsSync(path)) {
          mkdirSync(DIR, { recursive: true });
          writeFileSync(path, body);
          if (process.env.UPDATE_GOLDEN !== "1") assert.fail(`${path} was missing: written, check it in`);
        }
        assert.equal(body, readFileSync(path, "utf8"));
        // Every line travels unchanged: its exact text is in the body, JSON-escaped where the format embeds it.
        for (const line of INPUT.split("\n")) {
          const embedded = golden.format.name === "elasticsearch-bulk" ? line : JSON.stringify(line);
          assert.ok(body.includes(embedded), `a line is not in the ${golden.format.name} body unchanged`);
        }
      } finally {
        await receiver.close();
      }
    });
  }

  it("ndjson sends the lines themselves, byte for byte", async () => {
    const receiver = await HttpReceiver.start();
    try {
      const destination = fetchDestination(receiver.url, fast({ format: ndjson() }));
      const writer = destination.getWriter();
      const bytes = new TextEncoder().encode(INPUT + "\n");
      await writer.write(bytes);
      await writer.close();
      assert.deepEqual(receiver.requests[0]!.raw, bytes);
      assert.equal(receiver.requests[0]!.headers["content-type"], "application/x-ndjson");
    } finally {
      await receiver.close();
    }
  });
});
