// Test doubles for the sealing tests: a destination that settles its lines in
// order (as a file or fetchDestination with maxInFlight: 1 does) but loses
// some on cue, keeping only the lines that arrived (and, on cue, the start of
// a line whose write stopped part way); and a memory seal stream.
import { WriteCount } from "../../src/destination/_write_count.ts";
import type { AuditDestination, DeliveryReport } from "../../mod.ts";
import { tick } from "../_helpers/events.ts";

/** What becomes of one write's lines. */
export interface OrderedPlan {
  /** Lines of the chunk that arrive (the first ones); the rest are lost. @default all */
  readonly deliver?: number;
  /** What the lost lines are reported as. @default "failed" */
  readonly rest?: "failed" | "rerouted";
  /**
   * Characters of the first lost line that arrive all the same: the write
   * stopped part way (a full disk). The next write that arrives starts with a
   * newline, as fileDestination's does, so they stand as a line of their own.
   * @default 0
   */
  readonly torn?: number;
  /** The write rejects (reporting nothing) instead. */
  readonly reject?: boolean;
  /** The lines are reported only at the next flush (as an HTTP batch is), still in order. */
  readonly hold?: boolean;
  /** Milliseconds before the lines are reported. */
  readonly delayMs?: number;
}

const decoder = new TextDecoder();

/** An AuditDestination that reports every line in the order it was written, losing lines as `plan` says. */
export class OrderedDestination {
  readonly destination: AuditDestination;
  /** The lines that arrived, in order (with their newlines; a torn one gets its newline from the next write). */
  readonly arrived: string[] = [];
  /** Every line written, in order. */
  readonly written: string[] = [];
  /** Reports made so far, in order, as [fate, lines]. */
  readonly reports: [string, number][] = [];
  #report: DeliveryReport | undefined;
  /** The last line that arrived is torn: it has no newline yet. */
  #midLine = false;
  #reports: Promise<void> = Promise.resolve();
  #held: (() => void)[] = [];
  /** Writes taken and reported: a flush waits for every write taken before it, also those queued behind one. */
  readonly #writes = new WriteCount();

  /**
   * @param plan What becomes of each write's lines.
   * @param stalled Every write waits for it first (a destination that stalls, then recovers).
   */
  constructor(
    plan: (write: number, lines: number, first: string) => OrderedPlan = () => ({}),
    stalled?: Promise<void>,
  ) {
    let writes = 0;
    const stream = new WritableStream<Uint8Array>({
      write: async (chunk) => {
        try {
          await this.#write(chunk, stalled, plan, writes++);
        } finally {
          this.#writes.done();
        }
      },
    }, this.#writes.strategy);
    this.destination = Object.assign(stream, {
      attach: (report: DeliveryReport): void => {
        this.#report = report;
      },
      flush: async (): Promise<void> => {
        for (const release of this.#held.splice(0)) release();
        await this.#writes.allDone();
        for (const release of this.#held.splice(0)) release();
        await this.#reports;
      },
    });
  }

  /** One write: what becomes of its lines, by the plan, reported in order. */
  async #write(
    chunk: Uint8Array,
    stalled: Promise<void> | undefined,
    plan: (write: number, lines: number, first: string) => OrderedPlan,
    write: number,
  ): Promise<void> {
    await stalled;
    const lines = decoder.decode(chunk).split(/(?<=\n)/);
    let step = plan(write, lines.length, lines[0]!);
    this.written.push(...lines);
    // A rejection settles the oldest unsettled lines: behind held ones it would not be in order, so it fails them.
    if (step.reject && this.#held.length > 0) step = { deliver: 0 };
    if (step.reject) {
      await this.#reports; // nothing older is left unsettled when the sink counts these lost
      throw new Error("write rejected");
    }
    const deliver = Math.min(step.deliver ?? lines.length, lines.length);
    const settle = async (): Promise<void> => {
      if (step.delayMs !== undefined) await tick(step.delayMs);
      const cut = deliver < lines.length ? lines[deliver]! : "";
      const torn = cut.slice(0, Math.min(step.torn ?? 0, cut.length - 1)); // never its newline
      if (deliver > 0 || torn !== "") {
        if (this.#midLine) this.arrived[this.arrived.length - 1] += "\n";
        this.#midLine = torn !== "";
      }
      this.arrived.push(...lines.slice(0, deliver));
      if (torn !== "") this.arrived.push(torn);
      this.#tell("delivered", deliver);
      this.#tell(step.rest ?? "failed", lines.length - deliver);
    };
    const wait = !step.hold && step.delayMs === undefined && this.#held.length === 0;
    if (step.hold) {
      let release!: () => void;
      const held = new Promise<void>((resolve) => (release = resolve));
      this.#held.push(release);
      this.#reports = this.#reports.then(() => held).then(settle);
    } else this.#reports = this.#reports.then(settle);
    // Taken at once behind held lines (as a batch is); otherwise reported before the write resolves (as a file).
    if (wait) await this.#reports;
  }

  /** The lines that arrived, as one text. */
  text(): string {
    return this.arrived.join("");
  }

  #tell(fate: string, lines: number): void {
    if (lines <= 0) return;
    this.reports.push([fate, lines]);
    if (fate === "delivered") this.#report!.delivered(lines);
    else if (fate === "rerouted") this.#report!.rerouted(lines);
    else this.#report!.failed(lines, new Error(`${lines} lines lost`));
  }
}

/** A seal stream in memory: its checkpoint lines, parsed as they come. */
export class SealStream {
  readonly lines: string[] = [];
  readonly stream: WritableStream<Uint8Array>;
  closed = false;

  constructor(options: { stall?: boolean } = {}) {
    this.stream = new WritableStream<Uint8Array>({
      write: (chunk) => {
        if (options.stall) return new Promise<void>(() => {});
        this.lines.push(...decoder.decode(chunk).split(/(?<=\n)/));
      },
      close: () => {
        this.closed = true;
      },
    });
  }

  text(): string {
    return this.lines.join("");
  }

  /** The checkpoints, parsed. */
  checkpoints(): { seq: number; seg_lines: number; offered: number; lines: number; gaps: Gap[] }[] {
    return this.lines.map((line) => JSON.parse(line));
  }
}

/** A gap as a checkpoint holds it. */
export interface Gap {
  readonly reason: string;
  readonly count: number;
  readonly in_segment: boolean;
  readonly first_ts: string;
  readonly last_ts: string;
}

/** Every gap of `checkpoints`, summed by reason. */
export function gapsByReason(checkpoints: readonly { gaps: readonly Gap[] }[]): Record<string, number> {
  const sums: Record<string, number> = {};
  for (const c of checkpoints) for (const g of c.gaps) sums[g.reason] = (sums[g.reason] ?? 0) + g.count;
  return sums;
}
