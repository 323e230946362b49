/** Longest response body excerpt kept in an {@linkcode HttpDeliveryError}, in characters. */
export const BODY_EXCERPT_CHARS = 500;

/** Fields of an {@linkcode HttpDeliveryError}. */
export interface HttpDeliveryErrorOptions extends ErrorOptions {
  /** Status of the last response, if there was one. */
  readonly status?: number | undefined;
  /** Start of the last response's body. */
  readonly body?: string | undefined;
  /** Events in the batch. */
  readonly events: number;
  /** Requests made for the batch. */
  readonly attempts: number;
}

/**
 * A batch of audit events could not be delivered: it got a response that is
 * not retried (redirects included: they are never followed), retries ran out
 * of time, the stream was aborted or a flush's deadline passed, or the
 * fallback could not take the batch either.
 *
 * Nothing in it holds a secret: the message names the endpoint's origin and
 * path only; `body` and every message down the `cause` chain (rebuilt as
 * plain `Error`s) have every configured header value and the URL's query and
 * fragment scrubbed, and every other URL cut to its origin and path.
 *
 * @example Reporting failures
 * ```ts
 * import { HttpDeliveryError } from "@atd/audit";
 * const error = new HttpDeliveryError("Cannot deliver 3 audit events to https://logs.example/ingest after 1 attempt: HTTP 400", {
 *   status: 400,
 *   body: "bad line",
 *   events: 3,
 *   attempts: 1,
 * });
 * console.log(error.status, error.events, error.body);
 * ```
 */
export class HttpDeliveryError extends Error {
  /**
   * Status of the last response; `undefined` when the last attempt got none
   * (network error, timeout); `0` for a redirect a browser hides
   * (`opaqueredirect`).
   */
  readonly status: number | undefined;
  /** The first 500 characters of the last response's body, if any, secrets scrubbed. */
  readonly body: string | undefined;
  /** Events in the undelivered batch. */
  readonly events: number;
  /** Requests made for the batch (0 when none was, or when the fallback was what failed). */
  readonly attempts: number;

  /**
   * Creates the error; `body` is cut to 500 characters.
   *
   * @param message What failed.
   * @param options Status, body excerpt, event and attempt counts, `cause`.
   */
  constructor(message: string, options: HttpDeliveryErrorOptions) {
    super(message, options.cause === undefined ? undefined : { cause: options.cause });
    this.name = "HttpDeliveryError";
    this.status = options.status;
    this.body = options.body === undefined ? undefined : options.body.slice(0, BODY_EXCERPT_CHARS);
    this.events = options.events;
    this.attempts = options.attempts;
  }
}
