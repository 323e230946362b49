import { runtime } from "../runtime/runtime.ts";
import { IoError, pathText } from "../runtime/io_error.ts";
import type { FileHandle } from "../runtime/runtime_driver.ts";
import { AuditSealer, type AuditSealerOptions } from "../seal/audit_sealer.ts";
import { type AuditSealJwk, type AuditSealKey, importAuditSealKey } from "../seal/audit_seal_key.ts";
import {
  MAX_CHECKPOINT_BYTES,
  parseCheckpoint,
  type ParsedCheckpoint,
  parsedCheckpointText,
} from "../seal/_checkpoint.ts";
import { isCutCheckpoint } from "../seal/_cut_checkpoint.ts";
import { lossySegmentLength } from "../seal/_segment.ts";
import type { AuditCheckpoint } from "../seal/audit_checkpoint.ts";
import { sha256Hex, toBase64 } from "../seal/_encoding.ts";
import type { AuditSinkSealOptions } from "../sink/audit_sink_seal_options.ts";
import { type FileDestination, fileDestination } from "./file_destination.ts";
import { rotations } from "./_rotation.ts";
import type { SetNames } from "./_rotation_names.ts";

/** Options for {@linkcode fileSeal}. */
export interface FileSealOptions extends AuditSealerOptions {
  /**
   * The key that signs: an imported key, or the private JWK (an object, or
   * the text of `audit-seal.private.jwk`).
   */
  readonly key: AuditSealKey | AuditSealJwk | string;
  /** The seal file. @default {the log's path plus `.seal`} */
  readonly sealPath?: string | URL;
  /** Force checkpoints to the disk on every `flush()` (see `fileDestination`). @default {false} */
  readonly fsync?: boolean;
  /**
   * Start a new chain over a log that already holds lines but has no seal
   * (no seal file, or one without a checkpoint), sealing those lines as
   * adopted. Without it, `fileSeal` refuses: the seal may have been deleted
   * to hide an edit.
   * @default {false}
   */
  readonly adoptExisting?: boolean;
}

/** What {@linkcode fileSeal} resolves to: the sink's `seal` option for a log file. */
export interface FileSeal extends AuditSinkSealOptions {
  /** The sealer, continuing the seal file's chain. */
  readonly sealer: AuditSealer;
  /** The seal file, opened for appending. */
  readonly to: FileDestination;
  /**
   * Lines found after the last checkpoint (or in a log without a seal, with
   * `adoptExisting`), which this writer sealed before anything else, in
   * checkpoints that say they were adopted: what a crash left unsealed, or
   * lines someone else wrote meanwhile. A verifier reports them as `adopted`.
   */
  readonly adoptedLines: number;
}

const LF = 0x0a;
/** What a checkpoint line that declares lines lost in its segment holds. */
const IN_SEGMENT = '"in_segment":true';
const decoder = new TextDecoder();

/**
 * Prepares sealing for a log file: opens its seal file (`audit.jsonl.seal`)
 * and returns the sink's `seal` option. A log that was sealed before goes on
 * with the same chain (the seal file's last checkpoint; its counters, so the
 * file verifies as one stream). Lines after the last checkpoint (the
 * unsealed tail a crash leaves) are sealed first, in checkpoints of their
 * own that mark them adopted (this writer cannot vouch for how they were
 * written), and counted in `adoptedLines`. Where the sealed lines end is
 * found as a verifier finds it: before the last checkpoint's `bytes` when
 * lines a checkpoint declares failed left less in the file (nothing, or a
 * torn write). A log that holds lines but has no seal is refused unless
 * `adoptExisting`. A torn last line gets its newline first. A seal file that ends inside a checkpoint (a crash while it was
 * written) goes on from the last whole checkpoint: the first new checkpoint
 * takes the cut one's place in the chain (its seq and prev), and `audit
 * verify` reports the cut line as a torn write.
 *
 * With a rotating file destination (pass it instead of the path), each
 * closed file keeps its own seal file (renamed with it) and the chain goes on
 * across files: the old file's trail ends before the switch, and the new
 * file's first checkpoint follows it (a new stream). After a restart whose
 * active file has no seal yet, the chain goes on from the newest closed
 * file's seal. `verifyAuditSet` checks such a set.
 *
 * @param log The log file, as given to `fileDestination`, or a destination made with `rotate`.
 * @param options The key, and the sealer's options (segment limits, interval, heartbeat, origin).
 * @returns The `seal` option: `{ sealer, to }`.
 * @throws {TypeError} When `log` is an object but not a rotating file destination (or has a `sealPath`), the key is
 *   not a private key, or the seal file's last checkpoint is malformed, belongs to another origin, or was not signed
 *   by this key (with the same key id), or the seal file ends in a partial line that is not the start of a checkpoint.
 * @throws {IoError} When a file cannot be read or written, the log is shorter than its seal says (truncated), a
 *   segment that declares lines lost in it is not where its seal says (edited or truncated), or the log holds lines but
 *   has no checkpoint to continue and `adoptExisting` is not set.
 *
 * @example
 * ```ts ignore
 * import { JsonLinesAuditSink } from "@atd/audit";
 * import { fileDestination, fileSeal } from "@atd/audit/file";
 * const key = await Deno.readTextFile("audit-seal.private.jwk");
 * const sink = new JsonLinesAuditSink(fileDestination("audit.jsonl"), { seal: await fileSeal("audit.jsonl", { key }) });
 * ```
 */
export async function fileSeal(log: string | URL | FileDestination, options: FileSealOptions): Promise<FileSeal> {
  const key = isSealKey(options?.key) ? options.key : await importAuditSealKey(options?.key);
  const rotation = typeof log === "object" && !(log instanceof URL) ? rotations.get(log) : undefined;
  if (typeof log === "object" && !(log instanceof URL) && rotation === undefined) {
    throw new TypeError("Cannot seal: expected a path or a file destination made with the rotate option");
  }
  if (rotation !== undefined && options.sealPath !== undefined) {
    throw new TypeError("Cannot seal: a rotating file's seal file is its path plus .seal (no sealPath)");
  }
  const path = rotation?.names.active ?? (log as string | URL);
  const sealPath = options.sealPath ?? (typeof path === "string" ? `${path}.seal` : new URL(`${path.href}.seal`));
  const driver = runtime();
  if (rotation !== undefined) await finishRotation(rotation.names);
  const seal = driver.openAppendSync(sealPath);
  let data: FileHandle | undefined;
  try {
    const end = await lastLine(seal);
    const { torn } = end;
    let complete = end.line;
    // A restart that ended a cut checkpoint's line (below), then stopped before its first checkpoint, left it last.
    if (torn === undefined && complete !== undefined && isCutCheckpoint(complete.replace(/\r$/, ""))) {
      complete = end.start === 0 ? undefined : (await lastLine(seal, end.start)).line;
    }
    const cut = torn === undefined ? undefined : decoder.decode(torn).replace(/\r$/, "");
    // A crash can cut the last checkpoint anywhere, even after its last byte but for the newline: then it is whole,
    // and the chain goes on from it. Cut shorter, the chain goes on from the one before: this writer takes its place.
    const whole = cut !== undefined && typeof parseCheckpoint(cut) !== "string";
    if (cut !== undefined && !whole && !isCutCheckpoint(cut)) {
      throw new TypeError(
        `Cannot continue the seal file ${JSON.stringify(pathText(sealPath))}: ` +
          "it ends in a partial line that is not a checkpoint",
      );
    }
    const own = whole ? cut : complete;
    // A rotated set whose active file has no seal yet: the chain goes on from the newest closed file's, in a new stream.
    const fromSet = own === undefined && rotation !== undefined ? await lastOfSet(rotation.names) : undefined;
    const last = own ?? fromSet;
    const previous = last === undefined ? undefined : await checkPrevious(last, key, sealPath, options.origin);
    const c = previous?.checkpoint;
    data = driver.openAppendSync(path);
    const info = await data.stat();
    const size = info.kind === "file" ? info.size : 0;
    if (c === undefined && size > 0 && options.adoptExisting !== true) {
      throw new IoError("other", {
        action: "start sealing {path}",
        path: pathText(path),
        reason: `it already holds ${size} bytes but its seal file ${JSON.stringify(pathText(sealPath))} ` +
          "has no checkpoint (deleted?); run audit verify, then move the log aside or pass adoptExisting: true",
      });
    }
    // A torn last line counts with the newline the file destination gives it: a verifier reads it so from then on.
    const ended = size === 0 || (await readAt(data, new Uint8Array(1), size - 1))[0] === LF;
    const length = ended ? size : size + 1;
    const found = fromSet === undefined && previous !== undefined ? await sealedEnd(seal, data, length, previous) : 0;
    const refuse = (reason: string): IoError =>
      new IoError("other", {
        action: "continue the sealed log {path}",
        path: pathText(path),
        reason: `${reason}; run audit verify, then move both files aside`,
      });
    if (typeof found === "object") {
      throw refuse(`it does not hold the lines of checkpoint ${found.seq} of its seal file (edited or truncated?)`);
    }
    const start = found;
    if (length < start) {
      throw refuse(`it holds ${size} bytes, fewer than the ${start} its seal file covers (truncated?)`);
    }
    // The sealed part ends in a torn write: the newline it was read with is its own.
    if (start > size) await writeAll(data, new Uint8Array([LF]));
    const sealer = new AuditSealer(key, {
      ...options,
      ...(last === undefined ? {} : { previous: last, newStream: fromSet !== undefined }),
    });
    const adoptedLines = await adopt(data, start, Math.max(size, start), sealer, seal);
    const to = fileDestination(sealPath, { fsync: options.fsync ?? false });
    if (rotation !== undefined) rotation.seal = to;
    return { sealer, to, adoptedLines };
  } finally {
    await data?.close().catch(() => {});
    await seal.close().catch(() => {});
  }
}

/**
 * A rotation that a crash cut between renaming the data file and its seal
 * file leaves the active seal file sealing the newest closed file: it gets
 * its seal file's name, as the rotation would have given it. The closed file
 * may be compressed by now (the destination's tidying starts when it is made).
 */
async function finishRotation(names: SetNames): Promise<void> {
  const driver = runtime();
  const newest = names.members(await driver.readDir(names.folder)).at(-1);
  if (newest === undefined) return;
  const closed = `${names.dir}${newest.base}`;
  const active = `${names.active}.seal`;
  const [sealInfo, closedSeal, activeData] = await Promise.all(
    [active, `${closed}.seal`, names.active].map((path) => driver.stat(path).catch(() => undefined)),
  );
  if (sealInfo === undefined || closedSeal !== undefined) return;
  const file = await driver.openRead(active);
  let line: string | undefined;
  try {
    line = (await lastLine(file)).line;
  } finally {
    await file.close().catch(() => {});
  }
  const parsed = line === undefined ? undefined : parseCheckpoint(line.replace(/\r$/, ""));
  if (parsed === undefined || typeof parsed === "string") return;
  const covers = parsed.checkpoint.bytes;
  if (covers === 0 || (activeData?.size ?? 0) >= covers) return;
  // Plain, or compressed (also since the listing: the plain file goes only once its archive is whole).
  const size = (await driver.stat(closed).catch(() => undefined))?.size ?? await gunzippedSize(`${closed}.gz`);
  // It seals the closed file's exact size, more than the active file holds: it cannot be the active file's.
  if (size !== covers) return;
  await driver.rename(active, `${closed}.seal`);
}

/** How many bytes a gzip file holds (`undefined` when it cannot be read to its end). */
async function gunzippedSize(path: string): Promise<number | undefined> {
  let file: FileHandle;
  try {
    file = await runtime().openRead(path);
  } catch {
    return undefined;
  }
  let at = 0;
  const compressed = new ReadableStream<Uint8Array<ArrayBuffer>>({
    async pull(controller) {
      const buffer = new Uint8Array(64 * 1024);
      const n = await file.read(buffer, at);
      at += n;
      if (n === 0) controller.close();
      else controller.enqueue(buffer.subarray(0, n));
    },
  });
  try {
    let size = 0;
    for await (const chunk of compressed.pipeThrough(new DecompressionStream("gzip"))) size += chunk.length;
    return size;
  } catch {
    return undefined;
  } finally {
    await file.close().catch(() => {});
  }
}

/** The last checkpoint of the newest closed file of a set that has one. */
async function lastOfSet(names: SetNames): Promise<string | undefined> {
  const members = names.members(await runtime().readDir(names.folder));
  for (let i = members.length - 1; i >= 0; i--) {
    let file: FileHandle;
    try {
      file = await runtime().openRead(`${names.dir}${members[i]!.base}.seal`);
    } catch {
      continue;
    }
    try {
      const { line } = await lastLine(file);
      if (line !== undefined) return line;
    } finally {
      await file.close().catch(() => {});
    }
  }
  return undefined;
}

function isSealKey(key: unknown): key is AuditSealKey {
  return typeof (key as Partial<AuditSealKey> | null)?.sign === "function";
}

/**
 * The last complete line of a file's first `size` bytes (all of it by
 * default), if any, where it starts, and the torn one after it, if any (left
 * for the file destination to end), or its first bytes.
 */
async function lastLine(
  file: FileHandle,
  size?: number,
): Promise<{ line: string | undefined; start: number; torn: Uint8Array | undefined }> {
  size ??= (await file.stat()).size;
  for (let window = 64 * 1024;; window *= 4) {
    const from = Math.max(0, size - window);
    const bytes = await readAt(file, new Uint8Array(size - from), from);
    const end = bytes.lastIndexOf(LF);
    const torn = end === bytes.length - 1 ? undefined : bytes.subarray(end + 1);
    if (end !== -1) {
      const start = end === 0 ? 0 : bytes.lastIndexOf(LF, end - 1) + 1;
      if (start > 0 || from === 0) {
        return { line: decoder.decode(bytes.subarray(start, end)), start: from + start, torn };
      }
    }
    if (from === 0 || window >= MAX_CHECKPOINT_BYTES) return { line: undefined, start: 0, torn };
  }
}

async function readAt<T extends ArrayBufferLike>(
  file: FileHandle,
  buffer: Uint8Array<T>,
  position: number,
): Promise<Uint8Array<T>> {
  let done = 0;
  while (done < buffer.length) {
    const n = await file.read(buffer.subarray(done), position + done);
    if (n === 0) break;
    done += n;
  }
  return buffer.subarray(0, done);
}

/**
 * Where the sealed part of the log ends. Checkpoints count the bytes handed
 * to the file, and a line its destination lost left less there: nothing, or
 * the start of its line (a torn write, ended by the next write's newline).
 * So each segment that declares lines lost in it is found as a verifier finds
 * it, where the segments before it end: its bytes whole, or its lines less at
 * most the lost ones. Only those segments are read (the others are whole),
 * unless the last segment is whole where its counters say: then nothing was
 * lost before it, and the seal file is not read.
 *
 * @param length The log's length, a torn last line counted with its newline.
 * @param last The checkpoint the seal file ends with.
 * @returns Where the sealed part ends (past `length` when the log is shorter than its seal says), or the checkpoint
 *   whose segment is not there.
 */
async function sealedEnd(
  seal: FileHandle,
  data: FileHandle,
  length: number,
  last: ParsedCheckpoint,
): Promise<number | AuditCheckpoint> {
  const c = last.checkpoint;
  if (last.digests === undefined && c.seg_lines > 0 && c.bytes <= length) {
    const segment = await readAt(data, new Uint8Array(c.seg_bytes), c.bytes - c.seg_bytes);
    if (await sha256Hex(segment) === c.seg_sha256) return c.bytes;
  }
  let lost = 0;
  for await (const line of lossyLines(seal)) {
    const parsed = parseCheckpoint(line);
    // A checkpoint a crash cut short seals nothing; any other line is for the verifier to report.
    if (typeof parsed === "string" || parsed.digests === undefined) continue;
    const lossy = parsed.checkpoint;
    const at = lossy.bytes - lossy.seg_bytes - lost;
    if (at > length) break; // truncated
    const want = Math.min(2 * lossy.seg_bytes, length - at);
    const bytes = new Uint8Array(want);
    const got = (await readAt(data, bytes, at)).length;
    if (got < want) bytes[got] = LF; // a torn last line, with the newline it is to get
    const taken = await lossySegmentLength(parsed, bytes.subarray(0, Math.min(want, got + 1)));
    if (taken === undefined) return lossy;
    lost += lossy.seg_bytes - taken;
  }
  return c.bytes - lost;
}

/**
 * The lines of a seal file that declare lines lost in their segment, in
 * order: found in its text, and only they are parsed (a seal file holds a few
 * checkpoints per 100 MB of log, or one per `intervalMs` with heartbeats).
 */
async function* lossyLines(seal: FileHandle): AsyncGenerator<string, void, undefined> {
  const utf8 = new TextDecoder();
  const buffer = new Uint8Array(1 << 20);
  let text = "";
  for (let at = 0, done = false; !done;) {
    const chunk = await readAt(seal, buffer, at);
    at += chunk.length;
    done = chunk.length === 0;
    text += utf8.decode(chunk, { stream: !done });
    const end = done ? text.length : text.lastIndexOf("\n") + 1;
    let hit = text.indexOf(IN_SEGMENT);
    while (hit !== -1 && hit < end) {
      const next = text.indexOf("\n", hit);
      yield text.slice(text.lastIndexOf("\n", hit) + 1, next === -1 ? text.length : next).replace(/\r$/, "");
      hit = next === -1 ? -1 : text.indexOf(IN_SEGMENT, next);
    }
    text = text.slice(end);
    if (text.length > MAX_CHECKPOINT_BYTES) text = ""; // no checkpoint: what is left of it reads as no line
  }
}

/** Checks the checkpoint a seal file ends with before going on from it. */
async function checkPrevious(
  line: string,
  key: AuditSealKey,
  sealPath: string | URL,
  origin: string | undefined,
): Promise<ParsedCheckpoint> {
  const where = `Cannot continue the seal file ${JSON.stringify(pathText(sealPath))}`;
  const parsed = parseCheckpoint(line.replace(/\r$/, ""));
  if (typeof parsed === "string") throw new TypeError(`${where}: its last line is not a checkpoint: ${parsed}`);
  const c = parsed.checkpoint;
  if (origin !== undefined && c.origin !== origin) throw new TypeError(`${where}: it seals log ${c.origin}`);
  // Both algorithms sign deterministically: the same key signs the same text into the same bytes.
  if (c.key_id === key.keyId && c.alg === key.algorithm) {
    const text = new TextEncoder().encode(await parsedCheckpointText(parsed));
    if (toBase64(await key.sign(text)) !== c.sig) {
      throw new TypeError(`${where}: its last checkpoint was not signed by key ${key.keyId}`);
    }
  }
  return parsed;
}

/**
 * Seals the log's bytes from `start` to `end` (what no checkpoint covers yet), one segment at a time (at most
 * `maxSegmentBytes`, or one line longer, and `maxSegmentLines`).
 */
async function adopt(
  data: FileHandle,
  start: number,
  end: number,
  sealer: AuditSealer,
  seal: FileHandle,
): Promise<number> {
  if (start === end) return 0;
  await endLine(seal); // a checkpoint torn by a crash must not run into the next one
  let lines = 0;
  let at = start;
  let size = Math.max(sealer.maxSegmentBytes, 64 * 1024);
  while (at < end) {
    const piece = await readAt(data, new Uint8Array(Math.min(size, end - at)), at);
    if (piece.length === 0) break;
    let take = piece.subarray(0, piece.lastIndexOf(LF) + 1);
    if (take.length === 0) {
      if (at + piece.length < end) {
        size *= 2; // one line longer than a segment: read further
        continue;
      }
      // A torn last line: it ends here, with the newline the file destination would give it.
      await writeAll(data, new Uint8Array([LF]));
      take = new Uint8Array(piece.length + 1);
      take.set(piece);
      take[piece.length] = LF;
    }
    // At most maxSegmentLines a segment, as the sink cuts them: a checkpoint grows with its lines, not its bytes.
    let count = 0;
    let cut = 0;
    for (let i = take.indexOf(LF); i !== -1 && count < sealer.maxSegmentLines; i = take.indexOf(LF, i + 1)) {
      count++;
      cut = i + 1;
    }
    take = take.subarray(0, cut);
    sealer.adopt(take.slice(), count);
    await writeAll(seal, await sealer.seal());
    lines += count;
    at += Math.min(take.length, piece.length);
  }
  return lines;
}

/** Makes a regular file end with a newline. */
async function endLine(file: FileHandle): Promise<void> {
  const { size, kind } = await file.stat();
  if (kind !== "file" || size === 0) return;
  const last = await readAt(file, new Uint8Array(1), size - 1);
  if (last[0] !== LF) await writeAll(file, new Uint8Array([LF]));
}

async function writeAll(file: FileHandle, bytes: Uint8Array): Promise<void> {
  for (let done = 0; done < bytes.length;) done += await file.write(bytes.subarray(done));
}
