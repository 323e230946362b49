import type { CallEventSource } from "../read/read_call_events.ts";
import type { AuditCheckpoint } from "./audit_checkpoint.ts";
import type { AuditVerifyKey } from "./audit_seal_key.ts";
import { isByteSource } from "../read/_byte_stream.ts";
import { BackToBack } from "./_back_to_back.ts";
import { ByteSource } from "./_byte_source.ts";
import { checkpointHash, checkpointLine, MAX_CHECKPOINT_BYTES, parseCheckpoint } from "./_checkpoint.ts";
import { isName } from "./_encoding.ts";
import { verifyInBand } from "./_inband.ts";
import { emptySummary, Judge } from "./_judge.ts";
import { verifySidecar } from "./_sidecar.ts";

/** What a finding of {@linkcode verifyAuditTrail} is about. */
export type AuditTrailFindingKind =
  | "edited"
  | "inserted"
  | "deleted"
  | "reordered"
  | "truncated"
  | "broken_chain"
  | "bad_signature"
  | "unknown_key"
  | "malformed"
  | "foreign_seal"
  | "unsealed_tail"
  | "adopted"
  | "gap"
  | "torn_write";

/**
 * One thing {@linkcode verifyAuditTrail} found. Every kind but `gap`,
 * `unsealed_tail`, `adopted` (lines sealed after a restart, not as they
 * were written) and `torn_write` (the start of a line whose write failed part
 * way, where its checkpoint declares that line failed: it is cut short, so no
 * reader takes it for an event; or a checkpoint line a crash cut short, with
 * `sealLine`, at the seal stream's end or right before the first checkpoint
 * of the writer that restarted after it) means the trail is not intact.
 */
export interface AuditTrailFinding {
  /** What was found. */
  readonly kind: AuditTrailFindingKind;
  /**
   * First line of the data source concerned (1-based, counting every line,
   * in-band checkpoints included). For lines that are missing, the line now
   * where they were.
   */
  readonly line: number;
  /** Last line concerned (inclusive); `line - 1` when no line of the data source is concerned. */
  readonly lastLine: number;
  /** Lines concerned (for `deleted` and `truncated`: lines missing); for a `gap`, events lost. */
  readonly count: number;
  /** Sealed lines concerned, as checkpoints number a stream's data lines (1-based, inclusive). */
  readonly sealedLines?: readonly [number, number];
  /** Sequence numbers of the checkpoints concerned, first and last. */
  readonly seq?: readonly [number, number];
  /** For a finding about a checkpoint line: its line in the seal source (in band: in the data source). */
  readonly sealLine?: number;
  /** For a `gap`: why the events were lost (`queue_full`, `destination`, …). */
  readonly reason?: string;
  /** For a `gap`: time of the first loss, value-encoded as in the checkpoint. */
  readonly firstTs?: string;
  /** For a `gap`: time of the last loss. */
  readonly lastTs?: string;
  /** One sentence for people. */
  readonly message: string;
}

/** Counts of a verification, so far (final once the findings are all read). */
export interface AuditTrailSummary {
  /** The trail's origin (its first trusted checkpoint's, or the one given). */
  readonly origin: string | undefined;
  /** Checkpoint lines read. */
  readonly checkpoints: number;
  /** Checkpoints whose shape, key, signature and origin are good. */
  readonly trustedCheckpoints: number;
  /** Segments whose data lines matched their checkpoint. */
  readonly segments: number;
  /** Data lines read (in band, checkpoint lines are not counted). */
  readonly lines: number;
  /** Data lines a checkpoint proved unaltered. */
  readonly verifiedLines: number;
  /** Data lines after the last checkpoint. */
  readonly unsealedLines: number;
  /**
   * Sealed lines the writer adopted at a restart (found after the last
   * checkpoint, or in a log without a seal): sealed, but not as they were
   * written, so anyone who could write the log may have written them.
   */
  readonly adoptedLines: number;
  /**
   * Data lines a failed write left cut short (`torn_write`): each stands for
   * a line its checkpoint declares failed, and is not verified.
   */
  readonly tornLines: number;
  /** Bytes of the data source. */
  readonly bytes: number;
  /** Gap records in the trusted checkpoints. */
  readonly gaps: number;
  /** Events those gaps declare lost. */
  readonly lost: number;
  /** Events offered to the writer, as the last trusted checkpoint counts them (since its stream started). */
  readonly offered: number;
  /**
   * Events written: the trusted checkpoints' lines less their in-segment losses. `written + lost = offered` when
   * every checkpoint since the stream started is trusted; the events of one that is not, or is missing, are
   * left out of `written` and `lost`.
   */
  readonly written: number;
  /** Findings that mean the trail is not intact. */
  readonly problems: number;
  /** No such finding, and, when there are data lines, some trusted checkpoint (else nothing is vouched for). */
  readonly intact: boolean;
  /** Sequence number of the first trusted checkpoint. */
  readonly firstSeq: number | undefined;
  /** Sequence number of the last trusted checkpoint. */
  readonly lastSeq: number | undefined;
  /** The last trusted checkpoint: pass it as `previous` to verify the stream that continues this one. */
  readonly lastCheckpoint: AuditCheckpoint | undefined;
}

/** Options for {@linkcode verifyAuditTrail}. */
export interface VerifyAuditTrailOptions {
  /** The keys that may have signed, matched by key id (see {@linkcode importAuditVerifyKey}). */
  readonly keys: AuditVerifyKey | readonly AuditVerifyKey[];
  /** The seal stream (such as `audit.jsonl.seal`). @default {undefined (checkpoints are read in band)} */
  readonly seal?: CallEventSource;
  /** The origin every checkpoint must have. @default {the first trusted checkpoint's} */
  readonly origin?: string;
  /** The last checkpoint of the stream this one continues (after a rotation), its object or JSON line. @default {undefined} */
  readonly previous?: AuditCheckpoint | string;
  /**
   * The trail continues a stream whose last checkpoint is not given: its
   * first checkpoint may follow any other. Without it (or `previous`), a
   * trail must start at checkpoint 0.
   * @default {false}
   */
  readonly continues?: boolean;
  /**
   * Largest segment held in memory, in bytes; a larger one is reported
   * `malformed`. The default exceeds any segment a sealer makes with its
   * largest `maxSegmentBytes` (128 MiB) plus one write; only a single event
   * line larger than that needs more.
   * @default {268435456}
   */
  readonly maxSegmentBytes?: number;
}

/**
 * The findings of {@linkcode verifyAuditTrail}, as an async iterable (iterate
 * once), with a running `summary`.
 */
export class AuditTrailVerification implements AsyncIterable<AuditTrailFinding> {
  readonly #data: CallEventSource;
  readonly #options: VerifyAuditTrailOptions;
  readonly #maxSegment: number;
  #judge: Judge | undefined;
  #started = false;

  /**
   * Prepares a verification; nothing is read until it is iterated.
   *
   * @param data The data stream.
   * @param options Keys, seal stream, origin, previous checkpoint.
   * @throws {TypeError} When a source, a key, `origin` or `previous` is not valid.
   * @throws {RangeError} When `maxSegmentBytes` is not a positive integer.
   */
  constructor(data: CallEventSource, options: VerifyAuditTrailOptions) {
    const keys = [options?.keys ?? []].flat() as AuditVerifyKey[];
    if (!isByteSource(data) || (options.seal !== undefined && !isByteSource(options.seal))) {
      throw new TypeError("Cannot verify: data and seal must be ReadableStreams, Responses, Blobs or async iterables");
    }
    if (keys.length === 0 || keys.some((k) => typeof k?.verify !== "function" || !isName(k.keyId, 128))) {
      throw new TypeError("Cannot verify: keys must be one or more verify keys (see importAuditVerifyKey)");
    }
    if (options.origin !== undefined && !isName(options.origin, 256)) {
      throw new TypeError("Cannot verify: origin is not a valid origin");
    }
    const max = options.maxSegmentBytes ?? MAX_SEGMENT_BYTES;
    if (!Number.isSafeInteger(max) || max < 1) {
      throw new RangeError(`Cannot verify: maxSegmentBytes must be a positive integer, got ${max}`);
    }
    if (options.previous !== undefined) previousOf(options.previous);
    if (data instanceof BackToBack && options.seal !== undefined) {
      throw new TypeError("Cannot verify: files read back to back carry their checkpoints in band");
    }
    this.#data = data;
    this.#options = options;
    this.#maxSegment = max;
  }

  /** Counts so far. */
  get summary(): AuditTrailSummary {
    return { ...(this.#judge?.summary ?? emptySummary()) };
  }

  /**
   * Reads both streams and yields each finding, roughly in line order.
   *
   * @returns An iterator over the findings.
   * @throws {TypeError} When iterated a second time.
   */
  [Symbol.asyncIterator](): AsyncIterator<AuditTrailFinding> {
    if (this.#started) throw new TypeError("Cannot verify: this verification was already iterated");
    this.#started = true;
    return this.#run();
  }

  /**
   * Runs the whole verification.
   *
   * @returns Every finding, and the final summary.
   */
  async result(): Promise<{ findings: AuditTrailFinding[]; summary: AuditTrailSummary }> {
    const findings: AuditTrailFinding[] = [];
    for await (const finding of this) findings.push(finding);
    return { findings, summary: this.summary };
  }

  async *#run(): AsyncGenerator<AuditTrailFinding, void, undefined> {
    const keys = new Map<string, AuditVerifyKey[]>();
    for (const key of [this.#options.keys].flat() as AuditVerifyKey[]) {
      keys.set(key.keyId, [...keys.get(key.keyId) ?? [], key]);
    }
    const previous = this.#options.previous === undefined ? undefined : previousOf(this.#options.previous);
    const chained = previous === undefined
      ? undefined
      : { checkpoint: previous.checkpoint, hash: await checkpointHash(previous) };
    const seal = this.#options.seal;
    const where = seal === undefined ? "line" : "seal line";
    const judge = new Judge(keys, this.#options.origin, chained, seal !== undefined, where, this.#options.continues);
    this.#judge = judge;
    // Files read back to back (an in-band set) say which of their lines their file's end ended.
    const unended = this.#data instanceof BackToBack ? this.#data.unended : undefined;
    const data = new ByteSource(this.#data);
    const sealSource = seal === undefined ? undefined : new ByteSource(seal);
    try {
      if (sealSource === undefined) yield* verifyInBand(data, judge, this.#maxSegment, MAX_CHECKPOINT_BYTES, unended);
      else yield* verifySidecar(data, sealSource, judge, this.#maxSegment, MAX_CHECKPOINT_BYTES);
    } finally {
      await data.close();
      await sealSource?.close();
    }
  }
}

/** Default largest segment verified (see `maxSegmentBytes`): twice the sealer's largest `maxSegmentBytes`. */
const MAX_SEGMENT_BYTES = 1 << 28;

function previousOf(previous: AuditCheckpoint | string): Exclude<ReturnType<typeof parseCheckpoint>, string> {
  const parsed = parseCheckpoint((typeof previous === "string" ? previous : checkpointLine(previous)).trimEnd());
  if (typeof parsed === "string") throw new TypeError(`Cannot verify: previous is not a checkpoint: ${parsed}`);
  return parsed;
}

/**
 * Verifies a sealed audit trail, streaming: memory stays flat however long
 * the log (segments are bounded). Yields each finding: lines edited,
 * inserted, deleted or reordered (with their line ranges), data
 * truncated, a broken chain, a bad signature, an unknown key, a malformed
 * checkpoint, a seal from another log, the losses the trail declares (`gap`),
 * the lines after the last checkpoint (`unsealed_tail`, what a crash
 * leaves), the lines a writer sealed at a restart without having written
 * them (`adopted`), and the start of a line whose write failed part way, where
 * its checkpoint declares it failed, or of a checkpoint a crash cut short
 * (`torn_write`). The format is in `src/seal/FORMAT.md`.
 *
 * @param data The data stream: a `ReadableStream<Uint8Array>`, a `Response`, a `Blob` or an async iterable of bytes.
 * @param options The verify keys; the seal stream (else checkpoints are read in band); the expected origin.
 * @returns The findings as an async iterable, with a running summary.
 * @throws {TypeError} When a source, a key, `origin` or `previous` is not valid.
 * @throws {RangeError} When `maxSegmentBytes` is not a positive integer.
 *
 * @example Verify a log sealed in band
 * ```ts
 * import { AuditSealer } from "./audit_sealer.ts";
 * import { importAuditSealKey, importAuditVerifyKey } from "./audit_seal_key.ts";
 * import { generateAuditSealKey } from "./generate_audit_seal_key.ts";
 * import { verifyAuditTrail } from "./verify_audit_trail.ts";
 * import assert from "node:assert/strict";
 * const pair = await generateAuditSealKey();
 * const sealer = new AuditSealer(await importAuditSealKey(pair.privateJwk));
 * const chunk = new TextEncoder().encode('{"ts":"2026-12-02T10:00:00Z","call_id":"a"}\n');
 * sealer.append(chunk, 1);
 * const log = new Blob([chunk, await sealer.seal(), '{"ts":"2026-12-02T10:00:01Z","call_id":"b"}\n']);
 * const { findings, summary } = await verifyAuditTrail(log, { keys: await importAuditVerifyKey(pair.publicJwk) })
 *   .result();
 * assert.deepEqual(findings.map((f) => [f.kind, f.line]), [["unsealed_tail", 3]]);
 * assert.equal(summary.intact, true);
 * ```
 */
export function verifyAuditTrail(data: CallEventSource, options: VerifyAuditTrailOptions): AuditTrailVerification {
  return new AuditTrailVerification(data, options);
}
