/**
 * Data Vault hash keys and hashdiffs, computed in Node at load because SQLite has no md5().
 * As AutomateDV: business keys are trimmed and upper-cased before hashing, nulls become '^^',
 * and multi-part values are joined with '||', so 'abc ' and 'ABC' are the same key.
 */
import * as crypto from 'node:crypto';
import { createHash } from 'node:crypto';
import { ENTITY_SPECS, hashKeysOf, type Entity } from '../entities.js';
import { PII_HASHDIFF_COLUMN } from './fields.js';

const NULL_MARK = '^^';
const SEPARATOR = '||';

/** The normalised text of one value: trimmed, upper-cased, null as '^^'. Equal texts, equal hash keys. */
export function normalise(value: unknown): string {
  if (value === null || value === undefined) return NULL_MARK;
  const text = String(value).trim().toUpperCase();
  return text === '' ? NULL_MARK : text;
}

/** crypto.hash (Node >= 20.12) is the one-shot digest: much cheaper than createHash for short inputs. */
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

/** The personal fields of each entity, in the contract's order: what its PII satellite holds and its PII hashdiff covers. */
export const PERSONAL_FIELDS: Readonly<Record<Entity, readonly string[]>> = {
  cars: ENTITY_SPECS.cars.personal,
  customers: ENTITY_SPECS.customers.personal,
  subscriptions: ENTITY_SPECS.subscriptions.personal,
};

/** Hashdiff of a row: changes exactly when one of its entity's descriptive fields changes. */
export function hashDiff(entity: Entity, row: Readonly<Record<string, unknown>>): string {
  return md5(DESCRIPTIVE_FIELDS[entity].map((f) => normalise(row[f])).join(SEPARATOR));
}

/** Hashdiff of a row's personal fields: changes exactly when one of them changes. */
export function personalHashDiff(entity: Entity, row: Readonly<Record<string, unknown>>): string {
  return md5(PERSONAL_FIELDS[entity].map((f) => normalise(row[f])).join(SEPARATOR));
}

/** The vault columns a raw row of `entity` carries besides the source's fields. */
export function vaultColumns(entity: Entity, row: Readonly<Record<string, unknown>>): Record<string, string> {
  const columns: Record<string, string> = {};
  for (const k of hashKeysOf(entity)) columns[k.column] = hashKey(...k.of.map((f) => row[f]));
  columns.hashdiff = hashDiff(entity, row);
  if (PERSONAL_FIELDS[entity].length > 0) columns[PII_HASHDIFF_COLUMN] = personalHashDiff(entity, row);
  return columns;
}

/** normalise() for the load's hot path: a string needs no String() call, and most need no trim. */
function norm(value: unknown): string {
  if (value === null || value === undefined) return NULL_MARK;
  const text = (typeof value === 'string' ? value : String(value)).trim().toUpperCase();
  return text === '' ? NULL_MARK : text;
}

/** The vault values of one row of one entity, appended to `out` ({@link pushVaultValues}). */
type VaultPush = (row: Readonly<Record<string, unknown>>, out: unknown[]) => void;

/**
 * Compiles the vault values of `entity` from the declaration into one function: each field any hash
 * key reads is normalised once, each key and the hashdiff are one concatenation and one digest.
 * Generated code because its constant field names (`row["vin"]`) are property loads V8 caches, where a
 * loop over the names (`row[fields[i]]`) looks each one up anew (docs/design/load-fast-path.md).
 */
function compileVaultPush(entity: Entity): VaultPush {
  const keyFields: string[] = [];
  const keyOf = (f: string): string => {
    if (!keyFields.includes(f)) keyFields.push(f);
    return `k${keyFields.indexOf(f)}`;
  };
  const keys = hashKeysOf(entity).map((k) => `md5(${k.of.map(keyOf).join(' + S + ')})`);
  const field = (f: string): string => `row[${JSON.stringify(f)}]`;
  const digestOf = (fields: readonly string[]) => `md5(${fields.map((f) => `norm(${field(f)})`).join(' + S + ')})`;
  const diffs = [digestOf(DESCRIPTIVE_FIELDS[entity])];
  if (PERSONAL_FIELDS[entity].length > 0) diffs.push(digestOf(PERSONAL_FIELDS[entity]));
  const body = [...keyFields.map((f, i) => `const k${i} = norm(${field(f)});`), `out.push(${[...keys, ...diffs].join(', ')});`].join('\n');
  const make = new Function('md5', 'norm', 'S', `return (row, out) => {\n${body}\n};`) as (md5: (t: string) => string, norm: (v: unknown) => string, s: string) => VaultPush;
  return make(md5, norm, SEPARATOR);
}

const VAULT_PUSH: Readonly<Record<Entity, VaultPush>> = {
  cars: compileVaultPush('cars'),
  customers: compileVaultPush('customers'),
  subscriptions: compileVaultPush('subscriptions'),
};

/**
 * Appends the vault columns of a valid row to `out`, in VAULT_FIELDS order: the same values as
 * {@link vaultColumns}, without its intermediate arrays and object (a subscription's five digests are
 * the load's largest cost after SQLite itself).
 */
export function pushVaultValues(entity: Entity, row: Readonly<Record<string, unknown>>, out: unknown[]): void {
  VAULT_PUSH[entity](row, out);
}
