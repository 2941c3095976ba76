/**
 * One node-sqlite3 connection behind a promise API: the only place in the repository that turns
 * node-sqlite3's callbacks into promises. The warehouse, the WAL checkpointer, the demo, the benches
 * and the tests open SQLite files through it.
 */
import sqlite3 from 'sqlite3';
import type { Params, Queryable, RunResult } from './interfaces.js';
import { SqliteStatement } from './SqliteStatement.js';

/** Options of {@link SqliteConnection.open}. */
export interface SqliteOpenOptions {
  /** Open read-only (the file must exist). Default false: read-write. */
  readonly readOnly?: boolean;
  /** Create the file when it is missing (read-write only). Default true. */
  readonly create?: boolean;
  /** How long a statement waits for another connection's lock before SQLITE_BUSY; default SQLite's 0. */
  readonly busyTimeoutMs?: number;
  /** Read names that start with `file:` as URIs, here and in ATTACH (`?mode=ro`). Default false. */
  readonly uri?: boolean;
}

export class SqliteConnection implements Queryable {
  private constructor(
    /** The node-sqlite3 handle, for what this class does not wrap. */
    readonly db: sqlite3.Database,
    /** The file it was opened on (`:memory:` for an in-memory database). */
    readonly file: string,
  ) {}

  /** Opens `file`; rejects with node-sqlite3's error (SQLITE_CANTOPEN ...) when it cannot. */
  static open(file: string, opts: SqliteOpenOptions = {}): Promise<SqliteConnection> {
    const mode =
      (opts.readOnly ? sqlite3.OPEN_READONLY : sqlite3.OPEN_READWRITE | (opts.create === false ? 0 : sqlite3.OPEN_CREATE)) |
      (opts.uri ? sqlite3.OPEN_URI : 0);
    return new Promise((resolve, reject) => {
      const db = new sqlite3.Database(file, mode, (err) => {
        if (err) return reject(err);
        if (opts.busyTimeoutMs !== undefined) db.configure('busyTimeout', opts.busyTimeoutMs);
        resolve(new SqliteConnection(db, file));
      });
    });
  }

  all<T extends object = Record<string, unknown>>(sql: string, params: Params = []): Promise<T[]> {
    return new Promise((resolve, reject) => this.db.all<T>(sql, params, (err, rows) => (err ? reject(err) : resolve(rows))));
  }

  get<T extends object = Record<string, unknown>>(sql: string, params: Params = []): Promise<T | undefined> {
    return new Promise((resolve, reject) => this.db.get<T>(sql, params, (err, row) => (err ? reject(err) : resolve(row))));
  }

  run(sql: string, params: Params = []): Promise<RunResult> {
    return new Promise((resolve, reject) =>
      this.db.run(sql, params, function (this: sqlite3.RunResult, err: Error | null) {
        if (err) reject(err);
        else resolve({ changes: this.changes, lastRowid: this.lastID });
      }),
    );
  }

  exec(sql: string): Promise<void> {
    return new Promise((resolve, reject) => this.db.exec(sql, (err) => (err ? reject(err) : resolve())));
  }

  /** Compiles `sql`; rejects when it does not compile. */
  prepare(sql: string): Promise<SqliteStatement> {
    return new Promise((resolve, reject) => {
      const statement = this.db.prepare(sql, (err) => (err ? reject(err) : resolve(new SqliteStatement(statement))));
    });
  }

  /** Closes the connection (SQLite refuses while a prepared statement is not finalized). */
  close(): Promise<void> {
    return new Promise((resolve, reject) => this.db.close((err) => (err ? reject(err) : resolve())));
  }
}
