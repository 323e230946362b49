// Readers of a trail sealed in band: checkpoint lines are skipped and
// counted, never reported invalid.
import { describe, it } from "node:test";
import assert from "node:assert/strict";
import { CallEventParseStream, type InvalidLineError, JsonLinesSplitStream, readCallEvents } from "../../mod.ts";
import { collect } from "../_helpers/streams.ts";
import { inBandLines, keys, sealTrail } from "./_trail.ts";

describe("reading a trail sealed in band", () => {
  it("readCallEvents skips checkpoint lines and counts them in stats.checkpoints", async () => {
    const trail = await sealTrail((await keys()).seal, [3, 0, 2], 1);
    const invalid: InvalidLineError[] = [];
    // A checkpoint split across chunks, and a torn one at the end, are still checkpoints.
    const text = inBandLines(trail).join("") + '{"audit_checkpoint":1,"origin":"cut sh';
    const events = readCallEvents(new Blob([text.slice(0, 700), text.slice(700)]), {
      onInvalid: (e) => invalid.push(e),
    });
    const ids: string[] = [];
    for await (const event of events) ids.push(event.call_id);
    assert.equal(ids.length, 6);
    assert.deepEqual(invalid, []);
    assert.deepEqual([events.stats.checkpoints, events.stats.invalid, events.stats.events], [4, 0, 6]);
  });

  it("readCallEvents in strict mode does not stop at a checkpoint line", async () => {
    const trail = await sealTrail((await keys()).seal, [2], 0);
    const events = readCallEvents(new Blob(inBandLines(trail)), { strict: true });
    let count = 0;
    for await (const _ of events) count++;
    assert.deepEqual([count, events.stats.checkpoints], [2, 1]);
  });

  it("CallEventParseStream skips checkpoint lines and counts them in checkpointLines", async () => {
    const trail = await sealTrail((await keys()).seal, [2, 2], 0);
    const parse = new CallEventParseStream({ strict: true });
    const events = await collect(
      new Blob(inBandLines(trail)).stream().pipeThrough(new JsonLinesSplitStream()).pipeThrough(parse),
    );
    assert.deepEqual([events.length, parse.checkpointLines, parse.invalidLines], [4, 2, 0]);
  });
});
