// A checkpoint line that a crash cut short: telling one from anything else
// (junk, or a line that is whole), and the restarted writer's checkpoint that
// took its place in the chain (FORMAT.md "Verifying").
import type { AuditCheckpoint } from "./audit_checkpoint.ts";
import { MAX_CHECKPOINT_BYTES } from "./_checkpoint.ts";
import { CHECKPOINT_PREFIX } from "./_encoding.ts";

/**
 * A piece of a checkpoint line as `checkpointLine` (_checkpoint.ts) writes
 * it: its text, a run of characters (`chars` is a sticky expression for at
 * most as many as the run may hold), one of several texts, or pieces that may
 * be absent or repeat.
 */
type Piece =
  | string
  | { readonly chars: RegExp; readonly min: number }
  | { readonly oneOf: readonly string[] }
  | { readonly optional: readonly Piece[] }
  | { readonly repeated: readonly Piece[] };

const name: Piece = { chars: /[\x21\x23\x24\x26-\x5b\x5d-\x7e]*/y, min: 1 };
const value: Piece = { chars: /[\x21\x23-\x5b\x5d-\x7e]*/y, min: 1 };
const count: Piece = { chars: /[0-9]*/y, min: 1 };
const hash: Piece = { chars: /[0-9a-f]{0,64}/y, min: 64 };
const base64: Piece = { chars: /[A-Za-z0-9+/=]*/y, min: 0 };
const gap: readonly Piece[] = [
  '{"reason":"',
  { chars: /[a-z0-9_]{0,32}/y, min: 1 },
  '","count":',
  count,
  ',"in_segment":',
  { oneOf: ["true", "false"] },
  ',"first_ts":"',
  value,
  '","last_ts":"',
  value,
  '"}',
];
/** A checkpoint line, member by member, as checkpointLine writes it (without its newline). */
const LINE: readonly Piece[] = [
  `${CHECKPOINT_PREFIX}1,"origin":"`,
  name,
  '","key_id":"',
  name,
  '","alg":"',
  { oneOf: ["Ed25519", "HMAC-SHA256"] },
  '","seq":',
  count,
  ',"prev":"',
  hash,
  '","time":"',
  value,
  '","lines":',
  count,
  ',"bytes":',
  count,
  ',"offered":',
  count,
  ',"seg_lines":',
  count,
  ',"seg_bytes":',
  count,
  ',"seg_sha256":"',
  hash,
  '","seg_tags":"',
  base64,
  '","first_ts":"',
  value,
  '","last_ts":"',
  value,
  '","gaps":[',
  { optional: [...gap, { repeated: [",", ...gap] }] },
  "]",
  { optional: [',"line_digests":"', base64, '"'] },
  { optional: [',"adopted":', count] },
  ',"sig":"',
  base64,
  '"}',
];

/** `text` from `at` ended inside `pieces`. */
const CUT = -1;
/** `text` from `at` does not follow `pieces`. */
const OTHER = -2;

/** Where `text`, from `at`, is once past `pieces`; or CUT, or OTHER. */
function follow(pieces: readonly Piece[], text: string, at: number): number {
  for (const piece of pieces) {
    if (at === text.length) return CUT;
    if (typeof piece === "string") {
      const n = Math.min(piece.length, text.length - at);
      if (!text.startsWith(piece.slice(0, n), at)) return OTHER;
      if (n < piece.length) return CUT;
      at += n;
    } else if ("chars" in piece) {
      piece.chars.lastIndex = at;
      piece.chars.exec(text);
      const end = piece.chars.lastIndex;
      if (end === text.length) return CUT;
      if (end - at < piece.min) return OTHER;
      at = end;
    } else if ("oneOf" in piece) {
      const ends = piece.oneOf.map((choice) => follow([choice], text, at));
      if (ends.includes(CUT)) return CUT;
      const end = ends.find((end) => end >= 0);
      if (end === undefined) return OTHER;
      at = end;
    } else {
      // Optional or repeated: each time, pieces whose first text tells them apart from what may follow.
      const parts = "optional" in piece ? piece.optional : piece.repeated;
      for (let end = follow(parts, text, at); end !== OTHER; end = follow(parts, text, at)) {
        if (end === CUT) return CUT;
        at = end;
        if ("optional" in piece) break;
      }
    }
  }
  return at;
}

/**
 * Whether `line` is the start of a checkpoint line cut short, as a crash
 * while the writer wrote one leaves it: every byte it holds is where a
 * checkpoint line as `checkpointLine` writes it could hold it, and it ends
 * before that line's last byte. A whole line is never cut, nor is anything
 * longer than a verifier reads.
 *
 * @param line The line's text, without its newline.
 */
export function isCutCheckpoint(line: string): boolean {
  return line.length > 0 && line.length < MAX_CHECKPOINT_BYTES && follow(LINE, line, 0) === CUT;
}

/**
 * Whether `cut`, a checkpoint line cut short by a crash, was the checkpoint
 * whose place in the chain `c` took, `c` being the first checkpoint of the
 * writer that restarted after the crash: that writer goes on from the last
 * whole checkpoint, so its first one has the cut one's origin, seq and prev
 * (its key may be another). It shows that it restarted by the lines it
 * adopted, or by its seq when `cut` holds that whole and is not the start of
 * `c`'s own line (two checkpoints in one place in the chain: only a writer
 * that started again writes them).
 *
 * @param cut The cut line (see {@linkcode isCutCheckpoint}).
 * @param c The checkpoint after it.
 * @param line `c`'s line.
 */
export function restartsAfter(cut: string, c: AuditCheckpoint, line: string): boolean {
  const head = `${CHECKPOINT_PREFIX}1,"origin":"${c.origin}","key_id":"`;
  if (!startsAlike(cut, head)) return false;
  // Key id and algorithm are names, without a quote: the first of these after them is the seq's.
  const at = cut.indexOf('","seq":', head.length);
  if (at === -1) return c.adopted !== undefined;
  const place = `","seq":${c.seq},"prev":"${c.prev}","time":"`;
  if (!startsAlike(cut.slice(at), place)) return false;
  const seqWhole = cut.length - at > `","seq":${c.seq}`.length;
  return c.adopted !== undefined || (seqWhole && !line.startsWith(cut));
}

/** Whether the shorter of `a` and `b` starts the other. */
function startsAlike(a: string, b: string): boolean {
  return a.length <= b.length ? b.startsWith(a) : a.startsWith(b);
}
