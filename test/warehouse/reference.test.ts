import { expect } from 'chai';
import { describeEachEngine } from '../helpers/engines.js';
import { useTmpWarehouse } from '../helpers/tmp.js';
import { canonical, dayInterval, ingest, MARTS, monthInterval, runModelDag, tableRows, warehouseOf, type Row, type Snapshot } from './fixtures.js';
import { addMonthsClamped, referenceMarts, utcDay } from './reference.js';
import { Prng } from '../../source/prng.js';

/** Seeded (mulberry32, the sample source's PRNG), so every run generates the same data. */
function prng(seed: number): () => number {
  const stream = new Prng(seed);
  return () => stream.next();
}

/** A few thousand rows with the awkward cases mixed in: zone suffixes, month ends, unknown parties. */
function generated(seed: number): Snapshot {
  const rnd = prng(seed);
  const pick = <T>(xs: readonly T[]) => xs[Math.floor(rnd() * xs.length)];
  const day0 = Date.UTC(2021, 10, 1);
  const stamp = (ms: number) => {
    const iso = new Date(ms).toISOString().slice(0, 19);
    const r = rnd();
    if (r < 0.1) return `${iso}+02:00`; // a zone: the UTC day may differ from the text's
    if (r < 0.4) return iso; // 'T' separator
    return `${iso.replace('T', ' ')}.123456`;
  };
  const randomDay = (spanDays: number) => {
    // one in five lands on a month's last days, where clamping matters
    if (rnd() < 0.2) {
      const m = Math.floor(rnd() * 30);
      const first = Date.UTC(2022, m + 1, 1);
      return first - Math.floor(1 + rnd() * 3) * 86_400_000 + Math.floor(rnd() * 86_400_000);
    }
    return day0 + Math.floor(rnd() * spanDays) * 86_400_000 + Math.floor(rnd() * 86_400_000);
  };
  const brands = ['Tesla', 'BMW', 'Audi', 'VW', 'Kia', 'Fiat', 'Seat'];
  const cities = ['Berlin', 'Munich', 'Hamburg', 'Cologne', 'Leipzig', 'Bremen', 'Essen', 'Mainz', 'Kiel'];
  const cars: Row[] = Array.from({ length: 700 }, (_, i) => {
    const reg = randomDay(800);
    return {
      id: `car-${i}`, vin: `V${i}`, brand: pick(brands), model: 'M', engine_type: pick(['electric', 'hybrid', 'gasoline', 'diesel']), license_plate: `P${i}`,
      registration_date: stamp(reg), deregistration_date: rnd() < 0.35 ? stamp(reg + Math.floor(30 + rnd() * 900) * 86_400_000) : null,
    };
  });
  const customers: Row[] = Array.from({ length: 400 }, (_, i) => {
    const b2b = rnd() < 0.3;
    return {
      id: `cust-${i}`, first_name: b2b ? null : 'F', second_name: b2b ? null : 'S', type: b2b ? 'b2b' : 'b2c', company_name: b2b ? `Co ${i}` : null,
      address_city: pick(cities), address_zip: '1', address_street: 'S', address_street_house: String(i),
    };
  });
  const subscriptions: Row[] = Array.from({ length: 2500 }, (_, i) => {
    const start = randomDay(820);
    return {
      id: `sub-${i}`,
      customer_id: rnd() < 0.02 ? `ghost-${i}` : `cust-${Math.floor(rnd() * 400)}`,
      car_id: rnd() < 0.02 ? `ghost-car-${i}` : `car-${Math.floor(rnd() * 700)}`,
      created_at: stamp(start - 86_400_000 * 10), start_date: stamp(start), term_month: rnd() < 0.5 ? 'six' : 'twelve', monthly_rate: 500,
    };
  });
  return { cars, customers, subscriptions };
}

describeEachEngine('warehouse against an independent reference', function (engine) {
  this.timeout(240_000);
  const tmp = useTmpWarehouse({}, { engine });

  it('the reference clamps month ends as PostgreSQL does and takes the UTC day of zoned timestamps', () => {
    expect(addMonthsClamped('2023-08-31', 6)).to.equal('2024-02-29');
    expect(addMonthsClamped('2022-08-31', 6)).to.equal('2023-02-28');
    expect(addMonthsClamped('2023-12-15', 12)).to.equal('2024-12-15');
    expect(utcDay('2023-03-31T23:30:00-02:00')).to.equal('2023-04-01');
    expect(utcDay('2023-03-31 23:30:00.5')).to.equal('2023-03-31');
  });

  it('every mart equals the reference after a backfill in uneven batches, and again after the source changes', async () => {
    const settings = tmp.settings;
    const rnd = prng(7);
    const snapshot = generated(1234);
    const backfill = async () => {
      // daily: 2022-01-01 .. 2024-01-31 in batches of 1..90 days, as the scheduler's batching might cut them
      let d = Date.UTC(2022, 0, 1);
      const last = Date.UTC(2024, 0, 31);
      while (d <= last) {
        const n = Math.min(1 + Math.floor(rnd() * 90), Math.round((last - d) / 86_400_000) + 1);
        const batch = Array.from({ length: n }, (_, i) => dayInterval(new Date(d + i * 86_400_000).toISOString().slice(0, 10)));
        await runModelDag(settings, 'marts_daily', batch);
        d += n * 86_400_000;
      }
      const months = Array.from({ length: 25 }, (_, i) => monthInterval(new Date(Date.UTC(2022, i, 1)).toISOString().slice(0, 10)));
      for (let i = 0; i < months.length; ) {
        const n = 1 + Math.floor(rnd() * 8);
        await runModelDag(settings, 'marts_monthly', months.slice(i, i + n));
        i += n;
      }
    };
    const check = async (s: Snapshot) => {
      const expected = referenceMarts(s, '2022-01-01', '2022-01-01');
      for (const mart of MARTS) {
        const actual = await tableRows(warehouseOf(settings), mart);
        expect(canonical(actual), mart).to.deep.equal(canonical(expected[mart]));
      }
      return expected;
    };

    await ingest(settings, '2024-02-01', snapshot);
    await backfill();
    const expected = await check(snapshot);
    expect(expected.type_share.length).to.be.greaterThan(100);
    expect(expected.cars_deliveries.length).to.be.greaterThan(1000);

    // The source changes (customers move or change type, cars get deregistered, subscriptions move); a new ingest
    // and a full re-run (backfill --reset) must give the reference of the new snapshot.
    const changed: Snapshot = {
      cars: snapshot.cars.map((c, i) => (i % 50 === 0 ? { ...c, deregistration_date: '2024-05-05 05:05:05' } : c)),
      customers: snapshot.customers.map((c, i) => (i % 7 === 0 ? { ...c, address_city: 'Dresden' } : i % 31 === 0 ? { ...c, type: c.type === 'b2b' ? 'b2c' : 'b2b' } : c)),
      subscriptions: snapshot.subscriptions.map((x, i) => (i % 13 === 0 ? { ...x, start_date: '2023-10-31 23:00:00', term_month: 'six' } : x)),
    };
    await ingest(settings, '2024-02-02', changed);
    await backfill();
    await check(changed);
  });
});
