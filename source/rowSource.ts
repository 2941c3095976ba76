/**
 * Where the sample service's rows come from: a generated dataset or a SQLite file in the original
 * source schema. Both hand out rows in a stable order, in small batches, each with the position after
 * it, so the server can stream any amount in flat memory and page by keyset on that position.
 */
import { ENTITIES, ENTITY_SPECS, fieldNames, type EntityName } from '../operators/entities.js';
import { SqliteConnection } from '../operators/warehouse/SqliteConnection.js';
import { firstInvalidUtf8 } from '../operators/lake/lines.js';
import type { ServedRow } from './batchJson.js';
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

/** A supplier of rows in a stable order. */
export interface RowSource {
  /** Batches of the rows after position `after` (all when undefined), at most `limit` rows in total. */
  batches(entity: EntityName, after: string | undefined, limit: number): AsyncIterable<RowBatch>;
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
  private constructor(private readonly db: SqliteConnection) {}

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
    return new SqliteRowSource(db);
  }

  /**
   * Positions are rowids. A real source holds dirty rows (a NULL or repeated id) that must be served
   * as they are, and may have no index on id: keyset paging on id dropped those rows and sorted the
   * whole table for every page, while the rowid is unique, never NULL and the table's own order.
   */
  async *batches(entity: EntityName, after: string | undefined, limit: number): AsyncIterable<RowBatch> {
    let last = after === undefined ? undefined : parseRowid(after);
    const fields = FIELDS[entity];
    let left = limit;
    while (left > 0) {
      const sql = pageQuery(entity, last !== undefined);
      const params = last === undefined ? [Math.min(FILE_BATCH, left)] : [last, Math.min(FILE_BATCH, left)];
      const found = await this.db.all<Row>(sql, params);
      if (found.length === 0) return;
      const rows: ServedRow[] = found.map((r) => apiRow(fields, r));
      const raw = await this.restoreRawText(entity, found, rows);
      yield { rows, raw, next: String(found[found.length - 1][ROWID]) };
      left -= found.length;
      last = found[found.length - 1][ROWID] as number;
    }
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
