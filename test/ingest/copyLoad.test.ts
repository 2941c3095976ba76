/**
 * The load on PostgreSQL (operators/load/CopyPartitionWriter.ts, copyText.ts): the same lake partition
 * loaded into SQLite and into PostgreSQL gives the same raw rows and rejects, whatever form the
 * batches take (packed or JSON) and whatever the values hold; a load that fails leaves the partition
 * as it was.
 */
import { expect } from 'chai';
import { loadTask } from '../../operators/load/loadTask.js';
import { closeSharedPrepareWorkerPool } from '../../operators/load/fast/PrepareWorkerPool.js';
import { PlainPartitionPreparer } from '../../operators/load/PlainPartitionPreparer.js';
import { closeWarehouses, openWarehouse, warehouseOf } from '../../operators/warehouse/registry.js';
import type { Settings } from '../../scheduler/settings.js';
import { usePostgres } from '../helpers/postgres.js';
import { testTaskContext } from '../helpers/taskContext.js';
import { testSettings, useTmpDir } from '../helpers/tmp.js';
import { DS, writeLake } from './lakeLoad.js';

const car = (id: unknown, extra: Record<string, unknown> = {}) => ({
  id, vin: 'V1', brand: 'Tesla', model: 'Model 3', engine_type: 'electric', license_plate: 'B-AB 1',
  registration_date: '2023-05-01T10:00:00.123456', deregistration_date: null, ...extra,
});

/** Lines with what COPY text must escape, values of varying and fixed width, NULLs, non-ASCII text, rejects and repeated ids. */
function awkwardLines(): string[] {
  const lines: string[] = [];
  for (let i = 0; i < 60; i++) {
    const extra: Record<string, unknown> = {};
    if (i % 5 === 0) extra.model = `tab\there, newline\nthere, back\\slash, cr\r, \\N, "quotes"`;
    if (i % 7 === 0) extra.brand = 'Škoda Ünïcødé ☃';
    // A character outside the BMP: its batch goes the JSON way (packedBatch.ts declines surrogates).
    if (i === 59) extra.brand = 'car 🚗';
    if (i % 3 === 0) extra.deregistration_date = '2024-03-01 08:00:00';
    if (i % 11 === 0) extra.license_plate = 'x'.repeat(1 + i);
    lines.push(JSON.stringify(car(`c${i}`, extra)));
  }
  lines.push(JSON.stringify(car('c1', { brand: 'a repeated id' })), 'not json\tat all \\ with a tab', JSON.stringify(car('bad', { engine_type: 'steam' })));
  return lines;
}

const RAW = 'SELECT id, vin, brand, model, engine_type, license_plate, registration_date, deregistration_date, processing_date, hk_car, hashdiff FROM cars ORDER BY id';
const REJECTS = 'SELECT source, processing_date, raw_json, reason FROM rejects ORDER BY raw_json';

describe('load operator on PostgreSQL (COPY)', function () {
  this.timeout(60_000);
  const pg = usePostgres();
  const tmp = useTmpDir('copy-load-', { beforeRemove: closeWarehouses });
  after(() => closeSharedPrepareWorkerPool());
  let schema = 0;
  const settingsFor = (engine: 'sqlite' | 'postgres', env: Record<string, string> = {}): Settings =>
    testSettings(tmp.dir, {
      DRIVETRAIN_LOAD_MAX_REJECT_SHARE: '1',
      ...(engine === 'postgres' ? { DRIVETRAIN_WAREHOUSE_URL: `${pg.url}?schema=copy_${++schema}` } : {}),
      ...env,
    });
  const rows = async (settings: Settings, sql: string) => (await openWarehouse(warehouseOf(settings))).all(sql);

  for (const [form, env] of [
    ['the fast preparer (packed batches)', { DRIVETRAIN_LOAD_BATCH_ROWS: '7' }],
    ['the fast preparer with prepare workers', { DRIVETRAIN_LOAD_BATCH_ROWS: '16', DRIVETRAIN_LOAD_PREPARE_WORKERS: '1' }],
  ] as const) {
    it(`gives the rows and rejects SQLite gives, escaped values and NULLs included, through ${form}`, async () => {
      const sqlite = settingsFor('sqlite', env);
      const postgres = settingsFor('postgres', env);
      await writeLake(sqlite, 'cars', awkwardLines());
      const results = [];
      for (const s of [sqlite, postgres]) results.push(await loadTask({ entity: 'cars' })(testTaskContext(s, { ds: DS })));
      expect(results[1]).to.deep.equal(results[0]);
      expect(results[1]).to.include({ loaded: 60, rejected: 3 });
      const expected = await rows(sqlite, RAW);
      expect(expected.filter((r) => r.deregistration_date === null)).to.have.length(40);
      expect(await rows(postgres, RAW)).to.deep.equal(expected);
      expect(await rows(postgres, REJECTS)).to.deep.equal(await rows(sqlite, REJECTS));
    });
  }

  it('gives the rows SQLite gives through JSON batches (the plain preparer), and replaces the partition on a second load', async () => {
    const sqlite = settingsFor('sqlite');
    const postgres = settingsFor('postgres');
    await writeLake(sqlite, 'cars', awkwardLines());
    for (const s of [sqlite, postgres]) {
      await loadTask({ entity: 'cars', preparer: new PlainPartitionPreparer(9) })(testTaskContext(s, { ds: DS }));
      await loadTask({ entity: 'cars', preparer: new PlainPartitionPreparer(9) })(testTaskContext(s, { ds: DS }));
    }
    expect(await rows(postgres, RAW)).to.deep.equal(await rows(sqlite, RAW));
    expect(await rows(postgres, 'SELECT count(*) AS n FROM rejects')).to.deep.equal([{ n: 3 }]);
  });

  it('keeps a reject whose raw line holds a NUL, written as the JSON escape, and fails a load whose valid row holds one, leaving the partition as it was', async () => {
    const postgres = settingsFor('postgres');
    await writeLake(postgres, 'cars', [JSON.stringify(car('c1')), 'not json \u0000 here']);
    await loadTask({ entity: 'cars' })(testTaskContext(postgres, { ds: DS }));
    expect(await rows(postgres, 'SELECT raw_json FROM rejects')).to.deep.equal([{ raw_json: 'not json \\u0000 here' }]);
    const before = [await rows(postgres, RAW), await rows(postgres, REJECTS)];
    await writeLake(postgres, 'cars', [JSON.stringify(car('c2')), JSON.stringify(car('c3', { model: 'nul \u0000 inside' }))]);
    const err: unknown = await Promise.resolve(loadTask({ entity: 'cars', preparer: new PlainPartitionPreparer(1) })(testTaskContext(postgres, { ds: DS }))).catch((e: unknown) => e);
    expect(err).to.be.instanceOf(Error);
    expect((err as Error).message).to.equal('load of cars for 2024-01-15: value "nul \\u0000 inside" holds a NUL character, which PostgreSQL text cannot store');
    expect([await rows(postgres, RAW), await rows(postgres, REJECTS)]).to.deep.equal(before);
    // The connection the failed COPY ran on is fit for the next load.
    await writeLake(postgres, 'cars', [JSON.stringify(car('c4'))]);
    await loadTask({ entity: 'cars' })(testTaskContext(postgres, { ds: DS }));
    expect((await rows(postgres, RAW)).map((r) => r.id)).to.deep.equal(['c4']);
  });
});
