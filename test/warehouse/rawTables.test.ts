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
      'copied_from TEXT', 'copied_load_id TEXT', 'fresh_rowids TEXT', 'unique_keys INTEGER',
    ]);
    const indexes = await db.all<{ name: string }>("SELECT name FROM sqlite_master WHERE type = 'index' ORDER BY name");
    expect(indexes.map((i) => i.name)).to.deep.equal([
      'cars_processing_date', 'customers_processing_date', 'rejects_source_processing_date', 'sqlite_autoindex_raw_partitions_1',
      'subscriptions_processing_date',
    ]);
  });

  it("gain the columns raw_partitions records came to have, where a table made by an earlier version lacks them, keeping its records", async () => {
    const file = path.join(tmp.dir, 'w.db');
    const db = await openWarehouse(file);
    await db.run(
      'CREATE TABLE raw_partitions ("entity" TEXT NOT NULL, "processing_date" TEXT NOT NULL, "lake_digest" TEXT NOT NULL, ' +
        '"load_format" TEXT NOT NULL, "load_id" TEXT NOT NULL, PRIMARY KEY ("entity", "processing_date"))',
    );
    await db.run("INSERT INTO raw_partitions VALUES ('cars', '2024-01-01', 'd', 'f', 'l')");
    await ensureRawTables(db);
    expect(await db.all('SELECT * FROM raw_partitions')).to.deep.equal([
      { entity: 'cars', processing_date: '2024-01-01', lake_digest: 'd', load_format: 'f', load_id: 'l', copied_from: null, copied_load_id: null, fresh_rowids: null, unique_keys: null },
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
