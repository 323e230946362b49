// The fetch destination's parts wired together: lines → batcher → scheduler
// → sends → ledger (→ fallback), plus the page's lifecycle in browsers.
import type { DeliveryReport } from "../audit_destination.ts";
import type { FetchDestinationOptions, FetchDestinationStats } from "../fetch_destination.ts";
import { LineBatcher } from "./_batcher.ts";
import { Ledger } from "./_ledger.ts";
import { resolveOptions } from "./_options.ts";
import { PageDelivery } from "./_page_delivery.ts";
import { Scheduler } from "./_scheduler.ts";
import type { SendCounters } from "./_send.ts";

/** Wires the parts: lines → batcher → scheduler → sends → ledger (→ fallback). */
export class FetchDelivery {
  readonly #batcher: LineBatcher;
  readonly #scheduler: Scheduler;
  readonly #ledger: Ledger;
  readonly #page: PageDelivery | undefined;
  readonly #counters: SendCounters = { requests: 0, retried: 0, split: 0 };
  #listening = false;
  #aborted = false;

  constructor(url: string | URL, options: FetchDestinationOptions) {
    const o = resolveOptions(url, options);
    this.#ledger = new Ledger({
      where: o.where,
      fallback: o.fallback,
      onError: o.onError,
      redactor: o.redactor,
      onSettle: () => this.#scheduler.settled(),
    });
    let page: PageDelivery | undefined;
    const ctx = {
      ...o,
      ledger: this.#ledger,
      counters: this.#counters,
      keepalive: undefined as PageDelivery | undefined,
    };
    this.#scheduler = new Scheduler(ctx, o.maxInFlight, o.timeoutMs);
    this.#batcher = new LineBatcher(
      o.batch,
      (batch) => this.#scheduler.enqueue(batch),
      () => this.#scheduler.dispatch(),
    );
    if (o.unloadDelivery) {
      page = new PageDelivery({ ctx, scheduler: this.#scheduler, seal: () => this.#batcher.seal() });
      ctx.keepalive = page;
    }
    this.#page = page;
  }

  write(chunk: Uint8Array): Promise<void> | undefined {
    if (!(chunk instanceof Uint8Array)) {
      throw new TypeError("Cannot write to fetch destination: chunks must be Uint8Array");
    }
    if (chunk.length === 0) return undefined;
    if (!this.#listening) {
      this.#listening = true;
      this.#page?.listen();
    }
    this.#batcher.push(chunk.slice());
    if (this.#page?.hidden) this.#batcher.seal(); // a hidden page may be discarded at any moment
    this.#scheduler.dispatch();
    return this.#scheduler.waitForRoom();
  }

  async flush(signal?: AbortSignal): Promise<void> {
    this.#batcher.seal();
    await this.#scheduler.flush(signal);
    await this.#ledger.flushFallback(signal);
  }

  async close(): Promise<void> {
    this.#batcher.endTail();
    await this.flush();
    this.#batcher.stop();
    this.#page?.unlisten();
    await this.#ledger.closeFallback();
  }

  /** Gives up on everything not yet delivered, at once: every line is reported (or handed to the fallback). */
  abort(reason: unknown): Promise<void> {
    if (this.#aborted) return Promise.resolve();
    this.#aborted = true;
    this.#scheduler.abort(reason);
    // What is still buffered is given up on as it is sealed: no request starts now.
    this.#batcher.endTail();
    this.#batcher.seal();
    this.#batcher.stop();
    this.#page?.unlisten();
    // Not awaited: a stalled fallback must not hold up an abort. Its reports still come (a flush waits for them).
    void this.#ledger.closeFallback();
    return Promise.resolve();
  }

  attach(report: DeliveryReport): void {
    this.#ledger.attach(report);
  }

  stats(): FetchDestinationStats {
    const ledger = this.#ledger;
    return {
      delivered: ledger.delivered,
      failed: ledger.failed,
      rerouted: ledger.rerouted,
      pending: this.#batcher.events + this.#scheduler.pending,
      inFlight: this.#scheduler.inFlight,
      batches: this.#scheduler.batches,
      ...this.#counters,
    };
  }
}
