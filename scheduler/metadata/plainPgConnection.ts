/**
 * The heartbeat thread's metadata connection on PostgreSQL: one plain pg client, as
 * PlainMetadataConnection is one plain sqlite3 connection (docs/design/heartbeat.md: the thread never
 * loads Sequelize). Statements come from statements.ts with Sequelize-style `?` replacements; here they
 * become numbered parameters ($1, $2, ...).
 */
import type { MetadataDialect } from './dialect.js';
import type { Sql, SqlValue } from './interfaces.js';
import type { MetadataLocation } from './metadataUrl.js';
import { expandReplacements } from './plainConnection.js';
import type pgTypes from 'pg';
import { metadataPgTypes, pg } from './pgDriver.js';
import { QueuedConnection } from './QueuedConnection.js';

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
export class PlainPgConnection extends QueuedConnection {
  /** READ COMMITTED, retried from the start after a deadlock or lock timeout. */
  protected readonly begin = 'BEGIN ISOLATION LEVEL READ COMMITTED';

  private constructor(
    private readonly client: pgTypes.Client,
    dialect: MetadataDialect,
  ) {
    super(dialect);
  }

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

  protected sql(): Sql {
    const query = async (statement: string, params: readonly SqlValue[]) => {
      const { text, values } = expandReplacements(statement, params);
      return this.client.query(numberPlaceholders(text), values);
    };
    return {
      all: async <T>(statement: string, params: readonly SqlValue[] = []): Promise<T[]> => (await query(statement, params)).rows as T[],
      run: async (statement: string, params: readonly SqlValue[] = []): Promise<number> => (await query(statement, params)).rowCount ?? 0,
    };
  }

  protected async exec(text: string): Promise<void> {
    await this.client.query(text);
  }

  protected closeConnection(): Promise<void> {
    return this.client.end();
  }
}
