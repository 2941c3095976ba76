/**
 * A metadata connection without Sequelize, for the heartbeat thread (scheduler/heartbeatWorker.ts).
 * Loading Sequelize in a worker thread took 1.8 to 9 s on the shared build machine, against well
 * under one second for the sqlite3 addon the process has loaded already (docs/design/heartbeat.md);
 * the thread runs three statements, so it takes them from statements.ts and runs them on one sqlite3
 * connection, opened by the same driver (busy timeout, WAL) as Sequelize's.
 *
 * Statements bind values the way Sequelize's replacements do: each `?` takes the next value; an array
 * becomes a list (`IN (?)`), an array of arrays rows (`VALUES ?`). Here they become bound parameters.
 */
import type sqlite3Types from 'sqlite3';
import type { MetadataDialect } from './dialect.js';
import type { Sql, SqlValue } from './interfaces.js';
import { QueuedConnection } from './QueuedConnection.js';
import { createSqliteDriver } from './sqliteDriver.js';

/** A scalar bound to one placeholder. */
type Bound = string | number | null;

/** A statement's parameters do not fit its placeholders. */
export class ReplacementError extends Error {
  override readonly name = 'ReplacementError';
  constructor(
    readonly statement: string,
    readonly placeholders: number,
    readonly values: number,
  ) {
    super(`statement has ${placeholders} placeholder(s) for ${values} value(s): ${statement.replace(/\s+/g, ' ').slice(0, 120)}`);
  }
}

function scalar(v: SqlValue, statement: string): Bound {
  if (Array.isArray(v)) throw new TypeError(`a nested list cannot be bound in: ${statement.replace(/\s+/g, ' ').slice(0, 120)}`);
  return v as Bound;
}

/**
 * The statement with each `?` outside quotes expanded for its value (a list to `?, ?`, rows to
 * `(?, ?), (?, ?)`), and the flat values to bind.
 */
export function expandReplacements(statement: string, params: readonly SqlValue[]): { text: string; values: Bound[] } {
  const values: Bound[] = [];
  let text = '';
  let next = 0;
  let quote: string | undefined;
  for (const ch of statement) {
    if (quote) {
      if (ch === quote) quote = undefined;
      text += ch;
      continue;
    }
    if (ch === "'" || ch === '"') quote = ch;
    if (ch !== '?') {
      text += ch;
      continue;
    }
    if (next >= params.length) throw new ReplacementError(statement, next + 1, params.length);
    const v = params[next++];
    if (!Array.isArray(v)) {
      values.push(v as Bound);
      text += '?';
    } else if (v.length > 0 && Array.isArray(v[0])) {
      text += (v as readonly SqlValue[][]).map((row) => `(${row.map((x) => (values.push(scalar(x, statement)), '?')).join(', ')})`).join(', ');
    } else {
      // An empty list matches nothing, as Sequelize's `IN (NULL)`.
      text += v.length === 0 ? 'NULL' : v.map((x) => (values.push(scalar(x, statement)), '?')).join(', ');
    }
  }
  if (next !== params.length) throw new ReplacementError(statement, next, params.length);
  return { text, values };
}

/** One sqlite3 connection to a metadata file, with MetadataDb's tx/read over it. */
export class PlainMetadataConnection extends QueuedConnection {
  /** BEGIN IMMEDIATE: the dialect's write transaction, retried while the file stays locked. */
  protected readonly begin = `BEGIN ${this.dialect.writeTransaction.type ?? 'DEFERRED'}`;

  private constructor(
    private readonly db: sqlite3Types.Database,
    dialect: MetadataDialect,
    private readonly closeDriver: () => Promise<void>,
    /** The database file. */
    readonly file: string,
  ) {
    super(dialect);
  }

  /** Opens `file`, which must exist (the main thread created and migrated it). */
  static async open(file: string, dialect: MetadataDialect): Promise<PlainMetadataConnection> {
    const driver = createSqliteDriver();
    const { Database, OPEN_READWRITE } = driver.module as { Database: (f: string, mode: number, cb: (err: Error | null) => void) => sqlite3Types.Database; OPEN_READWRITE: number };
    const db = await new Promise<sqlite3Types.Database>((resolve, reject) => {
      const opened = Database(file, OPEN_READWRITE, (err) => (err ? reject(err) : resolve(opened)));
    });
    return new PlainMetadataConnection(db, dialect, () => driver.closeAll(), file);
  }

  protected sql(): Sql {
    return {
      all: <T>(statement: string, params: readonly SqlValue[] = []): Promise<T[]> => {
        const { text, values } = expandReplacements(statement, params);
        return new Promise((resolve, reject) => this.db.all<T>(text, values, (err, rows) => (err ? reject(err) : resolve(rows))));
      },
      run: (statement: string, params: readonly SqlValue[] = []): Promise<number> => {
        const { text, values } = expandReplacements(statement, params);
        return new Promise((resolve, reject) =>
          this.db.run(text, values, function (this: sqlite3Types.RunResult, err: Error | null) {
            if (err) reject(err);
            else resolve(this.changes);
          }),
        );
      },
    };
  }

  protected exec(text: string): Promise<void> {
    return new Promise((resolve, reject) => this.db.exec(text, (err) => (err ? reject(err) : resolve())));
  }

  protected closeConnection(): Promise<void> {
    return this.closeDriver();
  }
}
