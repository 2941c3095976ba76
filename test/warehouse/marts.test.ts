import { expect } from 'chai';
import { mkdirSync } from 'node:fs';
import type { Settings } from '../../scheduler/settings.js';
import { describeEachEngine } from '../helpers/engines.js';
import { testSettings, useTmpWarehouse } from '../helpers/tmp.js';
import { SNAPSHOT_A, SNAPSHOT_B } from './data.js';
import { dayInterval, ingest, monthInterval, runModelDag, snapshotWarehouse, tableRows, warehouseOf } from './fixtures.js';

const days = (from: string, to: string) => {
  const out = [];
  for (let d = Date.parse(`${from}T00:00:00Z`); d <= Date.parse(`${to}T00:00:00Z`); d += 86_400_000) out.push(dayInterval(new Date(d).toISOString().slice(0, 10)));
  return out;
};
const tuples = (rows: Record<string, unknown>[]) => rows.map((r) => Object.values(r));

/** Counts and shares of one brand in a type_share row: b2b customers, b2c customers, b2b share, b2c share. */
type Share = [number, number, number, number];
const HALF: Share = [1, 1, 0.5, 0.5];
const ONLY_B2B: Share = [1, 0, 1, 0];
const ONLY_B2C: Share = [0, 1, 0, 1];

/** The type_share rows of `months` when every one of them has the same BMW and Tesla figures. */
const sameShares = (months: readonly string[], bmw: Share, tesla: Share) => months.flatMap((m) => [[m, 'BMW', ...bmw], [m, 'Tesla', ...tesla]]);

describeEachEngine('warehouse marts', function (engine) {
  this.timeout(60_000);
  const env = useTmpWarehouse({}, { engine });
  let settings: Settings;
  beforeEach(() => (settings = env.settings));

  it('a daily run writes its day and every later day: registrations, deregistrations (future ones too) and deliveries by city', async () => {
    await ingest(settings, '2024-01-10', SNAPSHOT_A);
    await runModelDag(settings, 'marts_daily', [dayInterval('2023-01-31')]);
    expect(tuples(await tableRows(warehouseOf(settings), 'infleeted_cars_volumes'))).to.deep.equal([
      ['2023-01-31', 1],
      ['2023-02-01', 2],
      ['2023-04-01', 1],
    ]);
    expect(tuples(await tableRows(warehouseOf(settings), 'defleeted_cars_volumes'))).to.deep.equal([
      ['2023-03-15', 1],
      ['2024-06-30', 1],
    ]);
    expect(tuples(await tableRows(warehouseOf(settings), 'cars_deliveries'))).to.deep.equal([
      ['2023-08-31', 'Berlin', 1],
      ['2023-12-01', 'Hamburg', 1],
      ['2023-12-20', 'Munich', 1],
      ['2024-01-05', 'Munich', 1],
      ['2024-01-15', 'Hamburg', 1],
      ['2024-01-31', 'Berlin', 1],
    ]);
  });

  it('a daily run leaves every earlier day alone', async () => {
    await ingest(settings, '2024-01-10', SNAPSHOT_A);
    await runModelDag(settings, 'marts_daily', [dayInterval('2023-12-01')]);
    expect(tuples(await tableRows(warehouseOf(settings), 'infleeted_cars_volumes'))).to.deep.equal([]);
    expect(tuples(await tableRows(warehouseOf(settings), 'defleeted_cars_volumes'))).to.deep.equal([['2024-06-30', 1]]);
    expect(tuples(await tableRows(warehouseOf(settings), 'cars_deliveries')).map((r) => r[0])).to.deep.equal([
      '2023-12-01', '2023-12-20', '2024-01-05', '2024-01-15', '2024-01-31',
    ]);
  });

  it('a customer who moves: partitions already written keep the old city, later runs use the new one', async () => {
    await ingest(settings, '2024-01-10', SNAPSHOT_A);
    await runModelDag(settings, 'marts_daily', [dayInterval('2023-12-01')]);
    await ingest(settings, '2024-01-11', SNAPSHOT_B);
    await runModelDag(settings, 'marts_daily', [dayInterval('2024-01-01')]);
    expect(tuples(await tableRows(warehouseOf(settings), 'cars_deliveries'))).to.deep.equal([
      ['2023-12-01', 'Hamburg', 1], // written by the run for 2023-12-01, before the move
      ['2023-12-20', 'Munich', 1],
      ['2024-01-05', 'Munich', 1],
      ['2024-01-15', 'Cologne', 1], // refreshed by the run for 2024-01-01, after the move
      ['2024-01-31', 'Berlin', 1],
    ]);
    const history = await tableRows(warehouseOf(settings), 'sat_customer');
    expect(history.filter((r) => r.address_city === 'Hamburg' || r.address_city === 'Cologne').map((r) => [r.address_city, r.load_date])).to.have.deep.members([
      ['Hamburg', '2024-01-11 00:00:00'],
      ['Cologne', '2024-01-12 00:00:00'],
    ]);
    expect(history).to.have.length(4);
  });

  it('type_share counts distinct customers per month and brand over leap days, month ends and year ends, from the run month on', async () => {
    await ingest(settings, '2024-01-10', SNAPSHOT_A);
    await runModelDag(settings, 'marts_monthly', [monthInterval('2023-12-01')]);
    expect(tuples(await tableRows(warehouseOf(settings), 'type_share'))).to.deep.equal([
      ['2023-12-01', 'BMW', 1, 0, 1, 0],
      ['2023-12-01', 'Tesla', 0, 2, 0, 1],
      ['2024-01-01', 'BMW', 1, 1, 0.5, 0.5],
      ['2024-01-01', 'Tesla', 1, 2, 0.333333, 0.666667],
      ['2024-02-01', 'BMW', 1, 1, 0.5, 0.5],
      ['2024-02-01', 'Tesla', 1, 2, 0.333333, 0.666667], // s1 ends Feb 29: still active in February
      ...sameShares(['2024-03-01', '2024-04-01', '2024-05-01'], HALF, HALF),
      ...sameShares(['2024-06-01'], HALF, HALF), // s3 ended Jun 1: u3 counts through s7 only
      ...sameShares(['2024-07-01'], HALF, HALF), // s4 (BMW) ends Jul 31, s8 (Tesla) ends Jul 5
      ...sameShares(['2024-08-01', '2024-09-01', '2024-10-01', '2024-11-01'], ONLY_B2B, ONLY_B2C),
      ['2024-12-01', 'BMW', 1, 0, 1, 0], // s2 (twelve from 2023-12-20) ends 2024-12-20
      ['2024-12-01', 'Tesla', 0, 1, 0, 1],
      ['2025-01-01', 'Tesla', 0, 1, 0, 1], // s7 (twelve from 2024-01-15) crosses the year end
    ]);
    expect(tuples(await tableRows(warehouseOf(settings), 'type_distribution'))).to.deep.equal([
      ['six', 1, 3],
      ['twelve', 1, 1],
    ]);
  });

  it('a monthly run replaces its month and later ones and keeps earlier months', async () => {
    await ingest(settings, '2024-01-10', SNAPSHOT_A);
    await runModelDag(settings, 'marts_monthly', [monthInterval('2024-06-01')]);
    const months = (await tableRows(warehouseOf(settings), 'type_share')).map((r) => r.month);
    expect(months[0]).to.equal('2024-06-01');
    await runModelDag(settings, 'marts_monthly', [monthInterval('2024-11-01')]);
    expect((await tableRows(warehouseOf(settings), 'type_share')).map((r) => r.month)).to.deep.equal(months);
  });

  it('running every DAG twice leaves the same tables', async () => {
    await ingest(settings, '2024-01-10', SNAPSHOT_A);
    await runModelDag(settings, 'marts_daily', days('2023-12-01', '2023-12-05'));
    await runModelDag(settings, 'marts_monthly', [monthInterval('2023-12-01')]);
    const once = await snapshotWarehouse(warehouseOf(settings));
    await ingest(settings, '2024-01-10', SNAPSHOT_A);
    await runModelDag(settings, 'marts_daily', days('2023-12-01', '2023-12-05'));
    await runModelDag(settings, 'marts_monthly', [monthInterval('2023-12-01')]);
    expect(await snapshotWarehouse(warehouseOf(settings))).to.deep.equal(once);
  });

  it('a batched range writes the same tables as its days run one by one, a customer move in between included', async () => {
    // The day-by-day runs go to a home of their own next to the batched one, removed with it.
    mkdirSync(env.path('day-by-day'));
    const url = settings.warehouseUrl;
    const settings2 = testSettings(env.path('day-by-day'), url ? { DRIVETRAIN_WAREHOUSE_URL: `${url}_by_day` } : {});
    for (const s of [settings, settings2]) {
      await ingest(s, '2024-01-10', SNAPSHOT_A);
      await runModelDag(s, 'marts_daily', [dayInterval('2023-08-01')]);
      await ingest(s, '2024-01-11', SNAPSHOT_B);
    }
    await runModelDag(settings, 'marts_daily', days('2023-11-25', '2024-01-20'));
    await runModelDag(settings, 'marts_monthly', [monthInterval('2023-11-01'), monthInterval('2023-12-01'), monthInterval('2024-01-01')]);
    for (const d of days('2023-11-25', '2024-01-20')) await runModelDag(settings2, 'marts_daily', [d]);
    for (const m of ['2023-11-01', '2023-12-01', '2024-01-01']) await runModelDag(settings2, 'marts_monthly', [monthInterval(m)]);
    const batched = await snapshotWarehouse(warehouseOf(settings));
    expect(batched.cars_deliveries.length).to.be.greaterThan(0);
    expect(await snapshotWarehouse(warehouseOf(settings2))).to.deep.equal(batched);
  });
});
