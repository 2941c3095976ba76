/**
 * Everything in the metadata's SQL that differs between database engines, in one place: how a
 * scheduler turn gets exclusive access, how a list of rows becomes a table, and which errors mean
 * "locked, try again". statements.ts writes every statement once in terms of these; a PostgreSQL
 * dialect is a second object of this shape (see docs/design/metadata-storage.md).
 */
// Types only: the heartbeat thread reads this dialect without loading Sequelize (docs/design/heartbeat.md).
import type { Transaction, TransactionOptions } from 'sequelize';

/** The engine-specific parts of the metadata statements. */
export interface MetadataDialect {
  /** Sequelize's dialect name. */
  readonly name: 'sqlite';
  /** Options of every write transaction (a scheduler turn, a claim, a recovery). */
  readonly writeTransaction: TransactionOptions;
  /**
   * True when one process must run its transactions one at a time: SQLite has one writer per file,
   * so a second transaction of the same process would only sleep in the busy handler.
   */
  readonly serialTransactions: boolean;
  /** Appended to the SELECT that reads claimable rows, so two claimers never take the same row. */
  readonly lockClaimedRows: string;
  /** A FROM item named `alias` with these columns, filled from one `?` bound to an array of rows. */
  valuesTable(alias: string, columns: readonly string[]): string;
  /** True when `err` means the database stayed locked past the busy timeout. */
  isBusy(err: unknown): boolean;
}

/**
 * SQLite: BEGIN IMMEDIATE takes the file's write lock before the first read, so a read-then-update
 * inside one transaction is atomic across processes; that alone makes claims exclusive, so no row
 * lock is needed. VALUES columns are called column1, column2, ... and renamed here.
 */
export const sqliteDialect: MetadataDialect = {
  name: 'sqlite',
  writeTransaction: { type: 'IMMEDIATE' as Transaction.TYPES },
  serialTransactions: true,
  lockClaimedRows: '',
  valuesTable(alias, columns) {
    const named = columns.map((c, i) => `column${i + 1} AS ${c}`).join(', ');
    return `(SELECT ${named} FROM (VALUES ?)) AS ${alias}`;
  },
  isBusy(err) {
    const e = err as { parent?: { code?: string }; original?: { code?: string }; code?: string; message?: string } | undefined;
    const code = e?.parent?.code ?? e?.original?.code ?? e?.code;
    return code === 'SQLITE_BUSY' || /SQLITE_BUSY/.test(String(e?.message));
  },
};
