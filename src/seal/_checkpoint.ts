// Checkpoint lines: parsing with shape checks, the signed text form, the hash
// that chains checkpoints, and writing the JSON line (FORMAT.md).
import type { AuditCheckpoint } from "./audit_checkpoint.ts";
import { isAuditCheckpointLine } from "./audit_checkpoint.ts";
import {
  CHECKPOINT_PREFIX,
  fromBase64,
  isCount,
  isHash,
  isName,
  isReason,
  isValue,
  sha256Hex,
  ZERO_HASH,
} from "./_encoding.ts";
import { CHECKPOINT_COUNTS, checkpointSpellingIssue } from "./_checkpoint_spelling.ts";

/**
 * Longest checkpoint line a verifier reads (and `fileSeal` looks for at the
 * end of a seal file); the sealer's `maxSegmentLines` keeps its lines well
 * within.
 */
export const MAX_CHECKPOINT_BYTES = 1 << 24;

/** A checkpoint parsed and checked for shape, with its decoded binary members. */
export interface ParsedCheckpoint {
  readonly checkpoint: AuditCheckpoint;
  readonly tags: Uint32Array;
  readonly tagBytes: Uint8Array<ArrayBuffer>;
  readonly digests: Uint8Array<ArrayBuffer> | undefined;
  readonly sig: Uint8Array<ArrayBuffer>;
}

/**
 * `checkpoint`, frozen with its gaps: a checkpoint a verification hands out
 * (a summary's `lastCheckpoint`) is also what it goes on from (the next
 * checkpoint's counters, the next file's chain), so code it is handed to
 * must not be able to change it.
 */
export function freezeCheckpoint(checkpoint: AuditCheckpoint): AuditCheckpoint {
  for (const gap of checkpoint.gaps) Object.freeze(gap);
  Object.freeze(checkpoint.gaps);
  return Object.freeze(checkpoint);
}

/**
 * Parses a checkpoint line and checks its shape (not its signature).
 *
 * @param line The JSON line (with or without its newline).
 * @returns The checkpoint, or a sentence saying what is wrong with it.
 */
export function parseCheckpoint(line: string): ParsedCheckpoint | string {
  if (!isAuditCheckpointLine(line)) return 'it does not start with {"audit_checkpoint":';
  let value: unknown;
  try {
    value = JSON.parse(line);
  } catch {
    return "it is not JSON";
  }
  const c = value as Record<string, unknown>;
  if (c.audit_checkpoint !== 1) return "audit_checkpoint is not 1";
  if (!isName(c.origin, 256)) return "origin is not a name";
  if (!isName(c.key_id, 128)) return "key_id is not a name";
  if (c.alg !== "Ed25519" && c.alg !== "HMAC-SHA256") return "alg is neither Ed25519 nor HMAC-SHA256";
  for (const field of CHECKPOINT_COUNTS) {
    if (!isCount(c[field])) return `${field} is not a non-negative integer`;
  }
  for (const field of ["prev", "seg_sha256"] as const) {
    if (!isHash(c[field])) return `${field} is not 64 lowercase hex digits`;
  }
  if (c.seq === 0 && c.prev !== ZERO_HASH) return "prev of checkpoint 0 is not zeros";
  for (const field of ["time", "first_ts", "last_ts"] as const) {
    if (!isValue(c[field])) return `${field} is not an encoded value`;
  }
  const n = c as unknown as AuditCheckpoint;
  if (n.seg_lines > n.lines || n.seg_bytes > n.bytes || n.seg_lines > n.seg_bytes || n.lines > n.offered) {
    return "its counters contradict each other";
  }
  const tagBytes = typeof c.seg_tags === "string" ? fromBase64(c.seg_tags) : undefined;
  if (tagBytes === undefined || tagBytes.length !== 4 * n.seg_lines) return "seg_tags does not hold seg_lines tags";
  if (!Array.isArray(c.gaps)) return "gaps is not an array";
  let inSegment = 0;
  for (const gap of c.gaps as unknown[]) {
    const g = gap as Record<string, unknown> | null;
    if (
      typeof g !== "object" || g === null || !isReason(g.reason) || !isCount(g.count) || g.count < 1 ||
      typeof g.in_segment !== "boolean" || !isValue(g.first_ts) || !isValue(g.last_ts)
    ) {
      return "a gap is malformed";
    }
    if (g.in_segment) inSegment += g.count;
  }
  if (inSegment > n.seg_lines) return "its in-segment gaps exceed seg_lines";
  let digests: Uint8Array<ArrayBuffer> | undefined;
  if (inSegment > 0) {
    digests = typeof c.line_digests === "string" ? fromBase64(c.line_digests) : undefined;
    if (digests === undefined || digests.length !== 16 * n.seg_lines) {
      return "line_digests does not hold seg_lines digests";
    }
  } else if (c.line_digests !== undefined) {
    return "line_digests is present without an in-segment gap";
  }
  if (c.adopted !== undefined && (!isCount(c.adopted) || c.adopted < 1 || c.adopted > n.seg_lines)) {
    return "adopted is not a count of the segment's lines";
  }
  const sig = typeof c.sig === "string" ? fromBase64(c.sig) : undefined;
  if (sig === undefined || sig.length !== (n.alg === "Ed25519" ? 64 : 32)) return "sig is not a signature of its alg";
  // The signature covers the text form, not this line: a spelling other readers read otherwise is a forger's choice.
  const spelling = checkpointSpellingIssue(line);
  if (spelling !== undefined) return spelling;
  const tags = new Uint32Array(n.seg_lines);
  const view = new DataView(tagBytes.buffer);
  for (let i = 0; i < tags.length; i++) tags[i] = view.getUint32(4 * i);
  return { checkpoint: n, tags, tagBytes, digests, sig };
}

/**
 * Whether a reader skips a line as a checkpoint: it starts like one and, when
 * whole, has a checkpoint's shape (its signature is the verifier's business).
 * A whole line that only starts like one is an invalid line; one cut short (a
 * crash while writing it) or longer than the reader's limit cannot be parsed,
 * and is taken for what it starts as.
 *
 * @param line The line's text.
 * @param whole Whether the line is complete and within the reader's limit.
 */
export function isCheckpointLine(line: string, whole: boolean): boolean {
  return isAuditCheckpointLine(line) && (!whole || typeof parseCheckpoint(line) !== "string");
}

/**
 * The text form a checkpoint's signature covers (FORMAT.md "Text form").
 *
 * @param tagsSha256 SHA-256 of the segment's tag bytes, in hex.
 */
export async function checkpointText(
  c: Omit<AuditCheckpoint, "sig">,
  tagsSha256: string,
  digests: Uint8Array<ArrayBuffer> | undefined,
): Promise<string> {
  let text = `audit-checkpoint/1\norigin ${c.origin}\nkey_id ${c.key_id}\nalg ${c.alg}\nseq ${c.seq}\n` +
    `prev ${c.prev}\ntime ${c.time}\nlines ${c.lines}\nbytes ${c.bytes}\noffered ${c.offered}\n` +
    `seg_lines ${c.seg_lines}\nseg_bytes ${c.seg_bytes}\nseg_sha256 ${c.seg_sha256}\n` +
    `seg_tags_sha256 ${tagsSha256}\nfirst_ts ${c.first_ts}\nlast_ts ${c.last_ts}\n`;
  for (const g of c.gaps) {
    text += `gap ${g.reason} ${g.count} ${g.in_segment ? "in" : "out"} ${g.first_ts} ${g.last_ts}\n`;
  }
  text += `line_digests_sha256 ${digests === undefined ? "-" : await sha256Hex(digests)}\n`;
  // Only when present, so that checkpoints without it keep the text form they were signed with.
  return c.adopted === undefined ? text : text + `adopted ${c.adopted}\n`;
}

/** The checkpoint's JSON line, members in the order of FORMAT.md, with its newline. */
export function checkpointLine(c: AuditCheckpoint): string {
  const gaps = c.gaps.map((g) =>
    `{"reason":"${g.reason}","count":${g.count},"in_segment":${g.in_segment},` +
    `"first_ts":"${g.first_ts}","last_ts":"${g.last_ts}"}`
  );
  // Every string member is a name, a value, hex or base64: none needs JSON escaping.
  return `${CHECKPOINT_PREFIX}1,"origin":"${c.origin}","key_id":"${c.key_id}","alg":"${c.alg}",` +
    `"seq":${c.seq},"prev":"${c.prev}","time":"${c.time}","lines":${c.lines},"bytes":${c.bytes},` +
    `"offered":${c.offered},"seg_lines":${c.seg_lines},"seg_bytes":${c.seg_bytes},` +
    `"seg_sha256":"${c.seg_sha256}","seg_tags":"${c.seg_tags}","first_ts":"${c.first_ts}",` +
    `"last_ts":"${c.last_ts}","gaps":[${gaps.join(",")}]` +
    (c.line_digests === undefined ? "" : `,"line_digests":"${c.line_digests}"`) +
    (c.adopted === undefined ? "" : `,"adopted":${c.adopted}`) + `,"sig":"${c.sig}"}\n`;
}

/** The text form of a checkpoint read back (its signature covers it). */
export async function parsedCheckpointText(parsed: ParsedCheckpoint): Promise<string> {
  return checkpointText(parsed.checkpoint, await sha256Hex(parsed.tagBytes), parsed.digests);
}

/** The hash of a checkpoint (SHA-256 of its text form), which the next checkpoint's `prev` holds. */
export async function checkpointHash(parsed: ParsedCheckpoint): Promise<string> {
  return sha256Hex(new TextEncoder().encode(await parsedCheckpointText(parsed)));
}
