// The endpoint as an attacker: bodies that never end or lie about their
// encoding, connections reset mid-body, headers sent a byte at a time, absurd
// Retry-After values. The client must never buffer a response body, and must
// finish: bytes the server managed to send are asserted, not timings.
import { describe, it } from "node:test";
import assert from "node:assert/strict";
import { type AddressInfo, createServer as createNetServer, type Socket } from "node:net";
import { gzipSync } from "node:zlib";
import { fetchDestination, type HttpDeliveryError, otlpLogs } from "../../../src/destination/fetch_destination.ts";
import { gate, type ReceivedRequest, type Reply } from "../../_helpers/http_receiver.ts";
import { body, deliver, ids, linesOf, script, withReceiver } from "./_fetch_helpers.ts";

const MiB = 1024 * 1024;
/** 64 KiB of filler, sent up to 8192 times: 512 MiB, more than a client that reads it all would get through here. */
const FILLER = new Uint8Array(64 * 1024).fill(0x79);
const ENDLESS = 8192;
/** What a client that cancels may still have been sent: socket buffers, a few MiB at most. */
const BOUNDED = 64 * MiB;
const ERROR_HEAD = `Internal error: ${"e".repeat(600)}`;

function endless(status: number, then: "end" | "stall" = "stall", head?: string): Reply {
  return { status, stream: { ...(head === undefined ? {} : { head }), chunk: FILLER, repeat: ENDLESS, then } };
}

/** The requests, once each response is over (the receiver is closed first, which ends every stalled one). */
async function settled(requests: readonly ReceivedRequest[]): Promise<readonly ReceivedRequest[]> {
  await Promise.all(requests.map((r) => r.done));
  return requests;
}

describe("fetchDestination against a hostile endpoint", () => {
  it("fetchDestination cancels an endless 2xx body unread", async () => {
    let requests: ReceivedRequest[] = [];
    await withReceiver(() => endless(200), async (receiver) => {
      const destination = await deliver(receiver, ids(5));
      assert.equal(destination.stats().delivered, 5);
      requests = receiver.requests;
    });
    for (const request of await settled(requests)) {
      assert.ok(request.sentBytes < BOUNDED, `the server sent ${request.sentBytes} bytes`);
    }
  });

  it("fetchDestination reads only the excerpt of an endless error body, and keeps its first characters", async () => {
    let requests: ReceivedRequest[] = [];
    // Two 500s (retried), then a final 400, each with an endless body.
    const respond = script(endless(500, "end", ERROR_HEAD), endless(500, "end", ERROR_HEAD));
    await withReceiver((r) => (r.index < 2 ? respond() : endless(400, "end", ERROR_HEAD)), async (receiver) => {
      const errors: HttpDeliveryError[] = [];
      await deliver(receiver, ids(3), { onError: (e) => errors.push(e) });
      assert.equal(errors.length, 1);
      assert.equal(errors[0]!.status, 400);
      assert.equal(errors[0]!.attempts, 3);
      assert.equal(errors[0]!.body, ERROR_HEAD.slice(0, 500));
      requests = receiver.requests;
    });
    assert.equal(requests.length, 3);
    for (const request of await settled(requests)) {
      assert.ok(request.sentBytes < BOUNDED, `the server sent ${request.sentBytes} bytes`);
    }
  });

  it("fetchDestination does not wait for the rest of an error body once it has the excerpt", async () => {
    // 600 characters, then nothing ever again: with a 60 s timeout, waiting for the end would time the test out.
    const stall: Reply = { status: 503, stream: { head: ERROR_HEAD, then: "stall" } };
    await withReceiver(script(stall, stall), async (receiver) => {
      const destination = await deliver(receiver, ids(4), { timeoutMs: 60_000 });
      assert.deepEqual(receiver.requests.map((r) => r.status), [503, 503, 200]);
      assert.equal(destination.stats().delivered, 4);
    });
  });

  it("fetchDestination keeps what it read of an error body that stalls before the excerpt is full", async () => {
    const head = "partial error page";
    await withReceiver(() => ({ status: 400, stream: { head, then: "stall" } }), async (receiver) => {
      const errors: HttpDeliveryError[] = [];
      await deliver(receiver, ids(2), { timeoutMs: 300, onError: (e) => errors.push(e) });
      assert.equal(errors.length, 1);
      assert.equal(errors[0]!.status, 400);
      assert.equal(errors[0]!.body, head);
    });
  });

  it("fetchDestination counts a 2xx as delivered even when the connection resets mid-body", async () => {
    await withReceiver(
      () => ({ status: 200, stream: { head: "ok", chunk: FILLER, repeat: 4, then: "reset" } }),
      async (receiver) => {
        const errors: HttpDeliveryError[] = [];
        const destination = await deliver(receiver, ids(3), { onError: (e) => errors.push(e) });
        assert.deepEqual(errors, []);
        assert.equal(destination.stats().delivered, 3);
        assert.equal(receiver.requests.length, 1, "an acknowledged batch is not sent again");
      },
    );
  });

  it("fetchDestination retries an error response reset mid-body, with what it read as the excerpt", async () => {
    const broken: Reply = { status: 502, stream: { head: "bad gateway", then: "reset" } };
    await withReceiver(script(broken, broken), async (receiver) => {
      const destination = await deliver(receiver, ids(3));
      assert.deepEqual(receiver.requests.map((r) => r.status), [502, 502, 200]);
      assert.equal(destination.stats().delivered, 3);
    });
    // A final status reset mid-body: reported once, with what was read.
    const final: Reply = { status: 400, stream: { head: "bad request", then: "reset" } };
    await withReceiver(() => final, async (receiver) => {
      const errors: HttpDeliveryError[] = [];
      await deliver(receiver, ids(1), { onError: (e) => errors.push(e) });
      assert.equal(receiver.requests.length, 1);
      assert.equal(errors[0]!.status, 400);
      assert.ok("bad request".startsWith(errors[0]!.body ?? "x"), String(errors[0]!.body));
    });
  });

  it("fetchDestination is not fooled by a content-encoding that lies", async () => {
    const lie = { "content-encoding": "gzip" };
    await withReceiver(() => ({ status: 200, headers: lie, body: "this is not gzip" }), async (receiver) => {
      const errors: HttpDeliveryError[] = [];
      const destination = await deliver(receiver, ids(2), { onError: (e) => errors.push(e) });
      assert.deepEqual(errors, []);
      assert.equal(destination.stats().delivered, 2);
    });
    await withReceiver(() => ({ status: 400, headers: lie, body: "this is not gzip either" }), async (receiver) => {
      const errors: HttpDeliveryError[] = [];
      await deliver(receiver, ids(2), { onError: (e) => errors.push(e) });
      assert.equal(errors.length, 1);
      assert.equal(errors[0]!.status, 400);
      assert.equal(typeof errors[0]!.body, "string");
      assert.ok(!errors[0]!.body!.includes("\ufffd".repeat(50)), "no pile of garbage in the excerpt");
    });
  });

  it("fetchDestination decompresses only the excerpt of a gzip bomb", async () => {
    const bomb = gzipSync(new Uint8Array(64 * MiB)); // 64 MiB of zeros in about 64 KiB
    await withReceiver(
      () => ({ status: 400, headers: { "content-encoding": "gzip" }, body: bomb }),
      async (receiver) => {
        const errors: HttpDeliveryError[] = [];
        await deliver(receiver, ids(1), { onError: (e) => errors.push(e) });
        assert.equal(errors[0]!.status, 400);
        assert.equal(errors[0]!.body, "\u0000".repeat(500));
      },
    );
  });

  it("fetchDestination gives up at once on a Retry-After past the deadline, and says so", async () => {
    await withReceiver(() => ({ status: 429, headers: { "retry-after": "999999" } }), async (receiver) => {
      const errors: HttpDeliveryError[] = [];
      await deliver(receiver, ids(2), { retry: { deadlineMs: 30_000 }, onError: (e) => errors.push(e) });
      assert.equal(receiver.requests.length, 1);
      assert.match(errors[0]!.message, /HTTP 429; the server asked to wait 999999 s, beyond the 30000 ms deadline$/);
    });
  });

  it("fetchDestination says why a batch failed when its last attempt was cut short by the deadline", async () => {
    const stalled = gate();
    let n = 0;
    const respond = async (): Promise<Reply> => {
      if (n++ === 0) return { status: 503 };
      await stalled.promise; // the retry hangs until the deadline cuts it short
      return { status: 200 };
    };
    try {
      await withReceiver(respond, async (receiver) => {
        const errors: HttpDeliveryError[] = [];
        await deliver(receiver, ids(2), {
          timeoutMs: 60_000,
          retry: { delayMs: 5, deadlineMs: 300 },
          onError: (e) => errors.push(e),
        });
        stalled.open();
        assert.equal(errors.length, 1);
        assert.equal(errors[0]!.status, 503);
        assert.match(
          errors[0]!.message,
          /after 2 attempts: HTTP 503; no time left to retry within the 300 ms deadline$/,
        );
      });
    } finally {
      stalled.open();
    }
  });

  it("fetchDestination times out a server that takes the connection and never reads the request", async () => {
    await withRawServer(() => {}, async (url, connections) => {
      const errors: HttpDeliveryError[] = [];
      // One batch of ~1 MB: more than socket buffers take without the server reading.
      const destination = fetchDestination(url, {
        batch: { maxEvents: 4_000, maxBytes: 2_000_000 },
        timeoutMs: 200,
        retry: { delayMs: 5, deadlineMs: 600 },
        onError: (e) => errors.push(e),
      });
      const writer = destination.getWriter();
      await writer.write(body(linesOf(ids(4_000))));
      await writer.close();
      assert.ok(errors.length >= 1);
      assert.ok(errors.every((e) => e.status === undefined));
      assert.equal(errors.reduce((n, e) => n + e.events, 0), 4_000);
      assert.equal(destination.stats().delivered, 0);
      assert.ok(connections() >= 1);
    });
  });

  it("fetchDestination splits a batch a server refuses with 413 before reading it", async () => {
    // nginx's client_max_body_size: answer 413 at the headers and close, without reading the body.
    let refused = 0;
    await withRawServer((socket, head) => {
      const length = Number(/content-length: (\d+)/i.exec(head)?.[1] ?? 0);
      if (length > 2_000) {
        refused++;
        socket.end("HTTP/1.1 413 Payload Too Large\r\ncontent-length: 0\r\nconnection: close\r\n\r\n");
        return;
      }
      socket.end("HTTP/1.1 200 OK\r\ncontent-length: 0\r\nconnection: close\r\n\r\n");
    }, async (url) => {
      const errors: HttpDeliveryError[] = [];
      const destination = fetchDestination(url, {
        retry: { delayMs: 5, deadlineMs: 5_000 },
        onError: (e) => errors.push(e),
      });
      const writer = destination.getWriter();
      await writer.write(body(linesOf(ids(40)))); // ~10 KB
      await writer.close();
      const stats = destination.stats();
      assert.ok(refused >= 1);
      // The body fits the socket's buffers, so the client sees the 413 rather than a reset: it splits.
      assert.deepEqual(errors, []);
      assert.equal(stats.delivered, 40);
      assert.ok(stats.split >= 1, JSON.stringify(stats));
    });
  });

  it("fetchDestination reads a bounded prefix of a 2xx that declares a short length but sends an endless chunked body", async () => {
    // Both content-length and transfer-encoding (request smuggling's trick): Deno and Bun go by the chunks.
    // The first connection gets it; a client that refuses such a response (Node) retries and gets a plain 200.
    let first = true;
    let sent = 0;
    await withRawServer((socket) => {
      if (!first) return void socket.end("HTTP/1.1 200 OK\r\ncontent-length: 0\r\nconnection: close\r\n\r\n");
      first = false;
      socket.write(
        "HTTP/1.1 200 OK\r\ncontent-type: application/json\r\ncontent-length: 10\r\ntransfer-encoding: chunked\r\n\r\n",
      );
      const chunk = `${FILLER.length.toString(16)}\r\n${new TextDecoder().decode(FILLER)}\r\n`;
      const pump = (): void => {
        for (let i = sent / FILLER.length; i < ENDLESS / 4 && !socket.destroyed; i++) {
          sent += FILLER.length;
          if (!socket.write(chunk)) return void socket.once("drain", pump);
        }
      };
      pump();
    }, async (url) => {
      const errors: HttpDeliveryError[] = [];
      const destination = fetchDestination(url, {
        format: otlpLogs({ serviceName: "tools" }), // reads up to 64 KiB of a 2xx for its partial success
        timeoutMs: 60_000,
        retry: { delayMs: 5, deadlineMs: 60_000 },
        onError: (e) => errors.push(e),
      });
      const writer = destination.getWriter();
      await writer.write(body(linesOf(ids(3))));
      await writer.close();
      assert.equal(destination.stats().delivered, 3);
      assert.ok(sent < BOUNDED, `the server sent ${sent} bytes`);
    });
  });

  it("fetchDestination gives up on a server that takes the request and never answers, in whole milliseconds", async () => {
    await withRawServer(() => {}, async (url) => {
      const errors: HttpDeliveryError[] = [];
      // The request's own limit is longer than the batch's deadline: the deadline cuts the attempt short.
      const destination = fetchDestination(url, {
        timeoutMs: 60_000,
        retry: { delayMs: 5, deadlineMs: 150 },
        onError: (e) => errors.push(e),
      });
      const writer = destination.getWriter();
      await writer.write(body(linesOf(ids(2))));
      await writer.close();
      assert.equal(errors.length, 1);
      assert.equal(errors[0]!.events, 2);
      assert.match(errors[0]!.message, /network error \(TimeoutError: Request timed out after \d+ ms\)/);
      assert.equal(destination.stats().failed, 2);
    });
  });

  it("fetchDestination times out headers sent a byte at a time", async () => {
    // Slowloris in reverse: the status line, then one header byte every 20 ms (at most 1,000), never a blank line.
    const drip = (socket: Socket): void => {
      socket.write("HTTP/1.1 200 OK\r\nx-slow: ");
      let sent = 0;
      const timer = setInterval(() => {
        if (socket.destroyed || sent++ > 1_000) return clearInterval(timer);
        socket.write("a");
      }, 20);
      socket.on("close", () => clearInterval(timer));
    };
    await withRawServer(drip, async (url, connections) => {
      const errors: HttpDeliveryError[] = [];
      const destination = fetchDestination(url, {
        timeoutMs: 200,
        retry: { delayMs: 5, deadlineMs: 600 },
        onError: (e) => errors.push(e),
      });
      const writer = destination.getWriter();
      await writer.write(body(linesOf(ids(3))));
      await writer.close();
      assert.equal(errors.length, 1);
      assert.equal(errors[0]!.status, undefined);
      assert.match(String((errors[0]!.cause as Error | undefined)?.message), /timed out|abort/i);
      assert.equal(destination.stats().delivered, 0);
      assert.ok(connections() >= 1 && destination.stats().requests >= 1);
    });
  });
});

/**
 * Runs `run` against a raw TCP server on 127.0.0.1 that calls `onRequest`
 * with each connection's socket and the request head (up to the blank line)
 * once it arrived; the body is never read.
 */
async function withRawServer(
  onRequest: (socket: Socket, head: string) => void,
  run: (url: string, connections: () => number) => Promise<void>,
): Promise<void> {
  const sockets = new Set<Socket>();
  const server = createNetServer((socket) => {
    sockets.add(socket);
    socket.on("error", () => {});
    socket.pause(); // read nothing more than the head
    let head = "";
    const onData = (chunk: Uint8Array): void => {
      head += new TextDecoder().decode(chunk);
      if (!head.includes("\r\n\r\n")) return;
      socket.off("data", onData);
      socket.pause();
      onRequest(socket, head);
    };
    socket.on("data", onData);
    socket.resume();
  });
  await new Promise<void>((resolve) => server.listen(0, "127.0.0.1", resolve));
  try {
    await run(`http://127.0.0.1:${(server.address() as AddressInfo).port}/ingest`, () => sockets.size);
  } finally {
    for (const socket of sockets) socket.destroy();
    await new Promise<void>((resolve) => server.close(() => resolve()));
  }
}
