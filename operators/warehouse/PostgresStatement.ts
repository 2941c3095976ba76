/**
 * A statement prepared once on a transaction's PostgreSQL connection and run many times: a named
 * statement (`pg` parses it on first run and reuses the plan on that connection after). Its name is
 * unique per connection, so it never collides with `pg`'s own cache of names; it is deallocated with
 * its connection's session state, not by finalize (DEALLOCATE behind `pg`'s back would make `pg`
 * believe a freed name is still prepared).
 */
import type pg from 'pg';
import type { Params, PreparedStatement, RunResult } from './interfaces.js';
import { toPositional } from './postgresParams.js';
import { StatementFinalizedError } from './StatementFinalizedError.js';

let counter = 0;

export class PostgresStatement implements PreparedStatement {
  private readonly name = `drivetrain_${process.pid}_${++counter}`;
  private finalized = false;

  constructor(
    private readonly client: () => pg.PoolClient,
    private readonly sql: string,
  ) {}

  async run(params: Params): Promise<RunResult> {
    if (this.finalized) throw new StatementFinalizedError(this.name, this.sql);
    const { text, values } = toPositional(this.sql, params);
    const result = await this.client().query({ name: this.name, text, values });
    return { changes: result.rowCount ?? 0 };
  }

  async finalize(): Promise<void> {
    this.finalized = true;
  }
}
