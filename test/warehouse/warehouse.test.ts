import { expect } from 'chai';
import { closeWarehouses, openWarehouse, PAGE_SIZE_BYTES } from '../../operators/warehouse/registry.js';
import type { Queryable, Warehouse } from '../../operators/warehouse/interfaces.js';
import { BUSY_TIMEOUT_MS, DEFAULT_MEMORY, SqliteWarehouse } from '../../operators/warehouse/SqliteWarehouse.js';
import { WarehouseClosedError } from '../../operators/warehouse/WarehouseClosedError.js';
import { execFile, queryFile } from '../helpers/sqliteFile.js';
import { useTmpDir } from '../helpers/tmp.js';
import { gate } from '../helpers/gate.js';

/** The page size and journal mode a warehouse transaction's connection reports. */
async function layout(db: Warehouse): Promise<{ pageSize: number; journal: string }> {
  return db.transaction(async (t) => {
    const page = await t.get<{ page_size: number }>('PRAGMA page_size');
    const mode = await t.get<{ journal_mode: string }>('PRAGMA journal_mode');
    return { pageSize: page!.page_size, journal: mode!.journal_mode };
  });
}

describe('warehouse connections', () => {
  let file: string;
  const tmp = useTmpDir('warehouse-', { beforeRemove: closeWarehouses });
  beforeEach(() => (file = tmp.path('w.db')));

  it('give a new warehouse file 32 KB pages in WAL mode', async () => {
    const db = await openWarehouse(file);
    await db.transaction((t) => t.exec('CREATE TABLE t (v TEXT)'));
    expect(PAGE_SIZE_BYTES).to.equal(32768);
    expect(await layout(db)).to.deep.equal({ pageSize: PAGE_SIZE_BYTES, journal: 'wal' });
  });

  it('leave an existing file with 4 KB pages as it is, and can write to it', async () => {
    await execFile(file, "PRAGMA page_size=4096; PRAGMA journal_mode=WAL; CREATE TABLE t (v TEXT); INSERT INTO t VALUES ('before');");
    const db = await openWarehouse(file);
    await db.transaction((t) => t.run("INSERT INTO t VALUES ('after')"));
    expect(await layout(db)).to.deep.equal({ pageSize: 4096, journal: 'wal' });
    const rows = await db.all<{ v: string }>('SELECT v FROM t ORDER BY rowid');
    expect(rows.map((r) => r.v)).to.deep.equal(['before', 'after']);
  });

  it('set synchronous=NORMAL, the WAL size limit and the busy timeout on every transaction connection', async () => {
    const db = await openWarehouse(file);
    const settings = await db.transaction(async (t) => ({
      busyTimeoutMs: (await t.get<{ timeout: number }>('PRAGMA busy_timeout'))!.timeout,
      synchronous: (await t.get<{ synchronous: number }>('PRAGMA synchronous'))!.synchronous,
      walLimit: (await t.get<{ journal_size_limit: number }>('PRAGMA journal_size_limit'))!.journal_size_limit,
    }));
    expect(settings).to.deep.equal({ busyTimeoutMs: BUSY_TIMEOUT_MS, synchronous: 1, walLimit: 64 * 1024 * 1024 });
  });

  it('give every connection the page cache, memory map, temp store and heap limit of the warehouse settings', async () => {
    const db = await openWarehouse(file, { cacheMb: 16, mmapMb: 8, tempStore: 'memory', heapMb: 64 });
    const memory = async (q: Queryable) => ({
      cacheKib: (await q.get<{ cache_size: number }>('PRAGMA cache_size'))!.cache_size,
      mmapBytes: (await q.get<{ mmap_size: number }>('PRAGMA mmap_size'))!.mmap_size,
      tempStore: (await q.get<{ temp_store: number }>('PRAGMA temp_store'))!.temp_store,
      heapBytes: (await q.get<{ soft_heap_limit: number }>('PRAGMA soft_heap_limit'))!.soft_heap_limit,
    });
    const wanted = { cacheKib: -16 * 1024, mmapBytes: 8 * 1024 * 1024, tempStore: 2, heapBytes: 64 * 1024 * 1024 };
    expect(await db.transaction(memory)).to.deep.equal(wanted);
    expect(await db.transaction(memory, { write: false })).to.deep.equal(wanted);
    expect(await memory(db)).to.deep.equal(wanted);
  });

  it('keep sorts and temporary tables in files, map nothing and bound all of SQLite by default, so they do not grow the process', async () => {
    const db = await openWarehouse(file);
    const seen = await db.transaction(async (t) => ({
      cacheKib: (await t.get<{ cache_size: number }>('PRAGMA cache_size'))!.cache_size,
      mmapBytes: (await t.get<{ mmap_size: number }>('PRAGMA mmap_size'))!.mmap_size,
      tempStore: (await t.get<{ temp_store: number }>('PRAGMA temp_store'))!.temp_store,
      heapBytes: (await t.get<{ soft_heap_limit: number }>('PRAGMA soft_heap_limit'))!.soft_heap_limit,
    }));
    expect(seen).to.deep.equal({ cacheKib: -DEFAULT_MEMORY.cacheMb * 1024, mmapBytes: 0, tempStore: 1, heapBytes: 128 * 1024 * 1024 });
    expect(DEFAULT_MEMORY).to.deep.equal({ cacheMb: 8, mmapMb: 0, tempStore: 'file', heapMb: 128 });
  });

  it('end what a transaction sets on its connection with the transaction', async () => {
    const db = await openWarehouse(file);
    await db.transaction((t) => t.run('PRAGMA wal_autocheckpoint = 0'));
    const after = await db.transaction((t) => t.get<{ wal_autocheckpoint: number }>('PRAGMA wal_autocheckpoint'));
    expect(after!.wal_autocheckpoint).to.equal(1000);
  });

  it('share one warehouse per file in a process', async () => {
    const [a, b] = await Promise.all([openWarehouse(file), openWarehouse(file)]);
    expect(a).to.equal(b);
    expect(a.location).to.equal(file);
  });
});

describe('warehouse transactions', () => {
  let file: string;
  let db: SqliteWarehouse;
  const tmp = useTmpDir('warehouse-tx-', { beforeRemove: () => db.close() });

  beforeEach(async () => {
    file = tmp.path('sub', 'w.db');
    db = await SqliteWarehouse.open(file);
    await db.exec('CREATE TABLE t (v TEXT)');
  });

  it('commit when the callback resolves, with its result, and bind positional and named values', async () => {
    const result = await db.transaction(async (t) => {
      await t.run('INSERT INTO t VALUES (?)', ['a']);
      return (await t.run('INSERT INTO t VALUES ($v)', { $v: 'b' })).changes;
    });
    expect(result).to.equal(1);
    expect(await queryFile(file, 'SELECT v FROM t ORDER BY v')).to.deep.equal([{ v: 'a' }, { v: 'b' }]);
  });

  it('roll back everything when the callback throws, and pass its error on', async () => {
    const failure = new Error('the books do not balance');
    const outcome = await db
      .transaction(async (t) => {
        await t.run("INSERT INTO t VALUES ('lost')");
        throw failure;
      })
      .catch((err: unknown) => err);
    expect(outcome).to.equal(failure);
    expect(await db.all('SELECT * FROM t')).to.deep.equal([]);
  });

  it('let the next writer through after one failed', async () => {
    const failed = db.transaction(() => Promise.reject(new Error('no')));
    const next = db.transaction((t) => t.run("INSERT INTO t VALUES ('next')"));
    await failed.catch(() => undefined);
    expect((await next).changes).to.equal(1);
  });

  /** A write transaction that has inserted 'pending' and holds the write lock until `finish()`. */
  async function writerInTheMiddle(): Promise<{ finish: () => Promise<void> }> {
    const writing = gate();
    const done = gate();
    const writer = db.transaction(async (t) => {
      await t.run("INSERT INTO t VALUES ('pending')");
      writing.open();
      await done.opened;
    });
    await writing.opened;
    return { finish: () => (done.open(), writer) };
  }

  it('let a reader see the last commit while a writer is in the middle of its transaction', async () => {
    await db.run("INSERT INTO t VALUES ('committed')");
    const writer = await writerInTheMiddle();
    const seen = await db.transaction((t) => t.all<{ v: string }>('SELECT v FROM t'), { write: false });
    await writer.finish();
    expect(seen).to.deep.equal([{ v: 'committed' }]);
  });

  it("run a write transaction's prepare step while another writer holds the lock, on the connection the transaction then uses", async () => {
    await db.run("INSERT INTO t VALUES ('committed')");
    const writer = await writerInTheMiddle();
    const prepared = gate();
    const staged = db.transaction(async (t) => t.all<{ v: string }>('SELECT v FROM temp.staged'), {
      prepare: async (t) => {
        await t.run('CREATE TEMP TABLE staged AS SELECT v FROM t');
        prepared.open();
      },
    });
    // The step ran while the first writer still held the lock, and saw the last commit only.
    await prepared.opened;
    await writer.finish();
    expect(await staged).to.deep.equal([{ v: 'committed' }]);
  });

  it('run the next prepare step while an earlier prepared transaction still waits for the lock, then write in prepare order', async () => {
    await db.run("INSERT INTO t VALUES ('committed')");
    const writer = await writerInTheMiddle();
    const written: string[] = [];
    const preparedTx = (name: string) => {
      const ready = gate();
      const tx = db.transaction(
        async (t) => {
          written.push(name);
          return t.all<{ v: string }>(`SELECT v FROM temp.${name}`);
        },
        { prepare: async (t) => (await t.run(`CREATE TEMP TABLE ${name} AS SELECT v FROM t`), ready.open()) },
      );
      return { tx, ready };
    };
    const first = preparedTx('first');
    await first.ready.opened;
    // The first transaction is prepared and waits for the writer; the second prepares meanwhile.
    const second = preparedTx('second');
    await second.ready.opened;
    expect(written).to.deep.equal([]);
    await writer.finish();
    expect(await first.tx).to.deep.equal([{ v: 'committed' }]);
    expect(await second.tx).to.deep.equal([{ v: 'committed' }]);
    expect(written).to.deep.equal(['first', 'second']);
  });

  it('refuse a session used after its transaction ended, naming the file', async () => {
    const session = await db.transaction(async (t) => t);
    const err = await session.run("INSERT INTO t VALUES ('late')").catch((e: unknown) => e);
    expect(err).to.be.instanceOf(WarehouseClosedError).and.to.include({ name: 'WarehouseClosedError', location: file, what: 'session' });
  });

  it('close only once a transaction closed on in its prepare step has written', async () => {
    const [preparing, go] = [gate(), gate()];
    const order: string[] = [];
    const tx = db
      .transaction((t) => t.run("INSERT INTO t SELECT v FROM temp.seen"), {
        prepare: async (t) => {
          await t.run("CREATE TEMP TABLE seen AS SELECT 'prepared' AS v");
          preparing.open();
          await go.opened;
        },
      })
      .then(() => order.push('written'));
    await preparing.opened;
    const closing = db.close().then(() => order.push('closed'));
    go.open();
    await Promise.all([tx, closing]);
    expect(order).to.deep.equal(['written', 'closed']);
    expect(await queryFile(file, 'SELECT v FROM t')).to.deep.equal([{ v: 'prepared' }]);
  });

  it('refuse statements after close', async () => {
    await db.close();
    const err = await db.all('SELECT 1').catch((e: unknown) => e);
    expect(err).to.be.instanceOf(WarehouseClosedError).and.to.have.property('message', `the warehouse ${file} is closed`);
  });

  it('reuse a prepared statement for many rows within a transaction', async () => {
    await db.transaction(async (t) => {
      const insert = await t.prepare('INSERT INTO t VALUES (?)');
      for (const v of ['x', 'y', 'z']) await insert.run([v]);
      await insert.finalize();
    });
    expect(await db.get<{ n: number }>('SELECT count(*) AS n FROM t')).to.deep.equal({ n: 3 });
  });
});
