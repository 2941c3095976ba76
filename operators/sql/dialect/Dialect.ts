/**
 * The SQL a model needs that differs between databases: date arithmetic and parameter syntax.
 * Models call these through template macros ({{ day('x') }}), so adding PostgreSQL means adding one
 * implementation of this interface, not editing models.
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
}
