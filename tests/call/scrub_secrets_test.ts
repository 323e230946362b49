import { describe, it } from "node:test";
import assert from "node:assert/strict";
import fc from "fast-check";
import { auditCall, encodeCallEvent, type Outcome, scrubSecrets, ToolCallError } from "../../mod.ts";
import { MemorySink } from "./_sinks.ts";

const chars = (alphabet: string, minLength: number, maxLength: number): fc.Arbitrary<string> =>
  fc.string({ unit: fc.constantFrom(...alphabet), minLength, maxLength });
const UPPER_DIGITS = "ABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789";
const ALNUM = "abcdefghijklmnopqrstuvwxyz" + UPPER_DIGITS;
const B64URL = ALNUM + "_-";
const B64 = ALNUM + "+/";

/** One secret of each documented shape. */
const secret: fc.Arbitrary<[string, string]> = fc.oneof(
  fc.tuple(
    fc.constantFrom("Bearer", "bearer", "BEARER"),
    fc.constantFrom(" ", "  ", "\t"),
    chars(ALNUM + "-._~+/", 16, 64),
    fc.constantFrom("", "=", "=="),
  )
    .map((p) => `${p.join("")}`).map((s): [string, string] => ["bearer", s]),
  fc.tuple(chars(B64URL, 10, 60), chars(B64URL, 10, 300), chars(B64URL, 10, 90))
    .map(([h, p, s]): [string, string] => ["jwt", `eyJ${h}.${p}.${s}`]),
  fc.tuple(fc.constantFrom("AKIA", "ASIA"), chars(UPPER_DIGITS, 16, 16)).map((p) => `${p.join("")}`).map((
    s,
  ): [string, string] => ["aws_access_key_id", s]),
  fc.tuple(
    fc.constantFrom("RSA ", "EC ", "", "OPENSSH ", "ENCRYPTED "),
    fc.array(chars(B64, 64, 64), { minLength: 1, maxLength: 30 }),
    chars(B64, 1, 63),
  )
    .map((
      [type, lines, last],
    ): [string, string] => [
      "private_key",
      `-----BEGIN ${type}PRIVATE KEY-----\n${[...lines, last].join("\n")}\n-----END ${type}PRIVATE KEY-----`,
    ]),
  fc.tuple(fc.constantFrom("ghp_", "gho_", "ghs_"), chars(ALNUM, 36, 36)).map((p) => `${p.join("")}`).map((
    s,
  ): [string, string] => ["github_token", s]),
  chars(ALNUM + "_", 22, 82).map((s): [string, string] => ["github_token", `github_pat_${s}`]),
  fc.tuple(fc.constantFrom("xoxb-", "xoxp-"), chars(ALNUM + "-", 10, 60)).map((p) => `${p.join("")}`).map((
    s,
  ): [string, string] => ["slack_token", s]),
  fc.tuple(fc.constantFrom("sk-", "sk-ant-api03-", "sk-proj-", "sk_live_", "rk_test_"), chars(B64URL, 20, 100))
    .map((p) => `${p.join("")}`).map((s): [string, string] => ["api_key", s]),
  chars(B64URL, 35, 35).map((s): [string, string] => ["google_api_key", `AIza${s}`]),
);

/** Free text around a secret: nothing, a little, or a lot (past the caps), in any script. */
const around: fc.Arbitrary<string> = fc.oneof(
  fc.constant(""),
  fc.string({ maxLength: 30 }),
  fc.string({ unit: "binary", maxLength: 30 }),
  fc.string({ unit: "grapheme", maxLength: 10 }),
  fc.string({ minLength: 200, maxLength: 3000 }),
);

/** Where the text goes: each free-text field of an event. */
const FIELDS: readonly [string, (text: string) => Outcome][] = [
  ["invalid_args.message", (message) => ({ kind: "invalid_args", message })],
  ["execution_failed.code", (code) => ({ kind: "execution_failed", code, retryable: false })],
  ["capability_denied.missing", (m) => ({ kind: "capability_denied", missing: ["ok", m] })],
  ["tool_id", () => ({ kind: "tool_not_found" })],
];

describe("scrubSecrets", () => {
  it("replaces each documented shape", () => {
    const cases: [string, string][] = [
      ["auth failed: Bearer abc.DEF-123_x~y+z/w== (expired)", "auth failed: Bearer [REDACTED:bearer] (expired)"],
      ["Authorization: Basic dXNlcjpwYXNz\nnext", "Authorization: [REDACTED:authorization]\nnext"],
      [`{"authorization":"Digest u=1"}`, `{"authorization":"[REDACTED:authorization]"}`],
      [
        "token eyJhbGciOiJIUzI1NiJ9.eyJzdWIiOiIxIn0.c2lnbmF0dXJl ok",
        "token [REDACTED:jwt] ok",
      ],
      ["key AKIAIOSFODNN7EXAMPLE!", "key [REDACTED:aws_access_key_id]!"],
      [
        "fetch https://bob:hunter2@db.example.com/x failed",
        "fetch https://[REDACTED:url_credentials]@db.example.com/x failed",
      ],
      ["-----BEGIN PRIVATE KEY-----\nMIIE\n-----END PRIVATE KEY-----", "[REDACTED:private_key]"],
      ["pem: -----BEGIN RSA PRIVATE KEY-----\nMIIEow (cut", "pem: [REDACTED:private_key]"],
      ["gh ghp_abcdefghijklmnopqrstuvwxyz0123456789", "gh [REDACTED:github_token]"],
      ["slack xoxb-1234567890-abcdef", "slack [REDACTED:slack_token]"],
      ["model key sk-ant-api03-AbCdEfGhIjKlMnOpQrSt", "model key [REDACTED:api_key]"],
      ["stripe sk_live_0123456789abcdefXYZ", "stripe [REDACTED:api_key]"],
      ["maps AIzaSyA-abcdefghijklmnopqrstuvwxyz01234", "maps [REDACTED:google_api_key]"],
      ["password=hunter2&user=bob", "password=[REDACTED]&user=bob"],
      [`{"client_secret": "s3cr3t", "id": 1}`, `{"client_secret": "[REDACTED]", "id": 1}`],
      ["X-Api-Key: 12345", "X-Api-Key: [REDACTED]"],
      ["AWS_SECRET_ACCESS_KEY=wJalrXUtnFEMI/K7MDENG/bPxRfiCYEXAMPLEKEY", "AWS_SECRET_ACCESS_KEY=[REDACTED]"],
    ];
    for (const [input, expected] of cases) assert.equal(scrubSecrets(input), expected, input);
  });

  it("scrubs the value of a key however long its name is before the key word", () => {
    const keys = [
      "KAFKA_CONNECT_PRODUCTION_EU_WEST_1_ORDERS_SERVICE_SCHEMA_REGISTRY_BASIC_AUTH_PASSWORD",
      "com.example.platform.integration.payments.gateway.primary.eu-west-1.client.secret",
      `${"x".repeat(200)}_access_token`,
    ];
    for (const key of keys) {
      assert.equal(scrubSecrets(`${key}=hunter2 next`), `${key}=[REDACTED] next`, key);
      assert.equal(scrubSecrets(`config: {"${key}": "hunter2"}`), `config: {"${key}": "[REDACTED]"}`, key);
    }
  });

  it("leaves ordinary text alone", () => {
    for (
      const text of [
        "File not found: /home/user/report.txt",
        "Expected number, received string at a",
        "Basic information is missing",
        "Tool search.web not found",
        "retry after 1000 ms (HTTP 429)",
        "",
      ]
    ) assert.equal(scrubSecrets(text), text);
  });

  it("documents what it misses: bare secrets without a shape or a key", () => {
    const bare = "hunter2 wJalrXUtnFEMI/K7MDENG/bPxRfiCYEXAMPLEKEY 5f4dcc3b5aa765d61d8327deb882cf99";
    assert.equal(scrubSecrets(bare), bare);
  });

  it("scans long runs of letters in linear time (no backtracking blow-up)", () => {
    // Each of these took seconds with a quadratic pattern; here they are only required to finish and change nothing.
    for (const text of ["a".repeat(50_000), "eyJ".repeat(2_000), "token".repeat(5_000), "x:".repeat(20_000)]) {
      assert.equal(scrubSecrets(text), text);
    }
  });
});

describe("auditCall free text", () => {
  it("never writes a secret of any shape, wherever it sits in any free-text field", () => {
    fc.assert(
      fc.property(secret, around, around, fc.constantFrom(...FIELDS), ([, s], before, after, [field, outcome]) => {
        const text = before + s + after;
        const sink = new MemorySink();
        const call = field === "tool_id" ? text : "tool";
        try {
          auditCall(sink, { tool_id: call }, () => {
            throw new ToolCallError(outcome(text) as never);
          });
        } catch {
          // the tool's error, rethrown
        }
        const line = sink.lines()[0]!;
        assert.ok(!line.includes(JSON.stringify(s).slice(1, -1)), `${field} leaks ${s}`);
        assert.ok(!JSON.parse(line).outcome.message?.includes(s));
      }),
      { numRuns: 400 },
    );
  });

  it("caps free text with a visible marker, never splitting a surrogate pair", () => {
    const sink = new MemorySink();
    const pair = "😀";
    const message = "a".repeat(1023) + pair + "b".repeat(5000);
    const code = "C".repeat(255) + pair + "D";
    for (const outcome of [{ kind: "invalid_args", message }, { kind: "execution_failed", code }] as const) {
      try {
        auditCall(sink, { tool_id: "t" }, () => {
          throw new ToolCallError(outcome);
        });
      } catch {
        // rethrown
      }
    }
    const [first, second] = sink.events.map((e) => e.outcome);
    assert.deepEqual(first, {
      kind: "invalid_args",
      message: `${"a".repeat(1023)}…[truncated: ${message.length} chars]`,
    });
    assert.deepEqual(second, {
      kind: "execution_failed",
      code: `${"C".repeat(255)}…[truncated: ${code.length} chars]`,
      retryable: false,
    });
    for (const line of sink.lines()) assert.ok(line.length < 1024 + 400, `${line.length}`);
  });

  it("caps ids and the missing list, and turns lone surrogates into U+FFFD so the event stays writable", () => {
    const sink = new MemorySink();
    const missing = Array.from({ length: 100 }, (_, i) => `cap${i}`);
    try {
      auditCall(sink, { tool_id: "x".repeat(300), call_id: "bad\ud800id", caller_id: "c".repeat(1000) }, () => {
        throw new ToolCallError({ kind: "capability_denied", missing });
      });
    } catch {
      // rethrown
    }
    const event = sink.only();
    assert.equal(event.tool_id, `${"x".repeat(256)}…[truncated: 300 chars]`);
    assert.equal(event.call_id, "bad\ufffdid");
    assert.equal(event.caller_id, `${"c".repeat(256)}…[truncated: 1000 chars]`);
    assert.ok(event.outcome.kind === "capability_denied");
    assert.equal(event.outcome.missing.length, 65);
    assert.equal(event.outcome.missing[64], "…[+36 more]");
    assert.doesNotThrow(() => encodeCallEvent(event));
  });

  it("follows maxMessageLength, maxIdLength and scrubSecrets: false", () => {
    const sink = new MemorySink();
    const message = "Bearer abcdefghijklmnopqrstuvwxyz " + "m".repeat(100);
    const options = { maxMessageLength: 10, maxIdLength: Infinity, scrubSecrets: false };
    try {
      auditCall(sink, { tool_id: "y".repeat(1000) }, () => {
        throw new ToolCallError({ kind: "invalid_args", message });
      }, options);
    } catch {
      // rethrown
    }
    const event = sink.only();
    assert.equal(event.tool_id.length, 1000);
    assert.deepEqual(event.outcome, {
      kind: "invalid_args",
      message: `Bearer abc…[truncated: ${message.length} chars]`,
    });
  });

  it("scrubs the tool id of an unknown tool only", () => {
    const sink = new MemorySink();
    const name = "run AKIAIOSFODNN7EXAMPLE";
    auditCall(sink, { tool_id: name }, () => 1);
    try {
      auditCall(sink, { tool_id: name }, () => {
        throw new ToolCallError({ kind: "tool_not_found" });
      });
    } catch {
      // rethrown
    }
    assert.deepEqual(sink.events.map((e) => e.tool_id), [name, "run [REDACTED:aws_access_key_id]"]);
  });
});
