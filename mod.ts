/**
 * `@atd/audit` records one `CallEvent` per AI-agent tool call and writes it as
 * a JSON line to stdout, a file, an HTTP endpoint or any `WritableStream`,
 * without ever slowing or breaking the call it audits. Lines are byte-for-byte
 * those of the reference Rust `audit.rs` (schema version 3).
 *
 * This module is safe in every runtime, browsers and Workers included; the
 * file destination lives in `@atd/audit/file`.
 *
 * @example Record a call to stdout
 * ```ts
 * import { createCallEvent, JsonLinesAuditSink } from "@atd/audit";
 *
 * const sink = JsonLinesAuditSink.stdout();
 * sink.onCall(createCallEvent({
 *   call_id: "01J000000000000000000000TEST",
 *   tool_id: "ref:echo.say",
 *   caller_id: "agent-A",
 *   granted_capabilities: ["read"],
 *   duration_ms: 17,
 *   outcome: { kind: "success" },
 *   tier: "warm",
 * }));
 * await sink.close();
 * ```
 *
 * @module
 */
export * from "./src/event/call_event.ts";
export * from "./src/event/errors.ts";
export * from "./src/event/create_call_event.ts";
export * from "./src/event/parse_call_event.ts";
export * from "./src/event/encode_call_event.ts";
export * from "./src/sink/audit_sink.ts";
export * from "./src/sink/json_lines_audit_sink.ts";
export * from "./src/sink/audit_loss_error.ts";
export * from "./src/sink/audit_sink_seal_options.ts";
export * from "./src/destination/audit_destination.ts";
export * from "./src/destination/stdio_destination.ts";
export { IoError, type IoErrorCode, type IoErrorOptions } from "./src/runtime/io_error.ts";
export * from "./src/destination/fetch_destination.ts";
export * from "./src/read/json_lines_split_stream.ts";
export * from "./src/read/call_event_parse_stream.ts";
export * from "./src/read/invalid_line_error.ts";
export * from "./src/read/read_call_events.ts";
export * from "./src/read/summarize_call_events.ts";
export * from "./src/call/audit_call.ts";
export * from "./src/call/audit_event_options.ts";
export * from "./src/call/tool_call_error.ts";
export * from "./src/call/outcome_of_error.ts";
export * from "./src/call/scrub_secrets.ts";
export * from "./src/seal/audit_checkpoint.ts";
export * from "./src/seal/audit_seal_key.ts";
export * from "./src/seal/generate_audit_seal_key.ts";
export * from "./src/seal/audit_sealer.ts";
export * from "./src/seal/verify_audit_trail.ts";
export * from "./src/seal/verify_audit_set.ts";
