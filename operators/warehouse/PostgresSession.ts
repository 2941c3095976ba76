/**
 * The connection of one PostgreSQL transaction, handed to its callback: the statements of the
 * warehouse interface with its `?` and `$name` parameters made positional (postgresParams.ts), named
 * prepared statements, and COPY. It refuses statements once the transaction has ended, as
 * SqliteSession does: a statement that escaped its callback would otherwise run on a pooled
 * connection already serving someone else.
 */
import type pg from 'pg';
import type { Params, PreparedStatement, RunResult, WarehouseSession } from './interfaces.js';
import { PostgresCopy } from './PostgresCopy.js';
import { toPositional } from './postgresParams.js';
import { PostgresStatement } from './PostgresStatement.js';
import { WarehouseClosedError } from './WarehouseClosedError.js';

/** Runs one statement on `client` with the interface's parameters. */
export async function query<T extends object>(client: pg.ClientBase, sql: string, params?: Params): Promise<pg.QueryResult<T & pg.QueryResultRow>> {
  const { text, values } = toPositional(sql, params);
  return client.query<T & pg.QueryResultRow>(text, values);
}

export class PostgresSession implements WarehouseSession {
  private ended = false;

  constructor(
    private readonly client: pg.PoolClient,
    /** The warehouse's location, for the error after the end. */
    private readonly location: string,
  ) {}

  async all<T extends object = Record<string, unknown>>(sql: string, params?: Params): Promise<T[]> {
    return (await query<T>(this.live(), sql, params)).rows;
  }

  async get<T extends object = Record<string, unknown>>(sql: string, params?: Params): Promise<T | undefined> {
    return (await query<T>(this.live(), sql, params)).rows[0];
  }

  async run(sql: string, params?: Params): Promise<RunResult> {
    return { changes: (await query(this.live(), sql, params)).rowCount ?? 0 };
  }

  /** A script of several statements, sent at once (the simple query protocol allows it without parameters). */
  async exec(sql: string): Promise<void> {
    await this.live().query(sql);
  }

  async prepare(sql: string): Promise<PreparedStatement> {
    this.live();
    return new PostgresStatement(() => this.live(), sql);
  }

  /** A bulk insert into `table` (quoted as needed) by COPY text chunks; see PostgresCopy.ts. */
  copyInto(table: string, columns: readonly string[]): PostgresCopy {
    this.live();
    return new PostgresCopy(() => this.live(), table, columns);
  }

  /** Called by the warehouse when the transaction commits or rolls back. */
  end(): void {
    this.ended = true;
  }

  private live(): pg.PoolClient {
    if (this.ended) throw new WarehouseClosedError(this.location, 'session');
    return this.client;
  }
}
