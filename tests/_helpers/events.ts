// Shared test fixtures: the reference test's event shape and in-memory destinations.
import { type CallEvent, createCallEvent, type Outcome } from "../../mod.ts";

/** The reference tests' `mk_event`: caller "test-client", capabilities read/write. */
export function mkEvent(outcome: Outcome = { kind: "success" }, callId = "01J000000000000000000000TEST"): CallEvent {
  return createCallEvent({
    call_id: callId,
    tool_id: "ref:echo.say",
    duration_ms: 17,
    outcome,
    tier: "warm",
    caller_id: "test-client",
    granted_capabilities: ["read", "write"],
  });
}

/** A destination that keeps every byte written, optionally slowly. */
export class MemoryDestination {
  readonly chunks: Uint8Array[] = [];
  readonly stream: WritableStream<Uint8Array>;
  closed = false;

  constructor(options: { delayMs?: number; failAfterWrites?: number; error?: Error } = {}) {
    let writes = 0;
    this.stream = new WritableStream<Uint8Array>({
      write: async (chunk) => {
        if (options.failAfterWrites !== undefined && writes >= options.failAfterWrites) {
          throw options.error ?? new Error("disk full");
        }
        writes++;
        if (options.delayMs) await new Promise((resolve) => setTimeout(resolve, options.delayMs));
        this.chunks.push(chunk.slice());
      },
      close: () => {
        this.closed = true;
      },
    });
  }

  /** Everything written, decoded. */
  text(): string {
    const decoder = new TextDecoder();
    return this.chunks.map((c) => decoder.decode(c, { stream: true })).join("") + decoder.decode();
  }

  /** The complete lines written. */
  lines(): string[] {
    return this.text().split("\n").filter((line) => line !== "");
  }
}
