/**
 * A batch of rows packed into ONE blob of fixed-width records, unpacked in SQLite by byte offsets.
 *
 * Why: the JSON batch (`SELECT value->>0, ... FROM json_each(?)`) costs SQLite a JSON lookup per `->>`,
 * more per row on the writer thread than the insert itself (docs/design/load-fast-path.md). `substr()` on a BLOB
 * is a pointer offset, so unpacking a record costs a fraction of that. Record k starts at k * width;
 * each column's value sits at the same offset in every record of the batch.
 *
 * How a column is unpacked is chosen per batch from its values ({@link ColumnLayout}): a column whose
 * values all have the same length (hash keys, ids, timestamps) is one substr() at a fixed width; a
 * column of NULLs only is the literal NULL; only the others carry a 4-digit length field in the record
 * header (`----` for NULL) and cost two more substr()s and a CASE. A length field for every column
 * made unpacking a large part of SQLite's time per inserted row, and most columns are fixed-width
 * (docs/design/load-fast-path.md).
 *
 * Lengths and offsets are in bytes (UTF-8; for ASCII text, characters). A batch with a NUL, a surrogate,
 * a value over 9999 bytes or nothing but NULLs and empty strings returns undefined and goes the JSON way. Values must be strings, finite numbers
 * (written as String(n), which SQLite's REAL affinity reads back exactly as it reads JSON numbers) or
 * null/undefined (NULL); CAST(... AS TEXT) keeps text values as received.
 */

/**
 * How one column is stored in a batch: `F` every value non-NULL and of one length; `N` every value
 * NULL; `V` non-NULL values of varying length (a length field each); `M` some NULL (a length field
 * each, `----` for NULL).
 */
export type ColumnLayout = 'F' | 'N' | 'V' | 'M';

/** What {@link packBatch} gives the statement. */
export interface PackedBatch {
  readonly blob: Buffer;
  /** Bytes per record. */
  readonly width: number;
  /** Each column's layout, one letter per column (the prepared statement depends on it). */
  readonly layouts: string;
  /** 0-based byte offset of each column's value within a record (unused for `N`). */
  readonly offsets: readonly number[];
  /** Per column: the value width for `F`, the offset of its length field for `V` and `M`, else 0. */
  readonly aux: readonly number[];
}

const HEADER = 4;
const MAX_WIDTH = 9999;
const SPACE = 0x20;
const DASH = 0x2d;
const ZERO = 0x30;

/**
 * Packs `rows` (each `columns` values) into memory from `allocate`; undefined when a value is too long, of another type, or holds
 * NUL or a surrogate (astral or lone: their UTF-8 form is not worth special-casing here).
 *
 * Two passes over the values, no intermediate strings: the first finds each column's widths and NULLs
 * (in UTF-16 units, which are bytes for ASCII text), the second writes the records byte by byte into
 * one buffer. Text that turns out not to be ASCII restarts the batch with widths counted in UTF-8
 * bytes; the per-character copy is what makes this cheaper than building the record as a JS string.
 */
export function packBatch(rows: readonly unknown[][], columns: number, allocate: (size: number) => Buffer = Buffer.allocUnsafeSlow): PackedBatch | undefined {
  let first: Buffer | undefined;
  const ascii = packWith(rows, columns, false, (size) => (first = allocate(size)));
  if (ascii) return ascii;
  // The UTF-8 attempt reuses the ASCII attempt's memory when it is big enough (a pool's often is).
  const reuse = (size: number): Buffer => (first && first.buffer.byteLength - first.byteOffset >= size ? Buffer.from(first.buffer, first.byteOffset, size) : allocate(size));
  return packWith(rows, columns, true, reuse);
}

/** The text of value `v`, null for NULL (null/undefined), or undefined when it cannot be packed. */
function textOf(v: unknown): string | null | undefined {
  if (typeof v === 'string') return v;
  if (v === null || v === undefined) return null;
  if (typeof v === 'number' && Number.isFinite(v)) return String(v);
  return undefined;
}

/** Each column's widest and narrowest value and its count of NULLs, over a batch. */
interface ColumnWidths {
  readonly widest: number[];
  readonly narrowest: number[];
  readonly nulls: number[];
}

/** Where each column goes in a record: {@link PackedBatch} without the blob. */
interface RecordPlan {
  readonly width: number;
  readonly layouts: string;
  readonly offsets: number[];
  readonly aux: number[];
}

/**
 * One attempt: `utf8` false assumes ASCII and returns undefined at the first other character (the
 * caller then retries with `utf8` true); `utf8` true returns undefined only for the declined cases.
 */
function packWith(rows: readonly unknown[][], columns: number, utf8: boolean, allocate: (size: number) => Buffer): PackedBatch | undefined {
  const widths = measureColumns(rows, columns, utf8);
  if (!widths) return undefined;
  const plan = planRecord(widths, columns, rows.length);
  // Zero-width records would never advance the recursive walk over the blob.
  if (!plan || plan.width === 0 || rows.length === 0) return undefined;
  const blob = allocate(plan.width * rows.length).fill(SPACE);
  if (!writeRecords(rows, columns, utf8, plan, blob)) return undefined;
  return { blob, width: plan.width, layouts: plan.layouts, offsets: plan.offsets, aux: plan.aux };
}

/** The first pass: each column's value widths (UTF-8 bytes when `utf8`, else UTF-16 units) and NULLs; undefined for a value that cannot be packed. */
function measureColumns(rows: readonly unknown[][], columns: number, utf8: boolean): ColumnWidths | undefined {
  const widest = new Array<number>(columns).fill(0);
  const narrowest = new Array<number>(columns).fill(Infinity);
  const nulls = new Array<number>(columns).fill(0);
  for (let r = 0; r < rows.length; r++) {
    const row = rows[r];
    for (let c = 0; c < columns; c++) {
      const s = textOf(row[c]);
      if (s === undefined) return undefined;
      if (s === null) {
        nulls[c]++;
        continue;
      }
      const n = utf8 ? Buffer.byteLength(s, 'utf8') : s.length;
      if (n > widest[c]) widest[c] = n;
      if (n < narrowest[c]) narrowest[c] = n;
    }
  }
  return { widest, narrowest, nulls };
}

/** Each column's layout and place in the record (length fields first, then the values); undefined when a value is too wide. */
function planRecord({ widest, narrowest, nulls }: ColumnWidths, columns: number, rowCount: number): RecordPlan | undefined {
  let layouts = '';
  for (let c = 0; c < columns; c++) {
    if (widest[c] > MAX_WIDTH) return undefined;
    layouts += nulls[c] === rowCount ? 'N' : nulls[c] > 0 ? 'M' : widest[c] === narrowest[c] ? 'F' : 'V';
  }
  const aux = new Array<number>(columns).fill(0);
  let width = 0;
  for (let c = 0; c < columns; c++) {
    if (layouts[c] === 'V' || layouts[c] === 'M') {
      aux[c] = width;
      width += HEADER;
    }
  }
  const offsets = new Array<number>(columns).fill(0);
  for (let c = 0; c < columns; c++) {
    if (layouts[c] === 'N') continue;
    offsets[c] = width;
    if (layouts[c] === 'F') aux[c] = widest[c];
    width += widest[c];
  }
  return { width, layouts, offsets, aux };
}

/** The second pass: writes every record into `blob` byte by byte; false at a character the attempt cannot write. */
function writeRecords(rows: readonly unknown[][], columns: number, utf8: boolean, { width, layouts, offsets, aux }: RecordPlan, blob: Buffer): boolean {
  for (let r = 0; r < rows.length; r++) {
    const row = rows[r];
    const start = r * width;
    for (let c = 0; c < columns; c++) {
      const layout = layouts.charCodeAt(c);
      if (layout === 78 /* N */) continue;
      const s = textOf(row[c]) as string | null;
      const h = start + aux[c];
      if (s === null) {
        blob[h] = blob[h + 1] = blob[h + 2] = blob[h + 3] = DASH;
        continue;
      }
      let p = start + offsets[c];
      const from = p;
      for (let i = 0; i < s.length; i++) {
        const ch = s.charCodeAt(i);
        if (ch < 0x80 && ch !== 0) blob[p++] = ch;
        else if (!utf8 || ch === 0 || (ch >= 0xd800 && ch <= 0xdfff)) return false;
        else if (ch < 0x800) {
          blob[p++] = 0xc0 | (ch >> 6);
          blob[p++] = 0x80 | (ch & 0x3f);
        } else {
          blob[p++] = 0xe0 | (ch >> 12);
          blob[p++] = 0x80 | ((ch >> 6) & 0x3f);
          blob[p++] = 0x80 | (ch & 0x3f);
        }
      }
      if (layout === 70 /* F */) continue;
      const n = p - from;
      blob[h] = ZERO + ((n / 1000) | 0);
      blob[h + 1] = ZERO + (((n / 100) | 0) % 10);
      blob[h + 2] = ZERO + (((n / 10) | 0) % 10);
      blob[h + 3] = ZERO + (n % 10);
    }
  }
  return true;
}

/**
 * The INSERT that unpacks batches of the given column `layouts` (one prepared statement per layout
 * string): ?1 the blob, ?2 the record width, ?3 the blob's length, then per column that is not `N`
 * its value offset and its aux number ({@link PackedBatch}), then the `constants` (bound once per batch).
 */
export function packedInsertSql(table: string, columns: readonly string[], constantColumns: readonly string[], layouts: string): string {
  let next = 4;
  const values = columns.map((_, c) => {
    const layout = layouts[c];
    if (layout === 'N') return 'NULL';
    const offset = `?${next++}`;
    const aux = `?${next++}`;
    if (layout === 'F') return `CAST(substr(?1, b + ${offset}, ${aux}) AS TEXT)`;
    const value = `CAST(substr(?1, b + ${offset}, CAST(substr(?1, b + ${aux}, ${HEADER}) AS INTEGER)) AS TEXT)`;
    return layout === 'V' ? value : `CASE WHEN substr(?1, b + ${aux}, 1) = x'2d' THEN NULL ELSE ${value} END`;
  });
  const constants = constantColumns.map(() => `?${next++}`);
  return (
    `WITH RECURSIVE r(b) AS (SELECT 1 UNION ALL SELECT b + ?2 FROM r WHERE b + ?2 <= ?3) ` +
    `INSERT INTO "${table}" (${[...columns, ...constantColumns].map((c) => `"${c}"`).join(',')}) ` +
    `SELECT ${[...values, ...constants].join(',')} FROM r`
  );
}

/** The parameters of {@link packedInsertSql} for one batch. */
export function packedParams(batch: PackedBatch, constants: readonly unknown[]): unknown[] {
  const params: unknown[] = [batch.blob, batch.width, batch.blob.length];
  for (let c = 0; c < batch.layouts.length; c++) {
    if (batch.layouts[c] !== 'N') params.push(batch.offsets[c], batch.aux[c]);
  }
  return [...params, ...constants];
}
