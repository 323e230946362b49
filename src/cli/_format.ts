// Text output of the command line: the stats table, pretty events, line reports.
import type { CallEvent } from "../event/call_event.ts";
import type { InvalidLineError } from "../read/invalid_line_error.ts";
import type { CallEventSummary } from "../read/summarize_call_events.ts";

/**
 * Characters a terminal acts on rather than shows: C0 and C1 controls (ESC
 * starts a sequence that can retitle the window or hide output), DEL, bidi
 * marks, overrides and isolates (U+061C too: they reorder what is shown),
 * line separators.
 */
// deno-lint-ignore no-control-regex -- matching control characters is the point
const UNSAFE = /[\u0000-\u001f\u007f-\u009f\u061c\u200e\u200f\u2028\u2029\u202a-\u202e\u2066-\u2069]/g;

/** `text` with every character a terminal would act on written as `\uXXXX`: log fields are attacker-chosen. */
export function terminalSafe(text: string): string {
  return text.replace(UNSAFE, (c) => `\\u${c.charCodeAt(0).toString(16).padStart(4, "0")}`);
}

/**
 * A JSON line for a terminal: the characters a terminal acts on that JSON
 * leaves raw (C1 controls, DEL, bidi overrides, line separators) written as
 * `\uXXXX` escapes, which read back as the same JSON value.
 */
export function jsonForTerminal(line: string): string {
  return terminalSafe(line);
}

/** Rows shown per count table before "… N more". */
const MAX_ROWS = 15;

/** The summary as aligned plain-text tables. */
export function formatSummary(summary: CallEventSummary): string {
  const d = summary.durationMs;
  const head: [string, string][] = [
    ["events", String(summary.total)],
    ["invalid lines", String(summary.invalidLines)],
    ["first", summary.firstTs ?? "-"],
    ["last", summary.lastTs ?? "-"],
    ["duration ms", d === null ? "-" : `p50 ${d.p50}  p95 ${d.p95}  p99 ${d.p99}  max ${d.max}`],
    ["dry runs", String(summary.dryRuns)],
    ["without caller", String(summary.withoutCaller)],
  ];
  const width = Math.max(...head.map(([k]) => k.length));
  let out = head.map(([k, v]) => `${k.padEnd(width)}  ${terminalSafe(v)}`).join("\n") + "\n";
  out += counts("outcome", summary.byOutcome, summary.total);
  out += counts("tool", summary.byTool, summary.total);
  out += counts("caller", summary.byCaller, summary.total);
  out += counts("tier", summary.byTier, summary.total);
  out += counts("denied capability", summary.deniedCapabilities, undefined);
  return out;
}

function counts(title: string, record: Readonly<Record<string, number>>, total: number | undefined): string {
  // Largest first, then by name: a JS object lists integer-like keys ("7") first whatever the insertion order.
  const entries = Object.entries(record).sort((a, b) => b[1] - a[1] || (a[0] < b[0] ? -1 : a[0] > b[0] ? 1 : 0));
  if (entries.length === 0) return "";
  const shown = entries.slice(0, MAX_ROWS);
  const rows: string[][] = shown.map(([name, n]) => [terminalSafe(name), String(n), total ? percent(n, total) : ""]);
  if (entries.length > shown.length) {
    const rest = entries.slice(MAX_ROWS).reduce((sum, [, n]) => sum + n, 0);
    rows.push([`… ${entries.length - shown.length} more`, String(rest), total ? percent(rest, total) : ""]);
  }
  const header = [title, "count", total ? "%" : ""];
  const w0 = Math.max(header[0]!.length, ...rows.map((r) => r[0]!.length));
  const w1 = Math.max(header[1]!.length, ...rows.map((r) => r[1]!.length));
  const w2 = Math.max(header[2]!.length, ...rows.map((r) => r[2]!.length));
  const line = (r: string[]): string => `${r[0]!.padEnd(w0)}  ${r[1]!.padStart(w1)}  ${r[2]!.padStart(w2)}`.trimEnd();
  return `\n${line(header)}\n${rows.map(line).join("\n")}\n`;
}

function percent(n: number, total: number): string {
  return `${((100 * n) / total).toFixed(1)}%`;
}

/** One readable line for an event. */
export function formatPretty(event: CallEvent): string {
  const o = event.outcome;
  let outcome: string = o.kind;
  switch (o.kind) {
    case "execution_failed":
      outcome += ` ${o.code}${o.retryable ? " (retryable)" : ""}`;
      break;
    case "invalid_args":
      outcome += ` ${JSON.stringify(o.message)}`;
      break;
    case "capability_denied":
      outcome += ` missing ${o.missing.join(",")}`;
      break;
    case "rate_limited":
      if (o.retry_after_ms !== null) outcome += ` retry after ${o.retry_after_ms}ms`;
      break;
  }
  const flags = [event.dry_run ? "dry-run" : "", event.secrets_resolved ? "secrets" : ""].filter(Boolean);
  return terminalSafe([
    event.ts,
    event.tool_id,
    event.caller_id ?? "-",
    `${event.duration_ms}ms`,
    event.tier,
    outcome,
    ...flags,
    event.call_id,
  ].join("  "));
}

/** `FILE:LINE: reason` for an invalid line. */
export function formatInvalid(name: string, error: InvalidLineError): string {
  const what = error.path === undefined
    ? error.reason
    : error.path === ""
    ? `expected the event ${error.reason}`
    : `expected "${error.path}" ${error.reason}`;
  return terminalSafe(`${name}:${error.line}: ${what}`);
}
