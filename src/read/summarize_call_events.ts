import { type CallEvent, type Outcome, OUTCOME_KINDS } from "../event/call_event.ts";
import { CallEventReader } from "./read_call_events.ts";

/** Duration percentiles, in milliseconds (nearest rank on the exact durations). */
export interface DurationPercentiles {
  /** Median. */
  readonly p50: number;
  /** 95th percentile. */
  readonly p95: number;
  /** 99th percentile. */
  readonly p99: number;
  /** Longest call. */
  readonly max: number;
}

/**
 * What {@linkcode summarizeCallEvents} found. Count maps are built largest
 * first, but a JS object always lists integer-like keys (a tool named "7")
 * first: sort `Object.entries` by count where order matters.
 */
export interface CallEventSummary {
  /** Valid events. */
  readonly total: number;
  /** Lines that were not valid events (from the reader, or the `invalidLines` option). */
  readonly invalidLines: number;
  /** Events per outcome kind; every kind is present, zeros included. */
  readonly byOutcome: Readonly<Record<Outcome["kind"], number>>;
  /** Events per `tool_id`. */
  readonly byTool: Readonly<Record<string, number>>;
  /** Events per `caller_id` (events without one are counted in `withoutCaller`). */
  readonly byCaller: Readonly<Record<string, number>>;
  /** Events without a `caller_id`. */
  readonly withoutCaller: number;
  /** Events per `tier`. */
  readonly byTier: Readonly<Record<string, number>>;
  /** Each capability named in a `capability_denied` outcome's `missing`, with how often. */
  readonly deniedCapabilities: Readonly<Record<string, number>>;
  /** Dry-run events. */
  readonly dryRuns: number;
  /** Duration percentiles; `null` when there are no events. */
  readonly durationMs: DurationPercentiles | null;
  /** The earliest `ts` (compared as instants); `null` when no event has a parsable `ts`. */
  readonly firstTs: string | null;
  /** The latest `ts` (compared as instants); `null` when no event has a parsable `ts`. */
  readonly lastTs: string | null;
}

/** Options for {@linkcode summarizeCallEvents}. */
export interface SummarizeCallEventsOptions {
  /**
   * Invalid lines to report, read once the events are exhausted: a number or
   * a function (such as a counter kept by `onInvalid`). When `events` is a
   * `CallEventReader` from `readCallEvents`, its own count is added.
   * @default {0}
   */
  readonly invalidLines?: number | (() => number);
}

/**
 * Summarizes events in one pass: counts by outcome kind, tool, caller and
 * tier; denied capabilities; duration percentiles p50/p95/p99/max; earliest
 * and latest timestamp; invalid line count.
 *
 * Percentiles are exact (nearest rank). Durations are kept as a count per
 * distinct value, so memory grows with the number of distinct durations
 * (whole milliseconds: in practice a few thousand), not with the number of
 * events. Count maps grow with the number of distinct tools, callers, tiers
 * and capabilities.
 *
 * @param events Events, sync or async: typically `readCallEvents(source)`.
 * @param options Invalid lines to add to the count.
 * @returns The summary.
 *
 * @example
 * ```ts
 * import { createCallEvent, summarizeCallEvents } from "@atd/audit";
 * import assert from "node:assert/strict";
 * const events = [5, 10, 200].map((duration_ms, i) =>
 *   createCallEvent({ call_id: `c${i}`, tool_id: "fs.read", duration_ms, outcome: { kind: "success" }, tier: "warm" })
 * );
 * const summary = await summarizeCallEvents(events);
 * assert.deepEqual(summary.total, 3);
 * assert.deepEqual(summary.durationMs, { p50: 10, p95: 200, p99: 200, max: 200 });
 * ```
 */
export async function summarizeCallEvents(
  events: AsyncIterable<CallEvent> | Iterable<CallEvent>,
  options: SummarizeCallEventsOptions = {},
): Promise<CallEventSummary> {
  const byOutcome = new Map<string, number>(OUTCOME_KINDS.map((kind) => [kind, 0]));
  const byTool = new Map<string, number>();
  const byCaller = new Map<string, number>();
  const byTier = new Map<string, number>();
  const denied = new Map<string, number>();
  const durations = new Map<number, number>();
  let total = 0;
  let withoutCaller = 0;
  let dryRuns = 0;
  let first: string | null = null;
  let firstTime = Infinity;
  let last: string | null = null;
  let lastTime = -Infinity;
  for await (const event of events) {
    total++;
    bump(byOutcome, event.outcome.kind);
    bump(byTool, event.tool_id);
    if (event.caller_id === undefined) withoutCaller++;
    else bump(byCaller, event.caller_id);
    bump(byTier, event.tier);
    if (event.outcome.kind === "capability_denied") { for (const cap of event.outcome.missing) bump(denied, cap); }
    if (event.dry_run) dryRuns++;
    bump(durations, event.duration_ms);
    const time = Date.parse(event.ts);
    if (time < firstTime) {
      first = event.ts;
      firstTime = time;
    }
    if (time > lastTime) {
      last = event.ts;
      lastTime = time;
    }
  }
  const extra = options.invalidLines;
  const invalidLines = (events instanceof CallEventReader ? events.stats.invalid : 0) +
    (typeof extra === "function" ? extra() : extra ?? 0);
  return {
    total,
    invalidLines,
    byOutcome: Object.fromEntries(byOutcome) as Record<Outcome["kind"], number>,
    byTool: sorted(byTool),
    byCaller: sorted(byCaller),
    withoutCaller,
    byTier: sorted(byTier),
    deniedCapabilities: sorted(denied),
    dryRuns,
    durationMs: percentiles(durations, total),
    firstTs: first,
    lastTs: last,
  };
}

function bump<K>(map: Map<K, number>, key: K): void {
  map.set(key, (map.get(key) ?? 0) + 1);
}

function sorted(map: Map<string, number>): Record<string, number> {
  return Object.fromEntries([...map].sort((a, b) => b[1] - a[1] || (a[0] < b[0] ? -1 : a[0] > b[0] ? 1 : 0)));
}

function percentiles(durations: Map<number, number>, total: number): DurationPercentiles | null {
  if (total === 0) return null;
  const values = [...durations].sort((a, b) => a[0] - b[0]);
  const at = (p: number): number => {
    const rank = Math.max(1, Math.ceil((p / 100) * total));
    let seen = 0;
    for (const [value, count] of values) {
      seen += count;
      if (seen >= rank) return value;
    }
    return values[values.length - 1]![0];
  };
  return { p50: at(50), p95: at(95), p99: at(99), max: values[values.length - 1]![0] };
}
