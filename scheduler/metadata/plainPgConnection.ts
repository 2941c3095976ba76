/**
 * The heartbeat thread's metadata connection on PostgreSQL: one plain pg client, as
 * PlainMetadataConnection is one plain sqlite3 connection (docs/design/heartbeat.md: the thread never
 * loads Sequelize). Statements come from statements.ts with Sequelize-style `?` replacements; here they
 * become numbered parameters ($1, $2, ...).
 */
import { retryWhileBusy } from './busyRetry.js';
import type { MetadataDialect } from './dialect.js';
import type { Sql, SqlValue } from './interfaces.js';
import type { MetadataLocation } from './metadataUrl.js';
import { expandReplacements } from './plainConnection.js';
import type pgTypes from 'pg';
import { metadataPgTypes, pg } from './pgDriver.js';

/** `text` with each `?` outside quotes numbered `$1`, `$2`, ... in order. */
export function numberPlaceholders(text: string): string {
  let out = '';
  let n = 0;
  let quote: string | undefined;
  for (const ch of text) {
    if (quote) {
      if (ch === quote) quote = undefined;
    } else if (ch === "'" || ch === '"') quote = ch;
    else if (ch === '?') {
      out += `$${++n}`;
      continue;
    }
    out += ch;
  }
  return out;
}

/** One pg connection to the metadata database, with MetadataDb's tx/read over it. */
export class PlainPgConnection {
  private queue: Promise<unknown> = Promise.resolve();

  private constructor(
    private readonly client: pgTypes.Client,
    private readonly dialect: MetadataDialect,
  ) {}

  /** Connects to the database of `loc`, which must be migrated already (the main thread did it). */
  static async open(loc: Extract<MetadataLocation, { engine: 'postgres' }>, dialect: MetadataDialect): Promise<PlainPgConnection> {
    const client = new pg.Client({
      host: loc.host,
      port: loc.port,
      database: loc.database,
      user: loc.user,
      password: loc.password,
      types: metadataPgTypes,
      application_name: 'drivetrain-heartbeat',
      connectionTimeoutMillis: 10_000,
    });
    // A dropped connection surfaces as the next statement's error; unhandled, it would end the thread.
    client.on('error', () => undefined);
    await client.connect();
    return new PlainPgConnection(client, dialect);
  }

  private sql(): Sql {
    const query = async (statement: string, params: readonly SqlValue[]) => {
      const { text, values } = expandReplacements(statement, params);
      return this.client.query(numberPlaceholders(text), values);
    };
    return {
      all: async <T>(statement: string, params: readonly SqlValue[] = []): Promise<T[]> => (await query(statement, params)).rows as T[],
      run: async (statement: string, params: readonly SqlValue[] = []): Promise<number> => (await query(statement, params)).rowCount ?? 0,
    };
  }

  /** One statement at a time on the one connection. */
  private enqueue<T>(fn: () => Promise<T>): Promise<T> {
    const result = this.queue.then(fn, fn);
    this.queue = result.catch(() => undefined);
    return result;
  }

  /** Runs `fn` in one READ COMMITTED transaction, again from the start after a deadlock or lock timeout. */
  tx<T>(fn: (sql: Sql) => Promise<T>): Promise<T> {
    return this.enqueue(() =>
      retryWhileBusy(this.dialect, async () => {
        await this.client.query('BEGIN ISOLATION LEVEL READ COMMITTED');
        try {
          const out = await fn(this.sql());
          await this.client.query('COMMIT');
          return out;
        } catch (err) {
          await this.client.query('ROLLBACK').catch(() => undefined);
          throw err;
        }
      }),
    );
  }

  /** Runs read-only statements after the ones queued before. */
  read<T>(fn: (sql: Sql) => Promise<T>): Promise<T> {
    return this.enqueue(() => fn(this.sql()));
  }

  /** `SELECT 1`: the server answers. */
  async ping(): Promise<void> {
    await this.read((sql) => sql.all('SELECT 1 AS ok'));
  }

  /** Waits for queued statements, then closes the connection. */
  async close(): Promise<void> {
    await this.queue;
    await this.client.end();
  }
}
