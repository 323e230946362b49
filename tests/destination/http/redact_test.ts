// Secrets never leave: configured header values and the URL's query and
// fragment are scrubbed from excerpts, messages and causes, in the spellings
// servers and runtimes echo them in.
import { describe, it } from "node:test";
import assert from "node:assert/strict";
import fc from "fast-check";
import { fetchDestination, HttpDeliveryError } from "../../../src/destination/fetch_destination.ts";
import { describeUnparsedUrl, Redactor } from "../../../src/destination/http/_redact.ts";
import { HttpReceiver, type ReceivedRequest, type Reply } from "../../_helpers/http_receiver.ts";
import { body, fast, ids, linesOf, stringsOf, withReceiver } from "./_fetch_helpers.ts";

/** Everything a receiver that echoes the request could say, in the usual spellings. */
function echo(request: ReceivedRequest): string {
  const values = Object.values(request.headers).flat().map(String);
  const url = new URL(request.path, "http://127.0.0.1");
  const html = (text: string): string =>
    text.replace(/&/g, "&amp;").replace(/</g, "&lt;").replace(/>/g, "&gt;").replace(/"/g, "&quot;")
      .replace(/'/g, "&#39;");
  return [
    `401 Unauthorized: ${request.method} ${request.path}`,
    JSON.stringify({ headers: request.headers, query: Object.fromEntries(url.searchParams) }),
    ...values.map((value) => `header: ${value}`),
    ...values.flatMap((value) => value.split(" ").map((part) => `token ${part} is not valid`)),
    ...[...url.searchParams.values()].map((value) => `param ${value} / ${encodeURIComponent(value)}`),
    `<pre>${values.map(html).join("\n")}</pre>`,
    `see https://auth.example/login?next=${encodeURIComponent(request.path)}#${request.path}`,
  ].join("\n");
}

const echoing = (request: ReceivedRequest): Reply => ({ status: 401, body: echo(request) });

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
    assert.ok(String(printed[0]).includes("Cannot deliver 1 audit event "), String(printed[0]));
    assert.ok(!String(printed[0]).includes("SECRET_Q"));
  });

  it("fetchDestination scrubs the headers and the query a 401 page echoes from the excerpt", async () => {
    await withReceiver(echoing, async (receiver) => {
      const errors: HttpDeliveryError[] = [];
      const destination = fetchDestination(
        `${receiver.url}?token=t0k3n-SECRET-1&sig=a%2Fb%2Bc%3Dd`,
        fast({
          headers: { authorization: "Bearer s3cr3t-T0KEN", "x-api-key": 'k"ey<&>99' },
          onError: (e) => errors.push(e),
        }),
      );
      const writer = destination.getWriter();
      await writer.write(body(linesOf(ids(1))));
      await writer.close();
      assert.equal(errors.length, 1);
      assert.equal(errors[0]!.status, 401);
      assert.match(errors[0]!.body!, /^401 Unauthorized: POST \/ingest\[redacted\]/);
      for (const text of stringsOf(errors[0])) {
        for (
          const secret of ["s3cr3t-T0KEN", "t0k3n-SECRET-1", 'k"ey<&>99', 'k\\"ey', "k&quot;ey", "a/b+c=d", "a%2Fb"]
        ) {
          assert.ok(!text.includes(secret), `${secret} in ${text}`);
        }
      }
    });
  });

  it("fetchDestination scrubs what a custom fetch's error says about the request", async () => {
    const tattler: typeof fetch = (input, init) => {
      const headers = JSON.stringify([...new Headers(init?.headers)]);
      const cause = new Error(`socket closed while sending ${headers}`);
      return Promise.reject(new TypeError(`fetch ${String(input)} failed`, { cause }));
    };
    const errors: HttpDeliveryError[] = [];
    const destination = fetchDestination("https://logs.example/ingest?api_key=QUERY-SECRET#frag-SECRET", {
      headers: { authorization: "Bearer HEADER-SECRET" },
      retry: { delayMs: 5, deadlineMs: 50 },
      fetch: tattler,
      onError: (e) => errors.push(e),
    });
    const writer = destination.getWriter();
    await writer.write(body(linesOf(ids(1))));
    await writer.close();
    assert.equal(errors.length, 1);
    const texts = stringsOf(errors[0]);
    assert.ok(texts.some((t) => t.includes("socket closed while sending")), "the cause chain is kept");
    assert.ok(texts.some((t) => t.includes("https://logs.example/ingest")), "URLs are kept to origin and path");
    for (const text of texts) {
      for (const secret of ["HEADER-SECRET", "QUERY-SECRET", "frag-SECRET", "api_key="]) {
        assert.ok(!text.includes(secret), `${secret} in ${text}`);
      }
    }
  });

  it("fetchDestination never lets a secret of any shape into a string it produces", async () => {
    const unit = fc.constantFrom(...Array.from({ length: 94 }, (_, i) => String.fromCharCode(0x21 + i)));
    const token = fc.string({ unit, minLength: 8, maxLength: 24 });
    const spaced = fc.string({ unit: fc.oneof(unit, fc.constant(" ")), minLength: 8, maxLength: 24 })
      .filter((text) => text.trim() === text);
    await withReceiver(echoing, async (receiver) => {
      await fc.assert(
        fc.asyncProperty(token, spaced, token, token, token, async (bearer, apiKey, query, raw, fragment) => {
          const where = receiver.url;
          const secrets = [bearer, apiKey, query, raw, fragment, `Bearer ${bearer}`];
          fc.pre(secrets.every((secret) => !where.includes(secret) && !"[redacted]".includes(secret)));
          const url = `${where}?q=${encodeURIComponent(query)}&r=${encodeURIComponent(raw)}#${fragment}`;
          const headers = { authorization: `Bearer ${bearer}`, "x-api-key": apiKey };
          const errors: HttpDeliveryError[] = [];
          // An echoing 401, and a fetch that throws with the request in its message.
          const echoed = fetchDestination(url, fast({ headers, onError: (e) => errors.push(e) }));
          const tattler: typeof fetch = (input, init) =>
            Promise.reject(new Error(`${String(input)} ${JSON.stringify([...new Headers(init?.headers)])}`));
          const thrown = fetchDestination(url, {
            headers,
            fetch: tattler,
            retry: { delayMs: 1, deadlineMs: 5 },
            onError: (e) => errors.push(e),
          });
          for (const destination of [echoed, thrown]) {
            const writer = destination.getWriter();
            await writer.write(body(linesOf(ids(1))));
            await writer.close();
          }
          assert.equal(errors.length, 2);
          assert.equal(errors[0]!.status, 401);
          for (const text of errors.flatMap(stringsOf)) {
            for (const secret of secrets) assert.ok(!text.includes(secret), `${JSON.stringify(secret)} in ${text}`);
          }
        }),
        { numRuns: 60 },
      );
    });
  });
});

describe("Redactor.forEndpoint and Basic credentials", () => {
  it("scrubs the decoded user:password of a Basic authorization header, and the password alone", () => {
    const headers = new Headers({ authorization: `Basic ${btoa("ingest:BASICPASS77")}` });
    const redactor = Redactor.forEndpoint(new URL("https://logs.example/ingest"), headers);
    const echoed = redactor.text("401: bad credentials ingest:BASICPASS77 (password BASICPASS77)");
    assert.ok(!echoed.includes("BASICPASS77"), echoed);
  });
});

describe("Redactor.forEndpoint and tokens in the path", () => {
  it("scrubs a path segment that looks like a token, as collector and webhook URLs carry, and keeps plain words", () => {
    const token = "ZaVnC4dhaV3Qk9sLm2Xp7RtY0uWqEeR1bN5cT8gH";
    const url = new URL(`https://collectors.example/receiver/v1/http/${token}`);
    const redactor = Redactor.forEndpoint(url, new Headers());
    const echoed = redactor.text(`Cannot deliver 3 audit events to ${url.href}: 404 no collector ${token}`);
    assert.ok(!echoed.includes(token), echoed);
    assert.ok(!echoed.includes(encodeURIComponent(token).slice(0, 20)), echoed);
    assert.match(echoed, /https:\/\/collectors\.example\/receiver\/v1\/http\/\[redacted\]/);
    const plain = Redactor.forEndpoint(new URL("https://logs.example/api/v1/otlp_logs_ingest/2026"), new Headers());
    assert.equal(plain.text("404 at /api/v1/otlp_logs_ingest/2026"), "404 at /api/v1/otlp_logs_ingest/2026");
  });
});

describe("Redactor", () => {
  it("Redactor scrubs every spelling of a secret, and only secrets", () => {
    const redactor = new Redactor(["p@ss w/rd&<x>"]);
    for (
      const spelling of [
        "p@ss w/rd&<x>",
        encodeURIComponent("p@ss w/rd&<x>"),
        "p%40ss+w%2Frd%26%3Cx%3E",
        JSON.stringify("p@ss w/rd&<x>").slice(1, -1),
        "p@ss w\\/rd&<x>",
        "p@ss w/rd&amp;&lt;x&gt;",
      ]
    ) {
      assert.equal(redactor.text(`before ${spelling} after`), "before [redacted] after", spelling);
    }
    assert.equal(redactor.text("nothing to hide: p@ss"), "nothing to hide: p@ss");
    assert.equal(new Redactor(["abc", ""]).text("abc"), "abc", "shorter than 4 characters: not a secret");
  });

  it("Redactor cuts every URL to its origin and path", () => {
    const redactor = new Redactor([]);
    assert.equal(
      redactor.text("error sending request for url (https://u:p@api.example:8443/v1/logs?token=x#y): refused"),
      "error sending request for url (https://api.example:8443/v1/logs): refused",
    );
    assert.equal(redactor.text("see custom+scheme://host/path?k=v"), "see custom+scheme:/path");
  });

  it("Redactor trims a secret cut at the end of a truncated text", () => {
    const redactor = new Redactor(["SECRET-VALUE-42"]);
    assert.equal(redactor.text("error: SECRET-VAL", 500, true), "error: ");
    assert.equal(redactor.text("error: SECRET-VAL", 500, false), "error: SECRET-VAL", "a complete text is not trimmed");
    assert.equal(redactor.text("x".repeat(600) + "SECRET-VALUE-42", 500), "x".repeat(500));
  });

  it("Redactor does not spell a secret anew with its own mark", () => {
    const redactor = new Redactor(["dacted]", "[redac"]);
    for (const text of ["[redacted]", "dacted] and [redac", "[re[redacdacted]"]) {
      const out = redactor.text(text);
      assert.ok(!out.includes("dacted]") && !out.includes("[redac"), out);
    }
  });

  it("Redactor.error copies a cause chain with scrubbed messages, and survives hostile errors", () => {
    const redactor = new Redactor(["hunter2-secret"]);
    const inner = new RangeError("inner hunter2-secret");
    const copy = redactor.error(new TypeError("outer https://x.example/p?hunter2-secret", { cause: inner }));
    assert.equal(copy.name, "TypeError");
    assert.equal(copy.message, "outer https://x.example/p");
    assert.equal((copy.cause as Error).name, "RangeError");
    assert.equal((copy.cause as Error).message, "inner [redacted]");
    const { proxy, revoke } = Proxy.revocable({}, {});
    revoke();
    const throwing = Object.defineProperty({}, "message", {
      get() {
        throw new Error("boom");
      },
    });
    for (const hostile of [proxy, throwing, Symbol("s"), null, undefined, 42]) {
      assert.ok(redactor.error(hostile) instanceof Error);
    }
    const loop: { message: string; cause?: unknown } = { message: "loop" };
    loop.cause = loop;
    let depth = 0;
    for (let e: unknown = redactor.error(loop); e !== undefined; e = (e as Error).cause) depth++;
    assert.equal(depth, 5, "a cause cycle is cut");
  });

  it("describeUnparsedUrl drops user info, query and fragment", () => {
    // With an "@" anywhere, only the scheme is quoted: where user info ends cannot be told.
    assert.equal(describeUnparsedUrl("htps://user:pa55@host/p?token=t#f"), '"htps://[redacted]"');
    assert.equal(describeUnparsedUrl("user:pa55@host"), '"[redacted]"');
    assert.equal(describeUnparsedUrl("htps://host/p?token=t#f"), '"htps://host/p"');
    // A password holding an unencoded "?" or "#", or a query holding an "@" (found by a hostile test).
    for (
      const url of [
        "http://admin:s3cr3tPW?x@exa mple.com/",
        "http://u:s3cr3tPW#frag@host:99999",
        "http://h/?t=s3cr3tPW@x y",
      ]
    ) {
      assert.ok(!describeUnparsedUrl(url).includes("s3cr3tPW"), describeUnparsedUrl(url));
    }
    assert.equal(describeUnparsedUrl("not a url"), '"not a url"');
    assert.equal(describeUnparsedUrl("x".repeat(200)), JSON.stringify("x".repeat(100) + "…"));
  });
});
