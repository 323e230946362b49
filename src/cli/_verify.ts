// `audit verify`: checks a sealed log against its seal (or its in-band
// checkpoints), or a rotated set file by file along one chain, and prints
// one line per finding, then a summary.
import type { RuntimeDriver } from "../runtime/runtime_driver.ts";
import { type AuditVerifyKey, importAuditVerifyKey } from "../seal/audit_seal_key.ts";
import { CliError, parseArgs } from "./_args.ts";
import { type DataFile, dataFile, expandArgs, orderSets, STDIN } from "./_rotated_set.ts";
import { terminalSafe } from "./_format.ts";
import { isGlob } from "./_glob.ts";
import { chunks, openFile, type SetOptions, type VerifyOutput, verifySet } from "./_verify_set.ts";

/** Largest key file read. */
const MAX_KEY_BYTES = 64 * 1024;

/**
 * Runs `audit verify FILE... [--seal SEALFILE | --in-band] --key KEY.jwk...
 * [--origin O] [--continues] [--max-segment-bytes N] [--strict]` and returns its exit status: 0 when
 * the trail is intact (gaps, torn writes, an unsealed tail and adopted lines
 * are printed, not failures, unless `--strict`), 1 when a finding says it is not or no
 * checkpoint vouches for the log's lines, `undefined` for
 * `--help`. Several files, a folder or a glob are read as rotated sets: each
 * file against its own seal, the chain running on from file to file. A
 * private Ed25519 key given with `--key` verifies by its public part, and
 * `warn` is told that it should not have been handed over.
 *
 * @throws {CliError} For a usage error or input that cannot be read (exit status 2).
 */
export async function verify(
  args: readonly string[],
  driver: RuntimeDriver,
  out: VerifyOutput,
  warn: (text: string) => Promise<void>,
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
    if (isPrivateKey(text)) {
      await warn(
        terminalSafe(
          `audit: ${name} is a private key: verifying with its public part; give verifiers the public key ` +
            `(audit-seal.public.jwk), as whoever holds the private key can seal anything`,
        ) + "\n",
      );
    }
  }
  const files = await expandArgs(driver, parsed.files);
  if (files.includes(STDIN)) throw new CliError("verify reads files, not stdin");
  const dataFiles = await withMissingActive(driver, parsed.files, files as DataFile[]);
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

/**
 * The files, with the active file of each set in a folder argument whose
 * seal file is there without it (`audit.jsonl.seal`, no `audit.jsonl`): the
 * newest file of a set, removed with its sealed lines, which the chain alone
 * cannot show.
 */
async function withMissingActive(
  driver: RuntimeDriver,
  args: readonly string[],
  files: DataFile[],
): Promise<DataFile[]> {
  const added: DataFile[] = [];
  for (const arg of args) {
    if (isGlob(arg) || (await driver.stat(arg).catch(() => undefined))?.kind !== "directory") continue;
    const dir = arg.endsWith("/") ? arg : `${arg}/`;
    const names = new Set(await driver.readDir(arg).catch(() => []));
    for (const name of names) {
      const m = /^(.+\.jsonl)\.seal$/s.exec(name);
      if (m === null || names.has(m[1]!) || names.has(`${m[1]}.gz`)) continue;
      const file = dataFile(dir + m[1], true);
      if (file.time !== undefined || files.some((f) => f.path === file.path)) continue;
      if (((await driver.stat(dir + name).catch(() => undefined))?.size ?? 0) === 0) continue;
      // A writer killed between a rotation's two renames: the newest closed file has no seal, and this seal is its.
      const newest = files.findLast((f) => f.stem === file.stem && f.time !== undefined);
      if (newest !== undefined && !(await driver.stat(newest.seal).then(() => true, () => false))) {
        files = files.map((f) => f === newest ? { ...f, seal: file.seal, cutRotation: true } : f);
      } else added.push(file);
    }
  }
  return added.length === 0 ? files : orderSets([...files, ...added]) as DataFile[];
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
 * Whether a key file that imported as a verify key holds an Ed25519 private
 * key (`d`). An HMAC secret verifies only as the secret it is: never warned of.
 */
function isPrivateKey(text: string): boolean {
  const jwk = JSON.parse(text) as { kty?: unknown; d?: unknown };
  return jwk.kty === "OKP" && jwk.d !== undefined;
}

async function readText(driver: RuntimeDriver, name: string, max: number, what: string): Promise<string> {
  const handle = await openFile(driver, name);
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
