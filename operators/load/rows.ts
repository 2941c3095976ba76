/**
 * One lake line made a raw row: parsed, validated (validation.ts) and given its vault hash columns
 * (hashing.ts), as the values of one INSERT row in {@link insertColumns} order. The same steps
 * for every line, whichever thread runs them.
 */
import type { Entity } from '../entities.js';
import { LAKE_LINE_COLUMN, SOURCE_FIELDS, VAULT_FIELDS } from './fields.js';
import { pushVaultValues } from './hashing.js';
import { fastValidRow, validateRow, type ValidRow } from './validation.js';

/** The columns a load inserts values for, per entity: source fields, the vault's, then the row's lake
 * line (processing_date is the same for every row, so it is bound once per batch). */
export function insertColumns(entity: Entity): readonly string[] {
  return [...SOURCE_FIELDS[entity], ...VAULT_FIELDS[entity], LAKE_LINE_COLUMN];
}

/** A lake line parsed and validated: the row, or why it is rejected. */
export function parseLine(entity: Entity, line: string): { readonly row: ValidRow } | { readonly reason: string } {
  let parsed: unknown;
  try {
    parsed = JSON.parse(line);
  } catch {
    return { reason: 'row: not valid JSON' };
  }
  // The plain-predicate check passes nearly every row; zod words the reason for the rest.
  const row = fastValidRow(entity, parsed);
  if (row !== undefined) return { row };
  const v = validateRow(entity, parsed);
  return v.ok ? { row: v.row } : { reason: v.reason };
}

/** The reject of line `i` of a block when its bytes are not UTF-8 (decodeLines found it), else undefined. */
export function lakeLineReject(undecodable: ReadonlyMap<number, string>, i: number): { readonly reason: string } | undefined {
  const reason = undecodable.get(i);
  return reason === undefined ? undefined : { reason };
}

/** The values of a valid row from line `lakeLine` of its partition in {@link insertColumns} order, its
 * hash keys and hashdiff computed. */
export function rowValues(entity: Entity, row: ValidRow, lakeLine: number): unknown[] {
  const fields = SOURCE_FIELDS[entity];
  const values: unknown[] = [];
  for (let i = 0; i < fields.length; i++) values.push(row[fields[i]] ?? null);
  pushVaultValues(entity, row, values);
  values.push(lakeLine);
  return values;
}

/** The reason a valid row is rejected when its id came earlier in the partition. */
export function duplicateReason(id: string): string {
  return `id: duplicate within the partition (value ${JSON.stringify(id)})`;
}
