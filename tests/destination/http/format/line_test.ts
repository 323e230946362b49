import { describe, it } from "node:test";
import assert from "node:assert/strict";
import fc from "fast-check";
import { decodeUtf8, parseTime, readLine } from "../../../../src/destination/http/format/_line.ts";

describe("format lines (readLine, parseTime)", () => {
  it("parseTime reads RFC 3339 exactly to the nanosecond, with any offset", () => {
    assert.deepEqual(parseTime("2026-05-29T10:04:05.123456789+00:00"), {
      unixNano: "1780049045123456789",
      unixMs: 1780049045123,
      unixSeconds: 1780049045,
      fraction: "123456789",
    });
    assert.equal(parseTime("2026-05-29T12:00:00-05:00")?.unixSeconds, 1780074000);
    assert.equal(parseTime("2026-05-29t12:00:00+05:30")?.unixSeconds, 1780036200);
    assert.equal(parseTime("1970-01-01T00:00:00Z")?.unixNano, "0");
    assert.equal(parseTime("1970-01-01T00:00:00.000000001Z")?.unixNano, "1");
    assert.equal(parseTime("2024-02-29T00:00:00Z")?.unixSeconds, 1709164800);
  });

  it("parseTime refuses what is not an RFC 3339 time it can carry", () => {
    for (
      const ts of [
        "",
        "2026-05-29",
        "2026-05-29T10:04:05",
        "2026-05-29 10:04:05Z",
        "2026-02-30T00:00:00Z",
        "2025-02-29T00:00:00Z",
        "2026-13-01T00:00:00Z",
        "2026-05-29T24:00:00Z",
        "2026-05-29T10:60:00Z",
        "2026-05-29T10:04:05.1234567890Z",
        "2026-05-29T10:04:05+24:00",
        "1969-12-31T23:59:59Z",
        "1970-01-01T00:00:00+00:01",
        "2555-01-01T00:00:00Z",
        "２026-05-29T10:04:05Z",
      ]
    ) {
      assert.equal(parseTime(ts), undefined, ts);
    }
  });

  it("parseTime agrees with Date on every millisecond time from 1970 to 2500", () => {
    fc.assert(
      fc.property(fc.integer({ min: 0, max: 16_725_225_600_000 }), fc.integer({ min: 0, max: 999_999 }), (ms, sub) => {
        const iso = new Date(ms).toISOString().replace("Z", `${String(sub).padStart(6, "0")}Z`);
        const time = parseTime(iso)!;
        assert.equal(time.unixMs, ms);
        assert.equal(BigInt(time.unixNano), BigInt(ms) * 1_000_000n + BigInt(sub));
      }),
      { numRuns: 500 },
    );
  });

  it("readLine keeps the line's exact text and refuses what is not a UTF-8 JSON object", () => {
    const text = '{"ts":"2026-05-29T00:00:00Z","tool_id":"\\u0000 \uFEFF é 😀"}';
    const line = readLine(new TextEncoder().encode(text));
    assert.equal(typeof line === "object" && line.text, text);
    assert.equal(typeof line === "object" && line.time?.unixSeconds, 1780012800);
    assert.match(String(readLine(new Uint8Array([0x7b, 0xff, 0x7d]))), /UTF-8/);
    assert.match(String(readLine(new TextEncoder().encode("not json"))), /not JSON/);
    assert.match(String(readLine(new TextEncoder().encode("[1]"))), /not a JSON object/);
    assert.match(String(readLine(new TextEncoder().encode("null"))), /not a JSON object/);
    assert.equal(typeof readLine(new TextEncoder().encode('{"ts":5}')), "object");
  });

  it("decodeUtf8 keeps a U+FFFD that was written as one and refuses bytes that are not UTF-8", () => {
    const written = new TextEncoder().encode('{"a":"\uFFFD"}');
    assert.equal(decodeUtf8(written), '{"a":"\uFFFD"}');
    assert.equal(decodeUtf8(new Uint8Array([0x7b, 0xc3, 0x7d])), undefined, "a truncated sequence");
    assert.equal(decodeUtf8(new Uint8Array([0xed, 0xa0, 0x80])), undefined, "an encoded surrogate");
    assert.equal(decodeUtf8(new Uint8Array([0xef, 0xbb, 0xbf, 0x7b, 0x7d])), "\uFEFF{}", "a BOM is kept");
  });
});
