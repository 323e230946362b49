import { CHECKPOINT_PREFIX } from "./_encoding.ts";

/** The signature algorithms of a sealed trail. */
export type AuditSealAlgorithm = "Ed25519" | "HMAC-SHA256";

/** Events lost between two checkpoints, for one reason (see `src/seal/FORMAT.md`). */
export interface AuditCheckpointGap {
  /** Why they were lost: `queue_full`, `closed`, `invalid`, `fallback`, `deadline`, `destination`, `rerouted`, … */
  readonly reason: string;
  /** How many events. */
  readonly count: number;
  /** Whether the lost lines are in the segment's sealed bytes (handed to the stream, not delivered). */
  readonly in_segment: boolean;
  /** Time of the first loss (value-encoded). */
  readonly first_ts: string;
  /** Time of the last loss (value-encoded). */
  readonly last_ts: string;
}

/**
 * One checkpoint of a sealed audit trail, as its JSON line holds it (see
 * `src/seal/FORMAT.md` for each member).
 */
export interface AuditCheckpoint {
  /** Format version: 1. */
  readonly audit_checkpoint: 1;
  /** The log's identity. */
  readonly origin: string;
  /** The id of the key that signed. */
  readonly key_id: string;
  /** The signature algorithm. */
  readonly alg: AuditSealAlgorithm;
  /** Sequence number: 0 for the log's first checkpoint. */
  readonly seq: number;
  /** Hash of the previous checkpoint's text form (64 zeros for `seq` 0). */
  readonly prev: string;
  /** The writer's clock when it sealed (value-encoded RFC 3339). */
  readonly time: string;
  /** Lines handed to this stream, from its start to the end of this segment. */
  readonly lines: number;
  /** Bytes of those lines. */
  readonly bytes: number;
  /** Events offered since the stream started: `lines` plus every loss that never reached it. */
  readonly offered: number;
  /** Lines in this segment. */
  readonly seg_lines: number;
  /** Bytes in this segment. */
  readonly seg_bytes: number;
  /** SHA-256 of the segment's bytes, hex. */
  readonly seg_sha256: string;
  /** The segment's line tags, base64. */
  readonly seg_tags: string;
  /** `ts` of the segment's first line (value-encoded; `-` when empty). */
  readonly first_ts: string;
  /** `ts` of its last line. */
  readonly last_ts: string;
  /** Losses since the previous checkpoint. */
  readonly gaps: readonly AuditCheckpointGap[];
  /** Per-line SHA-256 (16 bytes each), base64; only when a gap is `in_segment`. */
  readonly line_digests?: string;
  /**
   * Lines at the segment's start that this writer did not write itself but
   * found in the stream at startup and sealed (after a crash, or written by
   * someone else); only when there are some.
   */
  readonly adopted?: number;
  /** The signature of the text form, base64. */
  readonly sig: string;
}

/**
 * Whether a line is a checkpoint: it starts with `{"audit_checkpoint":`.
 * Cheap enough for a reader to test every line (data lines start with
 * `{"ts":`).
 *
 * @param line A line, as text or bytes.
 * @returns `true` for a checkpoint line (well-formed or not).
 *
 * @example
 * ```ts
 * import { isAuditCheckpointLine } from "./audit_checkpoint.ts";
 * import assert from "node:assert/strict";
 * assert.equal(isAuditCheckpointLine('{"audit_checkpoint":1,"origin":"x"}'), true);
 * assert.equal(isAuditCheckpointLine('{"ts":"2026-05-29T00:00:00+00:00"}'), false);
 * ```
 */
export function isAuditCheckpointLine(line: string | Uint8Array): boolean {
  if (typeof line === "string") return line.startsWith(CHECKPOINT_PREFIX);
  if (line.length < CHECKPOINT_PREFIX.length || line[2] !== 0x61) return false; // 'a' of "audit_checkpoint"
  for (let i = 0; i < CHECKPOINT_PREFIX.length; i++) {
    if (line[i] !== CHECKPOINT_PREFIX.charCodeAt(i)) return false;
  }
  return true;
}
