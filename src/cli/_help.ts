// The command line's help texts.
import { OUTCOME_KINDS } from "../event/call_event.ts";

export const HELP = `audit: read JSON Lines audit logs of AI-agent tool calls

Usage: audit COMMAND [OPTIONS] [FILE...]

A FILE may be a file ("-" for stdin), a folder (its *.jsonl and *.jsonl.gz
files) or a quoted glob ("logs/audit*.jsonl*": *, ?, **). Files ending in .gz
are decompressed. A rotated set (audit.<T>.<W>.jsonl[.gz] beside the active
audit.jsonl) is read in time order, the active file last; .seal files are
never read as data.

Commands:
  stats     Summarize events: counts by outcome, tool, caller, tier; durations
  tail      Print matching events, optionally following a growing file
  validate  List every invalid line; exit status 1 if any
  verify    Check a sealed log against its seal; exit status 1 if tampered
  keygen    Make a key to seal logs with (Ed25519, or an HMAC secret)

Run "audit COMMAND --help" for a command's options.
Exit status: 0 ok, 1 invalid lines found (validate) or a trail not intact
(verify), 2 usage or read error.
`;

export const HELP_KEYGEN = `Usage: audit keygen [--out DIR] [--hmac] [--kid ID]

Make a key to seal audit logs with and write it as JSON Web Keys into DIR
(made when missing). Never replaces a file.

  Ed25519 (default): audit-seal.private.jwk  signs (the sink's seal key; mode
                                             0600, keep it secret)
                     audit-seal.public.jwk   verifies (give it to auditors)
  --hmac:            audit-seal.secret.jwk   signs and verifies (mode 0600):
                                             whoever can verify can also sign

Options:
  --out DIR   Where to write the files (default: the current folder)
  --hmac      An HMAC-SHA-256 secret instead of an Ed25519 key pair
  --kid ID    The key id checkpoints name (default: the key's RFC 7638
              thumbprint)
  -h, --help  Show this help
`;

export const HELP_VERIFY = `Usage: audit verify FILE... [--seal SEALFILE | --in-band] --key KEY.jwk [--key ...]
                    [--origin ORIGIN] [--continues] [--max-segment-bytes N] [--strict]

Check that the sealed log FILE is complete and unaltered: every checkpoint's
signature, the chain of checkpoints, and each segment's lines against what its
checkpoint sealed. The seal is SEALFILE, else FILE.seal when it exists, else
checkpoints in FILE itself (in band).

Several FILEs, a folder or a glob are read as rotated sets: in time order,
each file against its own seal (its name without .gz, plus .seal), the chain
running on from one file to the next; a missing, reordered or altered file,
or a closed file without its seal, makes the set not intact. A last line
gives the verdict over all files.

Prints one line per finding, "FILE:LINES: KIND: what", then a summary line
(segments, lines, gaps, and "offered N = written W + lost L": the account the
checkpoints give, marked unverified when not every checkpoint is trusted).
KIND is one of:
  edited, inserted, deleted, reordered   lines that differ from what was sealed
                                         (lines converted to CRLF line endings
                                         are edited, and the finding says so)
  truncated                              the log ends before what is sealed
  broken chain                           checkpoints missing or out of order
  bad signature, unknown key, malformed  a checkpoint that proves nothing
  seal from another log                  the seal is not this log's
  gap            N events lost between TS1 and TS2 because REASON: losses the
                 writer declared (a full queue, a failing destination, ...)
  unsealed tail  lines after the last checkpoint: what a crash or a writer
                 still running leaves; not proof of tampering
  adopted        lines a restarted writer found after the last checkpoint and
                 sealed: sealed, but not as they were written (a crash's
                 unsealed tail, or lines someone else wrote meanwhile)
  torn write     the start of a line whose write failed part way (a full
                 disk), where its checkpoint declares that line failed; or a
                 checkpoint a crash cut short (the seal's last line, or the
                 one before a restarted writer's first checkpoint); not an
                 event, and not proof of tampering

A log with lines but no trusted checkpoint at all is not intact.

Options:
  --seal SEALFILE  The seal stream (default: FILE.seal, if it exists)
  --in-band        Read the checkpoints from FILE itself
  --key KEY.jwk    A key that may have signed: audit-seal.public.jwk (or, for
                   HMAC, audit-seal.secret.jwk); repeat for rotated keys. A
                   private key verifies by its public part, with a warning
  --origin ORIGIN  The log's expected origin (default: its first checkpoint's)
  --continues      The first file continues a stream not given (older files
                   removed by retention): it need not start at checkpoint 0
  --max-segment-bytes N
                   Largest segment checked, in bytes (default 268435456);
                   raise it for a log with a single event larger than that
  --strict         Exit status 1 for gaps, torn writes, an unsealed tail and
                   adopted lines too
  -h, --help       Show this help

Exit status: 0 intact, 1 not intact, 2 usage error or unreadable input.
`;

export const HELP_STATS = `Usage: audit stats [--json] [FILE...]

Summarize the events of FILEs (all together; folders, globs and rotated sets as
in "audit --help"), or of stdin when no FILE or "-":
total, invalid lines, first and last timestamp, duration percentiles, counts by
outcome, tool, caller and tier, and denied capabilities.

Options:
  --json      Print the summary as JSON
  -h, --help  Show this help
`;

export const HELP_TAIL =
  `Usage: audit tail [-f] [-n N] [--tool T] [--outcome K] [--caller C] [--since TIME] [--pretty] [FILE...]

Print the events of FILEs (or stdin when no FILE or "-") that match every
filter, one per line, as JSON lines; a folder, a glob or a rotated set is read
in time order (see "audit --help"). Invalid lines are reported on stderr.

Options:
  -f, --follow     Keep reading as the last file grows (of a set: its active
                   file), until Ctrl-C or SIGTERM (exit status 0). A truncated
                   file is read again from its start; a replaced one (rotated,
                   or removed and created again) is followed by name once the
                   old one is read to its end. One file or one set only
  -n, --lines N    Only the last N matching events, of all the files (then
                   follow, with -f)
  --tool T         Only events with tool_id T
  --outcome K      Only events whose outcome kind is K:
                   ${OUTCOME_KINDS.join(", ")}
  --caller C       Only events with caller_id C
  --since TIME     Only events at or after TIME: RFC 3339 (2026-05-29T10:00:00Z)
                   or a duration ago (30s, 15m, 2h, 7d)
  --pretty         One readable line per event instead of JSON
  -h, --help       Show this help
`;

export const HELP_VALIDATE = `Usage: audit validate [FILE...]

Check every line of FILEs (or stdin when no FILE or "-"; folders, globs and
rotated sets as in "audit --help") against the CallEvent schema, versions 1
to 3. Prints each invalid line as "FILE:LINE: reason" (LINE within that file)
with the failing field, and a count on stderr.

Exit status: 0 when every line is valid, 1 when any is not, 2 on a read error.

Options:
  -h, --help  Show this help
`;
