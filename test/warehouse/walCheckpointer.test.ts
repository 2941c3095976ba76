import { expect } from 'chai';
import { mkdirSync } from 'node:fs';
import path from 'node:path';
import { WalCheckpointer } from '../../operators/warehouse/WalCheckpointer.js';
import { openDb as open, rowsInFileAlone, type SqliteConnection } from '../helpers/sqliteFile.js';
import { useTmpDir } from '../helpers/tmp.js';

describe('WAL checkpointer', () => {
  let writer: SqliteConnection;
  let file: string;
  const tmp = useTmpDir('wal-checkpointer-', { beforeRemove: () => writer.close() });

  beforeEach(async () => {
    file = tmp.path('w.db');
    writer = await open(file);
    // As a load's connection: WAL, and no checkpoint at commit.
    await writer.exec('PRAGMA journal_mode=WAL; PRAGMA wal_autocheckpoint=0; CREATE TABLE t (v TEXT);');
    await writer.exec('PRAGMA wal_checkpoint(TRUNCATE)');
    await writer.exec(`BEGIN; WITH RECURSIVE r(i) AS (SELECT 1 UNION ALL SELECT i + 1 FROM r WHERE i < 5000) INSERT INTO t SELECT hex(randomblob(50)) FROM r; COMMIT;`);
  });

  it('copies committed rows from the WAL into the database file', async () => {
    expect(await rowsInFileAlone(file, 't')).to.equal(0);
    const checkpointer = new WalCheckpointer(file);
    await checkpointer.request();
    expect(checkpointer.lastError).to.equal(undefined);
    expect(checkpointer.runs).to.equal(1);
    expect(await rowsInFileAlone(file, 't')).to.equal(5000);
    await checkpointer.close();
  });

  it('runs one more checkpoint for the requests made while one runs, not one each', async () => {
    const checkpointer = new WalCheckpointer(file);
    await Promise.all([checkpointer.request(), checkpointer.request(), checkpointer.request(), checkpointer.request()]);
    expect(checkpointer.runs).to.equal(2);
    await checkpointer.request();
    expect(checkpointer.runs).to.equal(3);
    await checkpointer.close();
  });

  it('copies rows committed after a checkpoint was requested with the next one', async () => {
    const checkpointer = new WalCheckpointer(file);
    const first = checkpointer.request();
    await writer.exec(`BEGIN; INSERT INTO t VALUES ('late'); COMMIT;`);
    await first;
    await checkpointer.request();
    expect(await rowsInFileAlone(file, 't')).to.equal(5001);
    await checkpointer.close();
  });

  it('reports the frames a reader still needs as not copied, and copies them once it is done', async () => {
    const checkpointer = new WalCheckpointer(file);
    await checkpointer.request();
    const reader = await open(file);
    await reader.exec('BEGIN');
    await reader.all('SELECT count(*) FROM t');
    await writer.exec(`BEGIN; INSERT INTO t VALUES ('after the reader'); COMMIT;`);
    await checkpointer.request();
    expect(checkpointer.lastResult!.checkpointed).to.be.lessThan(checkpointer.lastResult!.log);
    await reader.exec('COMMIT');
    await reader.close();
    await checkpointer.request();
    expect(checkpointer.lastResult!.checkpointed).to.equal(checkpointer.lastResult!.log);
    expect(await rowsInFileAlone(file, 't')).to.equal(5001);
    await checkpointer.close();
  });

  it('does nothing for a request after it is closed', async () => {
    const checkpointer = new WalCheckpointer(file);
    await checkpointer.close();
    await checkpointer.request();
    expect(checkpointer.runs).to.equal(0);
    expect(await rowsInFileAlone(file, 't')).to.equal(0);
  });

  it('keeps a failure rather than throwing it, and recovers on the next request', async () => {
    const later = path.join(tmp.dir, 'later', 'w.db');
    const checkpointer = new WalCheckpointer(later);
    await checkpointer.request();
    expect(checkpointer.lastError?.message).to.match(/SQLITE_CANTOPEN/);
    expect(checkpointer.runs).to.equal(0);
    mkdirSync(path.dirname(later));
    const db = await open(later);
    await db.exec('PRAGMA journal_mode=WAL; PRAGMA wal_autocheckpoint=0; CREATE TABLE t (v TEXT); INSERT INTO t VALUES (1);');
    await checkpointer.request();
    expect(checkpointer.lastError).to.equal(undefined);
    expect(await rowsInFileAlone(later, 't')).to.equal(1);
    await checkpointer.close();
    await db.close();
  });
});
