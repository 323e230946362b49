// `audit verify`: checks a sealed log against its seal (or its in-band
// checkpoints), or a rotated set file by file along one chain, and prints
// one line per finding, then a summary.
import { IoError } from "../runtime/io_error.ts";
import type { FileHandle, RuntimeDriver } from "../runtime/runtime_driver.ts";
import { type AuditVerifyKey, importAuditVerifyKey } from "../seal/audit_seal_key.ts";
import type { AuditCheckpoint } from "../seal/audit_checkpoint.ts";
import {
  type AuditTrailFinding,
  type AuditTrailFindingKind,
  type AuditTrailSummary,
  verifyAuditTrail,
  type VerifyAuditTrailOptions,
} from "../seal/verify_audit_trail.ts";
import { CliError, parseArgs } from "./_args.ts";
import { terminalSafe } from "./_format.ts";
import { gunzip, GzipError } from "./_input.ts";
import { compressedInstead, type DataFile, expandArgs, STDIN } from "./_rotated_set.ts";

/** Bytes per read: large reads keep verification near the speed of hashing. */
const READ_SIZE = 1 << 20;
/** Largest key file read. */
const MAX_KEY_BYTES = 64 * 1024;

/** How each kind of finding is named on a line. */
const NAMES: Record<AuditTrailFindingKind, string> = {
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
};

/** Where `audit verify` writes. */
export interface VerifyOutput {
  write(text: string): Promise<void>;
}

/**
 * Runs `audit verify FILE... [--seal SEALFILE | --in-band] --key KEY.jwk...
 * [--origin O] [--continues] [--max-segment-bytes N] [--strict]` and returns its exit status: 0 when
 * the trail is intact (gaps, an unsealed tail and adopted lines are printed,
 * not failures, unless `--strict`), 1 when a finding says it is not or no
 * checkpoint vouches for the log's lines, `undefined` for
 * `--help`. Several files, a folder or a glob are read as rotated sets: each
 * file against its own seal, the chain running on from file to file.
 *
 * @throws {CliError} For a usage error or input that cannot be read (exit status 2).
 */
export async function verify(
  args: readonly string[],
  driver: RuntimeDriver,
  out: VerifyOutput,
): Promise<number | undefined> {
  const parsed = parseArgs("verify", args, ["--in-band", "--strict", "--continues"], [
    "--seal",
    "--key",
    "--origin",
    "--max-segment-bytes",
  ]);
  if (parsed.flags.has("--help")) return undefined;
  if (parsed.files.length === 0) throw new CliError("verify takes FILE... (see audit verify --help)");
  const keyFiles = parsed.lists.get("--key") ?? [];
  if (keyFiles.length === 0) throw new CliError("verify needs --key PUBLIC.jwk (see audit verify --help)");
  if (parsed.flags.has("--in-band") && parsed.values.has("--seal")) {
    throw new CliError("--seal and --in-band exclude each other");
  }
  const maxText = parsed.values.get("--max-segment-bytes");
  const maxSegmentBytes = maxText === undefined ? undefined : /^[1-9]\d{0,15}$/.test(maxText) ? Number(maxText) : NaN;
  if (maxSegmentBytes !== undefined && !Number.isSafeInteger(maxSegmentBytes)) {
    throw new CliError(
      `cannot read --max-segment-bytes ${JSON.stringify(maxText)}: expected a positive number of bytes`,
    );
  }
  const keys: AuditVerifyKey[] = [];
  for (const name of keyFiles) {
    const text = await readText(driver, name, MAX_KEY_BYTES, "key");
    try {
      keys.push(await importAuditVerifyKey(text));
    } catch (error) {
      throw new CliError(`cannot use key ${name}: ${(error as Error).message}`);
    }
  }
  const files = await expandArgs(driver, parsed.files);
  if (files.includes(STDIN)) throw new CliError("verify reads files, not stdin");
  const dataFiles = files as DataFile[];
  if (parsed.values.has("--seal") && dataFiles.length > 1) {
    throw new CliError("--seal names the seal of one FILE; in a rotated set each file has its own (FILE.seal)");
  }
  const options: SetOptions = {
    keys,
    origin: parsed.values.get("--origin"),
    seal: parsed.values.get("--seal"),
    inBand: parsed.flags.has("--in-band"),
    continues: parsed.flags.has("--continues"),
    strict: parsed.flags.has("--strict"),
    maxSegmentBytes,
  };
  let failed = 0;
  for (const set of bySet(dataFiles)) {
    if (!(await verifySet(driver, set, options, out))) failed++;
  }
  if (dataFiles.length > 1) {
    const sets = bySet(dataFiles).length;
    const verdict = failed === 0 ? "intact" : `NOT intact (${failed} of ${sets} set${sets === 1 ? "" : "s"})`;
    await out.write(`audit: ${dataFiles.length} files: ${verdict}\n`);
  }
  return failed === 0 ? 0 : 1;
}

/** How a set is verified. */
interface SetOptions {
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

/** The files grouped by set, in order. */
function bySet(files: readonly DataFile[]): DataFile[][] {
  const sets: DataFile[][] = [];
  for (const file of files) {
    const set = sets.at(-1);
    if (set !== undefined && set[0]!.stem === file.stem) set.push(file);
    else sets.push([file]);
  }
  return sets;
}

/**
 * Verifies a rotated set's files in order, each against its own seal, each
 * continuing the chain of the last trusted checkpoint before it; a closed
 * file missing its seal (when others have theirs) is a problem.
 *
 * @returns Whether the set is intact (and, with --strict, without gaps or unsealed lines).
 */
async function verifySet(driver: RuntimeDriver, set: DataFile[], options: SetOptions, out: VerifyOutput) {
  const exists = async (
    path: string,
  ): Promise<boolean> => (await driver.stat(path).then((info) => info.kind !== "directory", () => false));
  const seals: (string | undefined)[] = [];
  for (const file of set) {
    seals.push(options.inBand ? undefined : options.seal ?? ((await exists(file.seal)) ? file.seal : undefined));
  }
  const sidecar = seals.some((seal) => seal !== undefined);
  let previous: AuditCheckpoint | undefined;
  let origin = options.origin;
  let good = true;
  for (let i = 0; i < set.length; i++) {
    let file = set[i]!;
    const sealName = seals[i];
    if (file.listed && !(await exists(file.path))) {
      // Gone since the listing: compressed (read the archive) or removed by retention (the chain tells the rest).
      const compressed = compressedInstead(file);
      if (compressed !== undefined && (await exists(compressed.path))) file = compressed;
      else {
        await out.write(terminalSafe(`${file.path}: removed while the set was read: skipped`) + "\n");
        continue;
      }
    }
    if (sidecar && sealName === undefined) {
      await out.write(terminalSafe(`${file.path}: missing seal: ${file.seal} not found`) + "\n");
      good = false;
    }
    const continues = previous === undefined && (options.continues || (i > 0 && !good));
    const summary = await verifyFile(driver, file, sealName, {
      keys: options.keys,
      ...(origin === undefined ? {} : { origin }),
      ...(previous === undefined ? {} : { previous }),
      ...(options.maxSegmentBytes === undefined ? {} : { maxSegmentBytes: options.maxSegmentBytes }),
      continues,
    }, out);
    if (summary === undefined) {
      good = false;
      continue;
    }
    origin ??= summary.origin;
    previous = summary.lastCheckpoint ?? previous;
    const clean = summary.gaps === 0 && summary.unsealedLines === 0 && summary.adoptedLines === 0;
    if (!summary.intact || (options.strict && !clean)) good = false;
  }
  return good;
}

/**
 * Verifies one file and prints its findings and summary line.
 *
 * @returns Its summary; `undefined` when a compressed file would not decompress (printed as a finding).
 */
async function verifyFile(
  driver: RuntimeDriver,
  file: DataFile,
  sealName: string | undefined,
  options: VerifyAuditTrailOptions,
  out: VerifyOutput,
): Promise<AuditTrailSummary | undefined> {
  const data = await open(driver, file.path);
  const seal = sealName === undefined ? undefined : await open(driver, sealName).catch(async (error) => {
    await data.close().catch(() => {});
    throw error;
  });
  const name = file.path;
  try {
    const bytes = file.gzip ? gunzip(chunks(data, name)) : chunks(data, name);
    const verification = verifyAuditTrail(bytes, {
      ...options,
      ...(seal === undefined ? {} : { seal: chunks(seal, sealName!) }),
    });
    let text = "";
    try {
      for await (const finding of verification) {
        text += formatFinding(name, sealName, finding);
        if (text.length >= 64 * 1024) {
          await out.write(text);
          text = "";
        }
      }
    } catch (error) {
      if (!(error instanceof GzipError)) throw error;
      await out.write(text + terminalSafe(`${name}: altered or cut short: ${error.message}`) + "\n");
      return undefined;
    }
    const summary = verification.summary;
    await out.write(text + formatVerifySummary(name, sealName, summary) + "\n");
    return summary;
  } catch (error) {
    if (error instanceof CliError) throw error;
    throw new CliError(`cannot verify ${name}: ${error instanceof IoError ? error.reason : (error as Error).message}`);
  } finally {
    await data.close().catch(() => {});
    await seal?.close().catch(() => {});
  }
}

/** `FILE:LINES: kind: message`, the line range being the data lines concerned (or where they were). */
export function formatFinding(file: string, sealName: string | undefined, f: AuditTrailFinding): string {
  const lines = f.lastLine > f.line ? `${f.line}-${f.lastLine}` : `${f.line}`;
  const where = f.sealLine === undefined ? "" : ` (${sealName ?? file}:${f.sealLine})`;
  return terminalSafe(`${file}:${lines}: ${NAMES[f.kind]}: ${f.message}${where}`) + "\n";
}

/** The last line: the verdict and the counts. */
export function formatVerifySummary(file: string, sealName: string | undefined, s: AuditTrailSummary): string {
  const verdict = s.intact
    ? "intact"
    : s.problems === 0
    ? "NOT intact (no trusted checkpoint)"
    : `NOT intact (${s.problems} problem${s.problems === 1 ? "" : "s"})`;
  const seal = sealName === undefined ? "in band" : `seal ${sealName}`;
  const plural = (n: number, word: string): string => `${n} ${word}${n === 1 ? "" : "s"}`;
  return terminalSafe(
    `audit: ${file} (${seal}): ${verdict}: ${plural(s.segments, "segment")}, ${plural(s.lines, "line")} ` +
      `(${s.verifiedLines} verified${s.adoptedLines > 0 ? `, ${s.adoptedLines} of them adopted` : ""}, ` +
      `${s.unsealedLines} unsealed), ${plural(s.gaps, "gap")} ` +
      `(${plural(s.lost, "event")} lost); offered ${s.offered} = written ${s.written} + lost ${s.lost}`,
  );
}

async function open(driver: RuntimeDriver, name: string): Promise<FileHandle> {
  try {
    return await driver.openRead(name);
  } catch (error) {
    throw new CliError(`cannot read ${name}: ${error instanceof IoError ? error.reason : String(error)}`);
  }
}

/** A file's bytes in large chunks (a fresh buffer each: the verifier keeps what it is given). */
async function* chunks(handle: FileHandle, name: string): AsyncGenerator<Uint8Array<ArrayBuffer>> {
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

async function readText(driver: RuntimeDriver, name: string, max: number, what: string): Promise<string> {
  const handle = await open(driver, name);
  try {
    const parts: Uint8Array[] = [];
    let size = 0;
    for await (const chunk of chunks(handle, name)) {
      parts.push(chunk);
      size += chunk.length;
      if (size > max) throw new CliError(`cannot use ${what} ${name}: larger than ${max} bytes`);
    }
    const bytes = new Uint8Array(size);
    let at = 0;
    for (const part of parts) (bytes.set(part, at), at += part.length);
    return new TextDecoder().decode(bytes);
  } finally {
    await handle.close().catch(() => {});
  }
}
