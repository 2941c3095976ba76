import { expect } from 'chai';
import type { Settings } from '../../scheduler/settings.js';
import { describeEachEngine } from '../helpers/engines.js';
import { useTmpWarehouse } from '../helpers/tmp.js';
import { SNAPSHOT_A, SNAPSHOT_B } from './data.js';
import { hashKey, ingest, snapshotWarehouse, tableRows, warehouseOf } from './fixtures.js';
import { hashDiff, personalHashDiff } from '../../operators/load/hashing.js';
import { select } from '../../operators/sql/materialize.js';
import { dialectOf } from '../../operators/sql/dialect/dialectOf.js';
import { defaultRegistry } from '../../operators/sql/sqlTask.js';
import { openWarehouse } from '../../operators/warehouse/registry.js';

describeEachEngine('warehouse vault', function (engine) {
  this.timeout(60_000);
  const env = useTmpWarehouse({}, { engine });
  let settings: Settings;
  beforeEach(() => (settings = env.settings));

  it('loads hubs with hash keys, business keys, the interval-end load_date and the record source', async () => {
    await ingest(settings, '2024-01-10', SNAPSHOT_A);
    const hubCar = await tableRows(warehouseOf(settings), 'hub_car');
    // c9 is only referenced by subscription s6: it is a key in the hub (links never dangle), from the subscriptions source
    expect(hubCar.map((r) => [r.car_id, r.hk_car, r.load_date, r.record_source]).sort()).to.deep.equal(
      [
        ['c1', hashKey('c1'), '2024-01-11 00:00:00', 'raw.cars'],
        ['c2', hashKey('c2'), '2024-01-11 00:00:00', 'raw.cars'],
        ['c3', hashKey('c3'), '2024-01-11 00:00:00', 'raw.cars'],
        ['c4', hashKey('c4'), '2024-01-11 00:00:00', 'raw.cars'],
        ['c9', hashKey('c9'), '2024-01-11 00:00:00', 'raw.subscriptions'],
      ].sort(),
    );
    expect((await tableRows(warehouseOf(settings), 'hub_customer')).map((r) => r.customer_id).sort()).to.deep.equal(['u1', 'u2', 'u3', 'u9']);
    expect(await tableRows(warehouseOf(settings), 'hub_subscription')).to.have.length(8);
    const links = await tableRows(warehouseOf(settings), 'link_subscription');
    expect(links.find((l) => l.hk_subscription === hashKey('s1'))).to.deep.include({
      hk_subscription_link: hashKey('s1', 'u1', 'c1'),
      hk_customer: hashKey('u1'),
      hk_car: hashKey('c1'),
      load_date: '2024-01-11 00:00:00',
    });
  });

  it('satellites insert a row only when the hashdiff changes, and the current views show the latest version under source names', async () => {
    await ingest(settings, '2024-01-10', SNAPSHOT_A);
    await ingest(settings, '2024-01-11', SNAPSHOT_B);
    await ingest(settings, '2024-01-12', SNAPSHOT_B);
    const sat = await tableRows(warehouseOf(settings), 'sat_customer');
    expect(sat).to.have.length(4); // u1, u2, u3 once; u3 again after moving
    const u3 = sat.filter((r) => r.hk_customer === hashKey('u3'));
    expect(u3.map((r) => [r.load_date, r.address_city, r.hashdiff])).to.deep.equal([
      ['2024-01-11 00:00:00', 'Hamburg', hashDiff('customers', SNAPSHOT_A.customers[2])],
      ['2024-01-12 00:00:00', 'Cologne', hashDiff('customers', SNAPSHOT_B.customers[2])],
    ]);
    expect(await tableRows(warehouseOf(settings), 'sat_car')).to.have.length(4);
    expect(await tableRows(warehouseOf(settings), 'sat_subscription')).to.have.length(8);
    const current = await tableRows(warehouseOf(settings), 'sat_customer_current');
    expect(current.map((r) => [r.id, r.type, r.address_city])).to.have.deep.members([
      ['u1', 'b2c', 'Berlin'],
      ['u2', 'b2b', 'Munich'],
      ['u3', 'b2c', 'Cologne'],
    ]);
    const subs = await tableRows(warehouseOf(settings), 'sat_subscription_current');
    const s6 = subs.find((s) => s.id === 's6')!;
    expect(s6).to.deep.include({ customer_id: 'u2', car_id: 'c9', start_date: '2023-12-01 00:00:00', term_month: 'six', monthly_rate: 499.5 });
  });

  it('keeps customers\' personal fields in sat_customer_pii, versioned by their own hashdiff, and only type and city in sat_customer', async () => {
    const renamed = { ...SNAPSHOT_B, customers: SNAPSHOT_B.customers.map((c) => (c.id === 'u1' ? { ...c, first_name: 'Renamed' } : c)) };
    await ingest(settings, '2024-01-10', SNAPSHOT_A);
    await ingest(settings, '2024-01-11', SNAPSHOT_B); // u3 moves
    await ingest(settings, '2024-01-12', renamed); // u1 changes only a name
    const sat = await tableRows(warehouseOf(settings), 'sat_customer');
    expect(Object.keys(sat[0]).sort()).to.deep.equal(['address_city', 'hashdiff', 'hk_customer', 'load_date', 'record_source', 'type']);
    expect(sat.filter((r) => r.hk_customer === hashKey('u1')), 'a new name is no new version of type and city').to.have.length(1);
    const pii = await tableRows(warehouseOf(settings), 'sat_customer_pii');
    expect(Object.keys(pii[0]).sort()).to.deep.equal(
      ['address_street', 'address_street_house', 'address_zip', 'company_name', 'first_name', 'hashdiff', 'hk_customer', 'load_date', 'record_source', 'second_name'],
    );
    const versions = (id: string) => pii.filter((r) => r.hk_customer === hashKey(id)).map((r) => [r.load_date, r.first_name, r.address_zip, r.hashdiff]);
    const [a3, b3] = [SNAPSHOT_A.customers[2], SNAPSHOT_B.customers[2]];
    expect(versions('u3'), 'a move is a new personal version too').to.deep.equal([
      ['2024-01-11 00:00:00', a3.first_name, a3.address_zip, personalHashDiff('customers', a3)],
      ['2024-01-12 00:00:00', b3.first_name, b3.address_zip, personalHashDiff('customers', b3)],
    ]);
    expect(versions('u1').map((v) => v[1])).to.deep.equal([SNAPSHOT_A.customers[0].first_name, 'Renamed']);
    expect(versions('u2')).to.have.length(1);
  });

  it('re-running the same ingest ds leaves every table as it was', async () => {
    await ingest(settings, '2024-01-10', SNAPSHOT_A);
    const once = await snapshotWarehouse(warehouseOf(settings));
    await ingest(settings, '2024-01-10', SNAPSHOT_A);
    expect(await snapshotWarehouse(warehouseOf(settings))).to.deep.equal(once);
  });

  it('reports subscriptions with an unknown customer or car as a warning and keeps them out of the timeline', async () => {
    const log = await ingest(settings, '2024-01-10', SNAPSHOT_A);
    const warning = log.lines.find((l) => l.level === 'warn' && l.message.includes('unknown_subscription_parties'));
    expect(warning?.message).to.include('2 offending row(s)');
    expect(warning?.meta?.samples).to.have.deep.members([
      { id: 's5', customer_id: 'u9', car_id: 'c1', reason: 'unknown customer' },
      { id: 's6', customer_id: 'u2', car_id: 'c9', reason: 'unknown car' },
    ]);
    expect(log.lines.filter((l) => l.level === 'error')).to.deep.equal([]);
    const timeline = await tableRows(warehouseOf(settings), 'subscription_timeline');
    expect(timeline.map((t) => t.id).sort()).to.deep.equal(['s1', 's2', 's3', 's4', 's7', 's8']);
    expect(timeline.find((t) => t.id === 's1')).to.deep.include({ start_day: '2023-08-31', end_day: '2024-02-29', last_month: '2024-02-01' });
  });

  it('keyed timelines updated load by load equal their whole definition, through moves, relinks, late parties and a back-dated load', async () => {
    const timelines = ['car_timeline', 'customer_profile', 'subscription_timeline'];
    const check = async (step: string) => {
      const db = await openWarehouse(warehouseOf(settings));
      for (const name of timelines) {
        const cols = Object.keys((await tableRows(warehouseOf(settings), name))[0] ?? {});
        const model = defaultRegistry().forDialect(dialectOf(db)).model(name);
        const whole = (statement: string) => select(db, `SELECT ${cols.join(', ')} FROM (${statement}) AS whole ORDER BY ${cols.map((_, i) => i + 1).join(', ')}`, {}, dialectOf(db));
        const full = await whole(model.statements[0]);
        expect(await tableRows(warehouseOf(settings), name), `${name} after ${step}`).to.deep.equal(full);
        // The key-ordered build (SQLite's whole build, its temporary tables first) returns the same rows as the definition.
        const ordered = model.statements.slice(2);
        if (engine === 'sqlite' && ordered.length > 0) {
          const rows = await db.transaction(async (t) => {
            for (const s of ordered.slice(0, -1)) await t.run(s);
            return t.all(`SELECT ${cols.join(', ')} FROM (${ordered[ordered.length - 1]}) AS whole ORDER BY ${cols.map((_, i) => i + 1).join(', ')}`);
          });
          expect(rows, `${name}'s key-ordered build after ${step}`).to.deep.equal(full);
        }
      }
    };
    await ingest(settings, '2024-01-10', SNAPSHOT_A);
    await check('the first load');
    await ingest(settings, '2024-01-11', SNAPSHOT_B);
    await check('a customer move');
    // c1 deregistered, u9 (unknown so far) and c9 appear, s8 moves to car c4, a new subscription s9
    const c: typeof SNAPSHOT_B = {
      cars: [...SNAPSHOT_B.cars.map((r) => (r.id === 'c1' ? { ...r, deregistration_date: '2024-05-01 00:00:00' } : r)), { ...SNAPSHOT_B.cars[3], id: 'c9', brand: 'Kia' }],
      customers: [...SNAPSHOT_B.customers, { ...SNAPSHOT_B.customers[0], id: 'u9', type: 'b2b', address_city: 'Essen' }],
      subscriptions: [
        ...SNAPSHOT_B.subscriptions.map((r) => (r.id === 's8' ? { ...r, car_id: 'c4' } : r)),
        { ...SNAPSHOT_B.subscriptions[0], id: 's9', customer_id: 'u2', car_id: 'c2' },
      ],
    };
    await ingest(settings, '2024-01-12', c);
    await check('a deregistration, late customer and car, a relink and a new subscription');
    // a back-dated load (an older ds run after newer ones) with a car only it knows, and u1 elsewhere
    await ingest(settings, '2024-01-05', {
      ...SNAPSHOT_A,
      cars: [...SNAPSHOT_A.cars, { ...SNAPSHOT_A.cars[0], id: 'c7', brand: 'Fiat' }],
      customers: SNAPSHOT_A.customers.map((r) => (r.id === 'u1' ? { ...r, address_city: 'Bonn' } : r)),
    });
    await check('a back-dated load');
    expect((await tableRows(warehouseOf(settings), 'car_timeline')).map((r) => r.id)).to.include('c7');
    await ingest(settings, '2024-01-12', c);
    await check('a re-run');
  });
});
