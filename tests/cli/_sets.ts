// Rotated sets written the way the file destination's rotation names them
// (`audit.<T>.<W>.jsonl[.gz]`, the active `audit.jsonl` last), with gzip
// through CompressionStream and seals that chain from file to file.
import { writeFileSync } from "node:fs";
import { join } from "node:path";
import { AuditSealer } from "../../src/seal/audit_sealer.ts";
import type { AuditSealKey } from "../../src/seal/audit_seal_key.ts";
import type { AuditCheckpoint } from "../../src/seal/audit_checkpoint.ts";
import { eventLine } from "../seal/_trail.ts";

const encoder = new TextEncoder();
const decoder = new TextDecoder();

/** One file of a set: a closed one (with `time` and `writer`) or the active one. */
export interface SetFileSpec {
  /** <T>, such as `2026-12-02T05-59-59.123Z`; none for the active file. */
  readonly time?: string;
  readonly writer?: string;
  /** How many event lines. */
  readonly lines: number;
  readonly gzip?: boolean;
}

/** What was written: each file's name and lines (with newlines), in set order. */
export interface WrittenSet {
  readonly files: { readonly name: string; readonly lines: string[] }[];
  /** Every line of the set, in order. */
  readonly all: string[];
}

/** The gzip of `bytes`, through CompressionStream. */
export async function gzip(bytes: Uint8Array): Promise<Uint8Array> {
  const stream = new Blob([bytes as Uint8Array<ArrayBuffer>]).stream().pipeThrough(new CompressionStream("gzip"));
  return new Uint8Array(await new Response(stream).arrayBuffer());
}

/**
 * Writes a set `stem` into `dir`; with `key`, each file gets a seal file
 * (`NAME-without-.gz.seal`) sealed in two segments, each file's first
 * checkpoint continuing the previous file's last (a new stream).
 */
export async function writeSet(
  dir: string,
  stem: string,
  specs: readonly SetFileSpec[],
  key?: AuditSealKey,
  salt = stem,
): Promise<WrittenSet> {
  const files: { name: string; lines: string[] }[] = [];
  let previous: AuditCheckpoint | undefined;
  let n = 0;
  for (const spec of specs) {
    const plain = spec.time === undefined ? `${stem}.jsonl` : `${stem}.${spec.time}.${spec.writer ?? "w1"}.jsonl`;
    const name = spec.gzip ? `${plain}.gz` : plain;
    const lines = Array.from({ length: spec.lines }, () => eventLine(n++, salt));
    const bytes = encoder.encode(lines.join(""));
    writeFileSync(join(dir, name), spec.gzip ? await gzip(bytes) : bytes);
    if (key !== undefined) {
      const sealer = new AuditSealer(key, {
        origin: "sets.example/audit",
        ...(previous === undefined ? {} : { previous, newStream: true }),
      });
      const seal: string[] = [];
      const half = Math.ceil(lines.length / 2);
      for (const part of [lines.slice(0, half), lines.slice(half)]) {
        if (part.length === 0) continue;
        sealer.append(encoder.encode(part.join("")), part.length);
        seal.push(decoder.decode(await sealer.seal()));
      }
      previous = sealer.lastCheckpoint ?? previous;
      writeFileSync(join(dir, `${plain}.seal`), seal.join(""));
    }
    files.push({ name, lines });
  }
  return { files, all: files.flatMap((file) => file.lines) };
}
