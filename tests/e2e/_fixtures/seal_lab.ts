// Sealing and verifying as an application would, the same code in every
// runtime the end-to-end tests reach (workerd, Chromium, Deno, Bun, Node):
// a JsonLinesAuditSink sealing into memory streams, and verifyAuditTrail.
import {
  type CallEvent,
  createCallEvent,
  importAuditSealKey,
  importAuditVerifyKey,
  JsonLinesAuditSink,
  verifyAuditTrail,
} from "./browser_entry.ts";

/** A trail sealed in one runtime: the data with a seal stream, and the same events sealed in band. */
export interface SealedTrail {
  readonly runtime: string;
  readonly data: string;
  readonly seal: string;
  readonly inband: string;
  /** Events offered to each sink. */
  readonly offered: number;
}

/** What a verification found, in a form every runtime can send back as JSON. */
export interface Verdict {
  readonly kinds: string[];
  readonly gaps: { reason: string; count: number }[];
  readonly verified: number;
  readonly intact: boolean;
  readonly offered: number;
  readonly origin: string | undefined;
}

const EVENTS = 30;
const decoder = new TextDecoder();

function memory(): { stream: WritableStream<Uint8Array>; text: () => string } {
  const chunks: string[] = [];
  return {
    stream: new WritableStream({ write: (chunk) => void chunks.push(decoder.decode(chunk)) }),
    text: () => chunks.join(""),
  };
}

async function record(sink: JsonLinesAuditSink, runtime: string): Promise<number> {
  let offered = 0;
  sink.onCall({ call_id: 42 } as unknown as CallEvent); // invalid: a gap of its own
  offered++;
  // A burst larger than the queue: drop mode loses the rest, and says so in the trail.
  for (let i = 0; i < EVENTS; i++, offered++) {
    sink.onCall(createCallEvent({
      call_id: `${runtime}-${i}`,
      tool_id: i % 2 ? "fs.read" : "search.web",
      caller_id: `agent-${runtime}`,
      granted_capabilities: ["read"],
      duration_ms: i,
      outcome: i % 5 === 0 ? { kind: "capability_denied", missing: ["net:egress"] } : { kind: "success" },
      tier: "edge",
    }));
    if (i % 10 === 9) await new Promise((resolve) => setTimeout(resolve, 0));
  }
  await sink.close();
  return offered;
}

/** Seals the same kind of run twice (seal stream, in band) with the private JWK. */
export async function sealTrail(privateJwk: string, runtime: string): Promise<SealedTrail> {
  const key = await importAuditSealKey(privateJwk);
  const data = memory();
  const seal = memory();
  const origin = `e2e.example/${runtime}`;
  const options = { capacity: 8, onError: () => {} } as const;
  const offered = await record(
    new JsonLinesAuditSink(data.stream, {
      ...options,
      seal: { key, to: seal.stream, origin, maxSegmentLines: 4 },
    }),
    runtime,
  );
  const inband = memory();
  await record(
    new JsonLinesAuditSink(inband.stream, { ...options, seal: { key, inBand: true, origin, maxSegmentLines: 4 } }),
    runtime,
  );
  return { runtime, data: data.text(), seal: seal.text(), inband: inband.text(), offered };
}

/** Verifies a trail (with its seal stream, or in band when `seal` is undefined). */
export async function verifyTrail(publicJwk: string, data: string, seal?: string): Promise<Verdict> {
  const keys = await importAuditVerifyKey(publicJwk);
  const { findings, summary } = await verifyAuditTrail(new Blob([data]), {
    keys,
    ...(seal === undefined ? {} : { seal: new Blob([seal]) }),
  }).result();
  return {
    kinds: findings.map((f) => f.kind),
    gaps: findings.filter((f) => f.kind === "gap").map((f) => ({ reason: f.reason!, count: f.count })),
    verified: summary.verifiedLines,
    intact: summary.intact,
    offered: summary.offered,
    origin: summary.origin,
  };
}
