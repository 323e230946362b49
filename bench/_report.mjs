// The Markdown tables run.mjs prints: one per (runtime, variant), ns per call,
// the stalled destination, and the targets of issue 11.
import { fmt, mark, median, mib, pairedRatio, thousands } from "./_bench_util.mjs";

/** The contenders timed as events/s, in table order. */
export const THROUGHPUT = [
  "sink_block",
  "sink_block_sealed",
  "sink_record",
  "sink_burst",
  "sink_drop",
  "sink_drop_yield",
  "pino",
  "logtape",
  "raw",
];
const LOSSLESS = new Set(["sink_block", "sink_block_sealed", "sink_record", "sink_burst", "pino", "logtape", "raw"]);

/** Issue 11's bars. */
const TARGET = { vsRaw: 0.95, vsPino: 2.5, vsReady: 0.9, onCallOverStringify: 1.1, createNs: 1000 };

const variantName = ({ temp, build, shape }) => `${temp}/${build}/${shape}`;

export function report({ machine, results, runtimes, variants, shapes, contenders }) {
  const label = (runtime) => machine.runtimes[runtimes.indexOf(runtime)] ?? runtime;
  const pick = (filter) => results.filter((r) => Object.entries(filter).every(([k, v]) => r[k] === v));
  const lines = [
    `Medians of ${machine.reps} runs, ${machine.events} events each (warm: ${machine.warmup} untimed events first; ` +
    `cold: none); ratios are medians of per-repetition ratios. Load average at the start: ${machine.loadavg}.`,
  ];
  const ratio = (runtime, variant, a, b, field = "eventsPerSec") =>
    pairedRatio(pick({ runtime, variant, contender: a }), pick({ runtime, variant, contender: b }), field);

  for (const runtime of runtimes) {
    for (const v of variants) {
      const variant = variantName(v);
      const rows = THROUGHPUT.filter((c) => pick({ runtime, variant, contender: c }).length > 0);
      if (rows.length === 0) continue;
      const bytes = median(pick({ runtime, variant }).map((r) => r.lineBytes));
      lines.push("", `#### ${label(runtime)} · ${v.temp}, ${v.build}, ${v.shape} (${fmt(bytes, 0)} B/line)`, "");
      lines.push(
        "| contender | events/s (min–max) | × raw | × pino | × ready | events/CPU-s | × raw (CPU) | accepted / dropped | peak RSS MiB | Δ RSS MiB |",
        "| --- | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: |",
      );
      for (const c of rows) {
        const rs = pick({ runtime, variant, contender: c });
        const eps = rs.map((r) => r.eventsPerSec);
        const drops = rs[0].dropped !== undefined
          ? `${median(rs.map((r) => r.accepted))} / ${median(rs.map((r) => r.dropped))}`
          : `${machine.events} / 0`;
        lines.push(
          `| ${c} | ${thousands(median(eps))} (${thousands(Math.min(...eps))}–${thousands(Math.max(...eps))}) | ${
            fmt(ratio(runtime, variant, c, "raw"))
          } | ${fmt(ratio(runtime, variant, c, "pino"))} | ${
            LOSSLESS.has(c) ? fmt(ratio(runtime, variant, c, "sink_block")) : "–"
          } | ${thousands(median(rs.map((r) => r.eventsPerCpuSec)))} | ${
            fmt(ratio(runtime, variant, c, "raw", "eventsPerCpuSec"))
          } | ${drops} | ${mib(median(rs.map((r) => r.peakRss)))} | ${
            mib(median(rs.map((r) => r.peakRss - r.baseRss)))
          } |`,
        );
      }
    }
  }

  if (contenders.includes("oncall")) {
    lines.push("", "#### ns per event (synchronous time only, same events, same process)", "");
    lines.push(
      "| runtime | shape | onCall | onCall, sealing on | JSON.stringify | encodeCallEvent | createCallEvent | nowRfc3339 | onCall ÷ stringify |",
      "| --- | --- | ---: | ---: | ---: | ---: | ---: | ---: | ---: |",
    );
    for (const runtime of runtimes) {
      for (const shape of shapes) {
        const rs = pick({ runtime, shape, contender: "oncall" });
        if (rs.length === 0) continue;
        const m = (field) => median(rs.map((r) => r[field]));
        const sealedRuns = pick({ runtime, shape, contender: "oncall_sealed" });
        const sealedNs = sealedRuns.length === 0 ? "–" : fmt(median(sealedRuns.map((r) => r.onCallNs)), 0);
        lines.push(
          `| ${runtime} | ${shape} (${fmt(m("lineBytes"), 0)} B) | ${fmt(m("onCallNs"), 0)} | ${sealedNs} | ${
            fmt(m("stringifyNs"), 0)
          } | ${fmt(m("encodeNs"), 0)} | ${fmt(m("createNs"), 0)} | ${fmt(m("nowNs"), 0)} | ${
            fmt(m("onCallOverStringify"))
          } |`,
        );
      }
    }
  }

  if (contenders.includes("stall")) {
    lines.push("", `#### drop mode, destination stalled forever, ${machine.stallEvents} events`, "");
    lines.push(
      "| runtime | accepted | dropped | RSS at start MiB | peak RSS MiB | RSS at end MiB | RSS every 100k events MiB |",
      "| --- | ---: | ---: | ---: | ---: | ---: | --- |",
    );
    for (const runtime of runtimes) {
      const rs = pick({ runtime, contender: "stall" });
      if (rs.length === 0) continue;
      const m = (field) => median(rs.map((r) => r[field]));
      lines.push(
        `| ${runtime} | ${m("accepted")} | ${m("dropped")} | ${mib(m("baseRss"))} | ${mib(m("peakRss"))} | ${
          mib(m("endRss"))
        } | ${rs[rs.length - 1].rssAt100k} |`,
      );
    }
  }

  lines.push("", "#### Targets (issue 11)", "");
  lines.push(
    `✓ met, ✗ missed. Block ÷ raw ≥ ${TARGET.vsRaw}, block ÷ pino ≥ ${TARGET.vsPino}, record and burst ÷ ready ≥ ${TARGET.vsReady}; ` +
      `onCall ÷ stringify ≤ ${TARGET.onCallOverStringify}, createCallEvent ≤ ${TARGET.createNs} ns.`,
    "",
    "| runtime | variant | block ÷ raw | block ÷ pino | record ÷ ready | burst ÷ ready |",
    "| --- | --- | ---: | ---: | ---: | ---: |",
  );
  for (const runtime of runtimes) {
    for (const v of variants) {
      const variant = variantName(v);
      if (pick({ runtime, variant, contender: "sink_block" }).length === 0) continue;
      const cell = (a, b, ok) => {
        const x = ratio(runtime, variant, a, b);
        return mark(fmt(x), ok(x));
      };
      lines.push(
        `| ${runtime} | ${variant} | ${cell("sink_block", "raw", (x) => x >= TARGET.vsRaw)} | ${
          cell("sink_block", "pino", (x) => x >= TARGET.vsPino)
        } | ${cell("sink_record", "sink_block", (x) => x >= TARGET.vsReady)} | ${
          cell("sink_burst", "sink_block", (x) => x >= TARGET.vsReady)
        } |`,
      );
    }
  }
  for (const runtime of runtimes) {
    for (const shape of shapes) {
      const rs = pick({ runtime, shape, contender: "oncall" });
      if (rs.length === 0) continue;
      const over = median(rs.map((r) => r.onCallOverStringify));
      const create = median(rs.map((r) => r.createNs));
      lines.push(
        `- ${runtime}, ${shape}: onCall ÷ stringify ${mark(fmt(over), over <= TARGET.onCallOverStringify)}, ` +
          `createCallEvent ${mark(`${fmt(create, 0)} ns`, create <= TARGET.createNs)}`,
      );
    }
  }
  return lines.join("\n");
}
