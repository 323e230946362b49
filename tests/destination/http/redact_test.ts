import { describe, it } from "node:test";
import assert from "node:assert/strict";
import { fetchDestination, HttpDeliveryError } from "../../../src/destination/fetch_destination.ts";
import { HttpReceiver } from "../../_helpers/http_receiver.ts";
import { body, fast, ids, linesOf, withReceiver } from "./_fetch_helpers.ts";

describe("fetchDestination secrets (Redactor)", () => {
  it("fetchDestination leaves query strings out of error messages", async () => {
    await withReceiver(() => ({ status: 401 }), async (receiver) => {
      const errors: HttpDeliveryError[] = [];
      const destination = fetchDestination(
        `${receiver.url}?password=hunter2`,
        fast({ onError: (e) => errors.push(e) }),
      );
      const writer = destination.getWriter();
      await writer.write(body(linesOf(ids(1))));
      await writer.close();
      assert.equal(errors.length, 1);
      assert.ok(!errors[0]!.message.includes("hunter2"));
      assert.ok(errors[0]!.message.includes("/ingest"));
    });
  });

  it("fetchDestination keeps the URL's query string out of errors", async () => {
    const closed = await HttpReceiver.start();
    const url = `${closed.url}?token=SECRET_Q`;
    await closed.close();
    const messages = (error: unknown): string[] => {
      const out: string[] = [];
      for (let e = error, depth = 0; e !== undefined && depth < 10; e = (e as { cause?: unknown }).cause, depth++) {
        out.push(String(e), (e as { message?: string }).message ?? "");
      }
      return out;
    };
    const errors: HttpDeliveryError[] = [];
    const destination = fetchDestination(url, {
      retry: { delayMs: 5, deadlineMs: 300 },
      onError: (e) => errors.push(e),
    });
    const writer = destination.getWriter();
    await writer.write(body(linesOf(ids(1))));
    await writer.close();
    assert.equal(errors.length, 1);
    const error = errors[0]!;
    assert.ok(error instanceof HttpDeliveryError);
    assert.equal(error.status, undefined);
    assert.ok(error.cause !== undefined, "the network error is kept");
    assert.ok(error.message.includes(`127.0.0.1:${closed.port}/ingest`), error.message);
    for (const text of messages(error)) assert.ok(!text.includes("SECRET_Q"), text);
    // The default onError prints the message only.
    const printed: unknown[][] = [];
    const original = console.error;
    console.error = (...args: unknown[]) => void printed.push(args);
    try {
      const quiet = fetchDestination(url, { retry: { delayMs: 5, deadlineMs: 300 } });
      const w = quiet.getWriter();
      await w.write(body(linesOf(ids(1))));
      await w.close();
    } finally {
      console.error = original;
    }
    assert.equal(printed.length, 1);
    assert.ok(String(printed[0]).includes("Cannot deliver 1 audit events"), String(printed[0]));
    assert.ok(!String(printed[0]).includes("SECRET_Q"));
  });
});
