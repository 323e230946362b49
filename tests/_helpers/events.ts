// Shared test fixtures: the reference test's event shape and in-memory destinations.
import process from "node:process";
import {
  type AuditDestination,
  type CallEvent,
  createCallEvent,
  type DeliveryReport,
  type Outcome,
} from "../../mod.ts";

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

/** `mkEvent` with call_id `call-<i>`. */
export function numbered(i: number): CallEvent {
  return mkEvent({ kind: "success" }, `call-${i}`);
}

/** Resolves after `ms` milliseconds (0: the next macrotask). */
export function tick(ms = 0): Promise<void> {
  return new Promise((resolve) => setTimeout(resolve, ms));
}

/**
 * The rejections nobody handled while `body` ran (and a few macrotasks
 * after): each would end a Deno or Node process. Listening keeps the test
 * runner from failing on them, so the caller asserts on the list.
 */
export async function unhandledRejections(body: () => void | Promise<void>): Promise<unknown[]> {
  const seen: unknown[] = [];
  const listener = (reason: unknown) => seen.push(reason);
  process.on("unhandledRejection", listener);
  try {
    await body();
    for (let i = 0; i < 3; i++) await tick();
  } finally {
    process.off("unhandledRejection", listener);
  }
  return seen;
}

/** A plain stream whose writes never finish: the queue can only fill. */
export function stalledStream(): WritableStream<Uint8Array> {
  return new WritableStream({ write: () => new Promise(() => {}) });
}

/** How a {@linkcode ScriptedDestination} answers one write. */
export interface WritePlan {
  /** How `write()` settles: resolves, rejects, or never settles. @default "resolve" */
  readonly settle?: "resolve" | "reject" | "never";
  /** Milliseconds before it settles. */
  readonly delayMs?: number;
  /** Lines reported delivered, rerouted, failed as the write settles (before it resolves or rejects). */
  readonly delivered?: number;
  readonly rerouted?: number;
  readonly failed?: number;
  /** Lines held (as an HTTP batch is) and reported at the next `flush()` or `abort()`. */
  readonly held?: number;
}

/** Options of a {@linkcode ScriptedDestination}. */
export interface ScriptedDestinationOptions {
  /** `"hang"`: `flush()` and `abort()` never settle, whatever the signal says. @default "honour" */
  readonly flush?: "honour" | "hang";
}

/**
 * An `AuditDestination` that answers each write as `plan` says, including as a
 * misbehaving destination would (reporting more lines than it was given,
 * reporting lines of a rejected write, never settling).
 */
export class ScriptedDestination {
  readonly destination: AuditDestination;
  /** Every chunk written, in order. */
  readonly chunks: Uint8Array[] = [];
  /** Lines held for the next flush. */
  held = 0;
  aborted = false;
  closed = false;
  #report: DeliveryReport | undefined;

  constructor(plan: (write: number, lines: number) => WritePlan, options: ScriptedDestinationOptions = {}) {
    let writes = 0;
    const stream = new WritableStream<Uint8Array>({
      write: async (chunk) => {
        const lines = new TextDecoder().decode(chunk).split("\n").length - 1;
        const step = plan(writes++, lines);
        this.chunks.push(chunk.slice());
        if (step.settle === "never") return new Promise<void>(() => {});
        if (step.delayMs !== undefined) await tick(step.delayMs);
        const report = this.#report!;
        if (step.delivered) report.delivered(step.delivered);
        if (step.rerouted) report.rerouted(step.rerouted);
        if (step.failed) report.failed(step.failed, new Error(`write ${writes - 1} lost ${step.failed} lines`));
        this.held += step.held ?? 0;
        if (step.settle === "reject") throw new Error(`write ${writes - 1} rejected`);
      },
      close: () => {
        this.closed = true;
      },
      abort: () => {
        this.aborted = true;
        if (options.flush === "hang") return new Promise<void>(() => {});
        this.#giveUp("aborted");
      },
    });
    this.destination = Object.assign(stream, {
      attach: (report: DeliveryReport): void => {
        this.#report = report;
      },
      flush: (signal?: AbortSignal): Promise<void> => {
        if (options.flush === "hang") return new Promise<void>(() => {});
        if (signal?.aborted) this.#giveUp("deadline");
        else {
          this.#report?.delivered(this.held);
          this.held = 0;
        }
        return Promise.resolve();
      },
    });
  }

  #giveUp(why: string): void {
    if (this.held > 0) this.#report?.failed(this.held, new Error(`gave up ${this.held} held lines: ${why}`));
    this.held = 0;
  }
}
