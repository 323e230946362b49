import { describe, it } from "node:test";
import assert from "node:assert/strict";
import fc from "fast-check";
import { type CallEvent, CallEventSyntaxError, encodeCallEvent } from "../../mod.ts";
import { parseText } from "../../src/event/_parse_text.ts";
import { canonicalKeys } from "../../src/event/_read_event.ts";
import { plainKeysOfBytes, strictJsonIssue } from "../../src/event/_strict_json.ts";
import { readAll } from "../_helpers/streams.ts";
import { arbitraryEvent } from "../_helpers/arbitrary.ts";
import { mkEvent } from "../_helpers/events.ts";

const encoder = new TextEncoder();

/** What plainKeysOfBytes says of `text`, as the reader calls it: on its UTF-8 bytes, inside a larger buffer. */
function plainKeys(text: string): number {
  const bytes = encoder.encode(`{"x":1}\n${text}\n`);
  return plainKeysOfBytes(bytes, 8, bytes.length - 1);
}

/** The event parseText reads from `text` given that count, or the path and reason of its error. */
function verdict(text: string, keys: number | undefined): CallEvent | string {
  try {
    return parseText(text, keys);
  } catch (error) {
    assert.ok(error instanceof CallEventSyntaxError, String(error));
    return `${error.path}: ${error.reason}`;
  }
}

// Edits of an encoded event's text that JSON.parse forgives and serde may not,
// and edits that break it: each one aimed at what the byte scan must notice.
const INTEGER_TOKENS = ["1.0", "-0", "-1", "1e2", "1E2", "0.5e1", "1e+2", "100", "0", "9007199254740993"];
const SPACES = [" ", "\t", "\r", "  "];
const ESCAPES = ["\\u0041", "\\ud800", "\\udc00\\ud800", '\\"', "\\\\", "\\/", "\\n", "é", "😀"];
const NOISE = '{}[]:,"\\-.eE019 tfnul'.split("");

type Edit =
  | { readonly type: "duplicate"; readonly at: number }
  | { readonly type: "integer"; readonly at: number; readonly token: string }
  | { readonly type: "space"; readonly at: number; readonly space: string }
  | { readonly type: "escape"; readonly at: number; readonly escape: string }
  | { readonly type: "noise"; readonly at: number; readonly char: string };

const editArb: fc.Arbitrary<Edit> = fc.oneof(
  fc.record({ type: fc.constant("duplicate" as const), at: fc.nat() }),
  fc.record({ type: fc.constant("integer" as const), at: fc.nat(), token: fc.constantFrom(...INTEGER_TOKENS) }),
  fc.record({ type: fc.constant("space" as const), at: fc.nat(), space: fc.constantFrom(...SPACES) }),
  fc.record({ type: fc.constant("escape" as const), at: fc.nat(), escape: fc.constantFrom(...ESCAPES) }),
  fc.record({ type: fc.constant("noise" as const), at: fc.nat(), char: fc.constantFrom(...NOISE) }),
);

/** Indexes where `pattern` matches `text`. */
function matches(text: string, pattern: RegExp): RegExpExecArray[] {
  return [...text.matchAll(new RegExp(pattern.source, "g"))];
}

function applyEdit(text: string, edit: Edit): string {
  const pick = <T>(items: readonly T[]): T | undefined => items[edit.at % Math.max(items.length, 1)];
  switch (edit.type) {
    case "duplicate": {
      // A member `"key":scalar` (or `"kind":"…"`) given again right after itself.
      const member = pick(matches(text, /"[a-z_]+":(?:"[^"\\]*"|-?\d+|true|false|null)(?=[,}])/));
      if (member === undefined) return text;
      const end = member.index + member[0].length;
      return `${text.slice(0, end)},${member[0]}${text.slice(end)}`;
    }
    case "integer": {
      const token = pick(matches(text, /(?<=":)\d+(?=[,}])/));
      if (token === undefined) return text;
      return text.slice(0, token.index) + edit.token + text.slice(token.index + token[0].length);
    }
    case "space": {
      const at = pick(matches(text, /[{}[\]:,]/));
      return at === undefined ? text : text.slice(0, at.index) + edit.space + text.slice(at.index);
    }
    case "escape": {
      // Inside a string: just after an opening or closing quote's neighbour.
      const at = pick(matches(text, /"(?=[^"\\,:}\]])/));
      return at === undefined ? text : text.slice(0, at.index + 1) + edit.escape + text.slice(at.index + 1);
    }
    case "noise": {
      const at = edit.at % (text.length + 1);
      return text.slice(0, at) + edit.char + text.slice(at);
    }
  }
}

// As the reader sees it: text decoded from UTF-8 bytes (an edit that splits a
// surrogate pair leaves U+FFFD, never a lone surrogate; parseCallEvent's own
// tests cover text that holds one).
const decoder = new TextDecoder();
const editedLineArb = fc.tuple(arbitraryEvent(), fc.array(editArb, { minLength: 1, maxLength: 3 })).map((
  [event, edits],
) => decoder.decode(encoder.encode(edits.reduce(applyEdit, encodeCallEvent(event)))));

describe("plainKeysOfBytes, the reader's cheap test", () => {
  it("plainKeysOfBytes counts the keys of a plain line, nested ones too, and ignores colons and quotes in strings", () => {
    assert.equal(plainKeys('{"a":1,"b":{"c":[true,false,null]}}'), 3);
    assert.equal(plainKeys('{"a":"x\\":y","b\\"":"é:😀"}'), 2);
    assert.equal(plainKeys("{}"), 0);
    const line = encodeCallEvent(mkEvent({ kind: "execution_failed", code: "E", retryable: true }));
    assert.equal(plainKeys(line), canonicalKeys(JSON.parse(line)));
  });

  it("plainKeysOfBytes gives up (-1) on whitespace, a \\u escape, and a sign, fraction or exponent", () => {
    for (
      const text of [
        '{"a": 1}',
        '{"a" :1}',
        '{ "a":1}',
        '{"a":1}\r',
        '{"a":"\\u0041"}',
        '{"a\\u0041":1}',
        '{"a":-1}',
        '{"a":1.0}',
        '{"a":1e2}',
        '{"a":1E2}',
        '{"a":[1,2e0]}',
      ]
    ) assert.equal(plainKeys(text), -1, text);
    // `e` after a letter is part of true or false, not an exponent.
    assert.equal(plainKeys('{"a":true,"b":false}'), 2);
  });

  it("plainKeysOfBytes stops at its end, even inside an unclosed string", () => {
    const bytes = encoder.encode('{"a":"bc","d":1}');
    assert.equal(plainKeysOfBytes(bytes, 0, 7), 1); // `{"a":"b`, cut inside the value
    assert.equal(plainKeysOfBytes(bytes, 0, 3), 0); // `{"a`, cut inside the key: no colon seen
    assert.equal(plainKeysOfBytes(bytes, 0, bytes.length), 2);
  });

  it("a line whose plain key count matches its value's hides nothing from JSON.parse (property)", () => {
    fc.assert(
      fc.property(editedLineArb, (text) => {
        const keys = plainKeys(text);
        let value: unknown;
        try {
          value = JSON.parse(text);
        } catch {
          return;
        }
        if (keys >= 0 && canonicalKeys(value) === keys) assert.equal(strictJsonIssue(text, value), undefined, text);
      }),
      { numRuns: 1500 },
    );
  });

  it("parseText gives the same verdict on an edited line with the byte count, with the text test, and with neither (property)", () => {
    fc.assert(
      fc.property(editedLineArb, (text) => {
        const slow = verdict(text, -1);
        assert.deepEqual(verdict(text, undefined), slow, text);
        assert.deepEqual(verdict(text, plainKeys(text)), slow, text);
      }),
      { numRuns: 1500 },
    );
  });

  it("readCallEvents gives an edited line parseCallEvent's verdict (property)", async () => {
    await fc.assert(
      fc.asyncProperty(fc.array(editedLineArb, { minLength: 1, maxLength: 5 }), async (lines) => {
        const { events, invalid } = await readAll(new Blob([lines.join("\n") + "\n"]));
        const got = [...events.map((event) => JSON.stringify(event)), ...invalid.map((error) => error.line)];
        const expected: (string | number)[] = [];
        const rejected: number[] = [];
        for (const [i, text] of lines.entries()) {
          const result = verdict(text, undefined);
          if (typeof result === "string") rejected.push(i + 1);
          else expected.push(JSON.stringify(result));
        }
        assert.deepEqual(got, [...expected, ...rejected]);
      }),
      { numRuns: 200 },
    );
  });
});
