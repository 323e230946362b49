import { describe, it } from "node:test";
import assert from "node:assert/strict";
import fc from "fast-check";
import { encodeTime, ulid } from "../../src/call/_ulid.ts";
import { timestamp } from "../../src/event/_clock.ts";
import { nowRfc3339 } from "../../mod.ts";

describe("ulid", () => {
  it("gives Crockford base32 ids that strictly increase, also many within one millisecond", () => {
    const ids = Array.from({ length: 20_000 }, () => ulid());
    for (const id of ids) assert.match(id, /^[0-7][0-9A-HJKMNP-TV-Z]{25}$/);
    for (let i = 1; i < ids.length; i++) assert.ok(ids[i - 1]! < ids[i]!, `${ids[i - 1]} < ${ids[i]}`);
  });

  it("encodes the current time in its first ten characters", () => {
    const before = Date.now();
    const id = ulid();
    const after = Date.now();
    const ms = [...id.slice(0, 10)].reduce((t, c) => t * 32 + "0123456789ABCDEFGHJKMNPQRSTVWXYZ".indexOf(c), 0);
    // The last id may have borrowed a millisecond or two when its random part ran out.
    assert.ok(ms >= before - 1 && ms <= after + 2, `${ms} within ${before}..${after}`);
  });
});

describe("encodeTime", () => {
  it("gives the ten base32 digits of any 48-bit time, also for neighbours that share their first digits", () => {
    const reference = (t: number): string => {
      let s = "";
      for (let i = 0; i < 10; i++, t = Math.floor(t / 32)) s = "0123456789ABCDEFGHJKMNPQRSTVWXYZ"[t % 32] + s;
      return s;
    };
    fc.assert(
      fc.property(fc.integer({ min: 0, max: 2 ** 48 - 1025 }), (t) => {
        for (const time of [t, t + 1, t + 1024, t - (t % 1024), 2 ** 48 - 1]) {
          assert.equal(encodeTime(time), reference(time), `${time}`);
        }
      }),
    );
  });
});

describe("timestamp", () => {
  it("formats like nowRfc3339", () => {
    const a = nowRfc3339();
    const ts = timestamp();
    const b = nowRfc3339();
    assert.match(ts, /^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d(\.\d{3})?\+00:00$/);
    assert.ok(Date.parse(a) <= Date.parse(ts) && Date.parse(ts) <= Date.parse(b));
  });
});
