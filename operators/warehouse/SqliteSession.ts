/**
 * The connection of one SQLite transaction, handed to its callback. It refuses statements once the
 * transaction has ended: a statement that escaped its callback (a forgotten await) would otherwise run
 * outside any transaction, on a connection being closed.
 */
import path from 'node:path';
import { pathToFileURL } from 'node:url';
import type { Params, PreparedStatement, RunResult, WarehouseSession } from './interfaces.js';
import type { SqliteConnection } from './SqliteConnection.js';
import { WarehouseClosedError } from './WarehouseClosedError.js';

export class SqliteSession implements WarehouseSession {
  private ended = false;

  constructor(private readonly connection: SqliteConnection) {}

  async all<T extends object = Record<string, unknown>>(sql: string, params?: Params): Promise<T[]> {
    return this.live().all<T>(sql, params);
  }

  async get<T extends object = Record<string, unknown>>(sql: string, params?: Params): Promise<T | undefined> {
    return this.live().get<T>(sql, params);
  }

  async run(sql: string, params?: Params): Promise<RunResult> {
    return this.live().run(sql, params);
  }

  async exec(sql: string): Promise<void> {
    return this.live().exec(sql);
  }

  async prepare(sql: string): Promise<PreparedStatement> {
    return this.live().prepare(sql);
  }

  /**
   * Attaches the session's own database file again, read-only, as `schema`, outside a transaction (as
   * ATTACH must be). A statement that writes a table while reading it makes SQLite copy what it reads
   * into a temporary table first; through the second name it reads the last committed rows directly.
   * Read-only, so that BEGIN IMMEDIATE does not also ask for the file's write lock a second time.
   */
  async attachReadOnly(schema: string): Promise<void> {
    if (!/^[a-z_][a-z0-9_]*$/.test(schema)) throw new RangeError(`schema '${schema}' is not a plain name`);
    const file = this.live().file;
    await this.run(`ATTACH DATABASE ? AS ${schema}`, [`${pathToFileURL(path.resolve(file)).href}?mode=ro`]);
  }

  /** Called by the warehouse when the transaction commits or rolls back. */
  end(): void {
    this.ended = true;
  }

  private live(): SqliteConnection {
    if (this.ended) throw new WarehouseClosedError(this.connection.file, 'session');
    return this.connection;
  }
}
