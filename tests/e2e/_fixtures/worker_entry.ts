// A Cloudflare Worker (module syntax) that audits each request's tool calls.
// Bundled with esbuild at test time and served by workerd; `INGEST_URL_AT_BUILD`
// is replaced by the receiver's URL when bundling.
import { createCallEvent, fetchDestination, JsonLinesAuditSink, otlpLogs } from "./browser_entry.ts";

declare const INGEST_URL_AT_BUILD: string;

/** The bindings in the workerd config. */
interface Env {
  readonly INGEST_URL: string;
  /** An OTLP/HTTP logs endpoint, for `?format=otlp`. */
  readonly OTLP_URL: string;
}

/** The part of workerd's ExecutionContext the handler uses. */
interface ExecutionContext {
  waitUntil(promise: Promise<unknown>): void;
}

// Built at module load, where workerd forbids I/O, timers and random values:
// if constructing the sink or the destination did any of them, workerd would
// refuse to start this Worker.
const moduleSink = new JsonLinesAuditSink(fetchDestination(INGEST_URL_AT_BUILD), { backpressure: "block" });

export default {
  fetch(request: Request, env: Env, ctx: ExecutionContext): Response {
    const params = new URL(request.url).searchParams;
    const count = Number(params.get("n") ?? "0");
    const prefix = params.get("prefix") ?? "worker";
    const destination = params.get("format") === "otlp"
      ? fetchDestination(env.OTLP_URL, { format: otlpLogs({ serviceName: "worker" }), gzip: true })
      : fetchDestination(env.INGEST_URL);
    const sink = params.get("sink") === "module"
      ? moduleSink
      : new JsonLinesAuditSink(destination, { backpressure: "block" });
    for (let i = 0; i < count; i++) {
      sink.onCall(createCallEvent({
        call_id: `${prefix}-${i}`,
        tool_id: "ref:echo.say",
        caller_id: "worker",
        granted_capabilities: ["read"],
        duration_ms: i,
        outcome: i % 2 === 0 ? { kind: "success" } : { kind: "rate_limited", retry_after_ms: 250 },
        tier: "edge",
      }));
    }
    ctx.waitUntil(sink.flush()); // the whole integration: delivered once this resolves
    return new Response(`recorded ${count}\n`);
  },
};
