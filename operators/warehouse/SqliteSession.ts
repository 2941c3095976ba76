/**
 * The connection of one SQLite transaction, handed to its callback. It refuses statements once the
 * transaction has ended: a statement that escaped its callback (a forgotten await) would otherwise run
 * outside any transaction, on a connection being closed.
 */
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

  /** Called by the warehouse when the transaction commits or rolls back. */
  end(): void {
    this.ended = true;
  }

  private live(): SqliteConnection {
    if (this.ended) throw new WarehouseClosedError(this.connection.file, 'session');
    return this.connection;
  }
}
