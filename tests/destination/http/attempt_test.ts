import { describe, it } from "node:test";
import assert from "node:assert/strict";
import { fetchDestination, HttpDeliveryError } from "../../../src/destination/fetch_destination.ts";
import { MemoryDestination } from "../../_helpers/events.ts";
import type { Reply } from "../../_helpers/http_receiver.ts";
import { body, callIdsOf, deliver, fast, ids, linesOf, withReceiver } from "./_fetch_helpers.ts";

describe("fetchDestination requests (attempt)", () => {
  it("fetchDestination reports a 400 with its status and a body excerpt, without secrets", async () => {
    const detail = "bad line: " + "x".repeat(2_000);
    await withReceiver(() => ({ status: 400, body: detail }), async (receiver) => {
      const errors: HttpDeliveryError[] = [];
      const destination = await deliver(receiver, ids(3), {
        headers: { authorization: "Bearer s3cr3t-token" },
        onError: (e) => errors.push(e),
      });
      assert.equal(receiver.requests.length, 1, "a 400 is not retried");
      assert.equal(errors.length, 1);
      const error = errors[0]!;
      assert.ok(error instanceof HttpDeliveryError);
      assert.equal(error.name, "HttpDeliveryError");
      assert.equal(error.status, 400);
      assert.equal(error.body, detail.slice(0, 500));
      assert.equal(error.events, 3);
      assert.equal(error.attempts, 1);
      assert.ok(!JSON.stringify({ message: error.message, stack: error.stack }).includes("s3cr3t"));
      assert.equal(destination.stats().failed, 3);
    });
  });

  it("fetchDestination gzips bodies when asked", async () => {
    await withReceiver(undefined, async (receiver) => {
      const sent = body(linesOf(ids(50)));
      const destination = fetchDestination(receiver.url, fast({ gzip: true }));
      const writer = destination.getWriter();
      await writer.write(sent);
      await writer.close();
      const request = receiver.requests[0]!;
      assert.equal(request.headers["content-encoding"], "gzip");
      assert.deepEqual([request.raw[0], request.raw[1]], [0x1f, 0x8b]);
      assert.ok(request.raw.length < sent.length);
      assert.equal(request.text, new TextDecoder().decode(sent));
    });
  });

  it("fetchDestination sends NDJSON with its headers and an Idempotency-Key", async () => {
    await withReceiver(undefined, async (receiver) => {
      await deliver(receiver, ids(2), { headers: { authorization: "Bearer t0k", "x-tenant": "acme" } });
      const request = receiver.requests[0]!;
      assert.equal(request.method, "POST");
      assert.equal(request.path, "/ingest");
      assert.equal(request.headers["content-type"], "application/x-ndjson");
      assert.equal(request.headers["authorization"], "Bearer t0k");
      assert.equal(request.headers["x-tenant"], "acme");
      assert.match(
        String(request.headers["idempotency-key"]),
        /^[0-9a-f]{8}-[0-9a-f]{4}-4[0-9a-f]{3}-[89ab][0-9a-f]{3}-[0-9a-f]{12}$/,
      );
      assert.equal(request.headers["content-encoding"], undefined);
    });
  });

  it("fetchDestination does not follow redirects", async () => {
    const respond = (r: { path: string }): Reply =>
      r.path.startsWith("/ingest")
        ? { status: Number(r.path.slice("/ingest/".length)), headers: { location: "/elsewhere" } }
        : { status: 200 };
    await withReceiver(respond, async (receiver) => {
      const statuses = [301, 302, 303, 307, 308];
      for (const status of statuses) {
        const errors: HttpDeliveryError[] = [];
        const destination = fetchDestination(`${receiver.url}/${status}`, fast({ onError: (e) => errors.push(e) }));
        const writer = destination.getWriter();
        await writer.write(body(linesOf(ids(3))));
        await writer.close();
        assert.deepEqual(errors.map((e) => [e.status, e.events, e.attempts]), [[status, 3, 1]], `HTTP ${status}`);
        assert.equal(destination.stats().delivered, 0);
        assert.equal(destination.stats().failed, 3);
      }
      // One POST each, none retried, nothing sent to where the redirects point.
      assert.deepEqual(receiver.requests.map((r) => [r.method, r.path]), statuses.map((s) => ["POST", `/ingest/${s}`]));
    });
    await withReceiver(() => ({ status: 302, headers: { location: "/elsewhere" } }), async (receiver) => {
      const spill = new MemoryDestination();
      const destination = await deliver(receiver, ids(2), { fallback: spill.stream });
      assert.deepEqual(callIdsOf(spill.lines()), ids(2));
      assert.equal(destination.stats().rerouted, 2);
      assert.equal(receiver.requests.length, 1);
    });
  });
});
