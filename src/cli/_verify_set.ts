// `audit verify` over one rotated set: its files handed to verifyAuditSet one
// at a time, each with its own seal, and the findings printed as they come,
// then one summary line per file.
import { IoError } from "../runtime/io_error.ts";
import type { FileHandle, RuntimeDriver } from "../runtime/runtime_driver.ts";
import type { AuditVerifyKey } from "../seal/audit_seal_key.ts";
import { emptySummary } from "../seal/_judge.ts";
import {
  type AuditSetFile,
  type AuditSetFinding,
  type AuditSetFindingKind,
  type AuditSetSummary,
  verifyAuditSet,
} from "../seal/verify_audit_set.ts";
import type { AuditTrailSummary } from "../seal/verify_audit_trail.ts";
import { CliError } from "./_args.ts";
import { terminalSafe } from "./_format.ts";
import { gunzip, GzipError } from "./_input.ts";
import { compressedInstead, type DataFile } from "./_rotated_set.ts";

/** Bytes per read: large reads keep verification near the speed of hashing. */
const READ_SIZE = 1 << 20;

/** How each kind of finding is named on a line. */
const NAMES: Record<AuditSetFindingKind, string> = {
  edited: "edited",
  inserted: "inserted",
  deleted: "deleted",
  reordered: "reordered",
  truncated: "truncated",
  broken_chain: "broken chain",
  bad_signature: "bad signature",
  unknown_key: "unknown key",
  malformed: "malformed",
  foreign_seal: "seal from another log",
  unsealed_tail: "unsealed tail",
  adopted: "adopted",
  gap: "gap",
  torn_write: "torn write",
  missing_seal: "missing seal",
  unreadable: "altered or cut short",
};

/**
 * Findings that make a checkpoint's word worthless, or leave the chain with a
 * hole: the counts of the trusted checkpoints are then no verified account.
 */
const UNTRUSTED: ReadonlySet<AuditSetFindingKind> = new Set([
  "bad_signature",
  "unknown_key",
  "malformed",
  "foreign_seal",
  "broken_chain",
]);

/** Where `audit verify` writes (it gathers the text into large writes). */
export interface VerifyOutput {
  write(text: string): Promise<void>;
}

/** How a set is verified. */
export interface SetOptions {
  readonly keys: AuditVerifyKey[];
  readonly origin: string | undefined;
  /** A seal file given with --seal (one file only). */
  readonly seal: string | undefined;
  readonly inBand: boolean;
  /** The set's first file continues a stream not given (older files removed by retention). */
  readonly continues: boolean;
  readonly strict: boolean;
  readonly maxSegmentBytes: number | undefined;
}

/** A file of the set as it is read, and its seal file (`undefined`: in band). */
interface Member {
  readonly file: DataFile;
  readonly sealName: string | undefined;
}

/**
 * Verifies a rotated set's files in order along one chain, printing each
 * finding and each file's summary line. An in-band set is read back to back
 * (its checkpoints do not split at rotations): each finding names the file
 * and the line within it, and one summary line counts the whole set.
 *
 * @returns Whether the set is intact (and, with --strict, without any finding: no gap, torn write, unsealed tail
 *   or adopted line either).
 * @throws {CliError} When a file cannot be opened or read (a `.gz` that will not decompress is a finding).
 */
export async function verifySet(
  driver: RuntimeDriver,
  set: readonly DataFile[],
  options: SetOptions,
  out: VerifyOutput,
): Promise<boolean> {
  const backToBack = options.inBand && set.length > 1;
  // verifyAuditSet finishes a file before it takes the next (in band read back to back, only its summary): the
  // current file's seal is the one findings refer to.
  let current: Member | undefined;
  /** The current file (or, back to back, the set) has a finding that leaves its counts unverified. */
  let untrusted = false;
  try {
    const verification = verifyAuditSet(members(driver, set, options, out, (member) => current = member), {
      keys: options.keys,
      ...(options.origin === undefined ? {} : { origin: options.origin }),
      ...(options.maxSegmentBytes === undefined ? {} : { maxSegmentBytes: options.maxSegmentBytes }),
      continues: options.continues,
      onFile: async (summary) => {
        if (backToBack) return; // one summary line for the whole set, once it is verified
        if (!summary.unreadable) {
          await out.write(formatVerifySummary(summary.file, current!.sealName, summary, untrusted) + "\n");
        }
        untrusted = false;
      },
    });
    let findings = 0;
    for await (const finding of verification) {
      findings++;
      untrusted ||= UNTRUSTED.has(finding.kind);
      await out.write(formatSetFinding(finding, current!));
      // Back to back, the files after one that cannot be read are not verified: the set is not intact.
      if (backToBack && finding.kind === "unreadable") return false;
    }
    if (backToBack) {
      const names = `${set[0]!.path} … ${
        set.at(-1)!.path
      } (${set.length} files read back to back, lines in messages counted from the first)`;
      await out.write(formatVerifySummary(names, undefined, setTrail(verification.summary), untrusted) + "\n");
    }
    return verification.summary.intact && (!options.strict || findings === 0);
  } catch (error) {
    if (error instanceof CliError) throw error;
    const name = current?.file.path ?? set[0]!.path;
    const reason = error instanceof IoError ? error.reason : error instanceof Error ? error.message : String(error);
    throw new CliError(`cannot verify ${name}: ${reason}`);
  }
}

/**
 * The one trail of an in-band set read back to back: its files' counts, each
 * the share of it reached while the file was read, added up; the rest as the
 * last file ends.
 */
function setTrail(summary: AuditSetSummary): AuditTrailSummary {
  const files = summary.perFile;
  const sum = (pick: (s: AuditTrailSummary) => number): number => files.reduce((n, s) => n + pick(s), 0);
  return {
    ...(files.at(-1) ?? emptySummary()),
    checkpoints: sum((s) => s.checkpoints),
    trustedCheckpoints: sum((s) => s.trustedCheckpoints),
    segments: sum((s) => s.segments),
    lines: sum((s) => s.lines),
    verifiedLines: sum((s) => s.verifiedLines),
    unsealedLines: sum((s) => s.unsealedLines),
    adoptedLines: sum((s) => s.adoptedLines),
    tornLines: sum((s) => s.tornLines),
    bytes: sum((s) => s.bytes),
    gaps: sum((s) => s.gaps),
    lost: sum((s) => s.lost),
    written: sum((s) => s.written),
    problems: sum((s) => s.problems),
    intact: summary.intact,
  };
}

/**
 * The set's files as verifyAuditSet takes them, each opened when asked for
 * and closed when the next is. A listed file gone since the listing is read
 * compressed (its `.gz`) or skipped, with a line; a file without its seal
 * when others of the set have theirs has `seal: null`.
 */
async function* members(
  driver: RuntimeDriver,
  set: readonly DataFile[],
  options: SetOptions,
  out: VerifyOutput,
  onMember: (member: Member) => void,
): AsyncGenerator<AuditSetFile, void, undefined> {
  const seals: (string | undefined)[] = [];
  for (const file of set) {
    seals.push(
      options.inBand ? undefined : options.seal ?? ((await exists(driver, file.seal)) ? file.seal : undefined),
    );
  }
  const sidecar = seals.some((seal) => seal !== undefined);
  for (let i = 0; i < set.length; i++) {
    let file = set[i]!;
    const sealName = seals[i];
    let missing = false;
    const found = await stillThere(driver, file);
    if (found !== undefined) file = found;
    else if (file.time === undefined && sealName !== undefined) {
      // The active file is gone but its seal is there: verified as empty, its sealed lines show as cut off.
      missing = true;
      await out.write(terminalSafe(`${file.path}: missing: its seal ${sealName} is there, the file is not`) + "\n");
    } else {
      // Removed by retention: the chain tells the rest.
      await out.write(terminalSafe(`${file.path}: removed while the set was read: skipped`) + "\n");
      continue;
    }
    const data = missing ? undefined : await openFile(driver, file.path);
    const seal = sealName === undefined ? undefined : await openFile(driver, sealName).catch(async (error) => {
      await data?.close().catch(() => {});
      throw error;
    });
    onMember({ file, sealName });
    if (file.cutRotation && sealName !== undefined) {
      await out.write(
        terminalSafe(`${file.path}: sealed by ${sealName}: a rotation cut between its two renames`) +
          " (the writer finishes it when it starts again)\n",
      );
    }
    try {
      const bytes = data === undefined ? nothing() : chunks(data, file.path);
      const sealBytes = seal === undefined ? (sidecar ? null : undefined) : chunks(seal, sealName!);
      yield {
        name: file.path,
        data: file.gzip ? gunzip(bytes) : bytes,
        ...(sealBytes === undefined ? {} : { seal: sealBytes }),
      };
    } finally {
      await data?.close().catch(() => {});
      await seal?.close().catch(() => {});
    }
  }
}

/** `file` as it is now: itself, its archive when it was compressed since it was listed, or `undefined` when gone. */
async function stillThere(driver: RuntimeDriver, file: DataFile): Promise<DataFile | undefined> {
  if (!file.listed || await exists(driver, file.path)) return file;
  const compressed = compressedInstead(file);
  return compressed !== undefined && await exists(driver, compressed.path) ? compressed : undefined;
}

/** No bytes: a file that is missing. */
async function* nothing(): AsyncGenerator<Uint8Array<ArrayBuffer>> {}

/**
 * A finding's line (`current` is the file last taken: the finding's own but
 * in band read back to back); a file that cannot be read but for a `.gz`
 * that will not decompress ends the command.
 */
function formatSetFinding(finding: AuditSetFinding, current: Member): string {
  const { file } = finding;
  if (finding.kind === "missing_seal") {
    return terminalSafe(`${file}: missing seal: ${current.file.seal} not found`) + "\n";
  }
  if (finding.kind !== "unreadable") return formatFinding(file, current.sealName, finding);
  if (!(finding.cause instanceof GzipError)) throw finding.cause;
  return terminalSafe(`${file}: ${NAMES.unreadable}: ${finding.cause.message}`) + "\n";
}

/**
 * `FILE:LINES: kind: message`, the line range being the data lines concerned
 * (or where they were), `FILE:LINE-LASTFILE:LINE` when they run on into a
 * later file.
 */
function formatFinding(file: string, sealName: string | undefined, f: Omit<AuditSetFinding, "file">): string {
  const lines = f.lastFile !== undefined
    ? `${f.line}-${f.lastFile}:${f.lastLine}`
    : f.lastLine > f.line
    ? `${f.line}-${f.lastLine}`
    : `${f.line}`;
  const where = f.sealLine === undefined ? "" : ` (${f.sealFile ?? sealName ?? file}:${f.sealLine})`;
  return terminalSafe(`${file}:${lines}: ${NAMES[f.kind]}: ${f.message}${where}`) + "\n";
}

/**
 * The last line: the verdict and the counts. The account (offered = written +
 * lost) is the trusted checkpoints' word: printed as an equation only when
 * they are all there is to it, every checkpoint trusted and in the chain.
 */
function formatVerifySummary(
  file: string,
  sealName: string | undefined,
  s: AuditTrailSummary,
  untrusted: boolean,
): string {
  const verdict = s.intact
    ? "intact"
    : s.problems === 0
    ? "NOT intact (no trusted checkpoint)"
    : `NOT intact (${s.problems} problem${s.problems === 1 ? "" : "s"})`;
  const seal = sealName === undefined ? "in band" : `seal ${sealName}`;
  const plural = (n: number, word: string): string => `${n} ${word}${n === 1 ? "" : "s"}`;
  return terminalSafe(
    `audit: ${file} (${seal}): ${verdict}: ${plural(s.segments, "segment")} verified, ${plural(s.lines, "line")} ` +
      `(${s.verifiedLines - s.adoptedLines} verified${s.adoptedLines > 0 ? `, ${s.adoptedLines} adopted` : ""}` +
      `${s.tornLines > 0 ? `, ${s.tornLines} torn` : ""}, ` +
      `${s.unsealedLines} unsealed), ${plural(s.gaps, "gap")} ` +
      `(${plural(s.lost, "event")} lost); ${account(s, untrusted)}`,
  );
}

/** `offered N = written W + lost L`, or the same counts marked unverified when they are not a whole account. */
function account(s: AuditTrailSummary, untrusted: boolean): string {
  const balanced = s.offered === s.written + s.lost;
  // Lines without any trusted checkpoint: nothing counted them.
  if (balanced && !untrusted && (s.trustedCheckpoints > 0 || s.lines === 0)) {
    return `offered ${s.offered} = written ${s.written} + lost ${s.lost}`;
  }
  const why = balanced ? "" : ", which do not add up";
  return `offered ${s.offered}, written ${s.written}, lost ${s.lost} (unverified: counted by the trusted ` +
    `checkpoints alone${why})`;
}

/**
 * Whether something is at `path`: only a missing file is absent. A folder, a
 * link loop or a file that cannot be looked at is there, and fails to open
 * with its own reason (exit status 2), rather than counting as a missing seal
 * (checkpoints read in band: a false "NOT intact") or a file removed.
 */
async function exists(driver: RuntimeDriver, path: string): Promise<boolean> {
  return await driver.stat(path).then(() => true, (error) => !(error instanceof IoError && error.code === "not_found"));
}

/** Opens a file to read, turning a failure into a one-line CliError. */
export async function openFile(driver: RuntimeDriver, name: string): Promise<FileHandle> {
  try {
    return await driver.openRead(name);
  } catch (error) {
    throw new CliError(`cannot read ${name}: ${error instanceof IoError ? error.reason : String(error)}`);
  }
}

/** A file's bytes in large chunks (a fresh buffer each: the verifier keeps what it is given). */
export async function* chunks(handle: FileHandle, name: string): AsyncGenerator<Uint8Array<ArrayBuffer>> {
  let position = 0;
  const seekable = handle.kind === "file";
  for (;;) {
    const buffer = new Uint8Array(READ_SIZE);
    let n: number;
    try {
      n = await handle.read(buffer, seekable ? position : null);
    } catch (error) {
      throw new CliError(`cannot read ${name}: ${error instanceof IoError ? error.reason : String(error)}`);
    }
    if (n === 0) return;
    position += n;
    yield buffer.subarray(0, n);
  }
}
