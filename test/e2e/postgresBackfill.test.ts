/**
 * The real source dataset (../shared/data/source.db, served by the sample source) backfilled twice by
 * `drivetrain backfill` in child processes: once into a SQLite warehouse, once into a PostgreSQL one.
 * Every mart must be the same on both engines, row by row, and the raw layer must hold the same rows.
 */
import { expect } from 'chai';
import { execFile } from 'node:child_process';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { promisify } from 'node:util';
import { closeWarehouses } from '../../operators/warehouse/registry.js';
import { startSourceServer, type SourceServer } from '../../source/server.js';
import { usePostgres } from '../helpers/postgres.js';
import { testEnv, useTmpDir } from '../helpers/tmp.js';
import { MARTS, tableRows } from '../warehouse/fixtures.js';

const REPO = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..', '..');
const SOURCE_DB = path.resolve(REPO, '..', '..', 'shared', 'data', 'source.db');
const run = promisify(execFile);

describe('a backfill over the real source dataset on both engines', function () {
  this.timeout(900_000);
  const pg = usePostgres({ beforeDrop: closeWarehouses });
  const tmp = useTmpDir('drivetrain-pg-backfill-', { scope: 'suite' });
  let source: SourceServer;

  before(async () => {
    source = await startSourceServer({ db: SOURCE_DB });
  });
  after(async () => {
    await source?.close();
  });

  const backfill = (home: string, env: Record<string, string>) =>
    run(process.execPath, ['--import', 'tsx', 'bin/drivetrain.ts', 'backfill', '--from', '2022-01-01', '--to', '2024-01-31'], {
      cwd: REPO,
      maxBuffer: 64 * 1024 * 1024,
      env: testEnv(path.join(tmp.dir, home), {
        DRIVETRAIN_SOURCE_URL: source.url,
        DRIVETRAIN_NOW: '2024-02-02T06:00:00Z',
        DRIVETRAIN_TASK_RETRIES: '0',
        ...env,
      }),
    });

  it('gives the same rows in every mart and raw table on SQLite and PostgreSQL', async () => {
    const postgres = `${pg.url}?schema=marts`;
    const [onSqlite, onPostgres] = await Promise.all([backfill('sqlite', {}), backfill('postgres', { DRIVETRAIN_WAREHOUSE_URL: postgres })]);
    expect(onSqlite.stdout).to.match(/every run succeeded/);
    expect(onPostgres.stdout).to.match(/every run succeeded/);
    const sqlite = path.join(tmp.dir, 'sqlite', 'home', 'warehouse.db');
    for (const mart of MARTS) {
      const expected = await tableRows(sqlite, mart);
      expect(expected.length, `${mart} has rows to compare`).to.be.greaterThan(0);
      expect(await tableRows(postgres, mart), mart).to.deep.equal(expected);
    }
    for (const raw of ['cars', 'customers', 'subscriptions', 'rejects']) {
      expect(await tableRows(postgres, raw), raw).to.deep.equal(await tableRows(sqlite, raw));
    }
  });
});
