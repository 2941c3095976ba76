/**
 * Where the sample service's rows come from: a generated dataset or a SQLite file in the original
 * source schema. Both hand out rows in a stable order, in small batches, each with the position after
 * it, so the server can stream any amount in flat memory and page by keyset on that position.
 */
import { ENTITIES, ENTITY_SPECS, fieldNames, type EntityName } from '../operators/entities.js';
import { SqliteConnection } from '../operators/warehouse/SqliteConnection.js';
import { firstInvalidUtf8 } from '../operators/lake/lines.js';
import { batchJson, type ServedRow } from './batchJson.js';
import { generateRow, indexOfId, type DatasetSizes, type Row } from './generator.js';
import { RawText } from './RawText.js';
import { SourceFileError } from './SourceFileError.js';

/** The entities the service serves, in the original API's field order (from the declaration). */
export const FIELDS: Readonly<Record<EntityName, readonly string[]>> = Object.fromEntries(ENTITIES.map((e) => [e, fieldNames(e)])) as Record<EntityName, readonly string[]>;

/** The fields the SQLite file stores with a ' ' where the API prints 'T'. */
const DATETIME_FIELDS = new Set(ENTITIES.flatMap((e) => ENTITY_SPECS[e].fields.filter((f) => f.type === 'datetime').map((f) => f.name)));

/** A cursor the source cannot place (not one of its positions); the server answers 400. */
export class BadCursorError extends Error {
  override readonly name = 'BadCursorError';
  constructor(readonly cursor: string) {
    super(`cursor '${cursor}' is not valid`);
  }
}

/** Some rows, in order, and the position after the last of them. */
export interface RowBatch {
  /** The rows, as the API serves them. */
  readonly rows: ServedRow[];
  /** True when a value is a {@link RawText} (bytes that are not UTF-8). */
  readonly raw?: boolean;
  /** Where the next batch starts: the `after` of a later call (the server's cursor carries it). */
  readonly next: string;
}

/** Some rows as the body's JSON, in order, and the position after the last of them. */
export interface JsonBatch {
  /** The rows' JSON values joined by commas, without the array's brackets. */
  readonly json: Buffer;
  /** How many rows. */
  readonly count: number;
  /** Where the next batch starts, as {@link RowBatch.next}. */
  readonly next: string;
}

/** A supplier of rows in a stable order. */
export interface RowSource {
  /** Batches of the rows after position `after` (all when undefined), at most `limit` rows in total. */
  batches(entity: EntityName, after: string | undefined, limit: number): AsyncIterable<RowBatch>;
  /**
   * The same rows as {@link batches}, already as JSON: for a source that renders them for less than
   * objects cost (a SQLite file: SQLite writes the JSON). The server uses it unless it malforms rows.
   */
  jsonBatches?(entity: EntityName, after: string | undefined, limit: number): AsyncIterable<JsonBatch>;
  /** Releases files. */
  close(): Promise<void>;
}

/** Rows per batch handed to the server: big enough to amortise, small enough to stay flat. */
const BATCH = 500;
/**
 * Rows per query of a SQLite file: a page of the default size in one query. Each query costs the
 * service far more than its rows (2.5M rows, three clients at once: 25.6 s of CPU and 21.4 s in
 * batches of 500, 15.8 s and 14.2 s in batches of 5,000); generated rows stay in batches of 500, where
 * 5,000 cost more (17.5 s of CPU against 10.4: young rows promoted to the old generation).
 */
const FILE_BATCH = 5000;

/** Serves a seeded generated dataset. */
export class GeneratedRowSource implements RowSource {
  constructor(
    readonly sizes: DatasetSizes,
    readonly seed: number,
  ) {}

  /** Positions are ids: a generated id encodes its row's index. */
  async *batches(entity: EntityName, after: string | undefined, limit: number): AsyncIterable<RowBatch> {
    let from = 0;
    if (after !== undefined) {
      const index = indexOfId(after);
      if (index === undefined) throw new BadCursorError(after);
      from = index + 1;
    }
    const end = Math.min(this.sizes[entity], from + limit);
    for (let i = from; i < end; ) {
      const stop = Math.min(end, i + BATCH);
      const rows: Row[] = [];
      for (; i < stop; i++) rows.push(generateRow(entity, i, this.sizes, this.seed));
      yield { rows, next: String(rows[rows.length - 1].id) };
    }
  }

  async close(): Promise<void> {}
}

/** The column a page query names the rowid as (not a source field). */
const ROWID = 'rowid:';

/** The query of a page of `entity` in rowid order: the first page, or the page after a rowid (`resume`). */
export function pageQuery(entity: EntityName, resume: boolean): string {
  return `SELECT _rowid_ AS "${ROWID}", ${FIELDS[entity].join(', ')} FROM ${entity}${resume ? ' WHERE _rowid_ > ?' : ''} ORDER BY _rowid_ LIMIT ?`;
}

/**
 * True for a REAL that SQLite's JSON, which writes 15 significant digits, gives back exactly: those
 * 15 digits read back as the same double, and it lies where SQLite's own conversions were exact
 * (outside, 1.18225023142009e17 and -4.66614233845506e-53 read back in SQLite but not in JavaScript).
 * No REAL seen in that range (100,000 random ones, 100,000 prices) read back otherwise.
 */
function exactReal(column: string): string {
  return `(${column} = 0 OR abs(${column}) BETWEEN 1e-4 AND 9007199254740991) AND CAST(printf('%!.15g', ${column}) AS REAL) = ${column}`;
}

/**
 * True for a value the page's JSON cannot carry as the row objects do: a BLOB (JSON holds none, and
 * SQLite would read one that is valid JSONB as JSON: X'02' as false) or a REAL that is not
 * {@link exactReal}. `text`: its column has TEXT affinity, so it holds no number.
 */
function needsObject(column: string, text: boolean): string {
  return text ? `typeof(${column}) = 'blob'` : `CASE typeof(${column}) WHEN 'blob' THEN 1 WHEN 'real' THEN NOT (${exactReal(column)}) ELSE 0 END`;
}

/**
 * A field's value as the API serves it ({@link apiRow}), in SQL, written as the row objects' JSON writes
 * it: a whole REAL as an integer (JSON.stringify(310.0) is `310`, SQLite's JSON `310.0`), so a row's
 * bytes do not depend on the path its page took, nor on whether the file or the generator serves it
 * (the next day's load copies the rows whose bytes did not change: operators/load/fast/CarryMatcher.ts).
 * `text`: its column has TEXT affinity, so it holds no number.
 */
function fieldJson(field: string, text: boolean): string {
  // The file stores '2023-10-21 23:17:35.945166'; the API prints ISO with 'T'.
  const iso = DATETIME_FIELDS.has(field) ? `WHEN typeof(${field}) = 'text' AND substr(${field}, 11, 1) = ' ' THEN substr(${field}, 1, 10) || 'T' || substr(${field}, 12) ` : '';
  // Only an exactReal reaches the JSON, so a whole one is within 2^53: its integer is exact.
  const whole = text ? '' : `WHEN typeof(${field}) = 'real' AND ${field} = CAST(${field} AS INTEGER) THEN CAST(${field} AS INTEGER) `;
  return iso || whole ? `CASE ${iso}${whole}ELSE ${field} END` : field;
}

/**
 * The query of a page of `entity` as one JSON text ({@link pageQuery}'s rows, in its order): the last
 * rowid, the row count, the rows' JSON as bytes (so text that is not UTF-8 keeps its bytes), and
 * `objects`, 1 when a value needs the row objects instead ({@link needsObject}). `textFields`: the
 * fields whose column has TEXT affinity.
 */
export function jsonPageQuery(entity: EntityName, resume: boolean, textFields: ReadonlySet<string> = new Set()): string {
  const fields = FIELDS[entity];
  const object = `json_object(${fields.map((f) => `'${f}', ${fieldJson(f, textFields.has(f))}`).join(', ')})`;
  const objects = fields.map((f) => needsObject(f, textFields.has(f))).join(' OR ');
  const page = `SELECT _rowid_ AS r, ${object} AS j, ${objects} AS o FROM ${entity}${resume ? ' WHERE _rowid_ > ?' : ''} ORDER BY _rowid_ LIMIT ?`;
  // The aggregate reads the subquery's rows in its ORDER BY: a subquery with a LIMIT is not flattened
  // into an aggregate, it runs as a co-routine. group_concat's own ORDER BY would sort each page
  // again: 0.5 us a row, half of the whole query.
  return `SELECT max(r) AS last, count(*) AS count, max(o) AS objects, CAST(group_concat(j, ',') AS BLOB) AS json FROM (${page})`;
}

/**
 * The batches of `limit` rows in all after position `after` (a rowid; from the first when undefined),
 * each read by `read` (up to `n` rows after rowid `last`; undefined when there are none).
 */
async function* pages<B extends { readonly next: string }>(
  after: string | undefined,
  limit: number,
  read: (last: number | undefined, n: number) => Promise<B | undefined>,
  count: (batch: B) => number,
): AsyncIterable<B> {
  let last = after === undefined ? undefined : parseRowid(after);
  for (let left = limit; left > 0; ) {
    const batch = await read(last, Math.min(FILE_BATCH, left));
    if (batch === undefined) return;
    yield batch;
    left -= count(batch);
    last = Number(batch.next);
  }
}

/** SQLite's rule: a declared type with CHAR, CLOB or TEXT (and no INT) gives TEXT affinity, which stores numbers as text. */
function hasTextAffinity(declared: string): boolean {
  const type = declared.toUpperCase();
  return !type.includes('INT') && /CHAR|CLOB|TEXT/.test(type);
}

/** The rowid a position names; a position that is not one is a bad cursor. */
function parseRowid(position: string): number {
  const rowid = /^-?\d{1,16}$/.test(position) ? Number(position) : NaN;
  if (!Number.isSafeInteger(rowid)) throw new BadCursorError(position);
  return rowid;
}

/** A stored row as the API serves it: the source fields in order, datetimes with 'T'. */
function apiRow(fields: readonly string[], stored: Row): Row {
  const row: Row = {};
  for (const f of fields) {
    const v = stored[f];
    // The file stores '2023-10-21 23:17:35.945166'; the API prints ISO with 'T'.
    row[f] = DATETIME_FIELDS.has(f) && typeof v === 'string' && v.charAt(10) === ' ' ? `${v.slice(0, 10)}T${v.slice(11)}` : v;
  }
  return row;
}

/** Serves a SQLite file with the original source schema (../shared/data/source.db), read only. */
export class SqliteRowSource implements RowSource {
  private constructor(
    private readonly db: SqliteConnection,
    /** Per entity, the fields whose column has TEXT affinity. */
    private readonly textFields: Readonly<Record<EntityName, ReadonlySet<string>>>,
  ) {}

  /** Opens `file` read only; fails ({@link SourceFileError}) when one of the three tables is missing or has no rowid. */
  static async open(file: string): Promise<SqliteRowSource> {
    const db = await SqliteConnection.open(file, { readOnly: true });
    for (const entity of ENTITIES) {
      const found = await db.all<{ name: string }>(`SELECT name FROM sqlite_master WHERE type='table' AND name=?`, [entity]);
      // Paging is by rowid: a WITHOUT ROWID table cannot be served.
      const problem =
        found.length === 0
          ? 'is missing: not a source database'
          : await db.all(`SELECT _rowid_ FROM ${entity} LIMIT 0`).then(
              () => undefined,
              () => 'has no rowid (WITHOUT ROWID): the source pages by rowid',
            );
      if (problem !== undefined) {
        await db.close();
        throw new SourceFileError(file, entity, problem);
      }
    }
    const textFields = {} as Record<EntityName, ReadonlySet<string>>;
    for (const entity of ENTITIES) {
      const columns = await db.all<{ name: string; type: string }>(`SELECT name, type FROM pragma_table_info(?)`, [entity]);
      textFields[entity] = new Set(columns.filter((c) => hasTextAffinity(c.type)).map((c) => c.name));
    }
    return new SqliteRowSource(db, textFields);
  }

  /**
   * Positions are rowids. A real source holds dirty rows (a NULL or repeated id) that must be served
   * as they are, and may have no index on id: keyset paging on id dropped those rows and sorted the
   * whole table for every page, while the rowid is unique, never NULL and the table's own order.
   */
  batches(entity: EntityName, after: string | undefined, limit: number): AsyncIterable<RowBatch> {
    return pages(after, limit, (last, n) => this.rowsAfter(entity, last, n), (batch) => batch.rows.length);
  }

  /**
   * SQLite renders the rows' JSON: ~1.5 us a row instead of ~4.5 for row objects and JSON.stringify,
   * and the service's CPU is what the extract waited for (docs/design/load-fast-path.md).
   */
  jsonBatches(entity: EntityName, after: string | undefined, limit: number): AsyncIterable<JsonBatch> {
    return pages(after, limit, (last, n) => this.jsonAfter(entity, last, n), (batch) => batch.count);
  }

  /** Up to `n` rows after rowid `last` (from the first when undefined) as objects; undefined when there are none. */
  private async rowsAfter(entity: EntityName, last: number | undefined, n: number): Promise<RowBatch | undefined> {
    const found = await this.db.all<Row>(pageQuery(entity, last !== undefined), last === undefined ? [n] : [last, n]);
    if (found.length === 0) return undefined;
    const rows: ServedRow[] = found.map((r) => apiRow(FIELDS[entity], r));
    const raw = await this.restoreRawText(entity, found, rows);
    return { rows, raw, next: String(found[found.length - 1][ROWID]) };
  }

  /** The same rows as {@link rowsAfter}, as JSON: SQLite's, or the objects' when a value needs them. */
  private async jsonAfter(entity: EntityName, last: number | undefined, n: number): Promise<JsonBatch | undefined> {
    const params = last === undefined ? [n] : [last, n];
    const page = await this.db.all<{ last: number | null; count: number; objects: number | null; json: Buffer | null }>(jsonPageQuery(entity, last !== undefined, this.textFields[entity]), params).then(
      ([p]) => p,
      (err: Error) => {
        // A BLOB that is not JSONB stops json_object before the page's `objects` says so.
        if (/JSON cannot hold BLOB values/.test(err.message)) return undefined;
        throw err;
      },
    );
    if (page !== undefined && !page.objects) return page.count === 0 ? undefined : { json: page.json!, count: page.count, next: String(page.last) };
    const batch = await this.rowsAfter(entity, last, n);
    if (batch === undefined) return undefined;
    const json = batchJson(batch.rows, batch.raw ?? false);
    return { json: typeof json === 'string' ? Buffer.from(json, 'utf8') : json, count: batch.rows.length, next: batch.next };
  }

  /**
   * Puts back the stored bytes of each text value the driver decoded to a U+FFFD from bytes that are not
   * UTF-8 (rare: only such values cost a query); true when there was one.
   */
  private async restoreRawText(entity: EntityName, found: Row[], rows: ServedRow[]): Promise<boolean> {
    let raw = false;
    const fields = FIELDS[entity];
    for (let i = 0; i < rows.length; i++) {
      for (const field of fields) {
        const value = rows[i][field];
        if (typeof value !== 'string' || !value.includes('\uFFFD')) continue;
        const [{ b }] = await this.db.all<{ b: Buffer }>(`SELECT CAST(${field} AS BLOB) AS b FROM ${entity} WHERE _rowid_ = ?`, [found[i][ROWID]]);
        if (firstInvalidUtf8(b, 0, b.length) < 0) continue;
        rows[i][field] = new RawText(b);
        raw = true;
      }
    }
    return raw;
  }

  close(): Promise<void> {
    return this.db.close();
  }
}
