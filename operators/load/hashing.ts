/**
 * Data Vault hash keys and hashdiffs, computed in Node at load because SQLite has no md5().
 * As AutomateDV: business keys are trimmed and upper-cased before hashing, nulls become '^^',
 * and multi-part values are joined with '||', so 'abc ' and 'ABC' are the same key.
 */
import * as crypto from 'node:crypto';
import { createHash } from 'node:crypto';
import type { Entity } from '../entities.js';

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
  cars: ['vin', 'brand', 'model', 'engine_type', 'license_plate', 'registration_date', 'deregistration_date'],
  customers: [
    'first_name',
    'second_name',
    'type',
    'company_name',
    'address_city',
    'address_zip',
    'address_street',
    'address_street_house',
  ],
  subscriptions: ['created_at', 'start_date', 'term_month', 'monthly_rate'],
};

/** Hashdiff of a row: changes exactly when one of its entity's descriptive fields changes. */
export function hashDiff(entity: Entity, row: Readonly<Record<string, unknown>>): string {
  return md5(DESCRIPTIVE_FIELDS[entity].map((f) => normalise(row[f])).join(SEPARATOR));
}

/** The vault columns a raw row of `entity` carries besides the source's fields. */
export function vaultColumns(entity: Entity, row: Readonly<Record<string, unknown>>): Record<string, string> {
  switch (entity) {
    case 'cars':
      return { hk_car: hashKey(row.id), hashdiff: hashDiff(entity, row) };
    case 'customers':
      return { hk_customer: hashKey(row.id), hashdiff: hashDiff(entity, row) };
    case 'subscriptions':
      return {
        hk_subscription: hashKey(row.id),
        hk_customer: hashKey(row.customer_id),
        hk_car: hashKey(row.car_id),
        hk_subscription_link: hashKey(row.id, row.customer_id, row.car_id),
        hashdiff: hashDiff(entity, row),
      };
  }
}

/** normalise() for the load's hot path: a string needs no String() call, and most need no trim. */
function norm(value: unknown): string {
  if (value === null || value === undefined) return NULL_MARK;
  const text = (typeof value === 'string' ? value : String(value)).trim().toUpperCase();
  return text === '' ? NULL_MARK : text;
}

/**
 * Appends the vault columns of a valid row to `out`, in VAULT_FIELDS order: the same values as
 * {@link vaultColumns}, without the intermediate arrays and object (a subscription's five digests are
 * the load's largest cost after SQLite itself); each business key is normalised once, not twice.
 */
export function pushVaultValues(entity: Entity, row: Readonly<Record<string, unknown>>, out: unknown[]): void {
  const S = SEPARATOR;
  switch (entity) {
    case 'cars':
      out.push(
        md5(norm(row.id)),
        md5(norm(row.vin) + S + norm(row.brand) + S + norm(row.model) + S + norm(row.engine_type) + S + norm(row.license_plate) + S + norm(row.registration_date) + S + norm(row.deregistration_date)),
      );
      return;
    case 'customers':
      out.push(
        md5(norm(row.id)),
        md5(
          norm(row.first_name) + S + norm(row.second_name) + S + norm(row.type) + S + norm(row.company_name) + S +
            norm(row.address_city) + S + norm(row.address_zip) + S + norm(row.address_street) + S + norm(row.address_street_house),
        ),
      );
      return;
    case 'subscriptions': {
      const id = norm(row.id);
      const customer = norm(row.customer_id);
      const car = norm(row.car_id);
      out.push(
        md5(id),
        md5(customer),
        md5(car),
        md5(id + S + customer + S + car),
        md5(norm(row.created_at) + S + norm(row.start_date) + S + norm(row.term_month) + S + norm(row.monthly_rate)),
      );
      return;
    }
  }
}
