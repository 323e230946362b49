// `audit keygen` and `audit verify` as real subprocesses under Deno and Bun.
import { after, before, describe, it } from "node:test";
import assert from "node:assert/strict";
import {
  copyFileSync,
  mkdirSync,
  mkdtempSync,
  readFileSync,
  rmSync,
  statSync,
  symlinkSync,
  writeFileSync,
} from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { AuditSealer } from "../../src/seal/audit_sealer.ts";
import { importAuditSealKey } from "../../src/seal/audit_seal_key.ts";
import { dataLines, eventLine, inBandLines, sealTrail, tornTrail } from "../seal/_trail.ts";
import { runCli as run, RUNTIMES } from "./_cli.ts";

const SLOW = { timeout: 120_000 };
const encoder = new TextEncoder();
const decoder = new TextDecoder();

let dir = "";
before(() => {
  dir = mkdtempSync(join(tmpdir(), "audit-verify-test-"));
});
after(() => rmSync(dir, { recursive: true, force: true }));

/** Writes a log and its seal: `segments` of lines, the first declaring 3 events lost to a full queue. */
async function writeTrail(name: string, privateJwk: string, tail = 0): Promise<{ data: string[]; seal: string[] }> {
  const key = await importAuditSealKey(privateJwk);
  const sealer = new AuditSealer(key, { origin: "cli.example/audit" });
  const data: string[] = [];
  const seal: string[] = [];
  let i = 0;
  for (const count of [4, 3, 5]) {
    const lines = Array.from({ length: count }, () => eventLine(i++, name));
    sealer.append(encoder.encode(lines.join("")), count);
    if (seal.length === 0) sealer.lost("queue_full", 3, "2026-12-02T10:00:00.000Z", "2026-12-02T10:00:05.000Z");
    data.push(...lines);
    seal.push(decoder.decode(await sealer.seal()));
  }
  for (let t = 0; t < tail; t++) data.push(eventLine(i++, name));
  writeFileSync(join(dir, name), data.join(""));
  writeFileSync(join(dir, `${name}.seal`), seal.join(""));
  return { data, seal };
}

function lines(text: string): string[] {
  return text.trim().split("\n");
}

for (const runtime of Object.keys(RUNTIMES)) {
  describe(`audit keygen and verify under ${runtime}`, () => {
    // `dir` is made in before(), after describe() ran: look it up in each test.
    const keysOf = (): string => join(dir, `keys-${runtime}`);

    it(
      `audit keygen writes an Ed25519 pair, the private one mode 0600, and never replaces it (${runtime})`,
      SLOW,
      async () => {
        const keys = keysOf();
        const made = await run(runtime, ["keygen", "--out", keys]);
        assert.equal(made.status, 0, made.stderr);
        const privatePath = join(keys, "audit-seal.private.jwk");
        const publicPath = join(keys, "audit-seal.public.jwk");
        assert.equal(statSync(privatePath).mode & 0o777, 0o600);
        assert.equal(statSync(publicPath).mode & 0o077 & 0o022, 0, "the public key is not writable by others");
        const privateJwk = JSON.parse(readFileSync(privatePath, "utf8"));
        const publicJwk = JSON.parse(readFileSync(publicPath, "utf8"));
        assert.deepEqual([privateJwk.kty, privateJwk.crv, typeof privateJwk.d], ["OKP", "Ed25519", "string"]);
        assert.equal(publicJwk.d, undefined);
        assert.equal(publicJwk.x, privateJwk.x);
        assert.match(made.stdout, new RegExp(`key id ${publicJwk.kid} \\(Ed25519\\)`));
        const again = await run(runtime, ["keygen", "--out", keys]);
        assert.equal(again.status, 2);
        assert.match(again.stderr, /^audit: .*audit-seal\.private\.jwk already exists/);
        assert.deepEqual(JSON.parse(readFileSync(privatePath, "utf8")), privateJwk, "the key was not replaced");
        const hmac = await run(runtime, ["keygen", "--hmac", "--kid", "shared-1", "--out", join(keys, "hmac")]);
        assert.equal(hmac.status, 0, hmac.stderr);
        const secret = JSON.parse(readFileSync(join(keys, "hmac", "audit-seal.secret.jwk"), "utf8"));
        assert.deepEqual([secret.kty, secret.kid], ["oct", "shared-1"]);
        assert.equal(statSync(join(keys, "hmac", "audit-seal.secret.jwk")).mode & 0o777, 0o600);
        const help = await run(runtime, ["keygen", "--help"]);
        assert.match(help.stdout, /^Usage: audit keygen/);
      },
    );

    it(
      `audit verify exits 0 for an intact trail, printing its gaps and a summary line (${runtime})`,
      SLOW,
      async () => {
        const keys = keysOf();
        const privateJwk = readFileSync(join(keys, "audit-seal.private.jwk"), "utf8");
        const publicKey = join(keys, "audit-seal.public.jwk");
        await writeTrail("intact.jsonl", privateJwk, 2);
        const result = await run(runtime, ["verify", join(dir, "intact.jsonl"), "--key", publicKey]);
        assert.equal(result.status, 0, result.stdout + result.stderr);
        const out = lines(result.stdout);
        assert.match(
          out[0]!,
          /intact\.jsonl:1: gap: 3 events lost between 2026-12-02T10:00:00\.000Z and 2026-12-02T10:00:05\.000Z because queue_full/,
        );
        assert.match(out[1]!, /intact\.jsonl:13-14: unsealed tail: lines 13–14 come after the last checkpoint/);
        assert.match(
          out.at(-1)!,
          /^audit: .*intact\.jsonl \(seal .*intact\.jsonl\.seal\): intact: 3 segments verified, 14 lines \(12 verified, 2 unsealed\), 1 gap \(3 events lost\); offered 15 = written 12 \+ lost 3$/,
        );
        const strict = await run(runtime, ["verify", join(dir, "intact.jsonl"), "--key", publicKey, "--strict"]);
        assert.equal(strict.status, 1, "--strict fails on gaps and the unsealed tail");
        const help = await run(runtime, ["verify", "--help"]);
        assert.match(help.stdout, /^Usage: audit verify FILE/);
      },
    );

    it(
      `audit verify exits 0 for a line a failed write tore, naming it and counting it; 1 with --strict (${runtime})`,
      SLOW,
      async () => {
        const keys = keysOf();
        const key = await importAuditSealKey(readFileSync(join(keys, "audit-seal.private.jwk"), "utf8"));
        const publicKey = join(keys, "audit-seal.public.jwk");
        const trail = await tornTrail(key, new Map([[2, 30]]));
        writeFileSync(join(dir, "torn.jsonl"), trail.data.join(""));
        writeFileSync(join(dir, "torn.jsonl.seal"), trail.seal!.join(""));
        const result = await run(runtime, ["verify", join(dir, "torn.jsonl"), "--key", publicKey]);
        assert.equal(result.status, 0, result.stdout + result.stderr);
        const out = lines(result.stdout);
        assert.match(out[0]!, /torn\.jsonl:1: gap: 1 event lost between \S+ and \S+ because destination/);
        assert.match(
          out[1]!,
          /torn\.jsonl:3: torn write: line 3 is a torn write: part of a line whose write failed \(checkpoint 0 declares 1 failed at the destination\)$/,
        );
        assert.match(
          out.at(-1)!,
          /: intact: 2 segments verified, 12 lines \(11 verified, 1 torn, 0 unsealed\), 1 gap \(1 event lost\); offered 12 = written 11 \+ lost 1$/,
        );
        assert.equal(out.length, 3, result.stdout);
        const strict = await run(runtime, ["verify", join(dir, "torn.jsonl"), "--key", publicKey, "--strict"]);
        assert.equal(strict.status, 1, "--strict fails on torn writes (and their gaps)");
      },
    );

    it(
      `audit verify exits 0 for a checkpoint a crash cut short, naming it a torn write; 1 with --strict (${runtime})`,
      SLOW,
      async () => {
        const keys = keysOf();
        const privateJwk = readFileSync(join(keys, "audit-seal.private.jwk"), "utf8");
        const publicKey = join(keys, "audit-seal.public.jwk");
        const { seal } = await writeTrail("crash.jsonl", privateJwk);
        writeFileSync(join(dir, "crash.jsonl.seal"), seal.slice(0, 2).join("") + seal[2]!.slice(0, 300));
        const result = await run(runtime, ["verify", join(dir, "crash.jsonl"), "--key", publicKey]);
        assert.equal(result.status, 0, result.stdout + result.stderr);
        const out = lines(result.stdout);
        assert.match(
          out[1]!,
          /crash\.jsonl:8: torn write: seal line 3 is a torn write: the seal stream ends inside it, a checkpoint cut short by a crash \(.*crash\.jsonl\.seal:3\)$/,
        );
        assert.match(out[2]!, /crash\.jsonl:8-12: unsealed tail: lines 8–12 come after the last checkpoint/);
        assert.match(out.at(-1)!, /: intact: 2 segments verified, 12 lines \(7 verified, 5 unsealed\)/);
        const strict = await run(runtime, ["verify", join(dir, "crash.jsonl"), "--key", publicKey, "--strict"]);
        assert.equal(strict.status, 1, "--strict fails on torn writes and the unsealed tail");
        // A heartbeat (a checkpoint over no line) cut short after a segment without loss: a torn write alone,
        // which --strict fails too.
        const sealer = new AuditSealer(await importAuditSealKey(privateJwk), { origin: "cli.example/audit" });
        const data = [eventLine(1, "heartbeat"), eventLine(2, "heartbeat")];
        sealer.append(encoder.encode(data.join("")), 2);
        const sealed = decoder.decode(await sealer.seal());
        const heartbeat = decoder.decode(await sealer.seal());
        writeFileSync(join(dir, "heartbeat.jsonl"), data.join(""));
        writeFileSync(join(dir, "heartbeat.jsonl.seal"), sealed + heartbeat.slice(0, 300));
        const alone = await run(runtime, ["verify", join(dir, "heartbeat.jsonl"), "--key", publicKey]);
        assert.equal(alone.status, 0, alone.stdout + alone.stderr);
        assert.match(
          alone.stdout,
          /^.*heartbeat\.jsonl:3: torn write: seal line 2 is a torn write: the seal stream ends/,
        );
        assert.equal(lines(alone.stdout).length, 2, alone.stdout);
        const strictAlone = await run(runtime, [
          "verify",
          join(dir, "heartbeat.jsonl"),
          "--key",
          publicKey,
          "--strict",
        ]);
        assert.equal(strictAlone.status, 1, alone.stdout);
      },
    );

    it(`audit verify exits 1 naming each kind of tampering and its lines (${runtime})`, SLOW, async () => {
      const keys = keysOf();
      const privateJwk = readFileSync(join(keys, "audit-seal.private.jwk"), "utf8");
      const publicKey = join(keys, "audit-seal.public.jwk");
      const { data, seal } = await writeTrail("tampered.jsonl", privateJwk);
      const cases: [string, string[], string[], RegExp][] = [
        ["edited", data.map((l, i) => (i === 5 ? l.replace("agent-A", "agent-B") : l)), seal, /:6: edited: line 6/],
        [
          "inserted",
          [...data.slice(0, 2), eventLine(99, "x"), ...data.slice(2)],
          seal,
          /:3: inserted: line 3 was not sealed/,
        ],
        ["deleted", data.filter((_, i) => i !== 8), seal, /:9: deleted: sealed line 9 of checkpoint 2 is missing/],
        [
          "reordered",
          [data[1]!, data[0]!, ...data.slice(2)],
          seal,
          /:1-2: reordered: lines 1–2 hold sealed lines 1–2 of checkpoint 0 in another order/,
        ],
        ["truncated data", data.slice(0, 10), seal, /:11: truncated: the data ends before sealed lines 11–12/],
        ["junk at the seal's end", data, [...seal, '{"audit_checkpoint":1 junk'], /malformed: the checkpoint at seal/],
        [
          "bad signature",
          data,
          // A field edited (a gap hidden in the time), the signature left as it was.
          [seal[0]!, seal[1]!.replace('"time":"2', '"time":"1'), seal[2]!],
          /:5-7: bad signature: the signature of checkpoint 1 does not verify/,
        ],
      ];
      for (const [kind, body, sealed, expected] of cases) {
        const name = `tampered-${kind.replace(" ", "-")}.jsonl`;
        writeFileSync(join(dir, name), body.join(""));
        writeFileSync(join(dir, `${name}.seal`), sealed.join(""));
        const result = await run(runtime, ["verify", join(dir, name), "--key", publicKey]);
        assert.equal(result.status, 1, `${kind}: ${result.stdout}${result.stderr}`);
        assert.match(result.stdout, expected, `${kind}: ${result.stdout}`);
        assert.match(lines(result.stdout).at(-1)!, /: NOT intact \(\d+ problems?\): /, kind);
      }
      // A re-signed checkpoint (the JSON edited): its signature fails.
      const forged = seal[1]!.replace(/"sig":"[^"]+"/, `"sig":"${"A".repeat(86)}=="`);
      writeFileSync(join(dir, "forged.jsonl"), data.join(""));
      writeFileSync(join(dir, "forged.jsonl.seal"), [seal[0], forged, seal[2]].join(""));
      const bad = await run(runtime, ["verify", join(dir, "forged.jsonl"), "--key", publicKey]);
      assert.equal(bad.status, 1);
      assert.match(
        bad.stdout,
        /forged\.jsonl:5-7: bad signature: the signature of checkpoint 1 does not verify .*\(.*forged\.jsonl\.seal:2\)/,
      );
    });

    it(`audit verify reads checkpoints in band, and says which key is unknown (${runtime})`, SLOW, async () => {
      const keys = keysOf();
      const privateJwk = readFileSync(join(keys, "audit-seal.private.jwk"), "utf8");
      const trail = await sealTrail(await importAuditSealKey(privateJwk), [2, 3], 1);
      writeFileSync(join(dir, "inband.jsonl"), inBandLines(trail).join(""));
      const check = (file: string, key: string) => run(runtime, ["verify", join(dir, file), "--key", join(keys, key)]);
      const good = await check("inband.jsonl", "audit-seal.public.jwk");
      assert.equal(good.status, 0, good.stdout);
      assert.match(
        lines(good.stdout).at(-1)!,
        /\(in band\): intact: 2 segments verified, 6 lines \(5 verified, 1 unsealed\)/,
      );
      const other = await check("inband.jsonl", join("hmac", "audit-seal.secret.jwk"));
      assert.equal(other.status, 1);
      assert.match(
        other.stdout,
        /inband\.jsonl:1-2: unknown key: checkpoint 0 is signed with key \S+ \(Ed25519\), which is not among the keys given/,
      );
      // The other commands read the same file as 6 events, the checkpoint lines skipped.
      const validate = await run(runtime, ["validate", join(dir, "inband.jsonl")]);
      assert.equal(validate.status, 0, validate.stdout);
      assert.match(validate.stderr, /inband\.jsonl: all 6 lines valid \(2 checkpoint lines skipped\)\n$/);
      const stats = await run(runtime, ["stats", "--json", join(dir, "inband.jsonl")]);
      assert.deepEqual([JSON.parse(stats.stdout).total, JSON.parse(stats.stdout).invalidLines], [6, 0]);
      writeFileSync(join(dir, "plain.jsonl"), dataLines(trail).join(""));
      const none = await check("plain.jsonl", "audit-seal.public.jwk");
      assert.equal(none.status, 1, "no checkpoint at all: nothing vouches for the lines");
      assert.match(none.stdout, /plain\.jsonl:1-6: unsealed tail/);
      assert.match(lines(none.stdout).at(-1)!, /NOT intact \(no trusted checkpoint\): 0 segments verified, 6 lines/);
      writeFileSync(join(dir, "empty.jsonl"), "");
      const empty = await check("empty.jsonl", "audit-seal.public.jwk");
      assert.equal(empty.status, 0, `an empty log without checkpoints is intact: ${empty.stdout}`);
    });

    it(`audit verify exits 2 with one line for input it cannot read (${runtime})`, SLOW, async () => {
      const keys = keysOf();
      const publicKey = join(keys, "audit-seal.public.jwk");
      writeFileSync(join(dir, "notakey.jwk"), "{ nope");
      for (const name of ["sealdir.jsonl", "sealloop.jsonl"]) copyFileSync(join(dir, "intact.jsonl"), join(dir, name));
      mkdirSync(join(dir, "sealdir.jsonl.seal"), { recursive: true });
      rmSync(join(dir, "sealloop.jsonl.seal"), { force: true });
      symlinkSync("sealloop.jsonl.seal", join(dir, "sealloop.jsonl.seal")); // a link to itself
      for (
        const [args, message] of [
          [
            ["verify", join(dir, "missing.jsonl"), "--key", publicKey],
            /^audit: cannot read .*missing\.jsonl: no such file/,
          ],
          [
            ["verify", join(dir, "intact.jsonl"), "--key", join(dir, "missing.jwk")],
            /^audit: cannot read .*missing\.jwk/,
          ],
          [
            ["verify", join(dir, "intact.jsonl"), "--key", join(dir, "notakey.jwk")],
            /^audit: cannot use key .*notakey\.jwk: .*not JSON/,
          ],
          [["verify", join(dir, "intact.jsonl")], /^audit: verify needs --key/],
          [
            ["verify", join(dir, "intact.jsonl"), "--key", publicKey, "--seal", join(dir, "nope.seal")],
            /cannot read .*nope\.seal/,
          ],
          [["verify", "--key", publicKey], /^audit: verify takes FILE\.\.\. /],
          // A seal beside the log that is there but cannot be read is not a missing seal (checkpoints in band).
          [["verify", join(dir, "sealdir.jsonl"), "--key", publicKey], /^audit: cannot read .*sealdir\.jsonl\.seal: /],
          [
            ["verify", join(dir, "sealloop.jsonl"), "--key", publicKey],
            /^audit: cannot read .*sealloop\.jsonl\.seal: /,
          ],
        ] as const
      ) {
        const result = await run(runtime, [...args]);
        assert.equal(result.status, 2, `${args.join(" ")}: ${result.stdout}${result.stderr}`);
        assert.match(result.stderr, message);
        assert.equal(lines(result.stderr).length, 1, result.stderr);
      }
    });
  });
}
