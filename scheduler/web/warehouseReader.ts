/**
 * Read-only queries on the warehouse file, for the console's data page. The scheduler knows nothing of
 * the warehouse's tables (operators/ owns its connections and write queue); this opens the file
 * read-only per request, so a reader never takes a write lock, never creates the file, and follows a
 * file that was replaced under the daemon. Table and column names come from the dashboards
 * declaration, validated as plain identifiers; values are always bound.
 */
import { existsSync } from 'node:fs';
import { createRequire } from 'node:module';
import pg from 'pg';
import type sqlite3Types from 'sqlite3';
import { parseWarehouseUrl } from '../settings/warehouseUrl.js';
import { ApiError } from './ApiError.js';

const require = createRequire(import.meta.url);
const sqlite3 = require('sqlite3') as typeof sqlite3Types;

/** Milliseconds a read waits for a writer's checkpoint lock before it fails. */
const BUSY_TIMEOUT_MS = 5000;

/** Reads rows from one SQLite file. */
export interface WarehouseReader {
  all<T = Record<string, unknown>>(sql: string, params?: readonly (string | number | null)[]): Promise<T[]>;
}

/** A reader over `file` (the daemon's DRIVETRAIN_HOME/warehouse.db). */
export function sqliteWarehouseReader(file: string): WarehouseReader {
  return {
    async all<T>(sql: string, params: readonly (string | number | null)[] = []): Promise<T[]> {
      if (!existsSync(file)) throw new ApiError(503, 'Service Unavailable', `warehouse file '${file}' does not exist yet: no load has run`);
      const db = await new Promise<sqlite3Types.Database>((resolve, reject) => {
        const d = new sqlite3.Database(file, sqlite3.OPEN_READONLY, (err) => (err ? reject(err) : resolve(d)));
      });
      try {
        db.configure('busyTimeout', BUSY_TIMEOUT_MS);
        return await new Promise<T[]>((resolve, reject) => db.all(sql, params as unknown[], (err, rows) => (err ? reject(err) : resolve(rows as T[]))));
      } finally {
        await new Promise<void>((resolve) => db.close(() => resolve()));
      }
    },
  };
}

/** int8 (COUNT(*)) and numeric as JS numbers, as SQLite gives them and the API's schemas expect. */
const NUMBERS = {
  getTypeParser: ((oid: number, format?: 'text' | 'binary') =>
    oid === pg.types.builtins.INT8 || oid === pg.types.builtins.NUMERIC ? (v: string) => Number(v) : pg.types.getTypeParser(oid, format)) as typeof pg.types.getTypeParser,
};

/**
 * A reader over a PostgreSQL warehouse (DRIVETRAIN_WAREHOUSE_URL): a connection per request, as the
 * SQLite reader opens the file per request, in a read-only transaction on the URL's schema. `?`
 * placeholders become `$n` (the data routes' SQL has no `?` in literals).
 */
export function postgresWarehouseReader(url: string): WarehouseReader {
  const target = parseWarehouseUrl(url);
  if (target.engine !== 'postgres') throw new TypeError('postgresWarehouseReader: not a postgres URL');
  return {
    async all<T>(sql: string, params: readonly (string | number | null)[] = []): Promise<T[]> {
      const client = new pg.Client({ connectionString: target.connectionString, options: `-c search_path=${target.schema} -c default_transaction_read_only=on`, types: NUMBERS });
      await client.connect();
      try {
        let n = 0;
        return (await client.query(sql.replace(/\?/g, () => `$${++n}`), [...params])).rows as T[];
      } finally {
        await client.end();
      }
    },
  };
}

/** The warehouse reader of these settings: PostgreSQL when the warehouse URL says so, else undefined (the SQLite file). */
export function warehouseReaderOf(warehouseUrl: string | undefined): WarehouseReader | undefined {
  return warehouseUrl !== undefined && parseWarehouseUrl(warehouseUrl).engine === 'postgres' ? postgresWarehouseReader(warehouseUrl) : undefined;
}

/** True for a name that may be pasted into SQL as a table or column. */
export function isIdentifier(name: string): boolean {
  return /^[A-Za-z_][A-Za-z0-9_]*$/.test(name);
}
