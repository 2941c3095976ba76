/** A node-sqlite3 prepared statement behind the promise API of {@link PreparedStatement}. */
import type sqlite3 from 'sqlite3';
import type { Params, PreparedStatement, RunResult } from './interfaces.js';

export class SqliteStatement implements PreparedStatement {
  constructor(private readonly statement: sqlite3.Statement) {}

  /** node-sqlite3 binds (copies) the values synchronously, before the statement is queued. */
  run(params: Params): Promise<RunResult> {
    return new Promise((resolve, reject) =>
      this.statement.run(params, function (this: sqlite3.RunResult, err: Error | null) {
        if (err) reject(err);
        else resolve({ changes: this.changes, lastRowid: this.lastID });
      }),
    );
  }

  finalize(): Promise<void> {
    return new Promise((resolve, reject) => this.statement.finalize((err) => (err ? reject(err) : resolve())));
  }
}
