import { expect } from 'chai';
import path from 'node:path';
import { ensureRawTables } from '../../operators/load/models.js';
import { closeWarehouses, openWarehouse } from '../../operators/warehouse/registry.js';
import { useTmpDir } from '../helpers/tmp.js';

describe('raw tables', () => {
  const tmp = useTmpDir('raw-tables-', { beforeRemove: closeWarehouses });

  it('are created once with the source fields, processing_date, the hash columns and the lake line, id and processing_date not null', async () => {
    const db = await openWarehouse(path.join(tmp.dir, 'w.db'));
    await ensureRawTables(db);
    const columns = await db.all<{ name: string; type: string; notnull: number }>('PRAGMA table_info(subscriptions)');
    expect(columns.map((c) => `${c.name} ${c.type}${c.notnull ? ' NOT NULL' : ''}`)).to.deep.equal([
      'id TEXT NOT NULL', 'customer_id TEXT', 'car_id TEXT', 'created_at TEXT', 'start_date TEXT', 'term_month TEXT', 'monthly_rate REAL',
      'processing_date TEXT NOT NULL', 'hk_subscription TEXT', 'hk_customer TEXT', 'hk_car TEXT', 'hk_subscription_link TEXT', 'hashdiff TEXT',
      'lake_line INTEGER',
    ]);
    const partitions = await db.all<{ name: string; type: string; pk: number }>('PRAGMA table_info(raw_partitions)');
    expect(partitions.map((c) => `${c.name} ${c.type}${c.pk ? ' KEY' : ''}`)).to.deep.equal([
      'entity TEXT KEY', 'processing_date TEXT KEY', 'lake_digest TEXT', 'load_format TEXT', 'load_id TEXT',
    ]);
    const indexes = await db.all<{ name: string }>("SELECT name FROM sqlite_master WHERE type = 'index' ORDER BY name");
    expect(indexes.map((i) => i.name)).to.deep.equal([
      'cars_processing_date', 'customers_processing_date', 'rejects_source_processing_date', 'sqlite_autoindex_raw_partitions_1',
      'subscriptions_processing_date',
    ]);
  });

  it('leave existing tables and their rows alone in a new process', async () => {
    const file = path.join(tmp.dir, 'w.db');
    await ensureRawTables(await openWarehouse(file));
    await (await openWarehouse(file)).run("INSERT INTO rejects VALUES ('cars', '2024-01-01', '{}', 'id: missing')");
    await closeWarehouses();
    const db = await openWarehouse(file);
    await ensureRawTables(db);
    expect(await db.all('SELECT source, reason FROM rejects')).to.deep.equal([{ source: 'cars', reason: 'id: missing' }]);
  });
});
