// Counts a WritableStream's writes as the stream takes them and as each is
// done, so that a flush can wait for every write made before it: also those
// queued behind the one under way, and not later ones (a steady flow of writes
// would otherwise keep it waiting). The stream runs its writes one at a time,
// in order, so waiters wake in the order they came.

/** The write counts of one stream. */
export class WriteCount {
  #taken = 0;
  #done = 0;
  #ended = false;
  readonly #waiting: { readonly until: number; readonly wake: () => void }[] = [];

  /** The stream's queuing strategy (a high-water mark of one write): its size function counts each write taken. */
  readonly strategy: QueuingStrategy<Uint8Array> = {
    highWaterMark: 1,
    size: () => {
      this.#taken++;
      return 1;
    },
  };

  /** A write is done (reported, or failed). */
  done(): void {
    this.#done++;
    this.#wake();
  }

  /** The stream errored or was aborted: the writes still queued will never be done. */
  end(): void {
    this.#ended = true;
    this.#wake();
  }

  /** Settles once every write taken so far is done, or the stream ended. */
  allDone(): Promise<void> {
    const until = this.#taken;
    if (this.#ended || this.#done >= until) return Promise.resolve();
    return new Promise((wake) => this.#waiting.push({ until, wake }));
  }

  #wake(): void {
    while (this.#waiting.length > 0 && (this.#ended || this.#done >= this.#waiting[0]!.until)) {
      this.#waiting.shift()!.wake();
    }
  }
}
