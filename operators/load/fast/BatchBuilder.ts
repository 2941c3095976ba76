/**
 * Collects rows' values and hands out full batches ready for one multi-row INSERT: a packed blob
 * (packedBatch.ts) where the batch allows it, else a JSON array of arrays. Building a batch touches no
 * database; BatchWriter.ts sends it.
 */
import { packBatch, type PackedBatch } from './packedBatch.js';

/** One batch for one INSERT: exactly one of `packed` and `json` is set. */
export interface InsertBatch {
  /** Rows in the batch. */
  readonly rows: number;
  /** Fixed-width records, unpacked in SQLite by byte offsets (the cheap form). */
  readonly packed?: PackedBatch;
  /** The rows as a JSON array of arrays (`json_each`), for batches the packed form declines. */
  readonly json?: string;
  /** Called by the writer once the batch's INSERT has started (its values are bound, so copied): the
   * packed bytes may be reused from then on. */
  readonly release?: () => void;
}

export class BatchBuilder {
  private batch: unknown[][] = [];
  private packMisses = 0;

  constructor(
    /** Values per row. */
    private readonly columns: number,
    /** Rows per batch. */
    readonly batchRows: number,
    /** Try the packed form first; false: always JSON (rejects: few rows, long raw lines). */
    private readonly packed: boolean,
    /** Where packed batches get their bytes (a {@link BlobPool}'s take); default a new buffer each. */
    private readonly allocate?: (size: number) => Buffer,
  ) {}

  /** Queues one row's values (in column order); returns the batch when it is full. */
  add(values: unknown[]): InsertBatch | undefined {
    this.batch.push(values);
    return this.batch.length >= this.batchRows ? this.take() : undefined;
  }

  /** The rows queued so far as a batch, or undefined when none are. */
  take(): InsertBatch | undefined {
    const rows = this.batch;
    if (rows.length === 0) return undefined;
    this.batch = [];
    // A batch the packed form declined (NUL, a surrogate, a value over 9999 bytes) suggests the next
    // ones will be declined too: after a miss, only every 16th batch tries again.
    const packed = this.packed && this.packMisses % 16 === 0 ? packBatch(rows, this.columns, this.allocate) : undefined;
    if (this.packed) this.packMisses = packed ? 0 : this.packMisses + 1;
    return packed ? { rows: rows.length, packed } : { rows: rows.length, json: JSON.stringify(rows) };
  }
}
