import type { CallEvent } from "../event/call_event.ts";

/** The default of {@linkcode AuditEventOptions.maxMessageLength}. */
export const DEFAULT_MAX_MESSAGE_LENGTH = 1024;
/** The default of {@linkcode AuditEventOptions.maxIdLength}. */
export const DEFAULT_MAX_ID_LENGTH = 256;

/**
 * How `auditCall` and `auditMcpServer` build each event: caps on the text that
 * comes from errors and from clients, secret scrubbing, a last `redact` hook,
 * and where problems go. Caps and scrubbing are applied where events are
 * built, never by the sink: a sink writes exactly the event it is given.
 *
 * Capped (a longer value keeps its first characters followed by a marker
 * such as `…[truncated: 5000 chars]`, never cutting a surrogate pair):
 * `invalid_args.message` at `maxMessageLength`; `execution_failed.code`, each
 * `capability_denied.missing` entry, `tool_id`, `call_id` and `caller_id` at
 * `maxIdLength`; `capability_denied.missing` at 64 entries (then one entry
 * `…[+N more]`). Not capped: `tier`, `granted_capabilities`,
 * `capability_provenance` (they come from your code, not from an error or a
 * client). Lone surrogates in the capped fields become U+FFFD, so that a
 * hostile string cannot make the event unwritable.
 *
 * Scrubbed of secrets (see `scrubSecrets` for the shapes) when
 * `scrubSecrets` is on: `invalid_args.message`, `execution_failed.code`,
 * `capability_denied.missing`, and `tool_id` when the outcome is
 * `tool_not_found` (a name the client made up; a registered tool's name is
 * yours).
 */
export interface AuditEventOptions {
  /** Longest `invalid_args.message` kept, in UTF-16 code units; `Infinity` keeps all. @default {1024} */
  readonly maxMessageLength?: number;
  /** Longest identifier-like field kept (see above), in UTF-16 code units; `Infinity` keeps all. @default {256} */
  readonly maxIdLength?: number;
  /** Replace secrets of known shapes in free text by `[REDACTED:kind]`. @default {true} */
  readonly scrubSecrets?: boolean;
  /**
   * Called with each event after capping and scrubbing, just before the sink;
   * the event it returns is the one recorded. When it throws or returns
   * something that is not an object, nothing is recorded (the unredacted event
   * never reaches the sink) and the error goes to `onError`. @default {undefined}
   */
  readonly redact?: (event: CallEvent) => CallEvent;
  /**
   * Told about each event that could not be recorded (the sink's `onCall`
   * threw, `redact` failed, the call's fields could not be read), with the
   * event when there is one, and about each callback that threw (a mapper,
   * an MCP callback) while the event was still recorded. Must not throw.
   * @default {the sink's own `onError` method if it has one, else `console.error` once per sink}
   */
  readonly onError?: (error: unknown, event?: CallEvent) => void;
}
