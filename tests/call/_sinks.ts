// Sinks for the auditCall and MCP adapter tests: every event kept, and its
// line as the sink's encoder writes it.
import { type AuditSink, type CallEvent, encodeCallEvent } from "../../mod.ts";

/** A sink that keeps every event it is given. */
export class MemorySink implements AuditSink {
  readonly events: CallEvent[] = [];

  onCall(event: CallEvent): void {
    this.events.push(event);
  }

  /** Each event's JSON line, as `JsonLinesAuditSink` writes it. */
  lines(): string[] {
    return this.events.map((event) => encodeCallEvent(event));
  }

  /** The only event; fails when there is not exactly one. */
  only(): CallEvent {
    if (this.events.length !== 1) throw new Error(`expected exactly one event, got ${this.events.length}`);
    return this.events[0]!;
  }
}

/** Resolves after `n` macrotasks: lets every pending promise job and timer of delay 0 run. */
export async function settle(n = 3): Promise<void> {
  for (let i = 0; i < n; i++) await new Promise((resolve) => setTimeout(resolve, 0));
}
