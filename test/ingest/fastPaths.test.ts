import { expect } from 'chai';
import { ENTITIES, type Entity } from '../../operators/entities.js';
import { generateRows } from '../../source/generator.js';
import { FaultInjector, noFaults } from '../../source/faults.js';
import { pushVaultValues, vaultColumns } from '../../operators/load/hashing.js';
import { VAULT_FIELDS } from '../../operators/load/fields.js';
import { fastValidRow, isIsoDateTime, validateRow } from '../../operators/load/validation.js';

const sizes = { cars: 400, customers: 200, subscriptions: 400 };

describe('load hot paths', () => {
  it('push the same hash keys and hashdiffs as vaultColumns, for generated and odd rows', () => {
    const odd: Record<Entity, Record<string, unknown>> = {
      cars: { id: ' c1 ', vin: null, brand: 'bmw ', model: '', engine_type: 'electric', registration_date: '2023-01-01' },
      customers: { id: 'x', first_name: 'Jörg', type: 'b2c', address_zip: '01067' },
      subscriptions: { id: 's ', customer_id: ' c', car_id: 'k', created_at: '2023-01-01', start_date: '2023-01-02', term_month: 'six', monthly_rate: 449.5 },
    };
    for (const entity of ENTITIES) {
      for (const row of [...generateRows(entity, sizes, 7), odd[entity]]) {
        const out: unknown[] = [];
        pushVaultValues(entity, row, out);
        const ref = vaultColumns(entity, row);
        expect(out, entity).to.deep.equal(VAULT_FIELDS[entity].map((f) => ref[f]));
      }
    }
  });

  it('accepts exactly the rows zod accepts, on generated rows with malformed ones among them', () => {
    const faults = new FaultInjector({ ...noFaults(), malformedRate: 0.3 });
    let bad = 0;
    for (const entity of ENTITIES) {
      for (const row of generateRows(entity, sizes, 11)) {
        const served = JSON.parse(JSON.stringify(faults.maybeMalform(entity, row))) as unknown;
        const fast = fastValidRow(entity, served) !== undefined;
        const zod = validateRow(entity, served).ok;
        expect(fast, `${entity} ${JSON.stringify(served)}`).to.equal(zod);
        if (!zod) bad++;
      }
    }
    expect(bad).to.be.greaterThan(50);
    for (const v of [null, [], 'x', 5]) expect(fastValidRow('cars', v)).to.equal(undefined);
  });

  it('decides the source\'s date shapes by char codes as the general ISO 8601 rule does', () => {
    const ok = ['2023-10-21T23:17:35.945166', '2023-10-21 00:00:00.000000', '2024-02-29T12:00:00.000001', '2000-02-29', '2023-12-31'];
    const bad = ['2023-02-29T00:00:00.000000', '1900-02-29', '2023-10-21T24:00:00.000000', '2023-10-21T23:60:00.000000', '2023-10-21T23:00:60.000000',
      '2023-00-10', '2023-10-00', '2023-04-31', '2023-10-21X23:17:35.945166', '2023-10-21T23:17:35,945166', '2023-1a-21', '2023-10-21T23:17:35.94516a'];
    for (const s of ok) expect(isIsoDateTime(s), s).to.equal(true);
    // Years below 100 keep the general rule's reading (Date.UTC maps them to 1900-1999).
    expect(isIsoDateTime('0000-02-29')).to.equal(false);
    expect(isIsoDateTime('0004-02-29T00:00:00.000000')).to.equal(true);
    for (const s of bad) expect(isIsoDateTime(s), s).to.equal(false);
  });
});
