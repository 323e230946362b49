// Shared by the fetch destination's tests: lines, bodies, fast options and a
// receiver per test.
import assert from "node:assert/strict";
import { encodeCallEvent } from "../../../mod.ts";
import {
  type FetchDestination,
  fetchDestination,
  type FetchDestinationOptions,
} from "../../../src/destination/fetch_destination.ts";
import { mkEvent } from "../../_helpers/events.ts";
import { gate, HttpReceiver, type Reply, type Responder } from "../../_helpers/http_receiver.ts";

const encoder = new TextEncoder();

/** Fast retries for tests; deadlines stay generous so that a slow machine does not fail them. */
export const FAST: FetchDestinationOptions = {
  retry: { delayMs: 5, deadlineMs: 20_000 },
  batch: { maxDelayMs: 60_000 },
};

/** `options` over {@linkcode FAST}, group by group. */
export function fast(options: FetchDestinationOptions = {}): FetchDestinationOptions {
  return {
    ...FAST,
    ...options,
    retry: { ...FAST.retry, ...options.retry },
    batch: { ...FAST.batch, ...options.batch },
  };
}

export function ids(n: number, prefix = "c"): string[] {
  return Array.from({ length: n }, (_, i) => `${prefix}${String(i).padStart(6, "0")}`);
}

export function linesOf(callIds: readonly string[]): string[] {
  return callIds.map((id) => encodeCallEvent(mkEvent({ kind: "success" }, id)));
}

export function body(lines: readonly string[]): Uint8Array {
  return encoder.encode(lines.map((l) => l + "\n").join(""));
}

export function callIdsOf(lines: readonly string[]): string[] {
  return lines.map((l) => (JSON.parse(l) as { call_id: string }).call_id);
}

/** Writes the lines in one chunk, flushes, closes; returns the destination. */
export async function deliver(
  receiver: HttpReceiver,
  callIds: readonly string[],
  options: FetchDestinationOptions = {},
): Promise<FetchDestination> {
  const destination = fetchDestination(receiver.url, fast(options));
  const writer = destination.getWriter();
  await writer.write(body(linesOf(callIds)));
  await destination.flush();
  await writer.close();
  return destination;
}

/** Replies from a script, then 200 for every later request. */
export function script(...replies: Reply[]): () => Reply {
  let i = 0;
  return () => replies[i++] ?? { status: 200 };
}

/** Resolves after the event loop has turned a few times (lets I/O callbacks run). */
export async function settleLoop(turns = 20): Promise<void> {
  for (let i = 0; i < turns; i++) await new Promise((resolve) => setTimeout(resolve, 1));
}

/** Every call_id the server saw more than once came under one Idempotency-Key each time. */
export function assertDuplicatesShareKey(receiver: HttpReceiver): void {
  const keyOf = new Map<string, unknown>();
  for (const request of receiver.requests) {
    const key = request.headers["idempotency-key"];
    for (const id of callIdsOf(request.lines)) {
      if (keyOf.has(id)) assert.equal(keyOf.get(id), key, `${id} was sent under two keys`);
      else keyOf.set(id, key);
    }
  }
}

/** Runs `run` against a fresh receiver on 127.0.0.1, closed afterwards. */
export async function withReceiver(
  respond: Responder | undefined,
  run: (receiver: HttpReceiver) => Promise<void>,
): Promise<void> {
  const receiver = await HttpReceiver.start(respond);
  try {
    await run(receiver);
  } finally {
    await receiver.close();
  }
}

/** Every string reachable from an error: name, message, stack, body, down its cause chain (bounded). */
export function stringsOf(error: unknown): string[] {
  const out: string[] = [];
  for (let e = error, depth = 0; e !== undefined && e !== null && depth < 10; depth++) {
    const fields = e as { name?: unknown; message?: unknown; stack?: unknown; body?: unknown; cause?: unknown };
    out.push(String(e));
    for (const value of [fields.name, fields.message, fields.stack, fields.body]) {
      if (typeof value === "string") out.push(value);
    }
    e = fields.cause;
  }
  return out;
}

/**
 * Runs `run` against a receiver that holds every request until `release()`
 * (then answers 200); released at the end in any case.
 */
export async function withStalledReceiver(
  run: (receiver: HttpReceiver, release: () => void) => Promise<void>,
): Promise<void> {
  const hold = gate();
  await withReceiver(async () => {
    await hold.promise;
    return { status: 200 };
  }, async (receiver) => {
    try {
      await run(receiver, hold.open);
    } finally {
      hold.open();
    }
  });
}
