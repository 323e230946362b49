// `audit keygen`: a new seal key, written as JWK files.
import { IoError } from "../runtime/io_error.ts";
import type { RuntimeDriver } from "../runtime/runtime_driver.ts";
import { auditSealKeyFiles, generateAuditSealKey } from "../seal/generate_audit_seal_key.ts";
import { CliError, parseArgs } from "./_args.ts";

const encoder = new TextEncoder();

/** What `audit keygen` prints: one line per file written, then the key id. */
export interface KeygenResult {
  readonly help: boolean;
  readonly text: string;
}

/**
 * Runs `audit keygen [--out DIR] [--hmac] [--kid ID]`: writes
 * `audit-seal.private.jwk` (mode 0600) and `audit-seal.public.jwk`, or with
 * `--hmac` `audit-seal.secret.jwk` (0600), into DIR (made when missing).
 * Never replaces a file.
 *
 * @throws {CliError} For a bad option, an existing key file, or a folder that cannot be written.
 */
export async function keygen(args: readonly string[], driver: RuntimeDriver): Promise<KeygenResult> {
  const parsed = parseArgs("keygen", args, ["--hmac"], ["--out", "--kid"]);
  if (parsed.flags.has("--help")) return { help: true, text: "" };
  if (parsed.files.length > 0) throw new CliError(`keygen takes no FILE, got ${JSON.stringify(parsed.files[0])}`);
  const dir = parsed.values.get("--out") ?? ".";
  const kid = parsed.values.get("--kid");
  let pair;
  try {
    pair = await generateAuditSealKey({
      algorithm: parsed.flags.has("--hmac") ? "HMAC-SHA256" : "Ed25519",
      ...(kid === undefined ? {} : { keyId: kid }),
    });
  } catch (error) {
    throw new CliError(`cannot make the key: ${(error as Error).message}`);
  }
  const files = auditSealKeyFiles(pair);
  const base = dir.endsWith("/") ? dir : `${dir}/`;
  const paths = files.map((file) => `${base}${file.name}`);
  try {
    await driver.makeDir(dir);
    // Refuse before writing anything: a key pair is written whole or not at all.
    for (const path of paths) {
      if (await driver.stat(path).then(() => true, () => false)) {
        throw new CliError(`${path} already exists: keygen never replaces a key (remove it, or use another --out)`);
      }
    }
    let text = "";
    for (const [i, file] of files.entries()) {
      await driver.writeNewFile(paths[i]!, encoder.encode(file.text), file.secret ? 0o600 : 0o644);
      text += `wrote ${paths[i]}${file.secret ? " (secret, mode 0600)" : ""}\n`;
    }
    return { help: false, text: text + `key id ${pair.keyId} (${pair.algorithm})\n` };
  } catch (error) {
    if (error instanceof IoError) throw new CliError(`cannot write the key: ${error.message}`);
    throw error;
  }
}
