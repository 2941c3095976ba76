/**
 * A batch of rows packed into ONE blob of fixed-width records, unpacked in SQLite by byte offsets.
 *
 * Why: the JSON batch (`SELECT value->>0, ... FROM json_each(?)`) costs SQLite ~0.45 us per `->>`,
 * ~6 us a subscription row on the writer thread, more than the insert itself. `substr()` on a BLOB
 * is a pointer offset, so unpacking a record costs a third of that (measured: 8.3 -> 4.0 us of CPU a
 * row, packing included). Each record is a header of 4 ASCII characters per column (the value's
 * length, zero-padded, or `----` for NULL) followed by every value padded to its column's widest
 * value in the batch, so record k starts at k * width and column c at a per-batch offset.
 *
 * Only for batches of pure ASCII text (no NUL), where characters are bytes; anything else (e.g.
 * customers' umlauts) returns undefined and goes the JSON way. Values must be strings, finite numbers
 * (written as String(n), which SQLite's REAL affinity reads back exactly as it reads JSON numbers) or
 * null/undefined (NULL); CAST(... AS TEXT) keeps text values as received.
 */

/** What {@link packBatch} gives the statement: the blob, the record width and each column's offset. */
export interface PackedBatch {
  readonly blob: Buffer;
  readonly width: number;
  /** 0-based byte offset of each column's value within a record. */
  readonly offsets: readonly number[];
}

const HEADER = 4;
const MAX_WIDTH = 9999;
const NOT_ASCII = /[^\x01-\x7f]/;

function lengthField(n: number): string {
  return n < 10 ? `000${n}` : n < 100 ? `00${n}` : n < 1000 ? `0${n}` : String(n);
}

/** Packs `rows` (each `columns` values); undefined when the batch is not plain ASCII or a value is too long. */
export function packBatch(rows: readonly unknown[][], columns: number): PackedBatch | undefined {
  const texts: Array<string | null> = new Array(rows.length * columns);
  const widths = new Array<number>(columns).fill(0);
  for (let r = 0; r < rows.length; r++) {
    const row = rows[r];
    for (let c = 0; c < columns; c++) {
      const v = row[c];
      let s: string | null;
      if (typeof v === 'string') s = v;
      else if (v === null || v === undefined) s = null;
      else if (typeof v === 'number' && Number.isFinite(v)) s = String(v);
      else return undefined;
      texts[r * columns + c] = s;
      if (s !== null && s.length > widths[c]) widths[c] = s.length;
    }
  }
  const offsets: number[] = [];
  let width = HEADER * columns;
  for (let c = 0; c < columns; c++) {
    if (widths[c] > MAX_WIDTH) return undefined;
    offsets.push(width);
    width += widths[c];
  }
  let out = '';
  for (let r = 0; r < rows.length; r++) {
    let header = '';
    let body = '';
    for (let c = 0; c < columns; c++) {
      const s = texts[r * columns + c];
      if (s === null) {
        header += '----';
        body += ' '.repeat(widths[c]);
      } else {
        header += lengthField(s.length);
        body += s.length === widths[c] ? s : s.padEnd(widths[c]);
      }
    }
    out += header + body;
  }
  if (NOT_ASCII.test(out)) return undefined;
  return { blob: Buffer.from(out, 'latin1'), width, offsets };
}

/**
 * The INSERT that unpacks a {@link PackedBatch}: ?1 the blob, ?2 the record width, ?3 the blob's
 * length, ?4.. each column's offset, then the `constants` (bound once per batch).
 */
export function packedInsertSql(table: string, columns: readonly string[], constantColumns: readonly string[]): string {
  const n = columns.length;
  const values = columns.map(
    (_, c) =>
      `CASE WHEN substr(?1, b + ${HEADER * c}, 1) = x'2d' THEN NULL ` +
      `ELSE CAST(substr(?1, b + ?${4 + c}, CAST(substr(?1, b + ${HEADER * c}, ${HEADER}) AS INTEGER)) AS TEXT) END`,
  );
  const constants = constantColumns.map((_, i) => `?${4 + n + i}`);
  return (
    `WITH RECURSIVE r(b) AS (SELECT 1 UNION ALL SELECT b + ?2 FROM r WHERE b + ?2 <= ?3) ` +
    `INSERT INTO "${table}" (${[...columns, ...constantColumns].map((c) => `"${c}"`).join(',')}) ` +
    `SELECT ${[...values, ...constants].join(',')} FROM r`
  );
}

/** The parameters of {@link packedInsertSql} for one batch. */
export function packedParams(batch: PackedBatch, constants: readonly unknown[]): unknown[] {
  return [batch.blob, batch.width, batch.blob.length, ...batch.offsets, ...constants];
}
