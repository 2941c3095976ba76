/**
 * The raw tables' columns, from the entity declaration (operators/entities.ts): the source's fields,
 * then the vault's hash columns. Apart from the Sequelize models (models.ts) so the load's
 * preparation, which also runs in a worker thread, needs no Sequelize.
 */
import { ENTITIES, ENTITY_SPECS, fieldNames, hashKeysOf, type Entity } from '../entities.js';

function perEntity(of: (entity: Entity) => readonly string[]): Readonly<Record<Entity, readonly string[]>> {
  return Object.fromEntries(ENTITIES.map((e) => [e, of(e)])) as Record<Entity, readonly string[]>;
}

/** The source's fields of each entity, in the contract's order. */
export const SOURCE_FIELDS: Readonly<Record<Entity, readonly string[]>> = perEntity(fieldNames);

/** The raw column holding the hashdiff of a row's personal fields (entities with personal fields only). */
export const PII_HASHDIFF_COLUMN = 'hashdiff_pii';

/**
 * The vault columns each raw table carries (computed at load by hashing.ts): hash keys, the hashdiff,
 * then, for an entity with personal fields, their own hashdiff.
 */
export const VAULT_FIELDS: Readonly<Record<Entity, readonly string[]>> = perEntity((e) => [
  ...hashKeysOf(e).map((k) => k.column),
  'hashdiff',
  ...(ENTITY_SPECS[e].personal.length > 0 ? [PII_HASHDIFF_COLUMN] : []),
]);

/**
 * The raw column holding the row's line number in its lake partition (0-based): where the row came
 * from, and what lets the next day's load copy the rows whose line did not change
 * (fast/CarryMatcher.ts, docs/design/load-fast-path.md).
 */
export const LAKE_LINE_COLUMN = 'lake_line';

/** Every column of a raw table, in table order. */
export function rawColumns(entity: Entity): readonly string[] {
  return [...SOURCE_FIELDS[entity], 'processing_date', ...VAULT_FIELDS[entity], LAKE_LINE_COLUMN];
}
