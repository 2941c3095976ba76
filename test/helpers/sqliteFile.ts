/** What a SQLite database FILE holds by itself, without its -wal: the pages checkpointed so far. */
import { copyFileSync, rmSync } from 'node:fs';
import sqlite3 from 'sqlite3';

/** Rows of `table` in a copy of `file` taken without its WAL (0 when the table is not in the file yet). */
export async function rowsInFileAlone(file: string, table: string): Promise<number> {
  const copy = `${file}.alone-${process.pid}-${Date.now()}`;
  copyFileSync(file, copy);
  try {
    return await new Promise<number>((resolve, reject) => {
      const db = new sqlite3.Database(copy, sqlite3.OPEN_READONLY, (err) => {
        if (err) return reject(err);
        db.get(`SELECT count(*) AS n FROM "${table}"`, (e, row: { n: number } | undefined) =>
          db.close(() => (e ? (/no such table/.test(e.message) ? resolve(0) : reject(e)) : resolve(row!.n))),
        );
      });
    });
  } finally {
    // Opening a WAL-mode file may create its -wal and -shm next to it.
    for (const f of [copy, `${copy}-wal`, `${copy}-shm`]) rmSync(f, { force: true });
  }
}
