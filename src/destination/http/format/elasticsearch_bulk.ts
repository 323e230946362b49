import { builtIn, joined, OptionReader, parseJsonBody } from "./_common.ts";
import { quote, utf8Over } from "./_line.ts";
import { RETRYABLE } from "../_retry_policy.ts"; // an item's statuses are retried as a whole request's
import type {
  FetchBodyFormat,
  FormatItem,
  FormatLine,
  FormatResponse,
  FormatVerdict,
  ItemResult,
} from "./fetch_body_format.ts";

/** Options for {@linkcode elasticsearchBulk}. */
export interface ElasticsearchBulkOptions {
  /**
   * The index (or data stream) of every document; leave it out when the URL
   * names one (`https://es:9200/audit/_bulk`). @default {undefined}
   */
  readonly index?: string;
}

/** Elasticsearch refuses longer `_id`s. */
const MAX_ID_BYTES = 512;
/** Elasticsearch's default `http.max_content_length`. */
const MAX_BODY_BYTES = 100 * 1024 * 1024;
/** A result is about 200 bytes, an error with its reason about 1 KiB: twice that, plus the envelope. */
const RESPONSE_BASE_BYTES = 64 * 1024;
const RESPONSE_ITEM_BYTES = 2 * 1024;
const MAX_REASON_CHARS = 300;

/**
 * Elasticsearch and OpenSearch `_bulk` (`POST /_bulk` or `/<index>/_bulk`,
 * `application/x-ndjson`): for each line, the action
 * `{"create":{"_index":…,"_id":<call_id>}}` and the line itself, unchanged,
 * as the document's source.
 *
 * `create` with `_id` = `call_id` makes a resent batch harmless: a document
 * already stored answers 409, which counts as delivered. That is what lets
 * the destination read per-item results safely: a 200 with `errors: true`
 * retries only the items that answered 429 or 5xx (after the usual backoff,
 * within the batch's deadline, under a new Idempotency-Key), counts the
 * items that answered another 4xx as failed (to the fallback, byte for byte,
 * if there is one), and the rest as delivered. A 2xx that cannot be read
 * (not JSON, more than 64 KiB + 2 KiB per item, a result count or `_id`
 * that does not match the request) sends the same request again. A line
 * without a string `call_id`, or one over 512 bytes, is not sent.
 *
 * Data streams need an `@timestamp`: the line keeps its `ts`, so set it in an
 * ingest pipeline (`?pipeline=` on the URL) or a runtime field.
 *
 * @param options The index, unless the URL names it.
 * @returns The format, for `fetchDestination(url, { format })`.
 * @throws {TypeError} When `index` is not a non-empty string.
 *
 * @example
 * ```ts ignore
 * import { elasticsearchBulk, fetchDestination, JsonLinesAuditSink } from "@atd/audit";
 * const sink = new JsonLinesAuditSink(
 *   fetchDestination("https://es.example:9200/_bulk", {
 *     format: elasticsearchBulk({ index: "audit" }),
 *     headers: { authorization: `ApiKey ${Deno.env.get("ES_API_KEY")}` },
 *   }),
 *   { backpressure: "block" },
 * );
 * ```
 */
export function elasticsearchBulk(options: ElasticsearchBulkOptions = {}): FetchBodyFormat {
  const o = new OptionReader("elasticsearchBulk", options);
  const index = o.string("index");
  const target = index === undefined ? "" : `"_index":${quote(index)},`;
  return builtIn({
    name: "elasticsearch-bulk",
    contentType: "application/x-ndjson",
    maxEvents: Number.POSITIVE_INFINITY,
    maxBodyBytes: MAX_BODY_BYTES,
    maxItemBytes: Number.POSITIVE_INFINITY,
    responseBytes: (items) => RESPONSE_BASE_BYTES + RESPONSE_ITEM_BYTES * items,
    item: (line) => action(line, target),
    body: (items) => joined("", items, "", ""),
    verdict: bulkResults,
  });
}

function action(line: FormatLine, target: string): FormatItem | string {
  const id = line.event.call_id;
  if (typeof id !== "string" || id === "") return "it has no call_id to use as its _id";
  if (utf8Over(id, MAX_ID_BYTES)) return `its call_id is longer than the ${MAX_ID_BYTES} bytes of an _id`;
  return { text: `{"create":{${target}"_id":${quote(id)}}}\n${line.text}\n`, group: "", id };
}

/** The per-item results of a `_bulk` response, trusting none of it. */
function bulkResults(response: FormatResponse, sent: readonly FormatItem[]): FormatVerdict {
  const parsed = parseJsonBody(response.body, response.complete);
  if ("error" in parsed) return { kind: "retry", reason: parsed.error };
  const value = parsed.value;
  if (typeof value !== "object" || value === null || Array.isArray(value)) {
    return { kind: "retry", reason: "the response is not a _bulk response" };
  }
  const { items, errors } = value as { items?: unknown; errors?: unknown };
  if (items === undefined) {
    // `filter_path=errors` leaves only the flag: enough when nothing failed.
    return errors === false ? { kind: "all" } : { kind: "retry", reason: "the response has no items" };
  }
  if (!Array.isArray(items)) return { kind: "retry", reason: "its items are not an array" };
  if (items.length !== sent.length) {
    return { kind: "retry", reason: `it holds ${items.length} results for ${sent.length} items` };
  }
  const results: ItemResult[] = [];
  let allDelivered = true;
  for (let i = 0; i < sent.length; i++) {
    const result = itemResult(items[i], sent[i]!.id);
    if (result === "mismatch") {
      return { kind: "retry", reason: `result ${i} is not for the item sent there (_id ${cut(sent[i]!.id)})` };
    }
    if (result.outcome !== "delivered") allDelivered = false;
    results.push(result);
  }
  return allDelivered ? { kind: "all" } : { kind: "items", results };
}

const DELIVERED: ItemResult = { outcome: "delivered" };

function itemResult(entry: unknown, id: string): ItemResult | "mismatch" {
  const create = typeof entry === "object" && entry !== null ? (entry as { create?: unknown }).create : undefined;
  if (typeof create !== "object" || create === null) {
    return { outcome: "retry", reason: "its result is not a create result" };
  }
  const r = create as { _id?: unknown; status?: unknown; error?: unknown };
  if (r._id !== undefined && r._id !== id) return "mismatch";
  const status = r.status;
  if (typeof status !== "number" || !Number.isInteger(status) || status < 100 || status > 599) {
    return { outcome: "retry", reason: "its result has no status" };
  }
  // 409 on create: a document with this _id is already stored (an earlier attempt got through).
  if ((status >= 200 && status < 300) || status === 409) return DELIVERED;
  const reason = reasonOf(r.error);
  return { outcome: RETRYABLE.has(status) ? "retry" : "failed", status, ...(reason === undefined ? {} : { reason }) };
}

/**
 * `type: reason` of an item's error object (or its text), whole: the
 * destination scrubs and cuts it, and only a scrubber that knows the text was
 * cut can drop the start of a secret echoed across the cut. Its length is
 * bounded by the response budget.
 */
function reasonOf(error: unknown): string | undefined {
  if (typeof error === "string") return error;
  if (typeof error !== "object" || error === null) return undefined;
  const { type, reason } = error as { type?: unknown; reason?: unknown };
  const parts = [type, reason].filter((p): p is string => typeof p === "string");
  return parts.length === 0 ? undefined : parts.join(": ");
}

function cut(text: string): string {
  return text.length > MAX_REASON_CHARS ? `${text.slice(0, MAX_REASON_CHARS)}…` : text;
}
