/**
 * The SQL a model needs that differs between databases: date arithmetic, parameter syntax, column
 * types and the few statements materializations run around a model. Models call these through
 * template macros ({{ day('x') }}); sqlite.ts and postgres.ts implement it side by side
 * (docs/design/postgres-warehouse.md). Every date a model reads or writes is 'YYYY-MM-DD' text on
 * both engines, so comparisons and the marts' columns are the same.
 */
export interface Dialect {
  /** Dialect name, e.g. 'sqlite'. */
  readonly name: string;
  /** The UTC calendar day ('YYYY-MM-DD') of a date or timestamp text expression. */
  day(expr: string): string;
  /** The first day of the month of a day expression. */
  monthStart(expr: string): string;
  /** A day plus n days (n: an integer or an SQL integer expression). */
  addDays(expr: string, n: string): string;
  /** The first of a month plus n months (no clamping needed: the 1st exists in every month). */
  addMonthsToMonthStart(expr: string, n: string): string;
  /** A day plus n months, clamped to the last day of the target month (PostgreSQL's date + interval). */
  addMonthsClamped(expr: string, n: string): string;
  /** A one-column subquery over the texts of a bound JSON array parameter (keyed models' `:loads__x`), e.g. `(SELECT value FROM json_each(:p))`. */
  jsonTextValues(param: string): string;
  /** A subquery listing the columns of table `table` (a plain identifier) in one column `name`, e.g. `pragma_table_info('t')`. */
  columnsOf(table: string): string;
  /** Appended to CREATE TABLE of a table with a primary key (SQLite: WITHOUT ROWID, one B-tree not two). */
  readonly primaryKeyTableSuffix: string;
  /** A named bind parameter's placeholder as the driver wants it (':start_day' -> '$start_day'). */
  placeholder(name: string): string;
  /** A column definition of a model's shape ('b2b_share REAL NOT NULL') with the engine's type names. */
  columnDefinition(definition: string): string;
  /** A query listing the columns of table `table` (a plain identifier) as rows `{ name }`, in table order. */
  tableColumns(table: string): string;
  /** The column type of an integer key the database numbers by itself, ascending (the load log's seq). */
  readonly autoIncrementKey: string;
  /** A temporary table's qualified name, dropped with its connection. */
  tempTable(name: string): string;
  /** Statements run at the start of a model's or data test's transaction, local to that transaction. */
  readonly transactionSettings: readonly string[];
  /**
   * True when the engine joins two large tables by hashing or merging them. SQLite joins only by
   * looking each row up in the other table's B-tree, in the order the rows come: a keyed model with
   * key-ordered build statements (after its second) is built whole by them instead of its first.
   */
  readonly hashJoins: boolean;
  /**
   * True when a vault load first sorts the ds's raw rows into a temporary table, as a step of its own
   * before its write transaction ({@link Model.staging}), instead of inside it. SQLite: writers run one
   * at a time, and the sort is most of a load, so staging it lets one model sort on the second core
   * while another writes. PostgreSQL keeps one statement.
   */
  readonly stagedReads: boolean;
}
