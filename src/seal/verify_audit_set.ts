import type { CallEventSource } from "../read/read_call_events.ts";
import { isByteSource } from "../read/_byte_stream.ts";
import type { AuditCheckpoint } from "./audit_checkpoint.ts";
import { watchedSource } from "./_watched_source.ts";
import {
  type AuditTrailFinding,
  type AuditTrailFindingKind,
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
  /**
   * Its seal stream (`<data file without .gz>.seal`). `undefined`: its
   * checkpoints are in band. `null`: it should have one (the set's other
   * files do) but it is missing: a `missing_seal` finding, then its data is
   * read in band.
   * @default {undefined}
   */
  readonly seal?: CallEventSource | null;
}

/** Options for {@linkcode verifyAuditSet}: those of `verifyAuditTrail` but the seal stream, and `onFile`. */
export interface VerifyAuditSetOptions extends Omit<VerifyAuditTrailOptions, "seal" | "continues"> {
  /**
   * The set's first file continues a stream whose last checkpoint is not
   * given (its older files were removed): it may start after any checkpoint.
   * @default {false}
   */
  readonly continues?: boolean;
  /**
   * Told each file's summary after its last finding and before the next
   * file is taken from the set; awaited when it returns a promise.
   * @default {undefined}
   */
  readonly onFile?: (summary: AuditSetFileSummary) => void | Promise<void>;
}

/**
 * What a finding of {@linkcode verifyAuditSet} is about: a kind of
 * `verifyAuditTrail`'s, or one about a file as a whole: `missing_seal` (its
 * seal stream is `null`) or `unreadable` (its data or seal stream failed
 * before its end, such as a corrupt `.gz`).
 */
export type AuditSetFindingKind = AuditTrailFindingKind | "missing_seal" | "unreadable";

/** A finding of {@linkcode verifyAuditSet}: a finding of one file, naming it. */
export interface AuditSetFinding extends Omit<AuditTrailFinding, "kind"> {
  /** What was found; `missing_seal` and `unreadable` concern no line (`line` 1, `lastLine` 0, `count` 0). */
  readonly kind: AuditSetFindingKind;
  /** The file it is about (its `name`). */
  readonly file: string;
  /** For `unreadable`: the error the file's stream failed with. */
  readonly cause?: unknown;
}

/**
 * One file's summary: the counts and verdict of its trail (so far, for an
 * unreadable file), and whether its seal was missing or its streams failed.
 * Those two are findings of the set, counted in the set's `problems` only:
 * a file is sound when `intact && !missingSeal && !unreadable`.
 */
export interface AuditSetFileSummary extends AuditTrailSummary {
  /** The file (its `name`). */
  readonly file: string;
  /** Its seal stream was `null` (its data was read in band). */
  readonly missingSeal: boolean;
  /** Its data or seal stream failed before its end; its checkpoints do not carry the chain to the next file. */
  readonly unreadable: boolean;
}

/** What {@linkcode verifyAuditSet} found over the files verified so far (final once the findings are all read). */
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
  /** Findings that mean the set is not intact (a missing seal and an unreadable file included). */
  readonly problems: number;
  /** No such finding, and every file intact. */
  readonly intact: boolean;
  /** The last trusted checkpoint: pass it as `previous` to verify what follows the set. */
  readonly lastCheckpoint: AuditCheckpoint | undefined;
  /** Each file's own summary, in order. */
  readonly perFile: readonly AuditSetFileSummary[];
}

/**
 * The findings of {@linkcode verifyAuditSet}, as an async iterable (iterate
 * once), with a running `summary`.
 */
export class AuditSetVerification implements AsyncIterable<AuditSetFinding> {
  readonly #files: Iterable<AuditSetFile> | AsyncIterable<AuditSetFile>;
  readonly #options: VerifyAuditSetOptions;
  readonly #perFile: AuditSetFileSummary[] = [];
  /** The chain so far: the last trusted checkpoint (or the `previous` given). */
  #previous: AuditCheckpoint | string | undefined;
  #started = false;

  /**
   * Prepares a verification; nothing is read until it is iterated.
   *
   * @param files The set, in order.
   * @param options Keys, origin, `previous`/`continues` for the first file, `onFile`.
   * @throws {TypeError} When `files` is not iterable, or a key, `origin` or `previous` is not valid.
   * @throws {RangeError} When `maxSegmentBytes` is not a positive integer.
   */
  constructor(files: Iterable<AuditSetFile> | AsyncIterable<AuditSetFile>, options: VerifyAuditSetOptions) {
    if (typeof files !== "object" || files === null || !(Symbol.iterator in files || Symbol.asyncIterator in files)) {
      throw new TypeError("Cannot verify a set: files must be an iterable or async iterable of files");
    }
    if (options?.onFile !== undefined && typeof options.onFile !== "function") {
      throw new TypeError("Cannot verify a set: onFile must be a function");
    }
    // Checks the keys, origin, previous and maxSegmentBytes now, reading nothing.
    verifyAuditTrail(new Blob([]), trailOptions(options, options?.origin, options?.previous));
    this.#files = files;
    this.#options = options;
    this.#previous = options.previous;
  }

  /** Counts over the files verified so far. */
  get summary(): AuditSetSummary {
    const perFile = [...this.#perFile];
    const sum = (pick: (s: AuditSetFileSummary) => number): number => perFile.reduce((n, s) => n + pick(s), 0);
    const problems = sum((s) => s.problems + Number(s.missingSeal) + Number(s.unreadable));
    return {
      files: perFile.length,
      checkpoints: sum((s) => s.checkpoints),
      trustedCheckpoints: sum((s) => s.trustedCheckpoints),
      lines: sum((s) => s.lines),
      verifiedLines: sum((s) => s.verifiedLines),
      unsealedLines: sum((s) => s.unsealedLines),
      lost: sum((s) => s.lost),
      written: sum((s) => s.written),
      problems,
      intact: problems === 0 && perFile.every((s) => s.intact),
      lastCheckpoint: typeof this.#previous === "object" ? this.#previous : undefined,
      perFile,
    };
  }

  /**
   * Verifies the files one after another and yields each finding as it is
   * found, naming its file.
   *
   * @returns An iterator over the findings.
   * @throws {TypeError} When iterated a second time.
   */
  [Symbol.asyncIterator](): AsyncIterator<AuditSetFinding> {
    if (this.#started) throw new TypeError("Cannot verify a set: this verification was already iterated");
    this.#started = true;
    return this.#run();
  }

  /**
   * Runs the whole verification.
   *
   * @returns Every finding, and the final summary.
   */
  async result(): Promise<{ findings: AuditSetFinding[]; summary: AuditSetSummary }> {
    const findings: AuditSetFinding[] = [];
    for await (const finding of this) findings.push(finding);
    return { findings, summary: this.summary };
  }

  async *#run(): AsyncGenerator<AuditSetFinding, void, undefined> {
    let origin = this.#options.origin;
    // After a file that is not sound, a file that has no checkpoint to chain to may start after any.
    let sound = true;
    for await (const file of this.#files) {
      const { name, data, seal } = file ?? {};
      if (typeof name !== "string") throw new TypeError("Cannot verify a set: each file needs a name");
      if (!isByteSource(data) || (seal != null && !isByteSource(seal))) {
        throw new TypeError(`Cannot verify a set: the data and seal of ${name} must be byte sources`);
      }
      if (seal === null) yield fileFinding(name, "missing_seal", "its seal is missing, so its lines were read in band");
      const previous = this.#previous;
      const failure: { error?: unknown } = {};
      const trail = verifyAuditTrail(watchedSource(data, failure), {
        ...trailOptions(this.#options, origin, previous),
        ...(seal == null ? {} : { seal: watchedSource(seal, failure) }),
        continues: previous === undefined && (this.#options.continues === true || !sound),
      });
      let unreadable = false;
      try {
        for await (const finding of trail) yield { ...finding, file: name };
      } catch (error) {
        if (!("error" in failure)) throw error;
        unreadable = true;
        const message = error instanceof Error ? error.message : String(error);
        yield { ...fileFinding(name, "unreadable", `the file cannot be read to its end: ${message}`), cause: error };
      }
      // Frozen (its last checkpoint too, by the trail): onFile and the set's summary hand out this object, and the
      // next file chains to its checkpoint and the totals add its counts.
      const summary: AuditSetFileSummary = Object.freeze({
        ...trail.summary,
        file: name,
        missingSeal: seal === null,
        unreadable,
      });
      this.#perFile.push(summary);
      if (!unreadable) {
        // Never back along the chain: a file replayed or put out of order (its checkpoints before the chain's last)
        // is reported where it is, and the files after it still chain to where the chain had got.
        const last = summary.lastCheckpoint;
        const behind = last !== undefined && typeof previous === "object" && last.seq <= previous.seq;
        this.#previous = behind ? previous : last ?? previous;
        origin ??= summary.origin;
      }
      sound &&= summary.intact && !summary.missingSeal && !unreadable;
      await this.#options.onFile?.(summary);
    }
  }
}

/** A file's `verifyAuditTrail` options, given the chain so far. */
function trailOptions(
  options: VerifyAuditSetOptions,
  origin: string | undefined,
  previous: AuditCheckpoint | string | undefined,
): VerifyAuditTrailOptions {
  const { keys, maxSegmentBytes } = options ?? {};
  return {
    keys,
    ...(origin === undefined ? {} : { origin }),
    ...(previous === undefined ? {} : { previous }),
    ...(maxSegmentBytes === undefined ? {} : { maxSegmentBytes }),
  };
}

function fileFinding(file: string, kind: "missing_seal" | "unreadable", message: string): AuditSetFinding {
  return { kind, file, line: 1, lastLine: 0, count: 0, message };
}

/**
 * Verifies the files of a rotated set in order (oldest first, the active
 * file last; see the README's "Long-running servers" for how they are
 * named), streaming: each file is one stream whose first checkpoint must
 * chain to the last trusted checkpoint of the files before. So a file that
 * is missing, out of order or altered shows as a finding (`broken_chain`,
 * `edited`, …) of the file where it shows. A missing newest file cannot be
 * seen from the set alone.
 *
 * Files are taken from `files` one at a time, each once the one before is
 * done (its sources closed, `onFile` told): a source that opens lazily is
 * read only when its turn comes, and findings arrive before later files are
 * read. A file whose seal is `null` is a `missing_seal` finding; a file whose
 * stream fails is an `unreadable` finding, and verification goes on with the
 * next file. A file with no trusted checkpoint before it, after a file that
 * was not sound, may start after any checkpoint (its loss is already
 * reported).
 *
 * @param files The set, in order.
 * @param options The verify keys, the expected origin, `previous`/`continues` for the first file, `onFile`.
 * @returns The findings as an async iterable, each naming its file, with a running summary.
 * @throws {TypeError} When `files` is not iterable, or a key, `origin` or `previous` is not valid.
 * @throws {RangeError} When `maxSegmentBytes` is not a positive integer.
 *
 * @example Verify two files, the second one's seal missing
 * ```ts
 * import { AuditSealer } from "./audit_sealer.ts";
 * import { importAuditSealKey, importAuditVerifyKey } from "./audit_seal_key.ts";
 * import { generateAuditSealKey } from "./generate_audit_seal_key.ts";
 * import { verifyAuditSet } from "./verify_audit_set.ts";
 * import assert from "node:assert/strict";
 * const pair = await generateAuditSealKey();
 * const sealer = new AuditSealer(await importAuditSealKey(pair.privateJwk));
 * const line = new TextEncoder().encode('{"ts":"2026-12-02T10:00:00Z","call_id":"a"}\n');
 * sealer.append(line, 1);
 * const seal = new Blob([await sealer.seal()]);
 * const verification = verifyAuditSet([
 *   { name: "audit.2026-12-02T10-00-00.000Z.w.jsonl", data: new Blob([line]), seal },
 *   { name: "audit.jsonl", data: new Blob([line]), seal: null },
 * ], { keys: await importAuditVerifyKey(pair.publicJwk) });
 * const kinds: string[] = [];
 * for await (const finding of verification) kinds.push(`${finding.file}: ${finding.kind}`);
 * assert.deepEqual(kinds, ["audit.jsonl: missing_seal", "audit.jsonl: unsealed_tail"]);
 * assert.equal(verification.summary.intact, false);
 * assert.deepEqual(verification.summary.perFile.map((s) => s.verifiedLines), [1, 0]);
 * ```
 */
export function verifyAuditSet(
  files: Iterable<AuditSetFile> | AsyncIterable<AuditSetFile>,
  options: VerifyAuditSetOptions,
): AuditSetVerification {
  return new AuditSetVerification(files, options);
}
