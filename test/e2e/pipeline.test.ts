/**
 * The whole pipeline, end to end, as an operator runs it: the sample source serves a generated dataset
 * over HTTP, `drivetrain backfill` runs in a child process (ingest once, then every daily and monthly
 * mart partition), and every mart must equal the contract's definitions computed independently from
 * the same generated rows (test/warehouse/reference.ts). A second identical backfill changes nothing.
 */
import { expect } from 'chai';
import { execFile } from 'node:child_process';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { promisify } from 'node:util';
import type { Entity } from '../../operators/entities.js';
import { generateRows } from '../../source/generator.js';
import { startSourceServer, type SourceServer } from '../../source/server.js';
import { makeTmpDir, testEnv } from '../helpers/tmp.js';
import { canonical, MARTS, snapshotWarehouse, tableRows, type Row, type Snapshot } from '../warehouse/fixtures.js';
import { referenceMarts } from '../warehouse/reference.js';

const REPO = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..', '..');
const run = promisify(execFile);

const SIZES = { cars: 300, customers: 120, subscriptions: 400 };
const SEED = 11;
const FROM = '2023-01-01';
const TO = '2023-03-31';

describe('the pipeline end to end through the sample source', function () {
  this.timeout(180_000);
  let tmp: ReturnType<typeof makeTmpDir>;
  let source: SourceServer;

  before(async () => {
    tmp = makeTmpDir('drivetrain-e2e-');
    source = await startSourceServer({ generate: { sizes: SIZES, seed: SEED } });
  });
  after(async () => {
    await source?.close();
    tmp?.cleanup();
  });

  const backfill = () =>
    run(process.execPath, ['--import', 'tsx', 'bin/drivetrain.ts', 'backfill', '--from', FROM, '--to', TO], {
      cwd: REPO,
      env: testEnv(tmp.dir, {
        DRIVETRAIN_SOURCE_URL: source.url,
        DRIVETRAIN_SOURCE_PAGE_SIZE: '70',
        DRIVETRAIN_NOW: '2024-01-02T06:00:00Z',
        DRIVETRAIN_TASK_RETRIES: '0',
      }),
    });

  it('fills every mart as the contract defines it, and a second backfill changes nothing', async () => {
    const first = await backfill();
    expect(first.stdout).to.match(/every run succeeded/);

    const snapshot: Record<Entity, Row[]> = { cars: [], customers: [], subscriptions: [] };
    for (const entity of Object.keys(snapshot) as Entity[]) snapshot[entity] = [...generateRows(entity, SIZES, SEED)] as Row[];
    const expected = referenceMarts(snapshot as Snapshot, FROM, FROM);
    const warehouse = path.join(tmp.dir, 'home', 'warehouse.db');
    for (const mart of MARTS) {
      expect(canonical(await tableRows(warehouse, mart)), mart).to.deep.equal(canonical(expected[mart]));
      expect(expected[mart].length, `${mart} has rows to compare`).to.be.greaterThan(0);
    }

    const before = await snapshotWarehouse(warehouse);
    const second = await backfill();
    expect(second.stdout).to.match(/every run succeeded/);
    expect(source.requests.get('/v1/cars'), 'the snapshot is ingested once, not again').to.equal(Math.ceil(SIZES.cars / 70));
    expect(await snapshotWarehouse(warehouse)).to.deep.equal(before);
  });
});
