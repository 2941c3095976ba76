/**
 * Everything in the metadata's SQL that differs between database engines, in one place: how a
 * scheduler turn gets exclusive access, how a list of rows becomes a table, which errors mean
 * "locked, try again", and how the portable DDL of the migrations is spelled. statements.ts writes
 * every statement once in terms of these (see docs/design/metadata-storage.md and
 * docs/design/postgres-metadata.md).
 */
// Types only: the heartbeat thread reads this dialect without loading Sequelize (docs/design/heartbeat.md).
import type { Transaction, TransactionOptions } from 'sequelize';

/** The type of a column of a {@link MetadataDialect.valuesTable}: what its values are compared with. */
export type ValuesColumnType = 'int' | 'real' | 'text';

/** The engine-specific parts of the metadata statements. */
export interface MetadataDialect {
  /** Sequelize's dialect name. */
  readonly name: 'sqlite' | 'postgres';
  /** Options of every write transaction (a scheduler turn, a claim, a recovery). */
  readonly writeTransaction: TransactionOptions;
  /**
   * True when one process must run its transactions one at a time: SQLite has one writer per file,
   * so a second transaction of the same process would only sleep in the busy handler.
   */
  readonly serialTransactions: boolean;
  /**
   * Appended to the SELECT that reads claimable rows, so two claimers never take the same row and
   * neither waits for the other: empty where the write transaction is exclusive already.
   */
  readonly lockClaimedRows: string;
  /**
   * Appended to a SELECT of rows about to be updated, taking their locks in the fixed order (by key)
   * before the UPDATE takes them in whatever order its plan visits them. Empty where the write
   * transaction is exclusive already.
   */
  readonly lockInKeyOrder: string;
  /** Taken first in the migration transaction, so daemons starting together migrate once; empty on SQLite. */
  readonly migrationLock: string;
  /**
   * Taken first by a transaction replacing the stored DAG bag: two daemons storing theirs at once would
   * each delete the rows they see and insert the same keys; empty on SQLite.
   */
  readonly dagBagLock: string;
  /** A FROM item named `alias` with these typed columns, filled from one `?` bound to an array of rows. */
  valuesTable(alias: string, columns: Readonly<Record<string, ValuesColumnType>>): string;
  /** True when `err` means "locked or in conflict, run the transaction again": busy, deadlock, serialization. */
  isBusy(err: unknown): boolean;
  /** An aggregate of a group's rows as one JSON array of arrays of these expressions (`[]` for none). */
  jsonArrayAgg(values: readonly string[]): string;
  /** The value of a {@link jsonArrayAgg} column as the driver returns it, parsed. */
  parseJsonColumn(value: unknown): unknown;
  /** A migration statement (portable DDL, as SQLite reads it) as this engine must read it. */
  ddl(statement: string): string;
  /**
   * An SQL expression taking the transaction-long lock of the DAG named by the text expression
   * `dagId`: without waiting (`wait` false: a boolean, true when taken) or waiting for it. Undefined where the
   * write transaction is exclusive already, so no statement is needed.
   */
  dagLock?(dagId: string, wait: boolean): string;
  /**
   * An SQL expression waiting for the transaction-long lock of the pool named by the text expression
   * `pool`, so claims from one pool are counted and made one transaction at a time. Undefined where
   * the write transaction is exclusive already.
   */
  poolLock?(pool: string): string;
}

/** The driver's error code, through Sequelize's wrappers. */
function errorCode(err: unknown): string | undefined {
  const e = err as { parent?: { code?: string }; original?: { code?: string }; code?: string } | undefined;
  return e?.parent?.code ?? e?.original?.code ?? e?.code;
}

/**
 * SQLite: BEGIN IMMEDIATE takes the file's write lock before the first read, so a read-then-update
 * inside one transaction is atomic across processes; that alone makes claims exclusive, so no row
 * lock is needed. VALUES columns are called column1, column2, ... and renamed here. JSON comes back as text.
 */
export const sqliteDialect: MetadataDialect = {
  name: 'sqlite',
  writeTransaction: { type: 'IMMEDIATE' as Transaction.TYPES },
  serialTransactions: true,
  lockClaimedRows: '',
  lockInKeyOrder: '',
  migrationLock: '',
  dagBagLock: '',
  valuesTable(alias, columns) {
    const named = Object.keys(columns)
      .map((c, i) => `column${i + 1} AS ${c}`)
      .join(', ');
    return `(SELECT ${named} FROM (VALUES ?)) AS ${alias}`;
  },
  isBusy(err) {
    return errorCode(err) === 'SQLITE_BUSY' || /SQLITE_BUSY/.test(String((err as { message?: string } | undefined)?.message));
  },
  jsonArrayAgg(values) {
    return `json_group_array(json_array(${values.join(', ')}))`;
  },
  // SQLite's JSON is text.
  parseJsonColumn(value) {
    return JSON.parse(value as string);
  },
  ddl: (statement) => statement,
};

/**
 * Retried on PostgreSQL: serialization failure (40001), deadlock detected (40P01; the victim's work is
 * rolled back whole), lock not available (55P03, a lock_timeout or NOWAIT).
 */
const PG_RETRY_CODES = new Set(['40001', '40P01', '55P03']);

const PG_TYPES: Readonly<Record<ValuesColumnType, string>> = { int: 'bigint', real: 'double precision', text: 'text' };

/**
 * PostgreSQL: READ COMMITTED transactions run side by side, in one daemon and across daemons; rows are
 * locked where they are claimed (FOR UPDATE SKIP LOCKED: a row another daemon is claiming is passed,
 * not waited for) and in key order where several are updated. The lock order is written down in
 * docs/design/postgres-metadata.md. VALUES are cast to their column types: a column of NULLs alone
 * would otherwise be text and fail to compare with a bigint.
 */
export const postgresDialect: MetadataDialect = {
  name: 'postgres',
  writeTransaction: { isolationLevel: 'READ COMMITTED' as Transaction.ISOLATION_LEVELS },
  serialTransactions: false,
  lockClaimedRows: ' FOR UPDATE SKIP LOCKED',
  lockInKeyOrder: ' FOR UPDATE',
  // Any constant keys: only the migration, and only a DAG bag's replacement, take them.
  migrationLock: 'SELECT pg_advisory_xact_lock(7283910455)',
  dagBagLock: 'SELECT pg_advisory_xact_lock(7283910456)',
  valuesTable(alias, columns) {
    const named = Object.entries(columns)
      .map(([c, t], i) => `column${i + 1}::${PG_TYPES[t]} AS ${c}`)
      .join(', ');
    return `(SELECT ${named} FROM (VALUES ?) AS ${alias}_rows) AS ${alias}`;
  },
  isBusy(err) {
    const code = errorCode(err);
    return code !== undefined && PG_RETRY_CODES.has(code);
  },
  jsonArrayAgg(values) {
    return `COALESCE(json_agg(json_build_array(${values.join(', ')})), '[]'::json)`;
  },
  // pg parses json columns itself.
  parseJsonColumn: (value) => value,
  /**
   * SQLite's portable DDL as PostgreSQL needs it: an `INTEGER PRIMARY KEY` is SQLite's rowid, so an
   * identity column here; every other INTEGER a BIGINT (lease and retry times are epoch ms, past int4);
   * REAL a double. A migration written as plain portable DDL so needs no variant of its own.
   */
  // Advisory locks need no row: a DAG that no daemon has recorded yet is locked all the same. The
  // first key sets these apart from any other advisory lock; a hash collision only makes two DAGs share one.
  dagLock(dagId, wait) {
    return `${wait ? 'pg_advisory_xact_lock' : 'pg_try_advisory_xact_lock'}(728391045, hashtext(${dagId}))`;
  },
  // Its own first key: a pool and a DAG of the same name are different locks.
  poolLock(pool) {
    return `pg_advisory_xact_lock(728391046, hashtext(${pool}))`;
  },
  ddl(statement) {
    return statement
      .replace(/\bINTEGER\s+PRIMARY\s+KEY\b/gi, 'BIGINT GENERATED BY DEFAULT AS IDENTITY PRIMARY KEY')
      .replace(/\bINTEGER\b/gi, 'BIGINT')
      .replace(/\bREAL\b/gi, 'DOUBLE PRECISION')
      .replace(/\bBLOB\b/gi, 'BYTEA');
  },
};

/** The dialect of an engine. */
export function dialectFor(engine: 'sqlite' | 'postgres'): MetadataDialect {
  return engine === 'postgres' ? postgresDialect : sqliteDialect;
}
