// `audit verify`: checks a sealed log against its seal (or its in-band
// checkpoints) and prints one line per finding, then a summary.
import { IoError } from "../runtime/io_error.ts";
import type { FileHandle, RuntimeDriver } from "../runtime/runtime_driver.ts";
import { type AuditVerifyKey, importAuditVerifyKey } from "../seal/audit_seal_key.ts";
import {
  type AuditTrailFinding,
  type AuditTrailFindingKind,
  type AuditTrailSummary,
  verifyAuditTrail,
} from "../seal/verify_audit_trail.ts";
import { CliError, parseArgs } from "./_args.ts";
import { terminalSafe } from "./_format.ts";

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
 * Runs `audit verify FILE [--seal SEALFILE | --in-band] --key KEY.jwk...
 * [--origin O] [--max-segment-bytes N] [--strict]` and returns its exit
 * status: 0 when the trail is intact (gaps, an unsealed tail and adopted lines
 * are printed, not failures, unless `--strict`), 1 when a finding says it is
 * not or no checkpoint vouches for the log's lines, `undefined` for `--help`.
 *
 * @throws {CliError} For a usage error or input that cannot be read (exit status 2).
 */
export async function verify(
  args: readonly string[],
  driver: RuntimeDriver,
  out: VerifyOutput,
): Promise<number | undefined> {
  const parsed = parseArgs("verify", args, ["--in-band", "--strict"], [
    "--seal",
    "--key",
    "--origin",
    "--max-segment-bytes",
  ]);
  if (parsed.flags.has("--help")) return undefined;
  if (parsed.files.length !== 1) throw new CliError("verify takes one FILE (see audit verify --help)");
  const file = parsed.files[0]!;
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
  const sealName = parsed.flags.has("--in-band")
    ? undefined
    : parsed.values.get("--seal") ?? (await driver.stat(`${file}.seal`).then(() => `${file}.seal`, () => undefined));
  const data = await open(driver, file);
  const seal = sealName === undefined ? undefined : await open(driver, sealName).catch(async (error) => {
    await data.close().catch(() => {});
    throw error;
  });
  const origin = parsed.values.get("--origin");
  try {
    const verification = verifyAuditTrail(chunks(data, file), {
      keys,
      ...(seal === undefined ? {} : { seal: chunks(seal, sealName!) }),
      ...(origin === undefined ? {} : { origin }),
      ...(maxSegmentBytes === undefined ? {} : { maxSegmentBytes }),
    });
    let text = "";
    for await (const finding of verification) {
      text += formatFinding(file, sealName, finding);
      if (text.length >= 64 * 1024) {
        await out.write(text);
        text = "";
      }
    }
    const summary = verification.summary;
    await out.write(text + formatVerifySummary(file, sealName, summary) + "\n");
    const clean = summary.gaps === 0 && summary.unsealedLines === 0 && summary.adoptedLines === 0;
    return summary.intact && (clean || !parsed.flags.has("--strict")) ? 0 : 1;
  } catch (error) {
    if (error instanceof CliError) throw error;
    throw new CliError(`cannot verify ${file}: ${error instanceof IoError ? error.reason : (error as Error).message}`);
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
