/**
 * The scheduler's metadata database: one Sequelize instance per process, the schema migrated on
 * open. Every statement goes through Sequelize's public API: `sequelize.transaction` with the
 * dialect's write-transaction type, `sequelize.query` with replacements inside it, models for the
 * CLI's simple reads. Connection setup (busy timeout, WAL) lives in the driver Sequelize is given
 * (sqliteDriver.ts), engine differences in dialect.ts. See docs/design/metadata-storage.md.
 */
import { mkdirSync } from 'node:fs';
import path from 'node:path';
import { QueryTypes, Sequelize, type Transaction } from 'sequelize';
import { ConfigError } from '../errors/ConfigError.js';
import { retryWhileBusy } from './busyRetry.js';
import { postgresDialect, sqliteDialect, type MetadataDialect } from './dialect.js';
import { parseMetadataUrl, type MetadataLocation } from './metadataUrl.js';
import { metadataPgModule } from './pgDriver.js';
import { redact } from '../redact.js';
import type { Sql, SqlValue } from './interfaces.js';
import { MIGRATIONS, SCHEMA_VERSION } from './migrations.js';
import { defineModels, type MetadataModels } from './models.js';
import { Statements } from './statements.js';
import { createSqliteDriver, OPEN_READWRITE, type SqliteDriver } from './sqliteDriver.js';

export type { Sql, SqlValue } from './interfaces.js';

/** A PRAGMA statement (see {@link MetadataDb}'s `all`). */
const PRAGMA = /^\s*PRAGMA\b/i;

/**
 * `err` with a stack that starts with its message and goes through the caller of the statement. The
 * driver keeps Sequelize from capturing a stack for every statement (sqliteDriver.ts), so a failed
 * statement's error gets one here, where it is thrown on: only failures pay for it.
 */
function withCallerStack(err: unknown, below: (...args: never[]) => unknown): unknown {
  if (err instanceof Error) Error.captureStackTrace(err, below);
  return err;
}

/** The open metadata database of this process. */
export class MetadataDb {
  /** Sequelize models over the metadata tables, for the CLI's reads. */
  readonly models: MetadataModels;
  /** Every statement on the metadata tables, for use inside {@link tx} and {@link read}. */
  readonly statements: Statements;
  private queue: Promise<unknown> = Promise.resolve();
  private closed = false;

  private constructor(
    /** The Sequelize instance. */
    readonly sequelize: Sequelize,
    /** The database file, or the PostgreSQL URL with its password redacted: what messages name. */
    readonly file: string,
    /** What reopens the same database elsewhere (the heartbeat thread): the file, or the URL as given. */
    readonly location: string,
    /** The engine-specific parts of the statements. */
    readonly dialect: MetadataDialect,
    private readonly driver: { closeAll(): Promise<void> },
  ) {
    this.models = defineModels(sequelize);
    this.statements = new Statements(dialect);
  }

  /**
   * Opens (creating if needed) and migrates the metadata database named by `url`: DRIVETRAIN_METADATA_URL's
   * forms (`sqlite:FILE`, `postgres://...`), or a bare file path.
   */
  static async open(url: string): Promise<MetadataDb> {
    const loc = parseMetadataUrl(url);
    return loc.engine === 'postgres' ? MetadataDb.openPostgres(loc) : MetadataDb.openSqlite(loc.file);
  }

  private static async openSqlite(file: string): Promise<MetadataDb> {
    mkdirSync(path.dirname(file), { recursive: true });
    // The directory is made once, here: with OPEN_CREATE in its mode, Sequelize would make it again
    // for every transaction's connection. The driver creates the file (sqliteDriver.ts).
    const driver = createSqliteDriver({ createFile: true });
    const sequelize = new Sequelize({
      dialect: 'sqlite',
      dialectModule: driver.module,
      dialectOptions: { mode: OPEN_READWRITE },
      storage: file,
      logging: false,
    });
    return MetadataDb.migrated(new MetadataDb(sequelize, file, file, sqliteDialect, driver));
  }

  private static async openPostgres(loc: Extract<MetadataLocation, { engine: 'postgres' }>): Promise<MetadataDb> {
    const sequelize = new Sequelize({
      dialect: 'postgres',
      dialectModule: metadataPgModule,
      host: loc.host,
      port: loc.port,
      database: loc.database,
      username: loc.user,
      password: loc.password,
      logging: false,
      // A turn, a recovery pass, the alert deliverer and the API's reads may overlap; the heartbeat
      // thread has a connection of its own.
      pool: { max: 4, min: 0, idle: 10_000 },
      dialectOptions: { application_name: 'drivetrain', connectionTimeoutMillis: 10_000 },
    });
    return MetadataDb.migrated(new MetadataDb(sequelize, redact(loc.url), loc.url, postgresDialect, { closeAll: async () => undefined }));
  }

  private static async migrated(db: MetadataDb): Promise<MetadataDb> {
    try {
      await db.migrate();
    } catch (err) {
      await db.sequelize.close();
      await db.driver.closeAll();
      throw err;
    }
    return db;
  }

  /** The statements of `transaction` (or, without one, of Sequelize's default connection). */
  private sql(transaction?: Transaction): Sql {
    const { sequelize } = this;
    // RAW: the driver's rows as they come ([rows, metadata]); SELECT would copy every row into a new
    // object. A PRAGMA's result Sequelize's SQLite dialect shapes by itself whatever the type, so a
    // PRAGMA stays SELECT.
    const all = async <T>(sql: string, params: readonly SqlValue[] = []): Promise<T[]> => {
      try {
        if (PRAGMA.test(sql)) return await sequelize.query<T & object>(sql, { replacements: params as SqlValue[], transaction, type: QueryTypes.SELECT, raw: true });
        const [rows] = await sequelize.query(sql, { replacements: params as SqlValue[], transaction, type: QueryTypes.RAW });
        return rows as T[];
      } catch (err) {
        throw withCallerStack(err, all);
      }
    };
    // BULKUPDATE: Sequelize's query type whose result is the number of rows changed.
    const run = async (sql: string, params: readonly SqlValue[] = []): Promise<number> => {
      try {
        return await sequelize.query(sql, { replacements: params as SqlValue[], transaction, type: QueryTypes.BULKUPDATE, raw: true });
      } catch (err) {
        throw withCallerStack(err, run);
      }
    };
    return { all, run };
  }

  /** Runs `fn` after everything this process queued before, when the dialect needs that. */
  private enqueue<T>(fn: () => Promise<T>): Promise<T> {
    if (this.closed) return Promise.reject(new Error(`metadata database '${this.file}' is closed`));
    if (!this.dialect.serialTransactions) return fn();
    const result = this.queue.then(fn, fn);
    this.queue = result.catch(() => undefined);
    return result;
  }

  /**
   * Runs `fn` in one write transaction (the dialect's: BEGIN IMMEDIATE on SQLite), committed when
   * it resolves, rolled back when it throws. Retried from the start when the database stayed
   * locked past the busy timeout, so `fn` must not keep state across calls.
   */
  tx<T>(fn: (sql: Sql) => Promise<T>): Promise<T> {
    return this.enqueue(() =>
      retryWhileBusy(this.dialect, () => this.sequelize.transaction(this.dialect.writeTransaction, (t) => fn(this.sql(t)))),
    );
  }

  /** Runs read-only statements, after this process's earlier writes. */
  read<T>(fn: (sql: Sql) => Promise<T>): Promise<T> {
    return this.enqueue(() => fn(this.sql()));
  }

  /** `SELECT 1`: the health check's probe. */
  async ping(): Promise<void> {
    await this.read((sql) => sql.all('SELECT 1 AS ok'));
  }

  private async migrate(): Promise<void> {
    const { dialect } = this;
    await this.tx(async (sql) => {
      // Daemons starting together on one server: the first migrates, the others wait and find it done.
      if (dialect.migrationLock !== '') await sql.all(dialect.migrationLock);
      await sql.run(dialect.ddl('CREATE TABLE IF NOT EXISTS schema_version (version INTEGER NOT NULL, description TEXT, applied_at TEXT NOT NULL)'));
      const [row] = await sql.all<{ v: number | null }>('SELECT MAX(version) AS v FROM schema_version');
      const current = row?.v ?? 0;
      if (current > SCHEMA_VERSION) {
        throw new ConfigError(
          `metadata database '${this.file}' has schema version ${current}, newer than this Drivetrain's ${SCHEMA_VERSION}`,
          dialect.name === 'postgres' ? 'DRIVETRAIN_METADATA_URL' : 'DRIVETRAIN_HOME',
        );
      }
      for (const m of MIGRATIONS) {
        if (m.version <= current) continue;
        for (const statement of m.byEngine?.[dialect.name] ?? m.statements) await sql.run(dialect.ddl(statement));
        await sql.run('INSERT INTO schema_version (version, description, applied_at) VALUES (?, ?, ?)', [
          m.version,
          m.description,
          new Date().toISOString(),
        ]);
      }
    });
  }

  /** The schema version recorded in the database. */
  async schemaVersion(): Promise<number> {
    const [row] = await this.read((sql) => sql.all<{ v: number }>('SELECT MAX(version) AS v FROM schema_version'));
    return row.v;
  }

  /** Waits for queued statements, then closes every connection. */
  async close(): Promise<void> {
    if (this.closed) return;
    await this.queue;
    this.closed = true;
    await this.sequelize.close();
    await this.driver.closeAll();
  }
}
