// What happens to closed files, off the write path: each is compressed to
// `.gz` (written under a temporary name, then renamed, and only then is the
// plain file removed, so a crash leaves the plain file or a whole archive),
// and the set is pruned to `keep` closed files and `maxAgeMs`: every writer's
// files of the set, compressed or not, with their seal files.
import { runtime } from "../runtime/runtime.ts";
import { IoError } from "../runtime/io_error.ts";
import type { RotatePlan } from "./_rotate_options.ts";
import type { SetMember, SetNames } from "./_rotation_names.ts";

const READ_BYTES = 256 * 1024;
/** A temporary archive untouched this long was left by a compression that died. */
const STALE_TMP_MS = 10 * 60_000;

/** Compresses the set's closed plain files (when `gzip`), then prunes the set. */
export async function tidySet(names: SetNames, plan: RotatePlan, warn: (error: unknown) => void): Promise<void> {
  const driver = runtime();
  await removeStale(names, plan);
  let members = await list(names, warn);
  if (plan.gzip) {
    for (const member of members) {
      if (!member.names.includes(member.base)) continue;
      const path = `${names.dir}${member.base}`;
      try {
        // Both names: a crash came after the archive was complete (renamed) and before the plain file went.
        if (member.names.length > 1) await driver.remove(path);
        // Only a regular file: reading a FIFO that bears a closed file's name would wait for a writer forever.
        else if ((await driver.stat(path)).kind === "file") await compress(path, plan.writerId);
      } catch (error) {
        if ((error as IoError).code !== "not_found") warn(error); // not_found: another writer compressed it first
      }
    }
    members = await list(names, warn);
  }
  const doomed = new Set<SetMember>(members.slice(0, Math.max(0, members.length - plan.keep)));
  if (plan.maxAgeMs !== Infinity) {
    const oldest = plan.now() - plan.maxAgeMs;
    for (const member of members) {
      if (doomed.has(member)) continue;
      const modified = await newest(names, member);
      if (modified !== undefined && modified < oldest) doomed.add(member);
    }
  }
  for (const member of doomed) {
    for (const name of [...member.names, `${member.base}.seal`]) {
      await driver.remove(`${names.dir}${name}`).catch((error: IoError) => {
        if (error.code !== "not_found") warn(error);
      });
    }
  }
}

/** Removes the temporary archives a killed compression left (of any writer of the set), once stale. */
async function removeStale(names: SetNames, plan: RotatePlan): Promise<void> {
  let listing: string[];
  try {
    listing = await runtime().readDir(names.folder);
  } catch {
    return;
  }
  const stale = plan.now() - STALE_TMP_MS;
  for (const name of listing) {
    if (!name.endsWith(".tmp")) continue;
    const archive = /^(.*)\.gz\.[A-Za-z0-9_-]+\.[0-9a-f]{8}\.tmp$/.exec(name);
    if (archive === null || names.members([archive[1]!]).length === 0) continue;
    const path = `${names.dir}${name}`;
    const info = await runtime().stat(path).catch(() => undefined);
    if (info?.modifiedMs !== undefined && info.modifiedMs < stale) await runtime().remove(path).catch(() => {});
  }
}

async function list(names: SetNames, warn: (error: unknown) => void): Promise<SetMember[]> {
  try {
    return names.members(await runtime().readDir(names.folder));
  } catch (error) {
    warn(error);
    return [];
  }
}

/** When the member's data last changed (its newest name), if known. */
async function newest(names: SetNames, member: SetMember): Promise<number | undefined> {
  let last: number | undefined;
  for (const name of member.names) {
    const info = await runtime().stat(`${names.dir}${name}`).catch(() => undefined);
    if (info?.modifiedMs !== undefined) last = Math.max(last ?? 0, info.modifiedMs);
  }
  return last;
}

/**
 * Writes `path.gz` from `path` (through a temporary name, synced, renamed),
 * then removes `path`; leaves `path` as it is when it grew meanwhile.
 */
export async function compress(path: string, writerId: string): Promise<void> {
  const driver = runtime();
  const temporary = `${path}.gz.${writerId}.${crypto.randomUUID().slice(0, 8)}.tmp`;
  const input = await driver.openRead(path);
  const output = driver.openAppendSync(temporary, { createNew: true });
  let read = 0;
  try {
    const gzip = new CompressionStream("gzip");
    const writer = gzip.writable.getWriter();
    const feeding = (async () => {
      try {
        for (;;) {
          const buffer = new Uint8Array(READ_BYTES);
          const n = await input.read(buffer, read);
          if (n === 0) break;
          read += n;
          await writer.write(buffer.subarray(0, n));
        }
        await writer.close();
      } catch (error) {
        await writer.abort(error).catch(() => {});
        throw error;
      }
    })();
    const reader = gzip.readable.getReader();
    for (;;) {
      const { done, value } = await reader.read();
      if (done) break;
      for (let at = 0; at < value.length;) at += await output.write(value.subarray(at));
    }
    await feeding;
    await output.sync();
    await output.close();
    // Written to meanwhile (another writer still appends to it: the same path rotated by two): removing it would
    // lose those lines. It stays plain; a later run compresses it.
    if ((await input.stat()).size !== read) {
      throw new IoError("other", { action: "compress", path, reason: "it grew while it was compressed" });
    }
  } catch (error) {
    await output.close().catch(() => {});
    await driver.remove(temporary).catch(() => {});
    throw error instanceof IoError ? error : new IoError("other", {
      action: "compress",
      path,
      reason: String(error),
      cause: error,
    });
  } finally {
    await input.close().catch(() => {});
  }
  await driver.rename(temporary, `${path}.gz`);
  await driver.remove(path);
}
