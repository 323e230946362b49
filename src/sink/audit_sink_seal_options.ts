import type { AuditSealer, AuditSealerOptions } from "../seal/audit_sealer.ts";
import type { AuditSealKey } from "../seal/audit_seal_key.ts";

/**
 * How a {@linkcode JsonLinesAuditSink} seals what it writes into a verifiable
 * trail (`seal` option; the format is `src/seal/FORMAT.md`, the README's
 * "Sealed trail" shows the set-up). Give the signing `key` (or a `sealer`
 * that continues an earlier trail, as `fileSeal` makes) and where the
 * checkpoints go: a seal stream `to`, or `inBand: true`.
 *
 * The sink hands every chunk it writes to the sealer in stream order, and
 * every loss: events dropped, invalid, sent to the fallback sink, cut by a
 * deadline (gaps outside the stream), and lines the destination failed to
 * deliver or rerouted (gaps inside their segment). A segment is sealed once
 * all of its lines are settled, so a loss is never reported after its segment
 * was sealed; with a seal stream, data writes never wait for a checkpoint.
 * The destination must report its lines in the order it was given them, as
 * the `DeliveryReport` contract says (file, stdio, any plain stream, and
 * `fetchDestination`, whatever its `maxInFlight`, do).
 *
 * The segment limits, `intervalMs`, `heartbeat`, `origin` and `previous` are
 * the {@linkcode AuditSealerOptions}; they are ignored when `sealer` is given.
 */
export interface AuditSinkSealOptions extends AuditSealerOptions {
  /** The key that signs (see `importAuditSealKey`). Give this or `sealer`. @default {undefined} */
  readonly key?: AuditSealKey;
  /** A sealer to drive instead of a new one (such as `fileSeal`'s, which continues the file's trail). @default {undefined} */
  readonly sealer?: AuditSealer;
  /**
   * Where checkpoint lines go: a `WritableStream<Uint8Array>` or an
   * `AuditDestination`, such as `fileDestination("audit.jsonl.seal")`. Give
   * this or `inBand: true`.
   * @default {undefined}
   */
  readonly to?: WritableStream<Uint8Array>;
  /**
   * Write each checkpoint into the data stream itself, right after its
   * segment. Data writes then wait while a segment is sealed (its lines
   * settled, hashed and signed); `readCallEvents` and `audit` skip the
   * checkpoint lines, but other consumers of the data see them.
   * @default {false}
   */
  readonly inBand?: boolean;
  /** Leave `to` open when the sink closes. @default {false} */
  readonly preventClose?: boolean;
}
