// Line framing and batch limits: whole lines in, batches of at most
// maxEvents lines and maxBytes bytes out, each at the latest maxDelayMs after
// its first line.
import { concatBytes } from "../../_bytes.ts";
import type { Bytes } from "./_attempt.ts";

const NEWLINE = 0x0a;

/** Batch limits, validated by the caller. */
export interface BatchLimits {
  readonly maxEvents: number;
  readonly maxBytes: number;
  readonly maxDelayMs: number;
}

/** A batch of whole lines, ready to go. */
export interface SealedBatch {
  readonly parts: Bytes[];
  readonly events: number;
  readonly bytes: number;
  /** Sealed because a size limit was reached (not by the timer or a flush). */
  readonly full: boolean;
}

/**
 * Gathers lines into batches. Bytes after the last `"\n"` of a chunk wait for
 * the chunk that ends them; a line longer than `maxBytes` goes alone.
 */
export class LineBatcher {
  readonly #limits: BatchLimits;
  readonly #onSeal: (batch: SealedBatch) => void;
  readonly #onTimer: () => void;
  #parts: Bytes[] = [];
  #events = 0;
  #bytes = 0;
  /** Bytes of a line not yet ended by "\n". */
  #tail: Bytes | undefined;
  #timer: ReturnType<typeof setTimeout> | undefined;
  /** Identifies the current delay timer, so that a timer another request could not clear does nothing. */
  #timerToken: object | undefined;

  /**
   * @param limits When a batch is full, and how long its first line may wait.
   * @param onSeal Takes each batch as it is sealed (by a limit, the timer or {@linkcode seal}).
   * @param onTimer Called after the timer sealed a batch (to send it).
   */
  constructor(limits: BatchLimits, onSeal: (batch: SealedBatch) => void, onTimer: () => void) {
    this.#limits = limits;
    this.#onSeal = onSeal;
    this.#onTimer = onTimer;
  }

  /** Lines in the open batch. */
  get events(): number {
    return this.#events;
  }

  /** Adds a chunk's lines to the open batch, sealing it each time it is full. `chunk` must not change later. */
  push(chunk: Bytes): void {
    let pos = 0;
    if (this.#tail !== undefined) {
      const nl = chunk.indexOf(NEWLINE);
      if (nl === -1) {
        this.#tail = concatBytes([this.#tail, chunk]);
        return;
      }
      const line = concatBytes([this.#tail, chunk.subarray(0, nl + 1)]);
      this.#tail = undefined;
      this.push(line);
      pos = nl + 1;
    }
    const { maxEvents, maxBytes } = this.#limits;
    let runStart = pos;
    let runEvents = 0;
    let runBytes = 0;
    while (pos < chunk.length) {
      const nl = chunk.indexOf(NEWLINE, pos);
      if (nl === -1) {
        this.#tail = chunk.subarray(pos);
        break;
      }
      const size = nl + 1 - pos;
      if (this.#events + runEvents > 0 && this.#bytes + runBytes + size > maxBytes) {
        this.#add(chunk, runStart, pos, runEvents);
        this.seal(true);
        runStart = pos;
        runEvents = 0;
        runBytes = 0;
      }
      runEvents++;
      runBytes += size;
      pos = nl + 1;
      if (this.#events + runEvents >= maxEvents) {
        this.#add(chunk, runStart, pos, runEvents);
        this.seal(true);
        runStart = pos;
        runEvents = 0;
        runBytes = 0;
      }
    }
    if (runEvents > 0) this.#add(chunk, runStart, runStart + runBytes, runEvents);
  }

  /** Ends a torn last line with "\n" so that it goes out (on close or abort only). */
  endTail(): void {
    const tail = this.#tail;
    if (tail === undefined) return;
    this.#tail = undefined;
    const line = new Uint8Array(tail.length + 1);
    line.set(tail);
    line[tail.length] = NEWLINE;
    this.#add(line, 0, line.length, 1);
  }

  /** Seals the open batch, if it holds a line; `full` when a size limit sealed it. */
  seal(full = false): void {
    this.#clearTimer();
    if (this.#events === 0) return;
    const batch: SealedBatch = { parts: this.#parts, events: this.#events, bytes: this.#bytes, full };
    this.#parts = [];
    this.#events = 0;
    this.#bytes = 0;
    this.#onSeal(batch);
  }

  /** Stops the delay timer (the batcher is done). */
  stop(): void {
    this.#clearTimer();
  }

  #add(bytes: Bytes, start: number, end: number, events: number): void {
    if (this.#events === 0) {
      const token = {};
      this.#timerToken = token;
      this.#timer = setTimeout(() => this.#due(token), this.#limits.maxDelayMs);
    }
    this.#parts.push(bytes.subarray(start, end));
    this.#events += events;
    this.#bytes += end - start;
  }

  #due(token: object): void {
    if (token !== this.#timerToken) return; // cleared, but from a context that could not cancel it
    this.#timer = undefined;
    this.#timerToken = undefined;
    this.seal();
    this.#onTimer();
  }

  #clearTimer(): void {
    if (this.#timer === undefined) return;
    clearTimeout(this.#timer);
    this.#timer = undefined;
    this.#timerToken = undefined;
  }
}

/** A run of whole lines. */
export interface Lines {
  readonly body: Bytes;
  readonly events: number;
}

/** Splits whole lines into pieces of at most `maxBytes` (a longer line goes alone). */
export function chunkLines(body: Bytes, maxBytes: number): Lines[] {
  const out: Lines[] = [];
  let start = 0;
  let events = 0;
  let pos = 0;
  while (pos < body.length) {
    let nl = body.indexOf(NEWLINE, pos);
    if (nl === -1) nl = body.length - 1;
    if (events > 0 && nl + 1 - start > maxBytes) {
      out.push({ body: body.subarray(start, pos), events });
      start = pos;
      events = 0;
    }
    events++;
    pos = nl + 1;
  }
  if (events > 0) out.push({ body: body.subarray(start, pos), events });
  return out;
}

/** The first half (by lines) and the rest of `events` whole lines. */
export function halves(body: Bytes, events: number): [Lines, Lines] {
  const half = Math.floor(events / 2);
  let pos = 0;
  for (let i = 0; i < half; i++) pos = body.indexOf(NEWLINE, pos) + 1;
  return [{ body: body.subarray(0, pos), events: half }, { body: body.subarray(pos), events: events - half }];
}
