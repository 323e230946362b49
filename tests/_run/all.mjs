// `npm test`: every leg in turn (Deno, Bun, end-to-end, then Node last, as CI
// wants), each printing its own output as usual, then one summary line over
// all of them: "N passed, N failed, N skipped", naming every leg that failed,
// did not run, or skipped tests (with the reasons the tests gave).
//
//   node tests/_run/all.mjs [--legs deno,bun,e2e,node]
import { spawn } from "node:child_process";
import { join } from "node:path";
import process from "node:process";

const root = new URL("../..", import.meta.url).pathname;
const bin = (name) => join(root, "node_modules", ".bin", name);

const LEGS = {
  deno: [bin("deno"), ["test", "-A", "--no-check=remote", "tests/"]],
  // Bun alone stops a test after 5 s; Deno and Node never do. A loaded machine outlasts 5 s, so give it a minute.
  bun: [bin("bun"), ["test", "--timeout", "60000"]],
  e2e: [process.execPath, [join(root, "tests/_run/node.mjs"), "--e2e"]],
  node: [process.execPath, [join(root, "tests/_run/node.mjs")]],
};
const LABELS = { deno: "Deno", bun: "Bun", e2e: "end-to-end", node: "Node" };

const i = process.argv.indexOf("--legs");
const legs = i > 0 ? process.argv[i + 1].split(",") : Object.keys(LEGS);

// deno-lint-ignore no-control-regex
const plain = (text) => text.replace(/\x1b\[[0-9;]*m/g, "");

/** Counts from a leg's output; `undefined` fields when its summary was not found. */
function countsOf(leg, output) {
  const text = plain(output);
  const last = (re) => {
    const all = [...text.matchAll(re)];
    return all.length === 0 ? undefined : all[all.length - 1];
  };
  if (leg === "deno") {
    // "ok | 18 passed (248 steps) | 0 failed | 2 ignored (1 step)": count steps where given.
    const m = last(
      /\| (\d+) passed(?: \((\d+) steps?\))? \| (\d+) failed(?: \((\d+) steps?\))?(?: \| (\d+) ignored(?: \((\d+) steps?\))?)?/g,
    );
    if (!m) return {};
    const pick = (tests, steps) => Number(steps ?? tests ?? 0);
    return { passed: pick(m[1], m[2]), failed: pick(m[3], m[4]), skipped: pick(m[5], m[6]) };
  }
  if (leg === "bun") {
    const pass = last(/^\s*(\d+) pass$/gm);
    const fail = last(/^\s*(\d+) fail$/gm);
    const skip = last(/^\s*(\d+) skip$/gm);
    if (!pass && !fail) return {};
    return { passed: Number(pass?.[1] ?? 0), failed: Number(fail?.[1] ?? 0), skipped: Number(skip?.[1] ?? 0) };
  }
  const pass = last(/^# pass (\d+)$/gm);
  const fail = last(/^# fail (\d+)$/gm);
  const skip = last(/^# skipped (\d+)$/gm);
  if (!pass && !fail) return {};
  return { passed: Number(pass?.[1] ?? 0), failed: Number(fail?.[1] ?? 0), skipped: Number(skip?.[1] ?? 0) };
}

/** The distinct reasons skipped tests gave (node:test prints "# SKIP reason"). */
function skipReasons(output) {
  const reasons = new Set();
  for (const m of plain(output).matchAll(/# SKIP (.+)$/gm)) reasons.add(m[1].trim());
  return [...reasons];
}

function run(leg) {
  const [command, args] = LEGS[leg];
  return new Promise((resolve) => {
    let output = "";
    const child = spawn(command, args, { cwd: root, stdio: ["inherit", "pipe", "pipe"] });
    child.stdout.on("data", (chunk) => {
      output += chunk;
      process.stdout.write(chunk);
    });
    child.stderr.on("data", (chunk) => {
      output += chunk;
      process.stderr.write(chunk);
    });
    child.on("error", (error) => resolve({ leg, code: 1, output, error }));
    child.on("close", (code, signal) => resolve({ leg, code: code ?? 1, signal, output }));
  });
}

const results = [];
for (const leg of legs) {
  if (!(leg in LEGS)) {
    console.error(`unknown leg ${leg}: expected one of ${Object.keys(LEGS).join(", ")}`);
    process.exit(2);
  }
  results.push(await run(leg));
}

let passed = 0;
let failed = 0;
let skipped = 0;
const notes = [];
for (const { leg, code, signal, output, error } of results) {
  const counts = countsOf(leg, output);
  const label = LABELS[leg];
  if (counts.passed === undefined) {
    notes.push(`${label} did not report (${error ? error.message : signal ? `killed by ${signal}` : `exit ${code}`})`);
    failed++;
    continue;
  }
  passed += counts.passed;
  failed += counts.failed;
  skipped += counts.skipped;
  if (counts.failed > 0) notes.push(`${label}: ${counts.failed} failed`);
  else if (code !== 0) {
    notes.push(`${label} exited with ${code}`);
    failed++;
  }
  if (counts.skipped > 0) {
    const reasons = skipReasons(output);
    notes.push(`${label}: ${counts.skipped} skipped${reasons.length ? ` (${reasons.join("; ")})` : ""}`);
  }
}
const per = results.map(({ leg, output }) => `${LABELS[leg]} ${countsOf(leg, output).passed ?? "?"}`).join(", ");
console.log(
  `\nnpm test: ${passed} passed, ${failed} failed, ${skipped} skipped (${per})${
    notes.length ? ` — ${notes.join("; ")}` : ""
  }`,
);
process.exit(failed > 0 ? 1 : 0);
