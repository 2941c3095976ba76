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
 * Lengths and offsets are in bytes (UTF-8; for ASCII text, characters). A batch with a NUL, a surrogate
 * or a value over 9999 bytes returns undefined and goes the JSON way. Values must be strings, finite numbers
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
const NUL_OR_SURROGATE = /[\u0000\ud800-\udfff]/;

function lengthField(n: number): string {
  return n < 10 ? `000${n}` : n < 100 ? `00${n}` : n < 1000 ? `0${n}` : String(n);
}

/** Packs `rows` (each `columns` values); undefined when a value is too long, of another type, or holds
 * NUL or a surrogate (astral or lone: their UTF-8 form is not worth special-casing here). */
export function packBatch(rows: readonly unknown[][], columns: number): PackedBatch | undefined {
  const texts: Array<string | null> = new Array(rows.length * columns);
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
    }
  }
  // Characters are bytes for ASCII text (the common case: one pass, latin1 encoding); otherwise
  // widths and lengths are counted in UTF-8 bytes.
  const ascii = pack(texts, rows.length, columns, (s) => s.length);
  if (ascii === undefined) return undefined;
  if (!NOT_ASCII.test(ascii.text)) return { blob: Buffer.from(ascii.text, 'latin1'), width: ascii.width, offsets: ascii.offsets };
  if (NUL_OR_SURROGATE.test(ascii.text)) return undefined;
  const utf8 = pack(texts, rows.length, columns, (s) => Buffer.byteLength(s, 'utf8'));
  if (utf8 === undefined) return undefined;
  const blob = Buffer.from(utf8.text, 'utf8');
  return blob.length === utf8.width * rows.length ? { blob, width: utf8.width, offsets: utf8.offsets } : undefined;
}

function pack(
  texts: ReadonlyArray<string | null>,
  rows: number,
  columns: number,
  size: (s: string) => number,
): { text: string; width: number; offsets: number[] } | undefined {
  const sizes = new Array<number>(texts.length);
  const widths = new Array<number>(columns).fill(0);
  for (let i = 0; i < texts.length; i++) {
    const s = texts[i];
    const n = s === null ? 0 : size(s);
    sizes[i] = n;
    const c = i % columns;
    if (n > widths[c]) widths[c] = n;
  }
  const offsets: number[] = [];
  let width = HEADER * columns;
  for (let c = 0; c < columns; c++) {
    if (widths[c] > MAX_WIDTH) return undefined;
    offsets.push(width);
    width += widths[c];
  }
  let out = '';
  for (let r = 0; r < rows; r++) {
    let header = '';
    let body = '';
    for (let c = 0; c < columns; c++) {
      const i = r * columns + c;
      const s = texts[i];
      const n = sizes[i];
      if (s === null) {
        header += '----';
        body += ' '.repeat(widths[c]);
      } else {
        header += lengthField(n);
        body += n === widths[c] ? s : s + ' '.repeat(widths[c] - n);
      }
    }
    out += header + body;
  }
  return { text: out, width, offsets };
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
