/**
 * Data Vault hash keys and hashdiffs, computed in Node at load because SQLite has no md5().
 * As AutomateDV: business keys are trimmed and upper-cased before hashing, nulls become '^^',
 * and multi-part values are joined with '||', so 'abc ' and 'ABC' are the same key.
 */
import * as crypto from 'node:crypto';
import { createHash } from 'node:crypto';
import { ENTITY_SPECS, hashKeysOf, type Entity } from '../entities.js';

const NULL_MARK = '^^';
const SEPARATOR = '||';

/** The normalised text of one value: trimmed, upper-cased, null as '^^'. */
function normalise(value: unknown): string {
  if (value === null || value === undefined) return NULL_MARK;
  const text = String(value).trim().toUpperCase();
  return text === '' ? NULL_MARK : text;
}

/** crypto.hash (Node >= 20.12) is the one-shot digest: ~4x faster than createHash for short inputs. */
const oneShot = (crypto as { hash?: (algorithm: string, data: string, encoding: 'hex') => string }).hash;

function md5(text: string): string {
  return oneShot ? oneShot('md5', text, 'hex') : createHash('md5').update(text, 'utf8').digest('hex');
}

/** Hash key of one business key (or of several, for a link), in the given order. */
export function hashKey(...businessKeys: unknown[]): string {
  return md5(businessKeys.map(normalise).join(SEPARATOR));
}

/** The descriptive fields of each entity, in the contract's order: what its hashdiff covers. */
export const DESCRIPTIVE_FIELDS: Readonly<Record<Entity, readonly string[]>> = {
  cars: ENTITY_SPECS.cars.hashdiff,
  customers: ENTITY_SPECS.customers.hashdiff,
  subscriptions: ENTITY_SPECS.subscriptions.hashdiff,
};

/** Hashdiff of a row: changes exactly when one of its entity's descriptive fields changes. */
export function hashDiff(entity: Entity, row: Readonly<Record<string, unknown>>): string {
  return md5(DESCRIPTIVE_FIELDS[entity].map((f) => normalise(row[f])).join(SEPARATOR));
}

/** The vault columns a raw row of `entity` carries besides the source's fields. */
export function vaultColumns(entity: Entity, row: Readonly<Record<string, unknown>>): Record<string, string> {
  const columns: Record<string, string> = {};
  for (const k of hashKeysOf(entity)) columns[k.column] = hashKey(...k.of.map((f) => row[f]));
  columns.hashdiff = hashDiff(entity, row);
  return columns;
}

/** normalise() for the load's hot path: a string needs no String() call, and most need no trim. */
function norm(value: unknown): string {
  if (value === null || value === undefined) return NULL_MARK;
  const text = (typeof value === 'string' ? value : String(value)).trim().toUpperCase();
  return text === '' ? NULL_MARK : text;
}

/**
 * What {@link pushVaultValues} does for one entity, worked out once from the declaration: the fields
 * any hash key reads (each normalised once per row, though a link reads them again), the keys as
 * indexes into them, and the hashdiff's fields.
 */
interface VaultPlan {
  readonly keyFields: readonly string[];
  readonly keys: ReadonlyArray<readonly number[]>;
  readonly diff: readonly string[];
}

function vaultPlan(entity: Entity): VaultPlan {
  const keyFields: string[] = [];
  const keys = hashKeysOf(entity).map((k) =>
    k.of.map((f) => {
      if (!keyFields.includes(f)) keyFields.push(f);
      return keyFields.indexOf(f);
    }),
  );
  return { keyFields, keys, diff: DESCRIPTIVE_FIELDS[entity] };
}

const PLANS: Readonly<Record<Entity, VaultPlan>> = {
  cars: vaultPlan('cars'),
  customers: vaultPlan('customers'),
  subscriptions: vaultPlan('subscriptions'),
};

/** The normalised business keys of the row being hashed (the load's thread hashes one row at a time). */
const normalisedKeys: string[] = [];

/**
 * Appends the vault columns of a valid row to `out`, in VAULT_FIELDS order: the same values as
 * {@link vaultColumns}, without its intermediate arrays and object, built by string concatenation (a
 * subscription's five digests are the load's largest cost after SQLite itself).
 */
export function pushVaultValues(entity: Entity, row: Readonly<Record<string, unknown>>, out: unknown[]): void {
  const plan = PLANS[entity];
  const { keyFields, keys, diff } = plan;
  for (let i = 0; i < keyFields.length; i++) normalisedKeys[i] = norm(row[keyFields[i]]);
  for (let k = 0; k < keys.length; k++) {
    const of = keys[k];
    let text = normalisedKeys[of[0]];
    for (let i = 1; i < of.length; i++) text += SEPARATOR + normalisedKeys[of[i]];
    out.push(md5(text));
  }
  let text = norm(row[diff[0]]);
  for (let i = 1; i < diff.length; i++) text += SEPARATOR + norm(row[diff[i]]);
  out.push(md5(text));
}
