import { expect } from 'chai';
import path from 'node:path';
import { QueryTypes } from 'sequelize';
import { closeWarehouses, openWarehouse, PAGE_SIZE_BYTES } from '../../operators/warehouse.js';
import { closeDb, exec, openDb } from '../helpers/sqliteFile.js';
import { makeTmpDir } from '../helpers/tmp.js';

/** The page size and journal mode a warehouse connection reports. */
async function layout(file: string): Promise<{ pageSize: number; journal: string }> {
  const db = await openWarehouse(file);
  return db.transaction(async (transaction) => {
    const [page] = await db.query<{ page_size: number }>('PRAGMA page_size', { type: QueryTypes.SELECT, transaction });
    const [mode] = await db.query<{ journal_mode: string }>('PRAGMA journal_mode', { type: QueryTypes.SELECT, transaction });
    return { pageSize: page.page_size, journal: mode.journal_mode };
  });
}

describe('warehouse connections', () => {
  let tmp: ReturnType<typeof makeTmpDir>;

  beforeEach(() => {
    tmp = makeTmpDir('warehouse-');
  });
  afterEach(async () => {
    await closeWarehouses();
    tmp.cleanup();
  });

  it('give a new warehouse file 32 KB pages in WAL mode', async () => {
    const file = path.join(tmp.dir, 'new.db');
    const db = await openWarehouse(file);
    await db.transaction((transaction) => db.query('CREATE TABLE t (v TEXT)', { transaction }));
    expect(PAGE_SIZE_BYTES).to.equal(32768);
    expect(await layout(file)).to.deep.equal({ pageSize: PAGE_SIZE_BYTES, journal: 'wal' });
  });

  it('leave an existing file with 4 KB pages as it is, and can write to it', async () => {
    const file = path.join(tmp.dir, 'old.db');
    const old = await openDb(file);
    try {
      await exec(old, "PRAGMA page_size=4096; PRAGMA journal_mode=WAL; CREATE TABLE t (v TEXT); INSERT INTO t VALUES ('before');");
    } finally {
      await closeDb(old);
    }

    const db = await openWarehouse(file);
    await db.transaction((transaction) => db.query("INSERT INTO t VALUES ('after')", { transaction }));
    expect(await layout(file)).to.deep.equal({ pageSize: 4096, journal: 'wal' });
    const rows = await db.query<{ v: string }>('SELECT v FROM t ORDER BY rowid', { type: QueryTypes.SELECT });
    expect(rows.map((r) => r.v)).to.deep.equal(['before', 'after']);
  });
});
