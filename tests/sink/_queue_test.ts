import { describe, it } from "node:test";
import assert from "node:assert/strict";
import { JsonLinesAuditSink } from "../../mod.ts";
import { coalesces } from "../../src/destination/_coalesce.ts";
import { stdioDestination } from "../../src/destination/stdio_destination.ts";
import { LineQueue } from "../../src/sink/_queue.ts";
import { numbered, tick } from "../_helpers/events.ts";

const decoder = new TextDecoder();

/** A queue whose deliveries are recorded; each resolves when `release()` is called (or at once). */
function recordingQueue(capacity: number, options: { hold?: boolean; writeInterval?: number } = {}) {
  const chunks: string[][] = [];
  const holds: (() => void)[] = [];
  const queue = new LineQueue(
    capacity,
    (bytes, lines) => {
      const text = decoder.decode(bytes);
      const got = text.split("\n").slice(0, -1);
      assert.equal(got.length, lines, "the line count handed over matches the chunk");
      assert.ok(text.endsWith("\n"));
      chunks.push(got);
      return options.hold ? new Promise<void>((resolve) => holds.push(resolve)) : Promise.resolve();
    },
    false,
    Infinity,
    options.writeInterval,
  );
  return { queue, chunks, release: () => holds.splice(0).forEach((resolve) => resolve()) };
}

describe("LineQueue", () => {
  it("hands lines out in order, as whole lines, after the burst that pushed them", async () => {
    const { queue, chunks } = recordingQueue(8);
    for (let i = 0; i < 20; i++) queue.push(`l${i}`);
    assert.equal(chunks.length, 0, "nothing is written synchronously");
    await queue.drained();
    assert.deepEqual(chunks.flat(), Array.from({ length: 20 }, (_, i) => `l${i}`));
    assert.ok(chunks.every((chunk) => chunk.length <= 4), "a write holds at most half the capacity");
  });

  it("counts pending lines against its capacity, as a Web Streams writer's desiredSize does", () => {
    const { queue } = recordingQueue(4);
    assert.equal(queue.desiredSize, 4);
    queue.push("a");
    queue.push("b");
    assert.equal(queue.desiredSize, 2);
    queue.push("c");
    queue.push("d");
    assert.equal(queue.desiredSize, 0);
  });

  it("gathers the batches queued behind a slow write into one chunk", async () => {
    const { queue, chunks, release } = recordingQueue(64, { hold: true });
    queue.push("first");
    await tick();
    for (let round = 0; round < 5; round++) {
      queue.push(`r${round}`);
      await tick(); // each round is its own batch in the size queue
    }
    release();
    await tick();
    release();
    await queue.drained();
    assert.deepEqual(chunks, [["first"], ["r0", "r1", "r2", "r3", "r4"]]);
  });

  it("holds a write that would follow the previous one within the interval, then sends what trickled in as one chunk", async () => {
    const { queue, chunks } = recordingQueue(64, { writeInterval: 1e9 });
    queue.push("first");
    await tick();
    assert.deepEqual(chunks, [["first"]], "the first write after a quiet spell goes at once");
    for (let i = 0; i < 3; i++) {
      queue.push(`t${i}`);
      await tick();
    }
    assert.equal(chunks.length, 1, "lines that trickle in wait for the interval");
    await queue.drained(); // a flush does not wait for it
    assert.deepEqual(chunks, [["first"], ["t0", "t1", "t2"]]);
    queue.push("last");
    await queue.close(); // nor does the close
    assert.deepEqual(chunks.at(-1), ["last"]);
  });

  it("does not hold lines back once a write's worth of them waits", async () => {
    const { queue, chunks } = recordingQueue(4, { writeInterval: 1e9 });
    queue.push("first");
    await tick();
    queue.push("a");
    await tick();
    assert.equal(chunks.length, 1);
    queue.push("b"); // two lines waiting: half the capacity, a whole write
    await tick();
    await tick();
    assert.deepEqual(chunks, [["first"], ["a", "b"]]);
    await queue.close();
  });

  it("admits waiters first come first served, one per free slot", async () => {
    const { queue, release } = recordingQueue(2, { hold: true });
    queue.push("a");
    queue.push("b");
    const admitted: number[] = [];
    for (let i = 0; i < 5; i++) {
      queue.wait(() => {
        admitted.push(i);
        queue.push(`w${i}`);
      });
    }
    assert.equal(queue.waiting, true);
    for (let round = 0; round < 20 && admitted.length < 5; round++) {
      assert.ok(queue.desiredSize >= 0, "never more than the capacity queued");
      release();
      await tick();
    }
    assert.deepEqual(admitted, [0, 1, 2, 3, 4]);
    assert.equal(queue.waiting, false);
  });

  it("takes the lines of a producer that yields after each one (await record()) into the size queue a write's worth at a time", async () => {
    // Deliveries end a timer turn later, as a file's writes do; the producer admits itself as record() does.
    const lines = 20_000;
    const delivered: string[] = [];
    const queue = new LineQueue(1024, (bytes) => {
      delivered.push(...decoder.decode(bytes).split("\n").slice(0, -1));
      return tick();
    });
    for (let i = 0; i < lines; i++) {
      if (queue.waiting || queue.desiredSize <= 0) await new Promise<void>((admit) => queue.wait(admit));
      queue.push(`l${i}`);
      await Promise.resolve();
    }
    await queue.close();
    assert.equal(delivered.length, lines);
    assert.ok(delivered.every((line, i) => line === `l${i}`), "every line once, in order");
    // A write's worth is 512 lines: one batch per line (as before) would be 20,000.
    assert.ok(queue.batches <= lines / 100, `${queue.batches} batches for ${lines} lines`);
  });

  it("admits every waiter at once after admitAll, room or not", () => {
    const { queue } = recordingQueue(1, { hold: true });
    queue.push("a");
    const admitted: number[] = [];
    for (let i = 0; i < 3; i++) queue.wait(() => admitted.push(i));
    queue.admitAll();
    assert.deepEqual(admitted, [0, 1, 2]);
    queue.wait(() => admitted.push(3));
    assert.deepEqual(admitted, [0, 1, 2, 3]);
  });

  it("discards the lines not yet handed out, and skips them when their turn comes", async () => {
    const { queue, chunks, release } = recordingQueue(16, { hold: true });
    queue.push("in-flight");
    await tick();
    queue.push("queued-1");
    await tick();
    queue.push("queued-2");
    queue.push("pending");
    assert.equal(queue.discard(), 3, "everything but the write in flight");
    assert.equal(queue.discard(), 0);
    release();
    await queue.drained();
    assert.deepEqual(chunks, [["in-flight"]]);
  });

  it("turns a long burst into bytes as it goes: each line once, in order, with its line ends; a discard drops them all", async () => {
    const got: { lines: string[]; ends: number[] }[] = [];
    const queue = new LineQueue(8, (bytes, lines, ends) => {
      const text = decoder.decode(bytes);
      assert.ok(ends !== undefined && ends.length === lines, "every chunk comes with its line ends");
      ends.forEach((end) => assert.equal(bytes[end], 0x0a, "each end is a newline"));
      got.push({ lines: text.split("\n").slice(0, -1), ends: [...ends] });
      return Promise.resolve();
    }, true);
    const lines = Array.from({ length: 10 }, (_, i) => `é${"x".repeat(i)}`);
    for (const line of lines) queue.push(line);
    assert.equal(queue.desiredSize, -2, "encoded lines still count against the capacity");
    await queue.drained();
    assert.deepEqual(got.map((chunk) => chunk.lines.length), [4, 4, 2], "a write's worth at a time");
    assert.deepEqual(got.flatMap((chunk) => chunk.lines), lines);
    for (let i = 0; i < 9; i++) queue.push(`d${i}`);
    assert.equal(queue.discard(), 9);
    assert.equal(queue.desiredSize, 8);
    await queue.drained();
    assert.equal(got.length, 3, "nothing discarded is written");
  });

  it("turns a burst past the byte bound into bytes as it goes, as past the capacity in lines: each line once, in order", async () => {
    const got: string[][] = [];
    // Room for 64 lines but only 100 bytes: 200 lines of 10 bytes are past the bound in bytes, then in lines too.
    const queue = new LineQueue(
      64,
      (bytes, lines) => {
        const chunk = decoder.decode(bytes).split("\n").slice(0, -1);
        assert.equal(chunk.length, lines);
        got.push(chunk);
        return Promise.resolve();
      },
      false,
      100,
    );
    const lines = Array.from({ length: 200 }, (_, i) => `line${String(i).padStart(5, "0")}`);
    let most = 0;
    for (const line of lines) {
      queue.push(line);
      most = Math.max(most, queue.heldAsText);
    }
    assert.ok(most <= 32, `at most a write's worth (32 lines) held as text at any time, held ${most}`);
    assert.equal(queue.desiredSize, 0, "full, as a Web Streams queue past its bound is");
    await queue.drained();
    assert.deepEqual(got.flat(), lines);
  });

  it("cuts writes of large lines before they pass 1 MiB, within the bound and in a burst past it, so no write grows with the events", async () => {
    const big = (i: number): string => `${i}${"x".repeat(600_000)}`; // two of them pass 1 MiB
    for (const [capacity, maxBytes] of [[64, Infinity], [8, 100]] as const) {
      const writes: number[] = [];
      const got: string[] = [];
      const queue = new LineQueue(
        capacity,
        (bytes, lines) => {
          const chunk = decoder.decode(bytes).split("\n").slice(0, -1);
          assert.equal(chunk.length, lines);
          assert.ok(bytes.length <= 1 << 20 || lines === 1, `a write passes 1 MiB only as one line (${bytes.length})`);
          writes.push(lines);
          got.push(...chunk);
          return Promise.resolve();
        },
        false,
        maxBytes,
      );
      const lines = Array.from({ length: 6 }, (_, i) => big(i));
      for (const line of lines) queue.push(line);
      await queue.drained();
      assert.deepEqual(writes, [1, 1, 1, 1, 1, 1], `capacity ${capacity}, bound ${maxBytes} bytes`);
      assert.deepEqual(got, lines);
    }
  });

  it("gathers batches queued behind a slow write only up to about 1 MiB, not a whole batch of large lines past it", async () => {
    const { queue, chunks, release } = recordingQueue(64, { hold: true });
    queue.push("first");
    await tick(); // a write in flight: what comes next queues behind it
    const [a, b, c] = ["a".repeat(900_000), "b".repeat(500_000), "c".repeat(600_000)];
    queue.push(a);
    void queue.drained(); // one batch
    queue.push(b);
    queue.push(c);
    let drained = false;
    void queue.drained().then(() => (drained = true)); // another, cut at 1 MiB with c
    while (!drained) {
      release();
      await tick();
    }
    assert.deepEqual(chunks.flat(), ["first", a, b, c]);
    for (const chunk of chunks) {
      const beforeLast = chunk.slice(0, -1).reduce((sum, line) => sum + line.length + 1, 0);
      assert.ok(beforeLast < 1 << 20, `a write goes past 1 MiB only by its last line (${beforeLast} chars before it)`);
    }
  });

  it("hands exact line ends for writes gathered from several pushes, all ASCII or with one wide line among them", async () => {
    // Sealing cuts a segment at a stream boundary by these ends: each must be its line's newline, in the chunk's bytes.
    const got: string[] = [];
    let writes = 0;
    let release = (): void => {};
    const queue = new LineQueue(16, (bytes, lines, ends) => {
      writes++;
      assert.ok(ends !== undefined && ends.length === lines, "every chunk comes with its line ends");
      let at = -1;
      for (let i = 0; i < lines; i++) {
        at = bytes.indexOf(0x0a, at + 1);
        assert.equal(ends[i], at, `line ${i} of a chunk of ${lines} ends at its newline`);
      }
      assert.equal(at, bytes.length - 1);
      got.push(...decoder.decode(bytes).split("\n").slice(0, -1));
      // Held until the next pushes came: they queue up behind it in several batches, gathered into the next write.
      return new Promise<void>((resolve) => (release = resolve));
    }, true);
    const WIDE = ["é", "€😀", "\u2028", "\u0080", "\uffff"];
    const lines: string[] = [];
    for (let turn = 0; turn < 12; turn++) {
      for (let i = 0; i < 1 + (turn % 3); i++) {
        const n = lines.length;
        const line = turn % 4 === 3 && i === 0 ? `w${WIDE[turn % WIDE.length]}${n}` : turn % 5 === 0 ? "" : `a${n}`;
        lines.push(line);
        queue.push(line);
      }
      await tick();
      if (turn % 2 === 1) release();
    }
    for (let i = 0; i < 20 && got.length < lines.length; i++) {
      release();
      await tick(3);
    }
    assert.deepEqual(got, lines);
    assert.ok(writes < 12, `${writes} writes: some gathered several pushes`);
  });

  it("encodes wide characters whatever the buffer's first guess", async () => {
    const { queue, chunks } = recordingQueue(8);
    const lines = ["ascii", "é".repeat(100), "😀".repeat(50), "x"];
    for (const line of lines) queue.push(line);
    await queue.drained();
    assert.deepEqual(chunks.flat(), lines);
  });
});

describe("JsonLinesAuditSink write gathering", () => {
  it("hands a plain stream each line in the turn it was recorded, and gathers only for a file or stdout", async () => {
    const writes: number[] = [];
    const plain = new WritableStream<Uint8Array>({ write: (chunk) => void writes.push(chunk.length) });
    const sink = new JsonLinesAuditSink(plain);
    const microtasks = async (): Promise<void> => {
      for (let i = 0; i < 50; i++) await Promise.resolve();
    };
    sink.onCall(numbered(1));
    await microtasks();
    sink.onCall(numbered(2)); // within 2 ms of the first write: a file destination would hold it back
    await microtasks();
    assert.equal(writes.length, 2, "no write held back for a plain stream");
    await sink.close();
    assert.equal(coalesces(plain), false);
    assert.equal(coalesces(stdioDestination("stderr")), true);
  });
});
