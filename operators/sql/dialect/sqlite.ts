/**
 * SQLite's date arithmetic. SQLite's date() normalises day overflow forward (Aug 31 + 6 months =
 * Mar 2), so "add months clamped to month end" is built from the first of the target month.
 */
import type { Dialect } from './Dialect.js';

/** SQLite: dates are ISO text; date() takes 'T' or ' ' separators and converts zone suffixes to UTC. */
export const sqliteDialect: Dialect = {
  name: 'sqlite',
  day: (expr) => `date(${expr})`,
  monthStart: (expr) => `date(${expr}, 'start of month')`,
  addDays: (expr, n) => `date(${expr}, (${n}) || ' days')`,
  addMonthsToMonthStart: (expr, n) => `date(${expr}, 'start of month', (${n}) || ' months')`,
  addMonthsClamped: (expr, n) =>
    // min() of ISO texts = the earlier day: the same day-of-month in the target month, or its last day.
    `min(date(${expr}, 'start of month', (${n}) || ' months', (CAST(strftime('%d', ${expr}) AS INTEGER) - 1) || ' days'), ` +
    `date(${expr}, 'start of month', ((${n}) + 1) || ' months', '-1 day'))`,
  jsonTextValues: (param) => `(SELECT value FROM json_each(${param}))`,
  columnsOf: (table) => `(SELECT name FROM pragma_table_info('${table}'))`,
  primaryKeyTableSuffix: ' WITHOUT ROWID',
  placeholder: (name) => `$${name}`,
  columnDefinition: (definition) => definition,
  tableColumns: (table) => `SELECT name FROM pragma_table_info('${table}') ORDER BY cid`,
  autoIncrementKey: 'INTEGER PRIMARY KEY AUTOINCREMENT',
  tempTable: (name) => `temp.${name}`,
  // None: the page cache, memory map and temp store are the warehouse's settings, set on every
  // connection (SqliteWarehouse.ts, docs/design/warehouse-memory.md).
  transactionSettings: [],
  hashJoins: false,
  stagedReads: true,
};
