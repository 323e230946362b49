// The event shapes the benchmarks record, shared by `_worker.ts` and `load_server.ts`.
import { type CallEvent, type CallEventFields, createCallEvent } from "../mod.ts";

/** `ref`: the reference tests' `mk_event`; `prov`: a failed call with provenance for both capabilities. */
export type Shape = "ref" | "prov";
export const SHAPES: readonly Shape[] = ["ref", "prov"];

/** A per-call id shaped like a ULID, distinct per `i`, so that lines differ. */
export function callId(i: number): string {
  return `01J${String(i).padStart(23, "0")}`;
}

const REF_CAPS = ["read", "write"] as const;
const PROV_CAPS = ["fs:read", "net:egress"] as const;
const PROV_OUTCOME = { kind: "execution_failed", code: "FS_NOT_FOUND", retryable: false } as const;
const PROV_PROVENANCE = [
  { cap: PROV_CAPS[0], source: { kind: "string_allow_list" } },
  {
    cap: PROV_CAPS[1],
    source: { kind: "ucan_chain", issuer_did: "did:web:issuer.example.com", chain_depth: 3 },
  },
] as const;

/**
 * The fields of event `i` of `shape`, without `ts` (so `createCallEvent` fills
 * the default, as most callers let it). `toolId` overrides the tool (the load
 * server passes the one the request named).
 */
export function eventFields(shape: Shape, i: number, toolId?: string): CallEventFields {
  if (shape === "ref") {
    return {
      call_id: callId(i),
      tool_id: toolId ?? "ref:echo.say",
      duration_ms: 17,
      outcome: { kind: "success" },
      tier: "warm",
      caller_id: "test-client",
      granted_capabilities: REF_CAPS,
    };
  }
  return {
    call_id: callId(i),
    tool_id: toolId ?? "mcp:filesystem.read_file",
    caller_id: "agent-planner",
    granted_capabilities: PROV_CAPS,
    duration_ms: 1234,
    outcome: PROV_OUTCOME,
    tier: "sandbox",
    secrets_resolved: true,
    capability_provenance: PROV_PROVENANCE,
  };
}

/** Event `i` of `shape`, made with `createCallEvent` (default `ts`). */
export function makeEvent(shape: Shape, i: number): CallEvent {
  return createCallEvent(eventFields(shape, i));
}

/** Checks a shape name from the command line. */
export function parseShape(name: string): Shape {
  if (name !== "ref" && name !== "prov") throw new TypeError(`Unknown shape ${JSON.stringify(name)}: ref or prov`);
  return name;
}
