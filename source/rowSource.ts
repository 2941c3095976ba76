/**
 * Where the sample service's rows come from: a generated dataset or a SQLite file in the original
 * source schema. Both hand out rows in id order, in small batches, from an exclusive id cursor, so
 * the server can stream any amount in flat memory and page by keyset.
 */
import { ENTITIES, ENTITY_SPECS, fieldNames, type EntityName } from '../operators/entities.js';
import { SqliteConnection } from '../operators/warehouse/SqliteConnection.js';
import { generateRow, indexOfId, type DatasetSizes, type Row } from './generator.js';

/** The entities the service serves, in the original API's field order (from the declaration). */
export const FIELDS: Readonly<Record<EntityName, readonly string[]>> = Object.fromEntries(ENTITIES.map((e) => [e, fieldNames(e)])) as Record<EntityName, readonly string[]>;

/** The fields the SQLite file stores with a ' ' where the API prints 'T'. */
const DATETIME_FIELDS = new Set(ENTITIES.flatMap((e) => ENTITY_SPECS[e].fields.filter((f) => f.type === 'datetime').map((f) => f.name)));

/** A cursor the source cannot place (not one of its ids); the server answers 400. */
export class BadCursorError extends Error {
  override readonly name = 'BadCursorError';
  constructor(readonly cursor: string) {
    super(`cursor '${cursor}' is not valid`);
  }
}

/** A supplier of rows in id order. */
export interface RowSource {
  /** Batches of rows with id > `after` (all when undefined), at most `limit` rows in total. */
  batches(entity: EntityName, after: string | undefined, limit: number): AsyncIterable<Row[]>;
  /** Releases files. */
  close(): Promise<void>;
}

/** Rows per batch handed to the server: big enough to amortise, small enough to stay flat. */
const BATCH = 500;

/** Serves a seeded generated dataset. */
export class GeneratedRowSource implements RowSource {
  constructor(
    readonly sizes: DatasetSizes,
    readonly seed: number,
  ) {}

  async *batches(entity: EntityName, after: string | undefined, limit: number): AsyncIterable<Row[]> {
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
      yield rows;
    }
  }

  async close(): Promise<void> {}
}

/** Serves a SQLite file with the original source schema (../shared/data/source.db), read only. */
export class SqliteRowSource implements RowSource {
  private constructor(private readonly db: SqliteConnection) {}

  /** Opens `file` read only; fails when it lacks one of the three tables. */
  static async open(file: string): Promise<SqliteRowSource> {
    const db = await SqliteConnection.open(file, { readOnly: true });
    for (const entity of ENTITIES) {
      const found = await db.all<{ name: string }>(`SELECT name FROM sqlite_master WHERE type='table' AND name=?`, [entity]);
      if (found.length === 0) {
        await db.close();
        throw new Error(`'${file}' has no table '${entity}': not a source database`);
      }
    }
    return new SqliteRowSource(db);
  }

  async *batches(entity: EntityName, after: string | undefined, limit: number): AsyncIterable<Row[]> {
    const fields = FIELDS[entity];
    // Keyset paging on the primary key: each query is an index range scan, so memory stays one batch.
    const sql = `SELECT ${fields.join(', ')} FROM ${entity} WHERE id > ? ORDER BY id LIMIT ?`;
    let last = after ?? '';
    let left = limit;
    while (left > 0) {
      const rows = await this.db.all<Row>(sql, [last, Math.min(BATCH, left)]);
      if (rows.length === 0) return;
      for (const row of rows) {
        for (const f of fields) {
          const v = row[f];
          // The file stores '2023-10-21 23:17:35.945166'; the API prints ISO with 'T'.
          if (DATETIME_FIELDS.has(f) && typeof v === 'string' && v.charAt(10) === ' ') row[f] = `${v.slice(0, 10)}T${v.slice(11)}`;
        }
      }
      yield rows;
      left -= rows.length;
      last = String(rows[rows.length - 1].id);
    }
  }

  close(): Promise<void> {
    return this.db.close();
  }
}
