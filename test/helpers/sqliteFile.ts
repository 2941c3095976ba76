/** SQLite files in tests: node-sqlite3's callbacks as promises, and what a file holds without its -wal. */
import { copyFileSync, rmSync } from 'node:fs';
import sqlite3 from 'sqlite3';

/** Opens `file` (created when missing, by default). */
export function openDb(file: string, mode = sqlite3.OPEN_READWRITE | sqlite3.OPEN_CREATE): Promise<sqlite3.Database> {
  return new Promise((resolve, reject) => {
    const db = new sqlite3.Database(file, mode, (err) => (err ? reject(err) : resolve(db)));
  });
}

/** Runs one or more statements. */
export function exec(db: sqlite3.Database, sql: string): Promise<void> {
  return new Promise((resolve, reject) => db.exec(sql, (err) => (err ? reject(err) : resolve())));
}

/** The rows of one query. */
export function all<T>(db: sqlite3.Database, sql: string): Promise<T[]> {
  return new Promise((resolve, reject) => db.all(sql, (err, rows) => (err ? reject(err) : resolve(rows as T[]))));
}

/** Closes the connection. */
export function closeDb(db: sqlite3.Database): Promise<void> {
  return new Promise((resolve, reject) => db.close((err) => (err ? reject(err) : resolve())));
}

/** Rows of `table` in a copy of `file` taken without its WAL (0 when the table is not in the file yet):
 * the pages checkpointed so far. */
export async function rowsInFileAlone(file: string, table: string): Promise<number> {
  const copy = `${file}.alone-${process.pid}-${Date.now()}`;
  copyFileSync(file, copy);
  try {
    const db = await openDb(copy, sqlite3.OPEN_READONLY);
    try {
      const [row] = await all<{ n: number }>(db, `SELECT count(*) AS n FROM "${table}"`);
      return row.n;
    } catch (err) {
      if (/no such table/.test((err as Error).message)) return 0;
      throw err;
    } finally {
      await closeDb(db);
    }
  } finally {
    // Opening a WAL-mode file may create its -wal and -shm next to it.
    for (const f of [copy, `${copy}-wal`, `${copy}-shm`]) rmSync(f, { force: true });
  }
}
