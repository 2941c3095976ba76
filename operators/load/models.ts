/**
 * Sequelize models of the raw layer: cars, customers, subscriptions (the source's fields as received,
 * processing_date, and the vault's hash columns) and rejects. Tables and processing_date indexes are
 * created idempotently. The source's `id` is not a primary key here (every day's snapshot holds the
 * same ids), so the attribute is named `sourceId` (column `id`) to keep Sequelize from adding one.
 */
import { DataTypes, type ModelAttributeColumnOptions, type ModelStatic, type Model, type Sequelize } from 'sequelize';
import type { Entity } from '../entities.js';
import { rawColumns } from './fields.js';

/** The raw layer's models. */
export interface RawModels {
  readonly cars: ModelStatic<Model>;
  readonly customers: ModelStatic<Model>;
  readonly subscriptions: ModelStatic<Model>;
  readonly rejects: ModelStatic<Model>;
}

const ready = new WeakMap<Sequelize, Promise<RawModels>>();

function defineRaw(sequelize: Sequelize, entity: Entity): ModelStatic<Model> {
  const attributes: Record<string, ModelAttributeColumnOptions> = {};
  for (const column of rawColumns(entity)) {
    if (column === 'id') attributes.sourceId = { type: DataTypes.TEXT, allowNull: false, field: 'id' };
    else if (column === 'processing_date') attributes.processing_date = { type: DataTypes.TEXT, allowNull: false };
    else if (column === 'monthly_rate') attributes.monthly_rate = { type: DataTypes.REAL };
    else attributes[column] = { type: DataTypes.TEXT };
  }
  const model = sequelize.define(entity, attributes, {
    tableName: entity,
    timestamps: false,
    indexes: [{ name: `${entity}_processing_date`, fields: ['processing_date'] }],
  });
  model.removeAttribute('id');
  return model;
}

async function define(sequelize: Sequelize): Promise<RawModels> {
  const rejects = sequelize.define(
    'rejects',
    {
      source: { type: DataTypes.TEXT, allowNull: false },
      processing_date: { type: DataTypes.TEXT, allowNull: false },
      raw_json: { type: DataTypes.TEXT, allowNull: false },
      reason: { type: DataTypes.TEXT, allowNull: false },
    },
    { tableName: 'rejects', timestamps: false, indexes: [{ name: 'rejects_source_processing_date', fields: ['source', 'processing_date'] }] },
  );
  // SQLite's implicit integer rowid is the rejects' row number; no other key is wanted.
  rejects.removeAttribute('id');
  const models: RawModels = {
    cars: defineRaw(sequelize, 'cars'),
    customers: defineRaw(sequelize, 'customers'),
    subscriptions: defineRaw(sequelize, 'subscriptions'),
    rejects,
  };
  for (const m of Object.values(models)) await m.sync();
  return models;
}

/** The raw models of a warehouse, their tables and indexes created on first use (idempotent). */
export function rawModels(sequelize: Sequelize): Promise<RawModels> {
  let p = ready.get(sequelize);
  if (!p) {
    p = define(sequelize);
    ready.set(sequelize, p);
    p.catch(() => ready.delete(sequelize));
  }
  return p;
}
