/**
 * SQLite in tests: the one helper every test opens a SQLite file with, over the warehouse's own
 * promise API (operators/warehouse/SqliteConnection.ts), and what a file holds without its -wal.
 */
import { copyFileSync, rmSync } from 'node:fs';
import { SqliteConnection, type SqliteOpenOptions } from '../../operators/warehouse/SqliteConnection.js';
import type { Params } from '../../operators/warehouse/interfaces.js';

export { SqliteConnection };

/** Opens `file` (created when missing, unless read-only); `:memory:` for a database of its own. */
export function openDb(file: string, opts: SqliteOpenOptions = {}): Promise<SqliteConnection> {
  return SqliteConnection.open(file, opts);
}

/** Runs `fn` on `file` opened for it, and closes it after (a failure too). */
export async function withDb<T>(file: string, fn: (db: SqliteConnection) => Promise<T>, opts: SqliteOpenOptions = {}): Promise<T> {
  const db = await openDb(file, opts);
  try {
    return await fn(db);
  } finally {
    await db.close();
  }
}

/** The rows of one query on `file`, read on a read-only connection of its own. */
export function queryFile<T extends object = Record<string, unknown>>(file: string, sql: string, params: Params = []): Promise<T[]> {
  return withDb(file, (db) => db.all<T>(sql, params), { readOnly: true });
}

/** Runs a script of statements on `file` (created when missing) on a connection of its own. */
export function execFile(file: string, sql: string): Promise<void> {
  return withDb(file, (db) => db.exec(sql));
}

/** Rows of `table` in a copy of `file` taken without its WAL (0 when the table is not in the file yet):
 * the pages checkpointed so far. */
export async function rowsInFileAlone(file: string, table: string): Promise<number> {
  const copy = `${file}.alone-${process.pid}-${Date.now()}`;
  copyFileSync(file, copy);
  try {
    const [row] = await queryFile<{ n: number }>(copy, `SELECT count(*) AS n FROM "${table}"`);
    return row.n;
  } catch (err) {
    if (/no such table/.test((err as Error).message)) return 0;
    throw err;
  } finally {
    // Opening a WAL-mode file may create its -wal and -shm next to it.
    for (const f of [copy, `${copy}-wal`, `${copy}-shm`]) rmSync(f, { force: true });
  }
}
