// The command line's help texts.
import { OUTCOME_KINDS } from "../event/call_event.ts";

export const HELP = `audit: read JSON Lines audit logs of AI-agent tool calls

Usage: audit COMMAND [OPTIONS] [FILE...]

Commands:
  stats     Summarize events: counts by outcome, tool, caller, tier; durations
  tail      Print matching events, optionally following a growing file
  validate  List every invalid line; exit status 1 if any

Run "audit COMMAND --help" for a command's options.
Exit status: 0 ok, 1 invalid lines found (validate), 2 usage or read error.
`;

export const HELP_STATS = `Usage: audit stats [--json] [FILE...]

Summarize the events of FILEs (all together), or of stdin when no FILE or "-":
total, invalid lines, first and last timestamp, duration percentiles, counts by
outcome, tool, caller and tier, and denied capabilities.

Options:
  --json      Print the summary as JSON
  -h, --help  Show this help
`;

export const HELP_TAIL =
  `Usage: audit tail [-f] [-n N] [--tool T] [--outcome K] [--caller C] [--since TIME] [--pretty] [FILE]

Print the events of FILE (or stdin when no FILE or "-") that match every filter,
one per line, as JSON lines. Invalid lines are reported on stderr.

Options:
  -f, --follow     Keep reading as FILE grows, until Ctrl-C or SIGTERM (exit
                   status 0). A truncated FILE is read again from its start; a
                   replaced one (rotated, or removed and created again) is
                   followed by name once the old one is read to its end
  -n, --lines N    Only the last N matching events (then follow, with -f)
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

Check every line of FILEs (or stdin when no FILE or "-") against the CallEvent
schema, versions 1 to 3. Prints each invalid line as "FILE:LINE: reason" with
the failing field, and a count on stderr.

Exit status: 0 when every line is valid, 1 when any is not, 2 on a read error.

Options:
  -h, --help  Show this help
`;
