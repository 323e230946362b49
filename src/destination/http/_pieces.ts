// What a request carries: a piece of a batch, its lines (for the fallback),
// and its body in the destination's format, built within the format's and
// the page's size limits; and the lines no format could carry.
import { concatBytes } from "../../_bytes.ts";
import type { Bytes } from "./_attempt.ts";
import { halves, type Lines } from "./_batcher.ts";
import { isBuiltIn } from "./format/_common.ts";
import { decodeUtf8, lineOf, readLine, utf8Over } from "./format/_line.ts";
import { NDJSON } from "./format/ndjson.ts";
import { sliceSpans, type Span, spansOf } from "./_spans.ts";
import type {
  FetchBodyFormat,
  FormatItem,
  FormatLine,
  FormatResponse,
  FormatVerdict,
  ItemResult,
} from "./format/fetch_body_format.ts";

const NEWLINE = 0x0a;
const encoder = new TextEncoder();
/** A 2xx body is never read past this, whatever a format asks. */
const MAX_RESPONSE_BYTES = 16 * 1024 * 1024;
const OUTCOMES = new Set(["delivered", "retry", "failed"]);

/** One line and its item; the line's bytes are a range of its batch's (no view made per line). */
export class PreparedLine {
  constructor(
    readonly item: FormatItem,
    readonly source: Bytes,
    readonly start: number,
    readonly end: number,
    /** Its position in the destination's stream. */
    readonly pos: number,
  ) {}

  /** The line's bytes, "\n" included: what the fallback gets. */
  get line(): Bytes {
    return this.source.subarray(this.start, this.end);
  }
}

/** Lines the destination owes a report for, and the body that carries them. */
export interface Piece extends Lines {
  /** The request body, uncompressed (the lines themselves for NDJSON). */
  readonly payload: Bytes;
  /** Each line's item, in order (absent for NDJSON). */
  readonly items?: readonly PreparedLine[];
  /** The lines' positions in the destination's stream, in the order of `body`. */
  readonly spans: readonly Span[];
  /** The gzip of `payload`, started when the batch was sealed. */
  compressed?: Promise<Bytes | undefined>;
}

/** Lines refused for one reason, and their positions. */
export interface Refusal {
  readonly reason: string;
  readonly lines: Bytes[];
  readonly positions: number[];
}

/** NDJSON lines as a piece: the lines are the body; `spans` are their positions. */
export function rawPiece(lines: Lines, spans: readonly Span[]): Piece {
  return { body: lines.body, events: lines.events, payload: lines.body, spans };
}

class FormattedPiece implements Piece {
  #body: Bytes | undefined;
  #spans: Span[] | undefined;
  constructor(readonly items: readonly PreparedLine[], readonly payload: Bytes) {}
  get events(): number {
    return this.items.length;
  }
  get body(): Bytes {
    return (this.#body ??= concatBytes(this.items.map((p) => p.line)));
  }
  get spans(): readonly Span[] {
    return (this.#spans ??= spansOf(this.items.map((p) => p.pos)));
  }
}

/**
 * A destination's format, guarded: whatever a format's functions throw or
 * return, every line ends in a piece or a refusal, and a verdict has a shape
 * the destination can apply.
 */
export class BodyEncoder {
  readonly format: FetchBodyFormat;
  /** Bytes per request body at most (the format's limit, and the page's keepalive limit). */
  readonly #maxBodyBytes: number;

  /** A built-in format: its items need no shape check nor copy (their size is still checked). */
  readonly #trusted: boolean;

  constructor(format: FetchBodyFormat, maxBodyBytes: number) {
    this.format = format;
    this.#maxBodyBytes = maxBodyBytes;
    this.#trusted = isBuiltIn(format);
  }

  /** The lines go as they are (NDJSON). */
  get raw(): boolean {
    return this.format === NDJSON;
  }

  /**
   * Turns a sealed batch's lines, the first at position `first`, into pieces
   * within the size limits, and the lines that cannot go.
   */
  prepare(lines: Lines, first: number): { pieces: Piece[]; refused: Refusal[] } {
    if (this.raw) return { pieces: [rawPiece(lines, [[first, lines.events]])], refused: [] };
    const refused = new Map<string, Refusal>();
    const refuse = (reason: string, line: Bytes, pos: number): void => {
      const refusal = refused.get(reason);
      if (refusal === undefined) refused.set(reason, { reason, lines: [line], positions: [pos] });
      else {
        refusal.lines.push(line);
        refusal.positions.push(pos);
      }
    };
    const accepted: PreparedLine[] = [];
    const body = lines.body;
    // One decode for the batch, each line a slice of it; a "\n" byte is never part of a longer UTF-8
    // sequence, so the text's lines and the bytes' lines match. Per line only when some are not UTF-8.
    const text = decodeUtf8(body);
    for (let start = 0, at = 0, pos = first; start < body.length; pos++) {
      let end = body.indexOf(NEWLINE, start) + 1;
      if (end === 0) end = body.length;
      let parsed: FormatLine | string;
      if (text === undefined) parsed = readLine(body.subarray(start, body[end - 1] === NEWLINE ? end - 1 : end));
      else {
        let next = text.indexOf("\n", at);
        if (next === -1) next = text.length;
        parsed = lineOf(text.slice(at, next));
        at = next + 1;
      }
      const item = typeof parsed === "string" ? parsed : this.#item(parsed);
      if (typeof item === "string") refuse(item, body.subarray(start, end), pos);
      else accepted.push(new PreparedLine(item, body, start, end, pos));
      start = end;
    }
    const pieces: Piece[] = [];
    if (accepted.length > 0) this.#pack(accepted, pieces, refuse);
    return { pieces, refused: [...refused.values()] };
  }

  /** The halves of a piece (after a 413). */
  split(piece: Piece): [Piece, Piece] | string {
    const items = piece.items;
    if (items === undefined) {
      const [a, b] = halves(piece.body, piece.events);
      return [
        rawPiece(a, sliceSpans(piece.spans, 0, a.events)),
        rawPiece(b, sliceSpans(piece.spans, a.events, b.events)),
      ];
    }
    const half = Math.floor(items.length / 2);
    const a = this.pieceOf(items.slice(0, half));
    if (typeof a === "string") return a;
    const b = this.pieceOf(items.slice(half));
    return typeof b === "string" ? b : [a, b];
  }

  /** One piece of `items` (a part of a piece that fit: it fits too), or why its body could not be built. */
  pieceOf(items: readonly PreparedLine[]): Piece | string {
    const payload = this.#encode(items);
    return typeof payload === "string" ? payload : new FormattedPiece(items, payload);
  }

  /** How much of a 2xx body to read for a piece of `events` lines; 0: cancel it unread. */
  responseBytes(events: number): number {
    if (this.raw) return 0;
    let bytes: unknown;
    try {
      bytes = this.format.responseBytes(events);
    } catch {
      return 0;
    }
    return typeof bytes === "number" && bytes > 0 ? Math.min(Math.floor(bytes), MAX_RESPONSE_BYTES) : 0;
  }

  /** The format's verdict on a 2xx response, in a shape the destination can apply (or `all` with a warning). */
  verdict(response: FormatResponse, piece: Piece): FormatVerdict {
    const items = piece.items?.map((p) => p.item) ?? [];
    let verdict: FormatVerdict;
    try {
      verdict = this.format.verdict(response, items);
    } catch (error) {
      return {
        kind: "all",
        warning: `the ${this.format.name} format could not read the response (${describe(error)})`,
      };
    }
    const invalid = invalidVerdict(verdict, piece.events);
    if (invalid === undefined) return verdict;
    return { kind: "all", warning: `the ${this.format.name} format's verdict is not valid: ${invalid}` };
  }

  #item(parsed: FormatLine): FormatItem | string {
    let item: unknown;
    try {
      item = this.format.item(parsed);
    } catch (error) {
      return `the ${this.format.name} format could not take the line (${describe(error)})`;
    }
    if (typeof item === "string") return item === "" ? `the ${this.format.name} format refused the line` : item;
    let checked = item as FormatItem;
    if (!this.#trusted) {
      const i = item as Partial<FormatItem> | null;
      if (typeof i?.text !== "string" || typeof i.group !== "string" || typeof i.id !== "string") {
        return `the ${this.format.name} format gave no item for the line`;
      }
      checked = { text: i.text, group: i.group, id: i.id };
    }
    if (utf8Over(checked.text, this.format.maxItemBytes)) {
      return `its ${this.format.name} entry is over the API's ${this.format.maxItemBytes}-byte limit`;
    }
    return checked;
  }

  /** Packs `items` into pieces whose body fits, halving as needed; a single item that does not fit is refused. */
  #pack(
    items: readonly PreparedLine[],
    out: Piece[],
    refuse: (reason: string, line: Bytes, pos: number) => void,
  ): void {
    const payload = this.#encode(items);
    if (typeof payload === "string") {
      for (const p of items) refuse(payload, p.line, p.pos);
    } else if (payload.length <= this.#maxBodyBytes) {
      out.push(new FormattedPiece(items, payload));
    } else if (items.length === 1) {
      refuse(
        `its ${this.format.name} request alone is over the ${this.#maxBodyBytes}-byte request limit`,
        items[0]!.line,
        items[0]!.pos,
      );
    } else {
      const half = Math.floor(items.length / 2);
      this.#pack(items.slice(0, half), out, refuse);
      this.#pack(items.slice(half), out, refuse);
    }
  }

  #encode(items: readonly PreparedLine[]): Bytes | string {
    try {
      const body: unknown = this.format.body(items.map((p) => p.item));
      if (typeof body === "string") return utf8([body]);
      if (Array.isArray(body) && body.every((part) => typeof part === "string")) return utf8(body);
      return `the ${this.format.name} format built no request body`;
    } catch (error) {
      return `the ${this.format.name} format could not build a request body (${describe(error)})`;
    }
  }
}

/**
 * `parts` as UTF-8, one after the other in one buffer: never joined into one
 * large string first (V8 joins and flattens large strings slowly). The buffer
 * holds one byte per character, exact for ASCII (the usual body); anything
 * else is encoded again into a buffer of three bytes per character.
 */
function utf8(parts: readonly string[]): Bytes {
  let chars = 0;
  for (const part of parts) chars += part.length;
  for (const perChar of [1, 3]) {
    const out = new Uint8Array(chars * perChar);
    let at = 0;
    let whole = true;
    for (const part of parts) {
      const { read, written } = encoder.encodeInto(part, at === 0 ? out : out.subarray(at));
      at += written;
      if (read !== part.length) {
        whole = false;
        break;
      }
    }
    if (whole) return perChar === 1 ? out : out.slice(0, at);
  }
  // Three bytes per UTF-16 unit always suffice; a lone surrogate becomes U+FFFD (3 bytes).
  throw new Error("unreachable: a body did not fit three bytes per character");
}

/** What is wrong with a verdict for `events` items, or `undefined` when it can be applied as it is. */
function invalidVerdict(verdict: FormatVerdict, events: number): string | undefined {
  const v = verdict as Partial<Record<string, unknown>> | null;
  switch (v?.kind) {
    case "all":
      return v.warning === undefined || typeof v.warning === "string" ? undefined : "a warning that is not text";
    case "rejected":
      return typeof v.count === "number" && Number.isInteger(v.count) && v.count >= 0 &&
          (v.message === undefined || typeof v.message === "string")
        ? undefined
        : "a rejected count that is not a count";
    case "retry":
      return typeof v.reason === "string" ? undefined : "a retry without a reason";
    case "items": {
      const results = v.results;
      if (!Array.isArray(results)) return "items without results";
      if (results.length !== events) return `${results.length} results for ${events} items`;
      return results.every(validResult) ? undefined : "a result of the wrong shape";
    }
  }
  return "an unknown kind";
}

function validResult(result: unknown): boolean {
  const r = result as Partial<ItemResult> | null;
  return typeof r === "object" && r !== null && OUTCOMES.has(r.outcome as string) &&
    (r.status === undefined || typeof r.status === "number") &&
    (r.reason === undefined || typeof r.reason === "string");
}

function describe(error: unknown): string {
  try {
    return error instanceof Error ? error.message : String(error);
  } catch {
    return "an error that could not be read";
  }
}
