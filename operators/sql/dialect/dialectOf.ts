/** The dialect of a warehouse: models run against it are rendered with this one. */
import type { Warehouse } from '../../warehouse/interfaces.js';
import type { Dialect } from './Dialect.js';
import { postgresDialect } from './postgres.js';
import { sqliteDialect } from './sqlite.js';

export function dialectOf(warehouse: Pick<Warehouse, 'kind'>): Dialect {
  return warehouse.kind === 'postgres' ? postgresDialect : sqliteDialect;
}
