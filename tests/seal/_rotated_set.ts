// A rotated set a real sink writes, with real torn writes, shared by the
// tests of torn writes and of verifyAuditSet.
import assert from "node:assert/strict";
import { mkdirSync, readdirSync, readFileSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { generateAuditSealKey, importAuditSealKey, JsonLinesAuditSink } from "../../mod.ts";
import { fileDestination, fileSeal } from "../../src/destination/file_destination.ts";
import { numbered } from "../_helpers/events.ts";
import { tearWrites } from "../_helpers/torn_writes.ts";
import { linesOf } from "./_trail.ts";

/**
 * A rotating fileDestination (every ~5 lines a new file) whose every other
 * event's write stops part way, written through a sealed sink (fileSeal, or
 * in band): the set's folder, its public key, and its torn lines, ended by a
 * later write's newline or left at the end of a file.
 */
export async function rotatingTornSet(dir: string, inBand: boolean) {
  const pair = await generateAuditSealKey();
  const key = await importAuditSealKey(pair.privateJwk);
  const publicKey = join(dir, "audit-seal.public.jwk");
  writeFileSync(publicKey, JSON.stringify(pair.publicJwk));
  const logs = join(dir, "logs");
  mkdirSync(logs);
  const restore = tearWrites(new Map(Array.from({ length: 20 }, (_, k) => [2 * k, 30 + k])));
  try {
    const destination = fileDestination(join(logs, "audit.jsonl"), { rotate: { maxBytes: 1_200, writerId: "w" } });
    const seal = inBand
      ? { key, inBand: true as const, maxSegmentLines: 3 }
      : await fileSeal(destination, { key, maxSegmentLines: 3 });
    const sink = new JsonLinesAuditSink(destination, { seal, onError: () => {} });
    for (let i = 0; i < 40; i++) {
      sink.onCall(numbered(i));
      await sink.flush();
    }
    await sink.close();
    assert.deepEqual([sink.stats().written, sink.stats().failed], [20, 20]);
  } finally {
    restore();
  }
  const files = readdirSync(logs).filter((name) => !name.endsWith(".seal"));
  assert.ok(files.length >= 3, files.join(" "));
  let ended = 0;
  let unended = 0;
  for (const name of files) {
    for (const line of linesOf(readFileSync(join(logs, name), "utf8"))) {
      if (line.startsWith('{"audit_checkpoint"')) continue;
      try {
        JSON.parse(line);
      } catch {
        if (line.endsWith("\n")) ended++;
        else unended++;
      }
    }
  }
  assert.ok(ended > 0 && unended > 0, `${ended} ended, ${unended} unended`);
  return { publicKey, logs, ended, unended };
}
