import { concatBytes } from "../_bytes.ts";
import type { AuditCheckpoint, AuditCheckpointGap } from "./audit_checkpoint.ts";
import type { AuditSealKey } from "./audit_seal_key.ts";
import {
  checkpointHash,
  checkpointLine,
  checkpointText,
  MAX_CHECKPOINT_BYTES,
  parseCheckpoint,
} from "./_checkpoint.ts";
import { encodeValue, isName, isReason, sha256Hex, toBase64, ZERO_HASH } from "./_encoding.ts";
import { lineTs } from "./_lines.ts";
import { hashSegment } from "./_hasher.ts";

/** Options for {@linkcode AuditSealer}. */
export interface AuditSealerOptions {
  /**
   * The log's identity, written in every checkpoint (printable ASCII without
   * spaces, `"`, `%` or `\`, at most 256 bytes), such as `example.com/tool-server/audit`.
   * @default {previous's origin, else a random `urn:uuid:…`}
   */
  readonly origin?: string;
  /**
   * A segment is due once it holds this many lines; at most 262144 (2^18),
   * so that its checkpoint (a 4-byte tag a line and, after an in-segment
   * loss, a 16-byte digest a line, in base64) stays well within what a
   * verifier reads (16 MiB). A sealed sink's segments never hold more: its
   * writes stay within the limit, and a segment ends before the write that
   * would pass it.
   * @default {16384}
   */
  readonly maxSegmentLines?: number;
  /**
   * A segment is due once it holds this many bytes; at most 128 MiB, so that
   * a segment (this plus one write) stays within what a verifier checks by
   * default (256 MiB). A sealed sink's segments hold no more, unless one line
   * is longer, or a write's UTF-8 is wider than its UTF-16 length (its
   * writes stay within the limit counted in UTF-16 units).
   * @default {4194304}
   */
  readonly maxSegmentBytes?: number;
  /** A segment with lines or losses is due this long after the previous checkpoint. @default {5000} */
  readonly intervalMs?: number;
  /** Also due every `intervalMs` with nothing to seal (a heartbeat checkpoint), so silence is provable. @default {false} */
  readonly heartbeat?: boolean;
  /**
   * The last checkpoint of the log this sealer continues (its object or its
   * JSON line): the sequence and the hash chain go on from it.
   * @default {undefined (a new log: the first checkpoint is seq 0)}
   */
  readonly previous?: AuditCheckpoint | string;
  /**
   * With `previous`: whether this sealer's stream is a new one (a new file
   * after a rotation: counters restart) or the stream `previous` sealed
   * (appending to the same file: counters go on).
   * @default {true}
   */
  readonly newStream?: boolean;
  /** The clock, in milliseconds since the epoch. @default {Date.now} */
  readonly now?: () => number;
}

interface OpenGap {
  reason: string;
  count: number;
  in_segment: boolean;
  first_ts: string;
  last_ts: string;
}

const encoder = new TextEncoder();
const DEFAULT_SEGMENT_LINES = 16384;
const DEFAULT_SEGMENT_BYTES = 4 << 20;
/** Largest `maxSegmentBytes`: half what `verifyAuditTrail` checks by default. */
const MAX_SEGMENT_BYTES = 1 << 27;
/**
 * Largest `maxSegmentLines`. A checkpoint carries 4 + 16 bytes a line in
 * base64, 26.7 characters: 7.0 MB at this limit (42% of the 16 MiB a
 * verifier reads, `MAX_CHECKPOINT_BYTES`), plus about 2 KB of other members and a few hundred
 * bytes a gap reason. A segment is cut once it reaches its limit, so it holds
 * at most one chunk more (a sink's write: at most 4096 lines, 0.1 MB); the
 * verifier would still read a checkpoint of 620,000 lines. `maxSegmentBytes`
 * does not bound lines (a line can be one byte): it is this limit that does.
 */
const MAX_SEGMENT_LINES = 1 << 18;

/**
 * Seals a stream of JSON lines into a verifiable trail: the sink hands it each
 * chunk of whole lines it writes, in stream order, and each loss; when a
 * segment is due it asks for a checkpoint line and writes it to the seal
 * stream (or in band, right after the segment). See `src/seal/FORMAT.md`.
 *
 * The sink's part: `append(chunk, lines)` for every chunk given to the stream
 * (synchronous, keeps a reference: the chunk must not change afterwards);
 * `lost(...)` for events that never reached the stream; `undelivered(...)` for
 * lines of the open segment the stream failed to deliver, reported before
 * that segment is sealed; `seal()` when `append` returns `true`, when `due`
 * turns true (`msUntilDue()` says when), on flush and on close. Hashing and
 * signing happen in `seal()`, which cuts the segment at once and resolves to
 * the checkpoint line; checkpoints come out in the order `seal()` was called.
 * In band, a checkpoint line goes into the stream before any chunk appended
 * after its `seal()` call (and is not itself appended). The open segment's
 * chunks are held until it is sealed: sealing when `append` says so keeps
 * that to about `maxSegmentBytes` plus one chunk.
 *
 * @example Seal two chunks into one checkpoint
 * ```ts
 * import { AuditSealer } from "./audit_sealer.ts";
 * import { importAuditSealKey } from "./audit_seal_key.ts";
 * import { generateAuditSealKey } from "./generate_audit_seal_key.ts";
 * import assert from "node:assert/strict";
 * const key = await importAuditSealKey((await generateAuditSealKey()).privateJwk);
 * const sealer = new AuditSealer(key, { origin: "example.com/audit" });
 * const encoder = new TextEncoder();
 * sealer.append(encoder.encode('{"ts":"2026-12-02T10:00:00Z","call_id":"a"}\n'), 1);
 * sealer.append(encoder.encode('{"ts":"2026-12-02T10:00:01Z","call_id":"b"}\n'), 1);
 * sealer.lost("queue_full", 3);
 * const line = JSON.parse(new TextDecoder().decode(await sealer.seal()));
 * assert.deepEqual([line.seq, line.seg_lines, line.offered, line.gaps[0].count], [0, 2, 5, 3]);
 * ```
 */
export class AuditSealer {
  readonly #key: AuditSealKey;
  readonly #origin: string;
  readonly #maxLines: number;
  readonly #maxBytes: number;
  readonly #interval: number;
  readonly #heartbeat: boolean;
  readonly #now: () => number;
  #chunks: Uint8Array[] = [];
  /** The newline offsets of each chunk, while every chunk came with them; else `undefined`. */
  #ends: Uint32Array[] | undefined = [];
  #segLines = 0;
  #segBytes = 0;
  /** Lines at the open segment's start that were adopted, not written. */
  #adopted = 0;
  #undelivered = 0;
  #gaps = new Map<string, OpenGap>();
  #lastCut: number;
  /** Settles after the last seal: checkpoints are made one after another. */
  #chain: Promise<unknown> = Promise.resolve();
  #failure: unknown;
  #seq: number;
  #prev: Promise<string>;
  #lines: number;
  #bytes: number;
  #offered: number;
  #last: AuditCheckpoint | undefined;

  /**
   * Creates a sealer.
   *
   * @param key The key that signs (see {@linkcode importAuditSealKey}).
   * @param options Origin, segment limits, interval, heartbeat, chain continuation.
   * @throws {TypeError} When `key`, `origin` or `previous` is not valid.
   * @throws {RangeError} When a limit is not a positive integer, or `maxSegmentLines` exceeds 262144 or
   *   `maxSegmentBytes` 134217728.
   */
  constructor(key: AuditSealKey, options: AuditSealerOptions = {}) {
    if (
      typeof key?.sign !== "function" || !isName(key.keyId, 128) ||
      (key.algorithm !== "Ed25519" && key.algorithm !== "HMAC-SHA256")
    ) {
      throw new TypeError("Cannot create sealer: key must have a keyId, an algorithm and a sign method");
    }
    const previous = options.previous === undefined ? undefined : parsePrevious(options.previous);
    const origin = options.origin ?? previous?.checkpoint.origin ?? `urn:uuid:${crypto.randomUUID()}`;
    if (!isName(origin, 256)) {
      throw new TypeError('Cannot create sealer: origin must be 1 to 256 printable ASCII characters without " % or \\');
    }
    if (previous !== undefined && previous.checkpoint.origin !== origin) {
      throw new TypeError("Cannot create sealer: origin differs from the previous checkpoint's");
    }
    this.#key = key;
    this.#origin = origin;
    // The defaults: a checkpoint (a signature, a seal-file write) for every 16,384 lines or 4 MiB, not 4,096 or 1 MiB,
    // cost the main thread a quarter as much (bench/README.md, thirteenth session).
    this.#maxLines = positive(options.maxSegmentLines, DEFAULT_SEGMENT_LINES, "maxSegmentLines", MAX_SEGMENT_LINES);
    this.#maxBytes = positive(options.maxSegmentBytes, DEFAULT_SEGMENT_BYTES, "maxSegmentBytes", MAX_SEGMENT_BYTES);
    this.#interval = positive(options.intervalMs, 5000, "intervalMs");
    this.#heartbeat = options.heartbeat ?? false;
    this.#now = options.now ?? Date.now;
    this.#lastCut = this.#now();
    const p = previous?.checkpoint;
    const same = p !== undefined && options.newStream === false;
    this.#seq = p === undefined ? 0 : p.seq + 1;
    this.#prev = previous === undefined ? Promise.resolve(ZERO_HASH) : checkpointHash(previous);
    this.#prev.catch(() => {});
    this.#lines = same ? p.lines : 0;
    this.#bytes = same ? p.bytes : 0;
    this.#offered = same ? p.offered : 0;
  }

  /** The origin written in every checkpoint. */
  get origin(): string {
    return this.#origin;
  }

  /** Lines that make a segment due (`maxSegmentLines`). */
  get maxSegmentLines(): number {
    return this.#maxLines;
  }

  /** Bytes that make a segment due (`maxSegmentBytes`). */
  get maxSegmentBytes(): number {
    return this.#maxBytes;
  }

  /** Milliseconds after which a segment with lines or losses is due (`intervalMs`). */
  get intervalMs(): number {
    return this.#interval;
  }

  /** Whether a checkpoint is due every `intervalMs` even with nothing to seal. */
  get heartbeat(): boolean {
    return this.#heartbeat;
  }

  /** The last checkpoint made, to continue the chain in a new stream (`previous`). */
  get lastCheckpoint(): AuditCheckpoint | undefined {
    return this.#last;
  }

  /** Whether the open segment has lines or losses to seal. */
  get pending(): boolean {
    return this.#segLines > 0 || this.#chunks.length > 0 || this.#gaps.size > 0;
  }

  /** Whether a checkpoint is due now: the segment reached its size, or `intervalMs` passed. */
  get due(): boolean {
    return this.msUntilDue() === 0;
  }

  /**
   * Milliseconds until a checkpoint is due (0: now; `Infinity`: not until
   * something is appended or lost), for the sink's timer.
   *
   * @returns The delay.
   */
  msUntilDue(): number {
    if (this.#segLines >= this.#maxLines || this.#segBytes >= this.#maxBytes) return 0;
    if (!this.#heartbeat && !this.pending) return Infinity;
    return Math.max(0, this.#lastCut + this.#interval - this.#now());
  }

  /**
   * Adds a chunk of whole lines, just handed to the stream, to the open
   * segment. Constant time: the chunk is kept, not read.
   *
   * @param chunk Whole lines, each ended by `"\n"`; must not change afterwards.
   * @param lines How many lines it holds.
   * @param ends Where its newlines are, if known (saves looking for them when sealing): the
   *   offset of every newline of the chunk, ascending, the last one `chunk.length - 1`. Ignored
   *   when it does not fit.
   * @returns Whether the segment reached its size limit (call `seal()`).
   */
  append(chunk: Uint8Array, lines: number, ends?: Uint32Array): boolean {
    this.#chunks.push(chunk);
    if (this.#ends !== undefined) {
      if (ends !== undefined && fits(chunk, lines, ends)) this.#ends.push(ends);
      else this.#ends = undefined;
    }
    this.#segLines += lines;
    this.#segBytes += chunk.byteLength;
    return this.#segLines >= this.#maxLines || this.#segBytes >= this.#maxBytes;
  }

  /**
   * Starts a new stream (a new file after a rotation) after the checkpoints
   * of the `seal()` calls so far: the next checkpoint's counters restart,
   * its `seq` and `prev` go on. Call it after sealing the old stream's last
   * segment and before appending anything of the new stream.
   */
  newStream(): void {
    this.#chain = this.#chain.then(() => {
      this.#lines = this.#bytes = this.#offered = 0;
    });
  }

  /**
   * Adds lines this writer did not write itself (found in the stream at
   * startup, after the last checkpoint) to the open segment, which must hold
   * no other line yet: its checkpoint says how many lines it adopted, and a
   * verifier reports them as such rather than vouching for them.
   *
   * @param chunk Whole lines, each ended by `"\n"`; must not change afterwards.
   * @param lines How many lines it holds.
   * @returns Whether the segment reached its size limit (call `seal()`).
   * @throws {TypeError} When the open segment already holds lines this writer wrote.
   */
  adopt(chunk: Uint8Array, lines: number): boolean {
    if (this.#segLines !== this.#adopted) {
      throw new TypeError("Cannot adopt lines: the open segment already holds lines written by this sealer");
    }
    this.#adopted += lines;
    return this.append(chunk, lines);
  }

  /**
   * Records events that never reached the stream (dropped, invalid, sent to a
   * fallback, recorded after close, cut by a deadline).
   *
   * @param reason Why: `queue_full`, `closed`, `invalid`, `fallback`, `deadline`, or another `[a-z0-9_]{1,32}`.
   * @param count How many events.
   * @param firstTs Time of the first loss. @default {now}
   * @param lastTs Time of the last loss. @default {firstTs}
   * @throws {TypeError} When `reason` is not a reason.
   * @throws {RangeError} When `count` is not a positive integer, or a time is longer than 64 characters.
   */
  lost(reason: string, count: number, firstTs?: string, lastTs?: string): void {
    this.#gap(reason, count, false, firstTs, lastTs);
  }

  /**
   * Records lines of the open segment that the stream did not deliver
   * (failed, or rerouted to its own fallback). Must be called before the
   * segment holding them is sealed.
   *
   * @param reason Why: `destination` or `rerouted`.
   * @param count How many lines.
   * @param firstTs Time of the first loss. @default {now}
   * @param lastTs Time of the last loss. @default {firstTs}
   * @throws {TypeError} When `reason` is not a reason.
   * @throws {RangeError} When `count` is not a positive integer or exceeds the open segment's lines, or a time is
   *   longer than 64 characters.
   */
  undelivered(reason: string, count: number, firstTs?: string, lastTs?: string): void {
    if (count > this.#segLines - this.#undelivered) {
      throw new RangeError(
        `Cannot record undelivered lines: ${count} exceeds the ${
          this.#segLines - this.#undelivered
        } lines of the open segment`,
      );
    }
    this.#gap(reason, count, true, firstTs, lastTs);
    this.#undelivered += count;
  }

  #gap(reason: string, count: number, inSegment: boolean, firstTs?: string, lastTs?: string): void {
    if (!isReason(reason)) {
      throw new TypeError(`Cannot record a loss: reason must match [a-z0-9_]{1,32}, got ${reason}`);
    }
    if (!Number.isSafeInteger(count) || count < 1) {
      throw new RangeError(`Cannot record a loss: count must be a positive integer, got ${count}`);
    }
    for (const ts of [firstTs, lastTs]) {
      if (ts !== undefined && (typeof ts !== "string" || ts.length > MAX_TS_LENGTH)) {
        throw new RangeError(
          `Cannot record a loss: a time must be a string of at most ${MAX_TS_LENGTH} characters, got ${
            typeof ts === "string" ? `${ts.length} characters` : typeof ts
          }`,
        );
      }
    }
    const first = encodeValue(firstTs ?? new Date(this.#now()).toISOString());
    const last = lastTs === undefined ? first : encodeValue(lastTs);
    const id = `${reason} ${inSegment}`;
    const open = this.#gaps.get(id);
    if (open === undefined) {
      this.#gaps.set(id, { reason, count, in_segment: inSegment, first_ts: first, last_ts: last });
    } else {
      open.count += count;
      open.last_ts = last;
    }
  }

  /**
   * Cuts the open segment now and makes its checkpoint: hashes the segment,
   * signs the text form, and chains to the previous checkpoint. A failure
   * (a chunk not ending in a newline, a key that cannot sign) fails this and
   * every later seal.
   *
   * @returns The checkpoint's JSON line, with its newline.
   */
  seal(): Promise<Uint8Array<ArrayBuffer>> {
    const chunks = this.#chunks;
    const ends = this.#ends;
    const lineCount = this.#segLines;
    const adopted = this.#adopted;
    const gaps = [...this.#gaps.values()];
    const time = encodeValue(new Date(this.#now()).toISOString());
    this.#chunks = [];
    this.#ends = [];
    this.#gaps = new Map();
    this.#segLines =
      this.#segBytes =
      this.#undelivered =
      this.#adopted =
        0;
    this.#lastCut = this.#now();
    const next = this.#chain.then(() => this.#make(chunks, ends, lineCount, adopted, gaps, time));
    this.#chain = next.catch((error) => {
      this.#failure ??= error;
    });
    return next;
  }

  async #make(
    chunks: Uint8Array[],
    ends: Uint32Array[] | undefined,
    lineCount: number,
    adopted: number,
    gaps: OpenGap[],
    time: string,
  ): Promise<Uint8Array<ArrayBuffer>> {
    if (this.#failure !== undefined) throw this.#failure;
    const segment = concatBytes(chunks);
    const inSegment = gaps.reduce((sum, g) => sum + (g.in_segment ? g.count : 0), 0);
    const out = gaps.reduce((sum, g) => sum + (g.in_segment ? 0 : g.count), 0);
    // Tags, SHA-256 and line digests, off the main thread when the segment is in shared memory.
    const lines = await hashSegment(
      segment,
      ends === undefined ? undefined : joinEnds(chunks, ends, lineCount),
      inSegment > 0,
    );
    if (lines.torn) throw new TypeError("Cannot seal: a chunk did not end with a newline");
    const digests = lines.digests;
    const last = lines.count - 1;
    const lineStart = (i: number): number => (i === 0 ? 0 : lines.ends[i - 1]! + 1);
    const unsigned: Omit<AuditCheckpoint, "sig"> = {
      audit_checkpoint: 1,
      origin: this.#origin,
      key_id: this.#key.keyId,
      alg: this.#key.algorithm,
      seq: this.#seq,
      prev: await this.#prev,
      time,
      lines: this.#lines + lines.count,
      bytes: this.#bytes + segment.length,
      offered: this.#offered + lines.count + out,
      seg_lines: lines.count,
      seg_bytes: segment.length,
      seg_sha256: lines.sha,
      seg_tags: lines.tags,
      first_ts: last < 0 ? "-" : lineTs(segment, 0, lines.ends[0]!),
      last_ts: last < 0 ? "-" : lineTs(segment, lineStart(last), lines.ends[last]!),
      gaps: gaps.map((g): AuditCheckpointGap => ({ ...g })),
      ...(digests === undefined ? {} : { line_digests: toBase64(digests) }),
      ...(adopted === 0 ? {} : { adopted: Math.min(adopted, lines.count) }),
    };
    const text = encoder.encode(await checkpointText(unsigned, lines.tagsSha, digests));
    const sig = await this.#key.sign(text);
    if (sig.length !== (this.#key.algorithm === "Ed25519" ? 64 : 32)) {
      throw new TypeError(`Cannot seal: key ${this.#key.keyId} returned a ${sig.length}-byte signature`);
    }
    const checkpoint: AuditCheckpoint = { ...unsigned, sig: toBase64(sig) };
    const line = encoder.encode(checkpointLine(checkpoint));
    if (line.length > MAX_CHECKPOINT_BYTES) {
      throw new RangeError(
        `Cannot seal: the checkpoint would be ${line.length} bytes, more than the ${MAX_CHECKPOINT_BYTES} a verifier ` +
          `reads (${lines.count} lines in the segment, ${gaps.length} kinds of loss); ` +
          "give append() each chunk's true line count, and seal() before maxSegmentLines is exceeded",
      );
    }
    this.#prev = sha256Hex(text);
    this.#seq++;
    this.#lines = checkpoint.lines;
    this.#bytes = checkpoint.bytes;
    this.#offered = checkpoint.offered;
    this.#last = checkpoint;
    return line;
  }
}

/** Longest time a loss may give: RFC 3339 with nanoseconds and an offset is 35 characters. */
const MAX_TS_LENGTH = 64;

function parsePrevious(previous: AuditCheckpoint | string): Exclude<ReturnType<typeof parseCheckpoint>, string> {
  const line = typeof previous === "string" ? previous : checkpointLine(previous);
  const parsed = parseCheckpoint(line.trimEnd());
  if (typeof parsed === "string") throw new TypeError(`Cannot create sealer: previous is not a checkpoint: ${parsed}`);
  return parsed;
}

/** The segment's newline offsets, from each chunk's. */
function joinEnds(chunks: readonly Uint8Array[], ends: readonly Uint32Array[], count: number): Uint32Array {
  if (ends.length === 1) return ends[0]!;
  const out = new Uint32Array(count);
  let line = 0;
  let base = 0;
  for (let c = 0; c < chunks.length; c++) {
    for (const end of ends[c]!) out[line++] = base + end;
    base += chunks[c]!.length;
  }
  return out;
}

/** Whether `ends` are `lines` ascending newline offsets ending the chunk (one byte read a line). */
function fits(chunk: Uint8Array, lines: number, ends: Uint32Array): boolean {
  if (ends.length !== lines || (lines === 0 ? chunk.length !== 0 : ends[lines - 1] !== chunk.length - 1)) return false;
  let last = -1;
  for (let i = 0; i < lines; i++) {
    const end = ends[i]!;
    if (end <= last || chunk[end] !== 0x0a) return false;
    last = end;
  }
  return true;
}

function positive(value: number | undefined, fallback: number, name: string, max = Number.MAX_SAFE_INTEGER): number {
  const n = value ?? fallback;
  if (!Number.isSafeInteger(n) || n < 1) {
    throw new RangeError(`Cannot create sealer: ${name} must be a positive integer, got ${value}`);
  }
  if (n > max) throw new RangeError(`Cannot create sealer: ${name} must be at most ${max}, got ${n}`);
  return n;
}
