import { describe, it } from "node:test";
import assert from "node:assert/strict";
import { elasticsearchBulk, encodeCallEvent } from "../../../../mod.ts";
import { mkEvent } from "../../../_helpers/events.ts";
import { bodyOf, itemOf, verdictOf } from "./_format_helpers.ts";

const LINES = ["a", "b", "c", "d"].map((id) => encodeCallEvent(mkEvent({ kind: "success" }, id)));
const bulk = elasticsearchBulk({ index: "audit" });

function result(id: string, status: number, error?: unknown): unknown {
  return { create: { _index: "audit", _id: id, status, ...(error === undefined ? {} : { error }) } };
}

function respond(items: unknown[], errors = true): string {
  return JSON.stringify({ took: 1, errors, items });
}

describe("elasticsearchBulk", () => {
  it("elasticsearchBulk writes a create action with _id = call_id, then the line unchanged", () => {
    assert.equal(
      bodyOf(bulk, LINES.slice(0, 2)),
      `{"create":{"_index":"audit","_id":"a"}}\n${LINES[0]}\n` +
        `{"create":{"_index":"audit","_id":"b"}}\n${LINES[1]}\n`,
    );
    assert.equal(bodyOf(elasticsearchBulk(), LINES.slice(0, 1)), `{"create":{"_id":"a"}}\n${LINES[0]}\n`);
  });

  it("elasticsearchBulk refuses a line without a usable call_id", () => {
    assert.match(String(itemOf(bulk, '{"ts":"x"}')), /no call_id/);
    assert.match(String(itemOf(bulk, '{"call_id":""}')), /no call_id/);
    assert.match(String(itemOf(bulk, '{"call_id":7}')), /no call_id/);
    assert.match(String(itemOf(bulk, JSON.stringify({ call_id: "é".repeat(257) }))), /512 bytes/);
    assert.equal(typeof itemOf(bulk, JSON.stringify({ call_id: "é".repeat(256) })), "object");
  });

  it("elasticsearchBulk reads each item: 2xx and 409 delivered, 429 and 5xx again, other 4xx failed", () => {
    const verdict = verdictOf(
      bulk,
      respond([
        result("a", 201),
        result("b", 409, { type: "version_conflict_engine_exception", reason: "document already exists" }),
        result("c", 429, { type: "es_rejected_execution_exception", reason: "rejected execution" }),
        result("d", 400, { type: "document_parsing_exception", reason: "failed to parse field [ts]" }),
      ]),
      LINES,
    );
    assert.deepEqual(verdict, {
      kind: "items",
      results: [
        { outcome: "delivered" },
        { outcome: "delivered" },
        { outcome: "retry", status: 429, reason: "es_rejected_execution_exception: rejected execution" },
        { outcome: "failed", status: 400, reason: "document_parsing_exception: failed to parse field [ts]" },
      ],
    });
    assert.deepEqual(verdictOf(bulk, respond(LINES.map((_, i) => result("abcd"[i]!, 201)), false), LINES), {
      kind: "all",
    });
  });

  it("elasticsearchBulk trusts the items over the errors flag", () => {
    const lie = respond([result("a", 201), result("b", 503), result("c", 201), result("d", 201)], false);
    const verdict = verdictOf(bulk, lie, LINES);
    assert.equal(verdict.kind, "items");
    const truth = respond([result("a", 201), result("b", 201), result("c", 201), result("d", 201)], true);
    assert.deepEqual(verdictOf(bulk, truth, LINES), { kind: "all" });
  });

  it("elasticsearchBulk sends the whole request again when the response does not match it", () => {
    const cases: [string, RegExp][] = [
      [respond([result("a", 201)]), /1 results for 4 items/],
      [respond([...LINES, "x"].map((_, i) => result("abcde"[i]!, 201))), /5 results for 4 items/],
      [respond([result("a", 201), result("a", 201), result("c", 201), result("d", 201)]), /result 1 is not for/],
      [respond([result("d", 201), result("c", 201), result("b", 201), result("a", 201)]), /result 0 is not for/],
      ['{"took":1,"errors":true}', /no items/],
      ['{"items":{}}', /not an array/],
      ["<html>", /not JSON/],
      ["[]", /not a _bulk response/],
    ];
    for (const [body, reason] of cases) {
      const verdict = verdictOf(bulk, body, LINES);
      assert.equal(verdict.kind, "retry", body);
      assert.match((verdict as { reason: string }).reason, reason);
    }
    assert.equal(verdictOf(bulk, respond(LINES.map((_, i) => result("abcd"[i]!, 201))), LINES, false).kind, "retry");
    assert.deepEqual(verdictOf(bulk, '{"errors":false}', LINES), { kind: "all" }, "filter_path=errors");
  });

  it("elasticsearchBulk retries an item whose result is unreadable, alone", () => {
    const verdict = verdictOf(
      bulk,
      respond([result("a", 201), { index: { _id: "b", status: 201 } }, "x", {
        create: { _id: "d" },
      }]),
      LINES,
    );
    assert.deepEqual(verdict.kind === "items" && verdict.results.map((r) => r.outcome), [
      "delivered",
      "retry",
      "retry",
      "retry",
    ]);
  });

  it("elasticsearchBulk asks for a response budget that grows with the items", () => {
    assert.ok(bulk.responseBytes(1000) > bulk.responseBytes(1));
    assert.throws(() => elasticsearchBulk({ index: "" }), TypeError);
  });
});
