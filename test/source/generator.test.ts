import { expect } from 'chai';
import { createHash } from 'node:crypto';
import { generateRow, generateRows, idOf, indexOfId, type DatasetSizes } from '../../source/generator.js';

const sizes: DatasetSizes = { cars: 300, customers: 200, subscriptions: 400 };

function digest(seed: number): string {
  const h = createHash('sha256');
  for (const entity of ['cars', 'customers', 'subscriptions'] as const) {
    for (const row of generateRows(entity, sizes, seed)) h.update(JSON.stringify(row));
  }
  return h.digest('hex');
}

describe('source generator', () => {
  it('produces the same bytes for the same seed and sizes', () => {
    expect(digest(42)).to.equal(digest(42));
  });

  it('produces different data for a different seed', () => {
    expect(digest(42)).to.not.equal(digest(43));
  });

  it('computes row i on its own, equal to the i-th row of the full sequence', () => {
    const all = [...generateRows('subscriptions', sizes, 7)];
    expect(generateRow('subscriptions', 123, sizes, 7)).to.deep.equal(all[123]);
    expect([...generateRows('subscriptions', sizes, 7, 390)]).to.deep.equal(all.slice(390));
  });

  it("gives each subscription an existing car's id, created after that car's registration", () => {
    const cars = new Map([...generateRows('cars', sizes, 5)].map((c) => [c.id, c]));
    for (const sub of generateRows('subscriptions', sizes, 5)) {
      const car = cars.get(sub.car_id);
      expect(car, String(sub.car_id)).to.not.equal(undefined);
      expect(String(sub.created_at) >= String(car!.registration_date), String(sub.id)).to.equal(true);
    }
  });

  it('orders ids by row index and can recover the index from an id', () => {
    const ids = [...generateRows('cars', sizes, 1)].map((r) => String(r.id));
    expect([...ids].sort()).to.deep.equal(ids);
    expect(indexOfId(ids[17])).to.equal(17);
    expect(indexOfId('not-an-id')).to.equal(undefined);
  });

  it('makes about one customer in ten a company with a company name and no person name', () => {
    const rows = [...generateRows('customers', { ...sizes, customers: 5000 }, 3)];
    const b2b = rows.filter((r) => r.type === 'b2b');
    expect(b2b.length / rows.length).to.be.within(0.07, 0.13);
    for (const r of b2b) expect([r.first_name, r.second_name, typeof r.company_name]).to.deep.equal([null, null, 'string']);
    for (const r of rows.filter((x) => x.type === 'b2c')) {
      expect(r.company_name).to.equal(null);
      expect(r.first_name).to.be.a('string');
    }
    for (const r of rows) expect(r.address_zip).to.match(/^\d{5}$/);
  });

  it('spreads registrations over 2022-2023 with some deregistrations after the data ends', () => {
    const rows = [...generateRows('cars', { ...sizes, cars: 3000 }, 5)];
    const regs = rows.map((r) => String(r.registration_date));
    expect(regs.every((d) => d >= '2022-01-01' && d < '2024-01-01')).to.equal(true);
    expect(regs.some((d) => d.startsWith('2022'))).to.equal(true);
    expect(regs.some((d) => d.startsWith('2023'))).to.equal(true);
    const dereg = rows.filter((r) => r.deregistration_date !== null);
    expect(dereg.length).to.be.greaterThan(0);
    expect(dereg.some((r) => String(r.deregistration_date) >= '2024-01-01')).to.equal(true);
    for (const r of dereg) expect(String(r.deregistration_date) > String(r.registration_date)).to.equal(true);
    expect(new Set(rows.map((r) => r.engine_type))).to.deep.equal(new Set(['electric', 'hybrid', 'gasoline', 'diesel']));
    expect(regs[0]).to.match(/^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}\.\d{6}$/);
  });

  it('makes subscriptions of six or twelve months on existing customers and cars, starting after creation', () => {
    const customers = new Set([...generateRows('customers', sizes, 9)].map((r) => r.id));
    const cars = new Set([...generateRows('cars', sizes, 9)].map((r) => r.id));
    const subs = [...generateRows('subscriptions', sizes, 9)];
    for (const s of subs) {
      expect(customers.has(s.customer_id)).to.equal(true);
      expect(cars.has(s.car_id)).to.equal(true);
      expect(String(s.start_date) > String(s.created_at)).to.equal(true);
      expect(['six', 'twelve']).to.include(s.term_month);
      expect(s.monthly_rate).to.be.a('number');
    }
    expect(subs.some((s) => String(s.start_date) >= '2024-01-01')).to.equal(true);
    expect(idOf('customers', 5, 9)).to.equal([...generateRows('customers', sizes, 9)][5].id);
  });
});
