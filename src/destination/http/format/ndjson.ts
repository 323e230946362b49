import { builtIn } from "./_common.ts";
import type { FetchBodyFormat } from "./fetch_body_format.ts";

/**
 * The default: the lines themselves, byte for byte, one request of whole
 * lines (`application/x-ndjson`), as ClickHouse (`FORMAT JSONEachRow`, or
 * each line whole in a `String` column), Axiom and most log shippers take
 * them. No line is parsed or decoded: bytes that are not JSON or not UTF-8 go
 * as they came. A 2xx response body is cancelled unread.
 *
 * @returns The format, for `fetchDestination(url, { format })`.
 *
 * @example
 * ```ts
 * import { fetchDestination, ndjson } from "@atd/audit";
 * const destination = fetchDestination("https://logs.example/ingest", { format: ndjson() });
 * await destination.close();
 * ```
 */
export function ndjson(): FetchBodyFormat {
  return NDJSON;
}

/** The one NDJSON format: the destination sends its batches as they are, without calling these. */
const ndjsonFormat: FetchBodyFormat = {
  name: "ndjson",
  contentType: "application/x-ndjson",
  maxEvents: Number.POSITIVE_INFINITY,
  maxBodyBytes: Number.POSITIVE_INFINITY,
  maxItemBytes: Number.POSITIVE_INFINITY,
  responseBytes: () => 0,
  item: (line) => ({ text: line.text, group: "", id: "" }),
  body: (items) => items.map((item) => `${item.text}\n`),
  verdict: () => ({ kind: "all" }),
};
export const NDJSON: FetchBodyFormat = builtIn(ndjsonFormat);
