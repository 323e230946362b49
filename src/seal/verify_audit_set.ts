import type { CallEventSource } from "../read/read_call_events.ts";
import { isByteSource } from "../read/_byte_stream.ts";
import type { AuditCheckpoint } from "./audit_checkpoint.ts";
import { BackToBack } from "./_back_to_back.ts";
import { watchedSource } from "./_watched_source.ts";
import {
  type AuditTrailFinding,
  type AuditTrailFindingKind,
  type AuditTrailSummary,
  type AuditTrailVerification,
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
   * file is taken from the set; awaited when it returns a promise. In band
   * read back to back, a file's summary is told once the next file is taken
   * (the run's last file's: once the run is verified), and a finding about
   * its lines can come after it (see {@linkcode AuditSetFileSummary}).
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

/**
 * A finding of {@linkcode verifyAuditSet}: a finding of one file, naming it.
 * In band read back to back, `line` and `lastLine` count the lines of their
 * file, while `message` and `sealedLines` count those of the files read back
 * to back, from the first file of the run.
 */
export interface AuditSetFinding extends Omit<AuditTrailFinding, "kind"> {
  /** What was found; `missing_seal` and `unreadable` concern no line (`line` 1, `lastLine` 0, `count` 0). */
  readonly kind: AuditSetFindingKind;
  /** The file it is about (its `name`): the file of its first line. */
  readonly file: string;
  /** The file of `lastLine`, when it is not `file`: the lines concerned run on into a later file (in band). */
  readonly lastFile?: string;
  /**
   * The file of `sealLine`, when it is a line of another data file than
   * `file` (in band, a checkpoint in a later file); else `sealLine` is in
   * `file`'s seal stream, or in `file` itself when in band.
   */
  readonly sealFile?: string;
  /** For `unreadable`: the error the file's stream failed with. */
  readonly cause?: unknown;
}

/**
 * One file's summary: the counts and verdict of its trail (so far, for an
 * unreadable file), and whether its seal was missing or its streams failed.
 * Those two are findings of the set, counted in the set's `problems` only:
 * a file is sound when `intact && !missingSeal && !unreadable`.
 *
 * In band read back to back, the files of a run are one trail: a file's
 * counts are those the trail reached while the file was read (its lines and
 * checkpoints, the segments its checkpoints sealed, with their lines, some of
 * which may lie in the files before, and the problems found meanwhile), so
 * that the files' counts add up to the trail's; the run's last file also has
 * what the end of the trail finds (the unsealed tail). `origin`, `offered`,
 * `firstSeq`, `lastSeq` and `lastCheckpoint` are the trail's as the file
 * ends. It is `intact` when no problem was found while it was read and, for
 * the run's last file, the trail is intact.
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
  /** Data lines after the last checkpoint of their file (in band: of the files read back to back). */
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
  /** The origin every checkpoint must have: the one given, or the first trusted checkpoint's. */
  #origin: string | undefined;
  /** Every file so far was sound: after one that was not, a file with no checkpoint to chain to may start after any. */
  #sound = true;
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
    this.#origin = options.origin;
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
    // One iterator for the whole set: a run of in-band files ends at the first file that has a seal, which is put
    // back to be verified next.
    const files = eachFile(this.#files);
    let held: AuditSetFile | undefined;
    const take = async (): Promise<AuditSetFile | undefined> => {
      const file = held ?? await files.next().then((next) => next.done ? undefined : next.value);
      held = undefined;
      return file === undefined ? undefined : checkedFile(file);
    };
    try {
      for (let file = await take(); file !== undefined; file = await take()) {
        if (file.seal !== undefined) yield* this.#verifyFile(file);
        else {
          yield* this.#verifyInBand(file, take, (next) => {
            held = next;
          });
        }
      }
    } finally {
      await files.return(undefined);
    }
  }

  /** Verifies a file that has a seal stream (or a `null` one: missing) on its own. */
  async *#verifyFile(file: AuditSetFile): AsyncGenerator<AuditSetFinding, void, undefined> {
    const { name, data, seal } = file;
    if (seal === null) yield fileFinding(name, "missing_seal", "its seal is missing, so its lines were read in band");
    const failure: { error?: unknown } = {};
    const trail = verifyAuditTrail(watchedSource(data, failure), {
      ...this.#trailOptions(),
      ...(seal == null ? {} : { seal: watchedSource(seal, failure) }),
    });
    let unreadable = false;
    try {
      for await (const finding of trail) yield { ...finding, file: name };
    } catch (error) {
      if (!("error" in failure)) throw error;
      unreadable = true;
      yield unreadableFinding(name, error);
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
    if (!unreadable) this.#advance(summary);
    this.#sound &&= summary.intact && !summary.missingSeal && !unreadable;
    await this.#options.onFile?.(summary);
  }

  /**
   * Verifies `first` and the in-band files that follow it (up to the first
   * file that has a seal, handed to `putBack`) read back to back as one
   * stream: their checkpoints do not split at rotations. Each finding names
   * the file of its first line, and its lines as that file counts them. A
   * file that cannot be read ends the run: the files after it start another.
   */
  async *#verifyInBand(
    first: AuditSetFile,
    take: () => Promise<AuditSetFile | undefined>,
    putBack: (file: AuditSetFile) => void,
  ): AsyncGenerator<AuditSetFinding, void, undefined> {
    const failure: { error?: unknown } = {};
    /** The files read so far, as `joined.firstLines` numbers their first lines. */
    const names: string[] = [];
    /** The trail's counts when the file being read started: the files' counts add up to the trail's. */
    let before: AuditTrailSummary | undefined;
    const tell = async (name: string, last: boolean, unreadable: boolean): Promise<void> => {
      const now = trail.summary;
      const summary = fileShare(name, before!, now, last, unreadable);
      before = now;
      this.#perFile.push(summary);
      this.#sound &&= summary.intact && !unreadable;
      await this.#options.onFile?.(summary);
    };
    // Each file is taken once the one before has been read to its end (and its summary told).
    async function* files(): AsyncGenerator<AsyncIterable<Uint8Array>, void, undefined> {
      for (let file: AuditSetFile | undefined = first; file !== undefined;) {
        names.push(file.name);
        before ??= trail.summary;
        yield chunksOf(watchedSource(file.data, failure));
        const next = await take();
        if (next !== undefined && next.seal !== undefined) putBack(next);
        if (next === undefined || next.seal !== undefined) return;
        await tell(file.name, false, false);
        file = next;
      }
    }
    const joined = new BackToBack(files());
    const trail: AuditTrailVerification = verifyAuditTrail(joined, this.#trailOptions());
    const at = (line: number): { file: string; line: number } => {
      const starts = joined.firstLines;
      let i = starts.length - 1;
      while (i > 0 && starts[i]! > line) i--;
      return { file: names[i] ?? first.name, line: line - (starts[i] ?? 1) + 1 };
    };
    try {
      for await (const finding of trail) yield located(finding, at);
    } catch (error) {
      if (!("error" in failure)) throw error;
      // Its checkpoints do not carry the chain: the files after it chain to where the chain was when it started.
      const name = names.at(-1) ?? first.name;
      yield unreadableFinding(name, error);
      const { lastCheckpoint, origin } = before!;
      this.#advance({ lastCheckpoint, origin });
      await tell(name, true, true);
      return;
    }
    this.#advance(trail.summary);
    await tell(names.at(-1) ?? first.name, true, false);
  }

  /** The chain goes on after a file or run verified to its end: to its last trusted checkpoint, never back. */
  #advance({ lastCheckpoint, origin }: Pick<AuditTrailSummary, "lastCheckpoint" | "origin">): void {
    // Never back along the chain: a file replayed or put out of order (its checkpoints before the chain's last)
    // is reported where it is, and the files after it still chain to where the chain had got.
    const previous = this.#previous;
    const behind = lastCheckpoint !== undefined && typeof previous === "object" && lastCheckpoint.seq <= previous.seq;
    this.#previous = behind ? previous : lastCheckpoint ?? previous;
    this.#origin ??= origin;
  }

  /** The `verifyAuditTrail` options of the next file or run, given the chain so far. */
  #trailOptions(): VerifyAuditTrailOptions {
    const previous = this.#previous;
    return {
      ...trailOptions(this.#options, this.#origin, previous),
      continues: previous === undefined && (this.#options.continues === true || !this.#sound),
    };
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

function unreadableFinding(file: string, error: unknown): AuditSetFinding {
  const message = error instanceof Error ? error.message : String(error);
  return { ...fileFinding(file, "unreadable", `the file cannot be read to its end: ${message}`), cause: error };
}

/** The set's files as one async iterator, from an iterable or an async iterable. */
async function* eachFile(
  files: Iterable<AuditSetFile> | AsyncIterable<AuditSetFile>,
): AsyncGenerator<AuditSetFile, void, undefined> {
  yield* files;
}

/** `file`, once its name and sources are checked. */
function checkedFile(file: AuditSetFile): AuditSetFile {
  const { name, data, seal } = file ?? {};
  if (typeof name !== "string") throw new TypeError("Cannot verify a set: each file needs a name");
  if (!isByteSource(data) || (seal != null && !isByteSource(seal))) {
    throw new TypeError(`Cannot verify a set: the data and seal of ${name} must be byte sources`);
  }
  return file;
}

/** A stream's chunks; stopping early cancels it. */
async function* chunksOf(stream: ReadableStream<Uint8Array>): AsyncGenerator<Uint8Array, void, undefined> {
  const reader = stream.getReader();
  let done = false;
  try {
    for (;;) {
      const next = await reader.read();
      if (next.done) {
        done = true;
        return;
      }
      yield next.value;
    }
  } finally {
    if (!done) await reader.cancel().catch(() => {});
  }
}

/** A finding of files read back to back, its lines located in their files by `at`. */
function located(
  finding: AuditTrailFinding,
  at: (line: number) => { file: string; line: number },
): AuditSetFinding {
  const first = at(finding.line);
  const last = finding.lastLine >= finding.line ? at(finding.lastLine) : { ...first, line: first.line - 1 };
  const seal = finding.sealLine === undefined ? undefined : at(finding.sealLine);
  return {
    ...finding,
    file: first.file,
    line: first.line,
    lastLine: last.line,
    ...(last.file === first.file ? {} : { lastFile: last.file }),
    ...(seal === undefined ? {} : { sealLine: seal.line }),
    ...(seal === undefined || seal.file === first.file ? {} : { sealFile: seal.file }),
  };
}

/** The counts of a trail that add up over the files read back to back. */
const COUNTS = [
  "checkpoints",
  "trustedCheckpoints",
  "segments",
  "lines",
  "verifiedLines",
  "unsealedLines",
  "adoptedLines",
  "tornLines",
  "bytes",
  "gaps",
  "lost",
  "written",
  "problems",
] as const;

/** A file's share of a trail read back to back: what its counts reached while it was read (see AuditSetFileSummary). */
function fileShare(
  file: string,
  before: AuditTrailSummary,
  after: AuditTrailSummary,
  last: boolean,
  unreadable: boolean,
): AuditSetFileSummary {
  const counts = Object.fromEntries(COUNTS.map((count) => [count, after[count] - before[count]])) as Record<
    typeof COUNTS[number],
    number
  >;
  const intact = counts.problems === 0 && (!last || unreadable || after.intact);
  // Frozen: onFile and the set's summary hand out this object.
  return Object.freeze({ ...after, ...counts, intact, file, missingSeal: false, unreadable });
}

/**
 * Verifies the files of a rotated set in order (oldest first, the active
 * file last; see the README's "Long-running servers" for how they are
 * named), streaming: each file is one stream whose first checkpoint must
 * chain to the last trusted checkpoint of the files before. So a file that
 * is missing, out of order or altered shows as a finding (`broken_chain`,
 * `edited`, …) of the file where it shows. A missing newest file cannot be
 * seen from the set alone. In band, checkpoints do not split at rotations:
 * each run of files whose seal is `undefined` is read back to back as one
 * stream (a file whose last line has no newline ends that line there), and
 * each finding names the file of its first line, counting that file's lines.
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
