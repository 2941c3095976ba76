/**
 * The pg module as the metadata uses it, for Sequelize (`dialectModule`) and for the heartbeat thread's
 * plain connection alike: BIGINT and NUMERIC values come back as numbers. The metadata's integers are
 * ids, counts, tries and epoch-ms times, all within 2^53, and every caller compares them as numbers;
 * pg's default (strings, for values past 2^53) would make `id === id` false between the two engines.
 */
import { createRequire } from 'node:module';
import type pgTypes from 'pg';

const require = createRequire(import.meta.url);
const pg = require('pg') as typeof pgTypes;

/** int8 and numeric, by their type oids. */
const AS_NUMBER = new Set([20, 1700]);

/** A `types` option for a pg Client: pg's parsers, but int8 and numeric as numbers. */
export const metadataPgTypes = {
  getTypeParser(oid: number, format?: 'text' | 'binary') {
    if (AS_NUMBER.has(oid) && format !== 'binary') return (value: string) => Number(value);
    return pg.types.getTypeParser(oid, format as 'text');
  },
} as unknown as pgTypes.CustomTypesConfig;

/** The pg module with {@link metadataPgTypes} as its type registry (Sequelize asks the module's `types`). */
export const metadataPgModule = { ...pg, types: { ...pg.types, getTypeParser: metadataPgTypes.getTypeParser } };

export { pg };
