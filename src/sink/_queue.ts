// The sink's queue: lines waiting for the destination, bounded by a Web
// Streams size queue, and the first-come-first-served admission of callers
// waiting for room. What to do when it is full is the sink's policy, not this.
import { encodeLines } from "../runtime/_encode_lines.ts";

/** Lines already turned into bytes (a burst's, see {@linkcode LineQueue.push}). */
interface Encoded {
  readonly chunk: Uint8Array;
  readonly ends: Uint32Array | undefined;
  readonly count: number;
  /** The lines' size as counted against the byte bound (see {@linkcode lineBytes}). */
  readonly bytes: number;
}

/**
 * A batch of lines in the size queue, as text or already encoded; `taken`
 * once its lines went out with an earlier batch (or were discarded).
 */
interface Batch {
  readonly lines: string[] | undefined;
  readonly encoded: Encoded | undefined;
  readonly count: number;
  /** The lines' size as counted against the byte bound (see {@linkcode lineBytes}). */
  readonly bytes: number;
  taken: boolean;
}

/**
 * Hands one chunk of whole lines to the destination. Must never reject.
 * `ends`, when the queue was asked for them, holds the offset of each line's newline.
 */
export type Deliver = (bytes: Uint8Array, lines: number, ends: Uint32Array | undefined) => Promise<void>;

/** Lines per queued batch at most, so that a huge burst in `"block"` mode stays in bounded pieces. */
const MAX_BATCH_LINES = 4096;
/**
 * Characters (see {@linkcode lineBytes}) in one destination write: a write
 * ends before the line that would pass this (a line larger than it goes
 * alone), so that neither a write nor the text a write's lines are joined
 * into (on Bun) grows with the events' size.
 */
const MAX_WRITE_CHARS = 1 << 20;

/**
 * A sealed segment's limits, which a write stays within (in lines, and in
 * characters, see {@linkcode lineBytes}): sealing then ends a segment before
 * the write that would take it past one (see `Sealing.fit`), so that no
 * segment holds more than its limits, unless one line is larger.
 */
export interface WriteBound {
  readonly lines: number;
  readonly bytes: number;
}
/**
 * A write that would start sooner than this after the previous one waits for
 * the rest of the interval, unless a write's worth of lines is waiting or
 * someone waits for room, a flush or the close: lines that trickle in (one
 * per request) then go out together instead of one write each, and each
 * write costs tens of microseconds of CPU (a trip through the runtime's I/O
 * threads), measured.
 */
export const WRITE_INTERVAL_MS = 2;
const RESOLVED: Promise<void> = Promise.resolve();

/**
 * A line's size against the byte bound: its UTF-16 length plus the newline.
 * That is its UTF-8 size for ASCII text (most lines), and within a factor of
 * 2 of what the string holds in memory otherwise; an exact UTF-8 count would
 * scan every line on the hot path.
 */
export function lineBytes(line: string): number {
  return line.length + 1;
}

/**
 * Lines on their way to the destination. `push` is the hot path: it appends
 * to a pending list and schedules one microtask, which moves the burst into
 * a `WritableStream` whose `highWaterMark` is the capacity in lines, so that
 * `desiredSize` and `ready` behave as a Web Streams writer's do. The
 * stream's sink gathers queued batches into one chunk per write.
 */
export class LineQueue {
  /**
   * Lines per destination write: half the capacity, so that while one write
   * is in flight callers can fill the other half (I/O overlaps encoding)
   * without ever exceeding the capacity.
   */
  readonly #writeLimit: number;
  /** Characters in one write, at most (see MAX_WRITE_CHARS): less when a sealed segment is smaller. */
  readonly #maxWriteChars: number;
  readonly #writeInterval: number;
  readonly #deliver: Deliver;
  /** Where to encode a chunk delivered as soon as it is encoded, when there is such a place (see `Sealing.space`). */
  readonly #space: ((bytes: number, lines: number) => Uint8Array | undefined) | undefined;
  /** Record where each line ends (for sealing, which would otherwise look for every newline again). */
  readonly #withEnds: boolean;
  readonly #queue: WritableStreamDefaultWriter<Batch>;
  /** Lines pushed since the last pump, not yet in the size queue: encoded ones (older), then text. */
  #pendingEncoded: Encoded[] = [];
  #pending: string[] = [];
  /** Lines of both. */
  #pendingLines = 0;
  /** Batches in the size queue whose lines have not gone out yet, and their lines. */
  #unwritten: Batch[] = [];
  #unwrittenLines = 0;
  /** Their size (see lineBytes). */
  #unwrittenChars = 0;
  /** When the last write started (performance.now()). */
  #lastWriteAt = Number.NEGATIVE_INFINITY;
  /** Ends the wait of a write held back by WRITE_INTERVAL_MS, when one is. */
  #hold: (() => void) | undefined;
  #lastWrite: Promise<void> = RESOLVED;
  #pumpScheduled = false;
  /**
   * Batches in the size queue whose turn has not ended (a write held back or
   * in flight, batches waiting for theirs, batches an earlier write took).
   * While there are any, lines pushed stay pending (counted all the same)
   * and go into the size queue together when a write ends, instead of as
   * one batch per event-loop turn: each batch is a trip through the
   * stream's machinery, and a producer that yields after every line
   * (`await record()`) would otherwise make one batch per line.
   */
  #inStream = 0;
  #batches = 0;
  /** Callers waiting for room, first come first served. */
  #waiters: (() => void)[] = [];
  #admitting = false;
  /** Once set, every waiter is admitted at once, room or not. */
  #open = false;
  readonly #maxBytes: number;
  /** Bytes of the lines pushed and not yet out of the size queue (pending ones included); and of the pending ones alone. */
  #bytes = 0;
  #pendingBytes = 0;
  /** Wakes whoever waits for bytes to be freed. */
  #bytesFreed: (() => void) | undefined;
  #whenBytesFreed: Promise<void> | undefined;

  constructor(
    capacity: number,
    deliver: Deliver,
    withEnds = false,
    maxBytes = Infinity,
    writeInterval = WRITE_INTERVAL_MS,
    space?: (bytes: number, lines: number) => Uint8Array | undefined,
    segment?: WriteBound,
  ) {
    this.#writeLimit = Math.min(MAX_BATCH_LINES, Math.ceil(capacity / 2), segment?.lines ?? Infinity);
    this.#maxWriteChars = Math.min(MAX_WRITE_CHARS, segment?.bytes ?? Infinity);
    this.#writeInterval = writeInterval;
    this.#deliver = deliver;
    this.#space = space;
    this.#withEnds = withEnds;
    this.#maxBytes = maxBytes;
    const queue = new WritableStream<Batch>(
      { write: (batch) => this.#writeOut(batch).then(() => this.#done(batch)) },
      { highWaterMark: capacity, size: (batch) => batch.count },
    );
    this.#queue = queue.getWriter();
  }

  /** Room left, in lines; zero or less means full (as in Web Streams), which it also is once the byte bound is reached. */
  get desiredSize(): number {
    if (this.#bytes >= this.#maxBytes) return 0;
    return this.#lineRoom();
  }

  /** Room left in lines, below zero past the capacity (the byte bound aside). */
  #lineRoom(): number {
    return (this.#queue.desiredSize ?? 0) - this.#pendingLines;
  }

  /** Whether a line fits under the byte bound now; a line larger than the bound fits only an empty queue. */
  fits(line: string): boolean {
    return this.#bytes === 0 || this.#bytes + lineBytes(line) <= this.#maxBytes;
  }

  /** Lines held as text (a burst past the bound holds at most a write's worth so; the rest are bytes). */
  get heldAsText(): number {
    return this.#pending.length;
  }

  /**
   * Whether the queue holds more than its bound, in lines or in bytes (only
   * block mode queues past it). `desiredSize` cannot tell: it stays 0 past
   * the byte bound, as a full Web Streams queue's does.
   */
  #over(): boolean {
    return this.#bytes > this.#maxBytes || this.#lineRoom() < 0;
  }

  /** Resolves when there is room, as a Web Streams writer's `ready` does. */
  get ready(): Promise<void> {
    if (this.desiredSize > 0) return RESOLVED;
    this.#pump(true); // the size queue's own backpressure must see the pending lines
    this.#hold?.(); // someone waits for room: no holding back
    if (this.#bytes < this.#maxBytes) return this.#queue.ready;
    // Full in bytes: look again once a write frees some (it may be full in lines then).
    this.#whenBytesFreed ??= new Promise((resolve) => (this.#bytesFreed = resolve));
    return this.#whenBytesFreed.then(() => this.ready);
  }

  /** Batches put into the size queue so far (each a trip through the stream's machinery). */
  get batches(): number {
    return this.#batches;
  }

  /** Whether callers are waiting for room. */
  get waiting(): boolean {
    return this.#waiters.length > 0;
  }

  /** Queues one line (without its newline). */
  push(line: string): void {
    this.#pending.push(line);
    this.#pendingLines++;
    const bytes = lineBytes(line);
    this.#bytes += bytes;
    this.#pendingBytes += bytes;
    // A burst past the bound, in lines or in bytes (block mode queues it all): its lines become bytes a
    // write's worth at a time. A line is a tree of strings until encoded (a template literal's result),
    // which the collector would otherwise copy and promote with every line held until the burst ends
    // (about 1 KiB of heap a 550-byte line, measured). Within the bound, lines are encoded when written,
    // off `onCall`.
    if (this.#writesWorth(this.#pending.length, this.#pendingBytes) && this.#over()) this.#encodeAhead();
    // While batches are in the size queue, a write's end moves the lines: no pump until a write's worth waits.
    if (!this.#pumpScheduled && !this.#waitsForWrite()) {
      this.#pumpScheduled = true;
      queueMicrotask(this.#pump);
    }
  }

  /** Resolves once every line pushed so far was handed to the destination and its write settled. Never rejects. */
  drained(): Promise<void> {
    this.#pump(true);
    this.#hold?.();
    return this.#lastWrite;
  }

  /**
   * Calls `admit` once there is room for one more line and every earlier
   * waiter was admitted (or at once, after {@linkcode LineQueue.admitAll}).
   */
  wait(admit: () => void): void {
    this.#waiters.push(admit);
    if (this.#open) this.#admit();
    else this.#admitWhenReady();
  }

  /** Admits every waiter now and later, room or not (the sink is closing). */
  admitAll(): void {
    this.#open = true;
    this.#admit();
  }

  /**
   * Gives up every line not yet handed to the destination; a write in flight
   * is not touched. The size queue still counts the discarded lines until
   * their turn comes (they are skipped then).
   *
   * @returns The number of lines given up.
   */
  discard(): number {
    let lines = this.#pendingLines;
    let bytes = this.#pendingBytes;
    for (const encoded of this.#pendingEncoded) bytes += encoded.bytes;
    this.#pending = [];
    this.#pendingEncoded = [];
    this.#pendingLines = 0;
    this.#free(bytes);
    this.#pendingBytes = 0;
    for (const batch of this.#unwritten) {
      batch.taken = true;
      lines += batch.count;
    }
    this.#unwritten = [];
    this.#unwrittenLines = 0;
    this.#unwrittenChars = 0;
    return lines;
  }

  /** Resolves once every queued write is done; nothing can be pushed afterwards. */
  close(): Promise<void> {
    this.#pump(true);
    this.#hold?.();
    return this.#queue.close();
  }

  /** Wakes waiters as the queue drains. */
  #admitWhenReady(): void {
    if (this.#admitting) return;
    this.#admitting = true;
    this.ready.then(() => {
      this.#admitting = false;
      this.#admit();
      if (this.#waiters.length > 0 && !this.#open) this.#admitWhenReady();
    }, () => {
      this.#admitting = false;
      this.admitAll();
    });
  }

  /** Admits waiters, one per free slot (all of them once open). A waiter may push, wait or admit again. */
  #admit(): void {
    while (this.#waiters.length > 0 && (this.#open || this.desiredSize > 0)) this.#waiters.shift()!();
  }

  /**
   * Moves pending lines into the size queue as batches (runs as a microtask
   * after a burst). While batches are in the size queue, lines wait for a write to end unless
   * a write's worth of them waits, or `now`.
   */
  #pump = (now?: boolean): void => {
    this.#pumpScheduled = false;
    if (this.#pendingLines === 0) return;
    if (now !== true && this.#waitsForWrite()) return;
    const encoded = this.#pendingEncoded;
    const pending = this.#pending;
    this.#pendingEncoded = [];
    this.#pending = [];
    this.#pendingLines = 0;
    const pendingBytes = this.#pendingBytes;
    this.#pendingBytes = 0;
    for (const e of encoded) {
      this.#enqueue({ lines: undefined, encoded: e, count: e.count, bytes: e.bytes, taken: false });
    }
    // Most often they all fit one write, and their size is known: no need to measure each line.
    const whole = pending.length <= this.#writeLimit && pendingBytes <= this.#maxWriteChars;
    for (let at = 0; at < pending.length;) {
      const [end, bytes] = whole ? [pending.length, pendingBytes] : this.#cut(pending, at);
      const lines = whole ? pending : pending.slice(at, end);
      this.#enqueue({ lines, encoded: undefined, count: end - at, bytes, taken: false });
      at = end;
    }
    if (this.#writesWorth(this.#unwrittenLines, this.#unwrittenChars)) this.#hold?.();
  };

  #enqueue(batch: Batch): void {
    this.#unwritten.push(batch);
    this.#inStream++;
    this.#batches++;
    this.#unwrittenLines += batch.count;
    this.#unwrittenChars += batch.bytes;
    this.#lastWrite = this.#queue.write(batch); // #writeOut never throws
  }

  /** Turns the pending text lines into encoded chunks of a write's worth each (after any encoded before). */
  #encodeAhead(): void {
    const pending = this.#pending;
    let at = 0;
    for (;;) {
      const [end, chars] = this.#cut(pending, at);
      // A write's worth not yet complete stays text, for the lines to come (a cut before the last line is complete).
      if (end === pending.length && !this.#writesWorth(end - at, chars)) break;
      const count = end - at;
      const ends = this.#withEnds ? new Uint32Array(count) : undefined;
      const chunk = encodeLines([pending.slice(at, end)], chars, ends);
      this.#pendingEncoded.push({ chunk, ends, count, bytes: chars });
      this.#pendingBytes -= chars;
      at = end;
    }
    this.#pending = pending.slice(at);
  }

  /** Whether `count` lines of `bytes` (see lineBytes) make a whole write: the write limit, or its characters reached. */
  #writesWorth(count: number, bytes: number): boolean {
    return count >= this.#writeLimit || bytes >= this.#maxWriteChars;
  }

  /**
   * Where a write's worth of `lines` that starts at `from` ends: at most the
   * write limit in lines, and at most the write's characters (one line at
   * least), so that no write, and no string a write joins, grows with the
   * size of the events. Returns the end and the lines' size (see lineBytes).
   */
  #cut(lines: readonly string[], from: number): [end: number, bytes: number] {
    const stop = Math.min(lines.length, from + this.#writeLimit);
    let bytes = 0;
    let end = from;
    for (; end < stop; end++) {
      const size = lineBytes(lines[end]!);
      if (end > from && bytes + size > this.#maxWriteChars) break;
      bytes += size;
    }
    return [end, bytes];
  }

  /**
   * Lines left the queue (a batch its size queue, or discarded pending
   * lines): their bytes no longer count, and whoever waited for bytes looks again.
   */
  #free(bytes: number): void {
    this.#bytes -= bytes;
    const wake = this.#bytesFreed;
    if (wake !== undefined && this.#bytes < this.#maxBytes) {
      this.#bytesFreed = undefined;
      this.#whenBytesFreed = undefined;
      wake();
    }
  }

  /**
   * The size queue's sink. Waits when the previous write started less than
   * WRITE_INTERVAL_MS ago (see there), then takes this batch and the batches
   * queued behind it, up to the write limit (in lines) and characters,
   * into one destination write; the batches it took are no-ops when their
   * turn comes, so the size queue's count stays exact.
   */
  #writeOut(batch: Batch): Promise<void> {
    if (batch.taken) return RESOLVED;
    const wait = this.#lastWriteAt + this.#writeInterval - performance.now();
    if (wait <= 0 || this.#writesWorth(this.#unwrittenLines, this.#unwrittenChars)) return this.#gather();
    return new Promise((resolve) => {
      const end = (): void => {
        clearTimeout(timer);
        this.#hold = undefined;
        this.#pump(true); // the lines that came during the wait go out with this write
        resolve(this.#gather());
      };
      const timer = setTimeout(end, wait);
      this.#hold = end;
    });
  }

  /** One destination write of the batches waiting, up to the limits (none left: a discard took them). */
  #gather(): Promise<void> {
    const first = this.#unwritten[0];
    if (first === undefined) {
      this.#idle();
      return RESOLVED;
    }
    this.#lastWriteAt = performance.now();
    const encoded = first.encoded;
    if (encoded !== undefined) {
      // Encoded in a burst: a write's worth already, written as it is.
      first.taken = true;
      this.#unwritten.shift();
      this.#unwrittenLines -= encoded.count;
      this.#unwrittenChars -= first.bytes;
      return this.#deliver(encoded.chunk, encoded.count, encoded.ends).then(this.#idle);
    }
    const lines: string[][] = [];
    let chars = 0;
    let count = 0;
    for (const next of this.#unwritten) {
      if (next.lines === undefined) break;
      // A batch joins only if the write stays within its characters with all of it: a batch is taken whole, and
      // one cut at that size (see #cut) would otherwise add up to that much again.
      if (lines.length > 0 && (count + next.count > this.#writeLimit || chars + next.bytes > this.#maxWriteChars)) {
        break;
      }
      next.taken = true;
      lines.push(next.lines);
      chars += next.bytes; // the lines' size, see lineBytes
      count += next.count;
    }
    this.#unwritten.splice(0, lines.length);
    this.#unwrittenLines -= count;
    this.#unwrittenChars -= chars;
    const ends = this.#withEnds ? new Uint32Array(count) : undefined;
    // Handed on at once: it may be encoded in place (not so a chunk encoded ahead, which waits for its write).
    return this.#deliver(encodeLines(lines, chars, ends, this.#space?.(chars, count)), count, ends).then(this.#idle);
  }

  /**
   * Whether pending lines wait for a write to end (batches are in the size queue): until a write's
   * worth of them is pending, or, while the write is held back, until a
   * write's worth waits in all (which ends the hold).
   */
  #waitsForWrite(): boolean {
    return this.#inStream > 0 && this.#pendingLines < this.#writeLimit &&
      (this.#hold === undefined || this.#unwrittenLines + this.#pendingLines < this.#writeLimit);
  }

  /** A write ended: the lines that came meanwhile go into the size queue, for the next write. */
  #idle = (): void => {
    this.#pump(true);
  };

  /** A batch's turn in the size queue ended; once none is left, pending lines go in. */
  #done(batch: Batch): void {
    this.#free(batch.bytes);
    if (--this.#inStream === 0) this.#pump();
  }
}
