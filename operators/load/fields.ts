/**
 * The raw tables' columns: the source's fields, then the vault's hash columns. Apart from the Sequelize
 * models (models.ts) so the load's preparation, which also runs in a worker thread, needs no Sequelize.
 */
import type { Entity } from '../entities.js';
import { DESCRIPTIVE_FIELDS } from './hashing.js';

/** The source's fields of each entity, in the contract's order. */
export const SOURCE_FIELDS: Readonly<Record<Entity, readonly string[]>> = {
  cars: ['id', ...DESCRIPTIVE_FIELDS.cars],
  customers: ['id', ...DESCRIPTIVE_FIELDS.customers],
  subscriptions: ['id', 'customer_id', 'car_id', ...DESCRIPTIVE_FIELDS.subscriptions],
};

/** The vault columns each raw table carries (computed at load by hashing.ts). */
export const VAULT_FIELDS: Readonly<Record<Entity, readonly string[]>> = {
  cars: ['hk_car', 'hashdiff'],
  customers: ['hk_customer', 'hashdiff'],
  subscriptions: ['hk_subscription', 'hk_customer', 'hk_car', 'hk_subscription_link', 'hashdiff'],
};

/** Every column of a raw table, in table order. */
export function rawColumns(entity: Entity): readonly string[] {
  return [...SOURCE_FIELDS[entity], 'processing_date', ...VAULT_FIELDS[entity]];
}
