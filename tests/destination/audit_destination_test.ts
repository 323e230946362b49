import { describe, it } from "node:test";
import assert from "node:assert/strict";
import { type DeliveryReport, isAuditDestination, toAuditDestination } from "../../mod.ts";
import { MemoryDestination, tick } from "../_helpers/events.ts";

const bytes = (text: string) => new TextEncoder().encode(text);

/** A report that records what it is told. */
function recorder() {
  const told: string[] = [];
  const report: DeliveryReport = {
    delivered: (n) => void told.push(`delivered ${n}`),
    rerouted: (n) => void told.push(`rerouted ${n}`),
    failed: (n, error) => void told.push(`failed ${n} ${error}`),
    warn: (error) => void told.push(`warn ${error}`),
  };
  return { told, report };
}

describe("toAuditDestination", () => {
  it("reports each resolved write's lines delivered, once it resolved", async () => {
    const dest = new MemoryDestination();
    const destination = toAuditDestination(dest.stream);
    const { told, report } = recorder();
    destination.attach(report);
    const writer = destination.getWriter();
    await writer.write(bytes("a\nb\nc\n"));
    await writer.write(bytes("d\n"));
    assert.deepEqual(told, ["delivered 3", "delivered 1"]);
    assert.deepEqual(dest.lines(), ["a", "b", "c", "d"]);
  });

  it("counts a chunk's lines before the stream takes it (a stream may zero or transfer it)", async () => {
    const destination = toAuditDestination(
      new WritableStream<Uint8Array>({ write: (chunk) => void structuredClone(chunk, { transfer: [chunk.buffer] }) }),
    );
    const { told, report } = recorder();
    destination.attach(report);
    const chunk = bytes("a\nb\nc\n");
    await destination.getWriter().write(chunk);
    assert.equal(chunk.length, 0); // transferred away
    assert.deepEqual(told, ["delivered 3"]);
  });

  it("reports nothing for a write that rejects", async () => {
    const dest = new MemoryDestination({ failAfterWrites: 0 });
    const destination = toAuditDestination(dest.stream);
    const { told, report } = recorder();
    destination.attach(report);
    await assert.rejects(destination.getWriter().write(bytes("a\n")), /disk full/);
    assert.deepEqual(told, []);
  });

  it("awaits the stream's own flush(), looked up once", async () => {
    let flushes = 0;
    const stream = Object.assign(new MemoryDestination().stream, { flush: () => Promise.resolve(void flushes++) });
    const destination = toAuditDestination(stream);
    stream.flush = () => Promise.reject(new Error("swapped later"));
    await destination.flush();
    assert.equal(flushes, 1);
  });

  it("resolves flush(signal) when the signal aborts, even if the last write never settles", async () => {
    const destination = toAuditDestination(new WritableStream({ write: () => new Promise(() => {}) }));
    destination.attach(recorder().report);
    void destination.getWriter().write(bytes("a\n"));
    const controller = new AbortController();
    const flushed = destination.flush(controller.signal);
    await tick();
    controller.abort();
    await flushed;
  });

  it("releases, rather than closes or aborts, a stream it must leave open", async () => {
    for (const end of ["close", "abort"] as const) {
      const dest = new MemoryDestination();
      const destination = toAuditDestination(dest.stream, { preventClose: true });
      const writer = destination.getWriter();
      await writer.write(bytes("mine\n"));
      await (end === "close" ? writer.close() : writer.abort(new Error("deadline")));
      const own = dest.stream.getWriter(); // the lock was released
      await own.write(bytes("still open\n"));
      assert.deepEqual(dest.lines(), ["mine", "still open"], end);
      assert.equal(dest.closed, false, end);
    }
  });

  it("returns an audit destination as it is", () => {
    const destination = toAuditDestination(new WritableStream());
    assert.equal(toAuditDestination(destination), destination);
    assert.equal(isAuditDestination(destination), true);
    assert.equal(isAuditDestination(new WritableStream()), false);
    assert.equal(isAuditDestination(null), false);
  });

  it("rejects what is not an unlocked writable stream with a TypeError", () => {
    const locked = new WritableStream();
    locked.getWriter();
    for (
      const [stream, message] of [
        [null, /expected a WritableStream<Uint8Array>, got null/],
        [[], /got an array/],
        [{ getWriter: () => ({}) }, /getWriter\(\) must return a writer/],
        [locked, /getWriter\(\) threw \(is the stream locked\?\)/],
      ] as const
    ) {
      assert.throws(() => toAuditDestination(stream as never), (error: unknown) => {
        assert.ok(error instanceof TypeError);
        assert.match(error.message, message);
        return true;
      });
    }
    assert.throws(() => toAuditDestination(new WritableStream(), { preventClose: 1 as never }), TypeError);
  });
});
