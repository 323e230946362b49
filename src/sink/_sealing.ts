// The sink's sealing: cuts the chunks the sink hands its destination into
// segments, learns from the delivery ledger what became of each line, and has
// a segment sealed once every line of it is settled, so that a loss is never
// reported after its segment was sealed. Checkpoints go to a seal stream of
// their own (data writes never wait for them) or in band (the next data
// write waits until the checkpoint line is in the stream).
//
// Lines are counted by position: every line handed to the destination (data,
// and in band the checkpoints) takes the next position, and each report
// settles the oldest unsettled positions, as the destination contract says
// reports come (in stream order).
import { toAuditDestination } from "../destination/audit_destination.ts";
import type { DeliveryReport } from "../destination/audit_destination.ts";
import { AuditSealer } from "../seal/audit_sealer.ts";
import { hurryHashing } from "../seal/_hasher.ts";
import { refTimer, unrefTimer } from "../runtime/timer.ts";
import { gracePeriod, reasonOf, untilAborted } from "../_abort.ts";
import { writerOf } from "../_writer.ts";
import type { Fate, SettleObserver } from "./_delivery_ledger.ts";
import type { Reporter } from "./_reporter.ts";
import type { WriteBound } from "./_queue.ts";
import type { AuditSinkSealOptions } from "./audit_sink_seal_options.ts";
import { type SegmentBytes, SegmentPool } from "./_segment_bytes.ts";
import {
  type Boundary,
  insertBoundary,
  newSegment,
  type Segment,
  type Tally,
  tally,
  type Unit,
} from "./_seal_units.ts";

/** Checkpoints waiting for a stalled seal stream, at most; later ones are dropped (and reported). */
const MAX_WAITING_CHECKPOINTS = 1024;
/** How long, once a close deadline passed, the seal stream gets to take what it was given. */
const DEADLINE_GRACE_MS = 100;

/** Where in-band checkpoint lines are written: the destination's own writer, as one more line. */
export interface InBandWriter {
  /** Hands one checkpoint line to the destination, after every chunk handed to it so far. */
  write(line: Uint8Array): void;
  /** Asks the destination to settle what it holds (its `flush()`), so that a segment can be sealed. */
  prompt(): void;
}

/** Checks the `seal` option, making the sealer (so that a bad option fails at construction). */
export function readSealOptions(value: unknown): { sealer: AuditSealer; options: AuditSinkSealOptions } {
  if (typeof value !== "object" || value === null) {
    throw new TypeError("Cannot create sink: seal must be an object with a key (or a sealer) and to (or inBand)");
  }
  const options = value as AuditSinkSealOptions;
  const to = options.to;
  if (options.inBand !== undefined && typeof options.inBand !== "boolean") {
    throw new TypeError("Cannot create sink: seal.inBand must be a boolean");
  }
  if ((to === undefined) === (options.inBand !== true)) {
    throw new TypeError("Cannot create sink: seal needs either to (a WritableStream for checkpoints) or inBand: true");
  }
  if (to !== undefined && typeof (to as Partial<WritableStream>).getWriter !== "function") {
    throw new TypeError("Cannot create sink: seal.to must be a WritableStream<Uint8Array>");
  }
  if (options.preventClose !== undefined && typeof options.preventClose !== "boolean") {
    throw new TypeError("Cannot create sink: seal.preventClose must be a boolean");
  }
  if ((options.key === undefined) === (options.sealer === undefined)) {
    throw new TypeError("Cannot create sink: seal needs either a key or a sealer");
  }
  if (options.sealer !== undefined && !(options.sealer instanceof AuditSealer)) {
    throw new TypeError("Cannot create sink: seal.sealer must be an AuditSealer");
  }
  return { sealer: options.sealer ?? new AuditSealer(options.key!, options), options };
}

/** Drives an {@linkcode AuditSealer} from what the sink writes and loses. */
export class Sealing implements SettleObserver {
  readonly #sealer: AuditSealer;
  readonly #reporter: Reporter;
  readonly #units: Unit[] = [];
  /** The next position, and the positions settled so far. */
  #position = 0;
  #settled = 0;
  #open: Segment | undefined;
  /** Losses of events that never reached the stream, since the last checkpoint. */
  #out = new Map<string, Tally>();
  #lastCut = Date.now();
  #timer: ReturnType<typeof setTimeout> | undefined;
  /** Whether the timer keeps the process alive (something waits to be sealed). */
  #timerHolds = false;
  /** Checkpoints in the order made; settles once the last was handed on. */
  #chain: Promise<void> = Promise.resolve();
  /** In band: the next data write waits for this. */
  #gate: Promise<void> | undefined;
  #inBand: InBandWriter | undefined;
  readonly #seal: WritableStreamDefaultWriter<Uint8Array> | undefined;
  readonly #flushSeal: ((signal?: AbortSignal) => Promise<void>) | undefined;
  readonly #preventClose: boolean;
  #waiting = 0;
  readonly #pool: SegmentPool;
  /** A buffer taken for the next segment, whose free space was lent to encode a chunk into before it was opened. */
  #spare: SegmentBytes | undefined;
  readonly #folds: (() => void)[] = [];
  #failed = false;
  #closed = false;
  #inBandRotationTold = false;
  /** Stream switches done so far (a flush waits for the checkpoints each one lets be made). */
  #switches = 0;

  constructor(sealer: AuditSealer, options: AuditSinkSealOptions, reporter: Reporter) {
    this.#sealer = sealer;
    this.#reporter = reporter;
    this.#preventClose = options.preventClose ?? false;
    this.#pool = new SegmentPool(sealer.maxSegmentBytes, sealer.maxSegmentLines);
    if (options.to !== undefined) {
      const destination = toAuditDestination(options.to, { preventClose: this.#preventClose });
      this.#seal = writerOf(destination, "the seal stream");
      destination.attach(this.#sealReport());
      this.#flushSeal = (signal) => destination.flush(signal);
    }
    if (sealer.heartbeat) this.#schedule();
  }

  /** Connects in-band sealing to the destination (set by the destination link). */
  set inBand(writer: InBandWriter) {
    this.#inBand = writer;
  }

  /** Whether checkpoints go into the data stream. */
  get isInBand(): boolean {
    return this.#seal === undefined;
  }

  /**
   * In band: resolves when the next chunk may be written (the checkpoint of
   * the last cut is in the stream); `undefined` when it may be at once. The
   * destination is asked to settle what it holds, so that the segment can be
   * sealed.
   */
  gate(): Promise<void> | undefined {
    if (this.#gate !== undefined) this.#inBand?.prompt();
    return this.#gate;
  }

  /**
   * Where to encode the next chunk, of at least `bytes` bytes, so that
   * {@linkcode Sealing.append} need not copy it: the free space of the
   * segment it will join (see src/sink/_segment_bytes.ts), or `undefined`.
   * Only for a chunk handed to `append` right after it is encoded, and only
   * for this library's file destinations: the view must reach no one else.
   * In band, a chunk may wait (for a checkpoint line) after it was encoded:
   * never.
   */
  space(bytes: number, lines: number): Uint8Array | undefined {
    if (this.#failed || this.#seal === undefined) return undefined;
    this.fit(bytes, lines);
    const data = this.#open?.data ?? (this.#spare ??= this.#pool.take());
    return data.spare(bytes);
  }

  /**
   * A chunk of `lines` lines and `bytes` bytes comes next: ends the open
   * segment first if the chunk would take it past a limit (a segment then
   * holds at most `maxSegmentLines` lines and `maxSegmentBytes` bytes, unless
   * one chunk alone is larger: the sink's writes stay within both, see
   * `WriteBound`, but for a line larger than the byte limit, or lines whose
   * UTF-8 is wider than their characters).
   */
  fit(bytes: number, lines: number): void {
    const data = this.#open?.data;
    if (data === undefined || data.lines === 0) return;
    const sealer = this.#sealer;
    if (data.lines + lines > sealer.maxSegmentLines || data.length + bytes > sealer.maxSegmentBytes) this.cut();
  }

  /** What the sink's writes must stay within: the segment's limits. */
  get bound(): WriteBound {
    return { lines: this.#sealer.maxSegmentLines, bytes: this.#sealer.maxSegmentBytes };
  }

  /**
   * A chunk of `lines` lines is about to be handed to the destination (after every earlier one).
   *
   * @returns The bytes to hand it: `bytes`, or their copy in the segment (see {@linkcode SegmentBytes.append}).
   */
  append(bytes: Uint8Array, lines: number, ends: Uint32Array | undefined): Uint8Array {
    const start = this.#position;
    this.#position += lines;
    if (this.#failed) return bytes;
    let segment = this.#open;
    if (segment === undefined) {
      segment = this.#open = newSegment();
      this.#units.push({ start, end: start, segment });
    }
    let data = segment.data;
    if (data === undefined) {
      data = segment.data = this.#spare ?? this.#pool.take();
      this.#spare = undefined;
    }
    const out = data.append(bytes, lines, ends);
    this.#units[this.#units.length - 1]!.end = this.#position;
    if (data.lines >= this.#sealer.maxSegmentLines || data.length >= this.#sealer.maxSegmentBytes) this.cut();
    else this.#schedule();
    return out;
  }

  /**
   * A counter of single events that never reached the stream (`invalid`,
   * `fallback`): a clock read and a fold per event-loop turn, not per event.
   */
  counter(reason: string): () => void {
    let pending = 0;
    let since = 0;
    const fold = (): void => {
      if (pending > 0) this.lost(reason, pending, since, Date.now());
      pending = 0;
    };
    this.#folds.push(fold);
    return () => {
      if (pending++ === 0) {
        since = Date.now();
        queueMicrotask(fold);
      }
    };
  }

  /** Events that never reached the stream were lost (dropped, invalid, sent to the fallback, cut by a deadline). */
  lost(reason: string, count: number, first: number, last: number): void {
    if (this.#failed || count <= 0) return;
    tally(this.#out, reason, count, first, last);
    this.#schedule();
  }

  settled(count: number, fate: Fate, reason: string, unreported = false): number {
    // The destination may still be writing lines from a segment's buffer (encoded in place): none is reused now.
    if (unreported) this.#pool.stopReuse();
    let at = this.#settled;
    const stop = at + count;
    let events = 0;
    const now = fate === "delivered" ? 0 : Date.now();
    for (let i = 0; at < stop && i < this.#units.length; i++) {
      const unit = this.#units[i]!;
      if (unit.end <= at) continue;
      const take = Math.min(stop, unit.end) - at;
      if (unit.segment === undefined) {
        if (fate !== "delivered") this.#lostCheckpoint(take, fate);
      } else {
        events += take;
        if (fate !== "delivered") {
          tally(unit.segment.undelivered, fate === "rerouted" ? "rerouted" : reason, take, now, now);
        }
      }
      at += take;
    }
    events += stop - at; // positions beyond what sealing saw (it had failed): events all the same
    this.#settled = stop;
    this.#advance();
    return events;
  }

  /**
   * The destination ends a stream after the lines settled so far: the
   * segment holding that point is split there, the old stream's checkpoints
   * are made and written to the seal stream, then `switchStreams` runs and
   * the sealer starts a new stream, before any checkpoint of the new one.
   */
  newStream(switchStreams: () => Promise<void>): Promise<void> {
    if (this.#failed || this.#seal === undefined) {
      if (this.#seal === undefined && !this.#failed && !this.#inBandRotationTold) {
        this.#inBandRotationTold = true;
        this.#reporter.tell(
          new Error(
            "In-band checkpoints do not follow a file rotation: the files verify read back to back, " +
              "not one by one (seal to a seal file for that)",
          ),
        );
      }
      return switchStreams();
    }
    return new Promise<void>((resolve, reject) => {
      const boundary: Boundary = {
        switchStreams,
        done: (error) => (error === undefined ? resolve() : reject(error)),
        started: false,
      };
      this.#open = insertBoundary(this.#units, this.#settled, boundary, this.#open, () => this.#pool.take());
      this.#advance();
    });
  }

  /** Ends the open segment here (and seals it once its lines are settled); an empty one only with losses to tell. */
  cut(force = false): void {
    if (this.#failed) return;
    this.#lastCut = Date.now();
    let segment = this.#open;
    if (segment === undefined) {
      if (this.#out.size === 0 && !force) return;
      segment = newSegment();
      this.#units.push({ start: this.#position, end: this.#position, segment });
    }
    segment.open = false;
    this.#open = undefined;
    if (this.#inBand !== undefined && this.#seal === undefined) {
      const written = new Promise<void>((resolve) => (segment.written = resolve));
      this.#gate = written;
      written.then(() => {
        if (this.#gate === written) this.#gate = undefined;
      });
    }
    this.#advance();
  }

  /** An in-band checkpoint line was just handed to the destination. */
  handedOutCheckpoint(): void {
    this.#units.push({ start: this.#position, end: this.#position + 1, segment: undefined });
    this.#position++;
  }

  /** Settles once every checkpoint made so far was handed on (in band: its line handed to the destination). */
  handedOn(): Promise<void> {
    return this.#chain;
  }

  /** A deadline passed, and sealing has `ms` left: segments are hashed on this thread meanwhile, not queued for the worker. */
  hurry(ms: number): void {
    hurryHashing(ms);
  }

  /**
   * Seals what is pending (after the sink settled every line written), and
   * waits until every checkpoint made was handed on and the seal stream took
   * it. Never rejects.
   *
   * @returns Whether every checkpoint was made and handed on before `signal`
   *   aborted (or sealing failed, which was told already).
   */
  async flush(signal: AbortSignal | undefined): Promise<boolean> {
    for (const fold of this.#folds) fold();
    if (this.#open !== undefined || this.#out.size > 0) this.cut();
    const finished = await this.#chainSettled(signal) || this.#failed;
    if (this.#flushSeal !== undefined && !this.#failed) {
      await this.#flushSealStream(signal);
    }
    return finished;
  }

  /**
   * Whether the checkpoint chain settled before `signal` aborted. A stream
   * switch makes the checkpoints of the lines after its boundary only once
   * it is done, as links added behind it: those are waited for too, for the
   * switches pending now. Not for later ones, nor for other links added
   * meanwhile, or steady traffic would hold a flush forever.
   */
  async #chainSettled(signal: AbortSignal | undefined): Promise<boolean> {
    const last = this.#switches + this.#units.filter((unit) => unit.boundary !== undefined).length;
    for (;;) {
      const chain = this.#chain;
      const switches = this.#switches;
      let settled = false;
      const mark = (): void => void (settled = true);
      await untilAborted(chain.then(mark, mark), signal);
      if (!settled) return false;
      // A chain taken once the last pending switch was done holds the links that switch added.
      if (chain === this.#chain || switches === this.#switches || switches >= last) return true;
    }
  }

  /**
   * Seals what is pending and closes the seal stream (aborts it when
   * `signal` aborted). Never rejects.
   *
   * @returns As {@linkcode Sealing.flush} does (`true` once closed already).
   */
  async close(signal: AbortSignal | undefined): Promise<boolean> {
    if (this.#closed) return true;
    this.#closed = true;
    clearTimeout(this.#timer);
    const finished = await this.flush(signal);
    const seal = this.#seal;
    if (seal === undefined) return finished;
    if (this.#preventClose) {
      seal.releaseLock();
    } else if (signal?.aborted) {
      const grace = gracePeriod(DEADLINE_GRACE_MS);
      await grace.wait(this.#reporter.attempt(() => seal.abort(reasonOf(signal)), "the seal stream's abort() failed"));
      grace.end();
    } else await this.#reporter.attempt(() => seal.close(), "the seal stream's close() failed");
    return finished;
  }

  /** Seals every closed segment whose lines are all settled, in order. */
  #advance(): void {
    const units = this.#units;
    let done = 0;
    while (done < units.length) {
      const unit = units[done]!;
      if (unit.end > this.#settled || unit.segment?.open) break;
      if (unit.boundary !== undefined) {
        // Nothing after a boundary is sealed until the streams switched.
        if (!unit.boundary.started) this.#switch(unit.boundary);
        break;
      }
      if (unit.segment !== undefined) this.#make(unit.segment);
      done++;
    }
    if (done > 0) units.splice(0, done);
  }

  #switch(boundary: Boundary): void {
    boundary.started = true;
    this.#chain = this.#chain.then(async () => {
      if (!this.#failed) {
        await this.#flushSealStream();
      }
      let error: unknown;
      try {
        await boundary.switchStreams();
      } catch (e) {
        error = e ?? new Error("The streams did not switch");
      }
      // Even when the switch failed part-way (the old file stays): the chain goes on, and the verifier shows where.
      this.#sealer.newStream();
      if (error === undefined) await this.#startStream();
      const units = this.#units;
      const at = units.findIndex((unit) => unit.boundary === boundary);
      if (at !== -1) units.splice(at, 1);
      boundary.done(error);
      this.#switches++;
      this.#advance();
    });
  }

  /**
   * After a switch, before the destination writes a line to the new file:
   * the new stream's first checkpoint, over no line yet, in the new seal
   * file. Without it the new file would hold lines and no seal until its
   * first segment is cut (up to `intervalMs`), and a verifier reading the set
   * then (a live writer, or one killed then) would find a file without its
   * seal rather than an unsealed tail after the chain.
   */
  async #startStream(): Promise<void> {
    if (this.#failed) return;
    let line: Uint8Array;
    try {
      line = await this.#sealer.seal();
    } catch (error) {
      this.#fail(error);
      return;
    }
    this.#toSealStream(line);
    await this.#flushSealStream();
  }

  /** Flushes the seal stream of its own, telling a failure: after a flush, before and after a stream switch. */
  #flushSealStream(signal?: AbortSignal): Promise<void> {
    return this.#reporter.attempt(() => this.#flushSeal!(signal), "the seal stream's flush() failed");
  }

  #make(segment: Segment): void {
    if (this.#failed) return;
    const sealer = this.#sealer;
    let line: Promise<Uint8Array>;
    const data = segment.data;
    segment.data = undefined;
    try {
      if (data !== undefined) {
        const { bytes, ends } = data.view();
        sealer.append(bytes, data.lines, ends);
      }
      for (const [reason, t] of segment.undelivered) sealer.undelivered(reason, t.count, iso(t.first), iso(t.last));
      for (const [reason, t] of this.#out) sealer.lost(reason, t.count, iso(t.first), iso(t.last));
      this.#out = new Map();
      line = sealer.seal();
    } catch (error) {
      line = Promise.reject(error);
    }
    line.catch(() => {});
    this.#chain = this.#chain.then(async () => {
      let bytes: Uint8Array;
      try {
        bytes = await line;
      } catch (error) {
        this.#fail(error);
        return;
      }
      // Hashed and signed: the buffer can take the next segment.
      if (data !== undefined) this.#pool.give(data);
      if (this.#seal === undefined) this.#inBand?.write(bytes);
      else this.#toSealStream(bytes);
      segment.written?.();
    });
  }

  #toSealStream(line: Uint8Array): void {
    if (this.#waiting >= MAX_WAITING_CHECKPOINTS) {
      this.#reporter.tell(
        new Error(
          `Dropped a checkpoint: ${MAX_WAITING_CHECKPOINTS} checkpoints already wait for the seal stream; ` +
            "the trail will show it missing",
        ),
      );
      return;
    }
    this.#waiting++;
    this.#seal!.write(line).then(() => this.#waiting--, (error) => {
      this.#waiting--;
      this.#reporter.tell(new Error("Lost a checkpoint: the seal stream refused it", { cause: error }));
    });
  }

  /** The seal stream's report: its failures are told; a delivered checkpoint needs nothing. */
  #sealReport(): DeliveryReport {
    return {
      delivered: () => {},
      rerouted: (lines) => this.#lostCheckpoint(lines, "rerouted"),
      failed: (lines, error) =>
        this.#reporter.tell(new Error(`Lost ${count(lines)}: the seal stream failed to take them`, { cause: error })),
      warn: (error) => this.#reporter.tell(error, undefined, "the seal stream warned"),
    };
  }

  #lostCheckpoint(lines: number, fate: Fate): void {
    const how = fate === "rerouted" ? "went to the destination's fallback instead" : "failed to reach the stream";
    this.#reporter.tell(new Error(`Lost ${count(lines)}: ${how}; the trail will show it missing`));
  }

  /** Sealing failed for good (a key that cannot sign): told once; the data goes on unsealed. */
  #fail(error: unknown): void {
    if (this.#failed) return;
    this.#failed = true;
    this.#reporter.tell(new Error("Sealing stopped: a checkpoint could not be made", { cause: error }));
    clearTimeout(this.#timer);
    for (const unit of this.#units) {
      unit.segment?.written?.();
      const boundary = unit.boundary;
      if (boundary !== undefined && !boundary.started) {
        boundary.started = true;
        boundary.switchStreams().then(() => boundary.done(), (e) => boundary.done(e ?? new Error("No switch")));
      }
    }
    this.#units.length = 0;
    this.#open = undefined;
    this.#gate = undefined;
  }

  /**
   * Arms the timer that cuts a segment `intervalMs` after the last cut
   * (always, with heartbeats). Lines or losses waiting for a checkpoint keep
   * the process alive until they are sealed, at most `intervalMs`, so that a
   * process that ends without `close()` leaves no unsealed tail; heartbeats
   * alone do not keep it alive.
   */
  #schedule(): void {
    if (this.#closed || this.#failed) return;
    const pending = this.#open !== undefined || this.#out.size > 0;
    if (this.#timer !== undefined) {
      if (pending && !this.#timerHolds) (refTimer(this.#timer), this.#timerHolds = true);
      return;
    }
    const delay = Math.max(0, this.#lastCut + this.#sealer.intervalMs - Date.now());
    this.#timer = setTimeout(() => {
      this.#timer = undefined;
      const heartbeat = this.#sealer.heartbeat;
      // A segment cut since (by its size) restarted the interval.
      if (Date.now() >= this.#lastCut + this.#sealer.intervalMs) {
        if (this.#open !== undefined || this.#out.size > 0 || heartbeat) this.cut(heartbeat);
      }
      if (heartbeat || this.#open !== undefined || this.#out.size > 0) this.#schedule();
    }, delay);
    this.#timerHolds = pending;
    if (!pending) unrefTimer(this.#timer);
  }
}

function iso(ms: number): string {
  return new Date(ms).toISOString();
}

function count(lines: number): string {
  return `${lines} checkpoint${lines === 1 ? "" : "s"}`;
}
