/**
 * The warehouse in a PostgreSQL schema, on a `pg` Pool (docs/design/postgres-warehouse.md). Each
 * transaction runs on a pooled connection of its own; statements outside a transaction on any idle one.
 * Every connection is opened with the schema as its search_path (so models name tables bare, as on
 * SQLite) and UTC as its time zone (so a source timestamp without a zone is UTC, as the contract says).
 *
 * Write transactions take one transaction-scoped advisory lock per schema: writers run one at a time,
 * in every process, as on SQLite. Why not let them run side by side: the models create their tables
 * and the load log with CREATE ... IF NOT EXISTS, which is not safe against a concurrent creation of
 * the same name in PostgreSQL (a unique violation in the catalog), and two runs replacing the same
 * partition would otherwise interleave their DELETE and INSERT. Readers never wait: a read transaction
 * is one REPEATABLE READ snapshot and takes no lock.
 */
import pg from 'pg';
import { redact } from '../../scheduler/redact.js';
import type { Params, RunResult, TransactionOptions, Warehouse, WarehouseSession } from './interfaces.js';
import { PostgresSession, query } from './PostgresSession.js';
import { WarehouseClosedError } from './WarehouseClosedError.js';

/** Connections the pool opens at most: a load, a model run and a data test at once, with room. */
const POOL_SIZE = 8;

/** int8 (count(*), sum of integers) and numeric as JS numbers, as SQLite gives them; pg gives text by default. */
const TYPES = {
  getTypeParser: ((oid: number, format?: 'text' | 'binary') => {
    if (oid === pg.types.builtins.INT8) return (v: string) => Number(v);
    if (oid === pg.types.builtins.NUMERIC) return (v: string) => Number(v);
    return pg.types.getTypeParser(oid, format);
  }) as typeof pg.types.getTypeParser,
};

/** `location` of a warehouse: its URL with the password redacted, and its schema. */
function locationOf(connectionString: string, schema: string): string {
  const url = new URL(connectionString);
  if (url.password !== '') url.password = '***';
  return `${redact(url.toString())}?schema=${schema}`;
}

export class PostgresWarehouse implements Warehouse {
  readonly kind = 'postgres';
  /** Transactions in progress, for {@link close} to wait for. */
  private readonly running = new Set<Promise<unknown>>();
  private closed = false;

  private constructor(
    readonly location: string,
    private readonly pool: pg.Pool,
    /** The advisory lock key of this schema's writers. */
    private readonly lockKey: string,
  ) {}

  /** Opens a pool on `connectionString` and creates `schema` when missing. */
  static async open(connectionString: string, schema: string): Promise<PostgresWarehouse> {
    // The schema must exist before a connection with it as search_path can create tables in it.
    const setup = new pg.Client({ connectionString });
    await setup.connect();
    try {
      await setup.query(`CREATE SCHEMA IF NOT EXISTS ${schema}`);
    } catch (err) {
      // Two processes creating it at once: one wins, the other's catalog insert fails; it exists now.
      const exists = await setup.query('SELECT 1 FROM pg_namespace WHERE nspname = $1', [schema]);
      if (exists.rowCount === 0) throw err;
    } finally {
      await setup.end();
    }
    const pool = new pg.Pool({
      connectionString,
      max: POOL_SIZE,
      options: `-c search_path=${schema} -c TimeZone=UTC`,
      types: TYPES,
    });
    // An idle pooled connection that dies (a server restart) must not crash the process; the next
    // checkout opens a new one.
    pool.on('error', () => {});
    return new PostgresWarehouse(locationOf(connectionString, schema), pool, `drivetrain.warehouse.${schema}`);
  }

  async all<T extends object = Record<string, unknown>>(sql: string, params?: Params): Promise<T[]> {
    this.open();
    return (await query<T>(this.pool as unknown as pg.ClientBase, sql, params)).rows;
  }

  async get<T extends object = Record<string, unknown>>(sql: string, params?: Params): Promise<T | undefined> {
    return (await this.all<T>(sql, params))[0];
  }

  /** One statement, as a write transaction of its own (it may write, so it takes the writers' lock). */
  run(sql: string, params?: Params): Promise<RunResult> {
    return this.transaction((s) => s.run(sql, params));
  }

  exec(sql: string): Promise<void> {
    return this.transaction((s) => s.exec(sql));
  }

  async transaction<T>(fn: (session: WarehouseSession) => Promise<T>, opts: TransactionOptions = {}): Promise<T> {
    this.open();
    const write = opts.write ?? true;
    const { prepare } = opts;
    const p = this.inTransaction(write, prepare && write ? async (session) => (await prepare(session), fn(session)) : fn);
    const settled = p.catch(() => undefined).finally(() => this.running.delete(settled));
    this.running.add(settled);
    return p;
  }

  /**
   * An update leaves the old row version in the table as a dead tuple until a vacuum; VACUUM FULL
   * rewrites each table without them (an exclusive lock for the time of the copy). VACUUM cannot run in
   * a transaction, so on an idle pooled connection. The server's WAL files keep the old values until it
   * recycles them, which no statement of a client forces.
   */
  async purgeOldVersions(tables: readonly string[]): Promise<boolean> {
    this.open();
    for (const table of tables) {
      const [found] = (await this.pool.query<{ t: string | null }>('SELECT to_regclass($1)::text AS t', [table])).rows;
      if (found.t !== null) await this.pool.query(`VACUUM FULL ${found.t}`);
    }
    return true;
  }

  async close(): Promise<void> {
    if (this.closed) return;
    this.closed = true;
    await Promise.all(this.running);
    await this.pool.end();
  }

  private async inTransaction<T>(write: boolean, fn: (session: PostgresSession) => Promise<T>): Promise<T> {
    const client = await this.pool.connect();
    const session = new PostgresSession(client, this.location);
    let broken: Error | undefined;
    try {
      if (write) {
        await client.query('BEGIN');
        await client.query('SELECT pg_advisory_xact_lock(hashtext($1))', [this.lockKey]);
      } else {
        await client.query('BEGIN ISOLATION LEVEL REPEATABLE READ READ ONLY');
      }
      try {
        const result = await fn(session);
        await client.query('COMMIT');
        return result;
      } catch (err) {
        // A lost connection cannot roll back; the server does, and the connection is not reused.
        await client.query('ROLLBACK').catch((e: Error) => (broken = e));
        throw err;
      }
    } catch (err) {
      broken ??= isConnectionError(err) ? (err as Error) : undefined;
      throw err;
    } finally {
      session.end();
      client.release(broken);
    }
  }

  private open(): void {
    if (this.closed) throw new WarehouseClosedError(this.location, 'warehouse');
  }
}

/** An error after which the connection is not fit for reuse (no SQLSTATE: it came from the socket). */
function isConnectionError(err: unknown): boolean {
  return typeof err === 'object' && err !== null && !('code' in err && typeof (err as { code: unknown }).code === 'string' && /^[0-9A-Z]{5}$/.test((err as { code: string }).code));
}
