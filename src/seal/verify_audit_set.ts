import type { CallEventSource } from "../read/read_call_events.ts";
import type { AuditCheckpoint } from "./audit_checkpoint.ts";
import {
  type AuditTrailFinding,
  type AuditTrailSummary,
  verifyAuditTrail,
  type VerifyAuditTrailOptions,
} from "./verify_audit_trail.ts";

/** One file of a rotated set: its data and its seal stream. */
export interface AuditSetFile {
  /** How findings name it, such as its path. */
  readonly name: string;
  /** The data (decompressed already, for a `.gz` file). */
  readonly data: CallEventSource;
  /** Its seal stream (`<data file without .gz>.seal`). @default {undefined (checkpoints read in band)} */
  readonly seal?: CallEventSource;
}

/** Options for {@linkcode verifyAuditSet}: those of `verifyAuditTrail` but the seal stream. */
export type VerifyAuditSetOptions = Omit<VerifyAuditTrailOptions, "seal">;

/** A finding of {@linkcode verifyAuditSet}: a finding of one file, naming it. */
export interface AuditSetFinding extends AuditTrailFinding {
  /** The file it is about (its `name`). */
  readonly file: string;
}

/** What {@linkcode verifyAuditSet} found, over the whole set. */
export interface AuditSetSummary {
  /** Files verified. */
  readonly files: number;
  /** Checkpoint lines read. */
  readonly checkpoints: number;
  /** Checkpoints whose shape, key, signature and origin are good. */
  readonly trustedCheckpoints: number;
  /** Data lines read. */
  readonly lines: number;
  /** Data lines a checkpoint proved unaltered. */
  readonly verifiedLines: number;
  /** Data lines after the last checkpoint of their file. */
  readonly unsealedLines: number;
  /** Events the trail declares lost (summed over the files' streams). */
  readonly lost: number;
  /** Events written, as the trusted checkpoints count them. */
  readonly written: number;
  /** Findings that mean the set is not intact. */
  readonly problems: number;
  /** No such finding. */
  readonly intact: boolean;
  /** The last trusted checkpoint: pass it as `previous` to verify what follows the set. */
  readonly lastCheckpoint: AuditCheckpoint | undefined;
  /** Each file's own summary, in order. */
  readonly perFile: readonly AuditTrailSummary[];
}

/**
 * Verifies the files of a rotated set in order (oldest first, the active
 * file last; see the README's "Long-running servers" for how they are
 * named): each file is one stream whose first checkpoint must chain to the
 * last trusted checkpoint of the file before. So a file that is missing,
 * out of order or altered shows as a finding (`broken_chain`, `edited`, …)
 * of the file where it shows. A missing newest file cannot be seen from the
 * set alone. Files are read one after another; each source is read only
 * when its turn comes if it opens lazily.
 *
 * @param files The set, in order.
 * @param options The verify keys, the expected origin, `previous`/`continues` for the first file.
 * @returns Every finding, naming its file, and the summary over the set.
 * @throws {TypeError} When a source, a key, `origin` or `previous` is not valid.
 * @throws {RangeError} When `maxSegmentBytes` is not a positive integer.
 *
 * @example
 * ```ts ignore
 * import { importAuditVerifyKey, verifyAuditSet } from "@atd/audit";
 * const keys = await importAuditVerifyKey(JSON.parse(await Deno.readTextFile("audit-seal.public.jwk")));
 * const open = async (path: string) => (await Deno.open(path)).readable;
 * const { summary } = await verifyAuditSet([
 *   { name: "a", data: await open("audit.2026-12-01T00-00-00.000Z.1.jsonl"), seal: await open("audit.2026-12-01T00-00-00.000Z.1.jsonl.seal") },
 *   { name: "b", data: await open("audit.jsonl"), seal: await open("audit.jsonl.seal") },
 * ], { keys });
 * console.log(summary.intact);
 * ```
 */
export async function verifyAuditSet(
  files: Iterable<AuditSetFile> | AsyncIterable<AuditSetFile>,
  options: VerifyAuditSetOptions,
): Promise<{ findings: AuditSetFinding[]; summary: AuditSetSummary }> {
  const findings: AuditSetFinding[] = [];
  const perFile: AuditTrailSummary[] = [];
  let previous: AuditCheckpoint | string | undefined = options?.previous;
  let origin = options?.origin;
  for await (const file of files) {
    if (typeof file?.name !== "string") throw new TypeError("Cannot verify a set: each file needs a name");
    const verification = verifyAuditTrail(file.data, {
      ...options,
      ...(file.seal === undefined ? {} : { seal: file.seal }),
      ...(origin === undefined ? {} : { origin }),
      ...(previous === undefined ? {} : { previous }),
    });
    for await (const finding of verification) findings.push({ ...finding, file: file.name });
    const summary = verification.summary;
    perFile.push(summary);
    // A file that proves nothing leaves the chain where it was: the next file must follow the last trusted one.
    previous = summary.lastCheckpoint ?? previous;
    origin ??= summary.origin;
  }
  const sum = (pick: (s: AuditTrailSummary) => number): number => perFile.reduce((n, s) => n + pick(s), 0);
  const problems = sum((s) => s.problems);
  return {
    findings,
    summary: {
      files: perFile.length,
      checkpoints: sum((s) => s.checkpoints),
      trustedCheckpoints: sum((s) => s.trustedCheckpoints),
      lines: sum((s) => s.lines),
      verifiedLines: sum((s) => s.verifiedLines),
      unsealedLines: sum((s) => s.unsealedLines),
      lost: sum((s) => s.lost),
      written: sum((s) => s.written),
      problems,
      intact: problems === 0,
      lastCheckpoint: typeof previous === "string" || previous === undefined
        ? perFile.at(-1)?.lastCheckpoint
        : previous,
      perFile,
    },
  };
}
