/**
 * The warehouse's storage interface: what operators, the demo, the benches and the tests use to reach
 * the warehouse database, whatever holds it. SqliteWarehouse.ts fills it for a SQLite file,
 * PostgresWarehouse.ts for a PostgreSQL schema (docs/design/warehouse-connection.md, postgres-warehouse.md).
 */

/** Bound values: positional (`?`) as an array, or named (`$name`) as an object keyed with the prefix. */
export type Params = readonly unknown[] | Readonly<Record<string, unknown>>;

/** What a data-changing statement reports. */
export interface RunResult {
  /** Rows the statement inserted, updated or deleted (meaningless for DDL). */
  readonly changes: number;
  /**
   * SQLite: the rowid of the last row the connection inserted (node-sqlite3's `lastID`). The rows one
   * INSERT adds to a table of its own rowids get consecutive ones, so with `changes` it gives their range.
   */
  readonly lastRowid?: number;
}

/** Statements against one connection (a warehouse's shared one, or a transaction's own). */
export interface Queryable {
  /** The rows of one query. */
  all<T extends object = Record<string, unknown>>(sql: string, params?: Params): Promise<T[]>;
  /** The first row of one query, or undefined when it returns none. */
  get<T extends object = Record<string, unknown>>(sql: string, params?: Params): Promise<T | undefined>;
  /** Runs one statement. */
  run(sql: string, params?: Params): Promise<RunResult>;
  /** Runs a script of statements separated by `;`, without parameters. */
  exec(sql: string): Promise<void>;
}

/** A statement compiled once and run many times with different values (one per bulk-insert form). */
export interface PreparedStatement {
  /** Runs the statement with `params`; the values are copied before this returns, so buffers may be reused. */
  run(params: Params): Promise<RunResult>;
  /** Frees the statement; it cannot be run afterwards. */
  finalize(): Promise<void>;
}

/**
 * A bulk insert into one table, batch after batch, inside one transaction: SQLite fills it with
 * prepared statements over packed batches (operators/load/BatchWriter.ts), PostgreSQL with
 * `COPY ... FROM STDIN`. `Batch` is the caller's batch format.
 */
export interface BulkInsert<Batch> {
  /** Starts inserting `batch` after the one before it is in; a failure surfaces here or in {@link flush}. */
  write(batch: Batch): Promise<void>;
  /** Waits until every batch written is in. */
  flush(): Promise<void>;
  /** Frees what the insert holds (after a failure too). */
  close(): Promise<void>;
}

/** The connection one transaction runs on. Valid only inside the transaction's callback. */
export interface WarehouseSession extends Queryable {
  /** Compiles `sql` on the transaction's connection (for statements run once per batch). */
  prepare(sql: string): Promise<PreparedStatement>;
}

/** Options of {@link Warehouse.transaction}. */
export interface TransactionOptions {
  /**
   * true (the default): a write transaction; it takes the write lock at its start and waits its turn
   * behind this process's other writers. false: a read transaction, one consistent snapshot, never queued.
   */
  readonly write?: boolean;
  /**
   * Of a write transaction: work that only reads the database (and fills temporary tables), run first
   * on the transaction's connection. SQLite runs it before the write lock is taken, outside the queue
   * of this process's writers but two at a time, so models' reading and sorting overlaps another's
   * writing (docs/design/warehouse-memory.md); what it reads is the last committed state. PostgreSQL
   * runs it inside the transaction.
   */
  readonly prepare?: (session: WarehouseSession) => Promise<void>;
}

/**
 * One warehouse database, shared by every task of a process. Statements outside a transaction run on
 * a shared connection (those that may write wait their turn like a write transaction).
 */
export interface Warehouse extends Queryable {
  /** Which implementation this is; a caller with a database-specific fast path checks it. */
  readonly kind: 'sqlite' | 'postgres';
  /** Where the data lives: the SQLite file's path, or the PostgreSQL URL (password shown as ***) and schema. */
  readonly location: string;
  /**
   * Runs `fn` in one transaction on a connection of its own, committed when `fn` resolves and rolled
   * back when it throws; resolves with `fn`'s result. Inside a write transaction's `fn`, use only the
   * session: the warehouse's own `run`, `exec` and write transactions wait for that transaction to end.
   */
  transaction<T>(fn: (session: WarehouseSession) => Promise<T>, opts?: TransactionOptions): Promise<T>;
  /**
   * Removes the earlier versions of rows that committed updates left behind (an erasure must not leave
   * the old values readable): SQLite empties its WAL; PostgreSQL rewrites `tables` without their dead
   * row versions. Runs outside any transaction. False when that could not be done at once (SQLite: a
   * reader held the WAL, whose old page images then stay until its next checkpoint).
   */
  purgeOldVersions(tables: readonly string[]): Promise<boolean>;
  /** Waits for the transactions in progress, then closes every connection; later calls fail. */
  close(): Promise<void>;
}
