import { describe, it } from "node:test";
import assert from "node:assert/strict";
import { runScript } from "../_helpers/run_script.ts";

describe("Segments sent ahead and the end of the process (subprocess)", () => {
  for (const mode of ["piece", "stalled"]) {
    it(`A worker started for pieces alone does not keep the process alive (${mode})`, async () => {
      // Before, a worker started by a piece was neither unreferenced nor stopped when idle: it held the process for
      // good once the segment was never sealed (a stalled destination, a sink not closed, sealing that failed).
      const result = await runScript("tests/seal/_ahead_exit_script.ts", [mode], 10_000);
      assert.deepEqual([result.code, result.signal], [0, null], result.stderr);
      assert.ok(Number(result.stdout) >= 1, `pieces sent: ${result.stdout}`);
    });
  }
});
