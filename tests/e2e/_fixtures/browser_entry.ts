// What a user's bundler builds from the package for a page: the e2e tests
// bundle this with esbuild at test time and load it into Chromium.
export { JsonLinesAuditSink } from "../../../src/sink/json_lines_audit_sink.ts";
export { createCallEvent } from "../../../src/event/create_call_event.ts";
export { fetchDestination } from "../../../src/destination/fetch_destination.ts";
