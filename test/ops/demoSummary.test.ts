import path from 'node:path';
import { expect } from 'chai';
import { execFile } from '../helpers/sqliteFile.js';
import { useTmpDir } from '../helpers/tmp.js';
import { summariseMarts, summariseRaw, textTable } from '../../demo/summary.js';

/** A hand-made warehouse with the contract's mart columns. */
async function warehouse(file: string, withTypeDistribution = true): Promise<void> {
  const sql = `
    CREATE TABLE infleeted_cars_volumes(day TEXT, cnt INTEGER);
    INSERT INTO infleeted_cars_volumes VALUES ('2023-12-01', 3), ('2023-12-02', 7), ('2023-12-03', 1);
    CREATE TABLE defleeted_cars_volumes(day TEXT, cnt INTEGER);
    INSERT INTO defleeted_cars_volumes VALUES ('2024-03-05', 2);
    CREATE TABLE cars_deliveries(delivery_date TEXT, city TEXT, deliveries_number INTEGER);
    INSERT INTO cars_deliveries VALUES ('2023-12-01', 'Berlin', 4), ('2023-12-02', 'Berlin', 1), ('2023-12-02', 'Köln', 2);
    CREATE TABLE type_share(month TEXT, brand TEXT, b2b_customers INTEGER, b2c_customers INTEGER, b2b_share REAL, b2c_share REAL);
    INSERT INTO type_share VALUES ('2023-11-01', 'BMW', 1, 1, 0.5, 0.5), ('2023-12-01', 'BMW', 1, 2, 0.333333, 0.666667),
                                  ('2023-12-01', 'Audi', 0, 1, 0, 1), ('2024-01-01', 'Tesla', 9, 9, 0.5, 0.5);
    ${withTypeDistribution ? `CREATE TABLE type_distribution(term TEXT, b2b_distribution INTEGER, b2c_distribution INTEGER);
    INSERT INTO type_distribution VALUES ('twelve', 5, 11), ('six', 2, 8);` : ''}
    CREATE TABLE cars(id TEXT); INSERT INTO cars VALUES ('a'), ('b');
    CREATE TABLE rejects(source TEXT);`;
  await execFile(file, sql);
}

describe('the demo summary', function () {
  const tmp = useTmpDir('drivetrain-summary-');

  it('gives totals and sample rows of each mart', async function () {
    const file = path.join(tmp.dir, 'warehouse.db');
    await warehouse(file);
    const { text, complete } = await summariseMarts(file, { month: '2023-12-01' });
    expect(complete).to.equal(true);
    expect(text).to.include('infleeted_cars_volumes: 11 cars registered on 3 days, 2023-12-01 .. 2023-12-03');
    expect(text).to.match(/2023-12-02\s+7/);
    expect(text).to.include('defleeted_cars_volumes: 2 cars deregistered on 1 day, 2024-03-05 .. 2024-03-05');
    expect(text).to.include('cars_deliveries: 7 deliveries on 2 days in 2 cities');
    expect(text).to.match(/Berlin\s+5\n\s+Köln\s+2/);
    // type_share shows the asked month, biggest brand first, shares with six decimals at most.
    expect(text).to.include('biggest brands in 2023-12-01');
    expect(text).to.match(/2023-12-01\s+BMW\s+1\s+2\s+0\.333333\s+0\.666667/);
    expect(text).to.not.match(/Tesla/);
    expect(text).to.match(/six\s+2\s+8\n\s+twelve\s+5\s+11/);
  });

  it('names a missing mart and reports the summary incomplete', async function () {
    const file = path.join(tmp.dir, 'warehouse.db');
    await warehouse(file, false);
    const { text, complete } = await summariseMarts(file, { month: '2023-12-01' });
    expect(complete).to.equal(false);
    expect(text).to.include('type_distribution: MISSING');
  });

  it('counts raw rows and rejects of the tables that exist', async function () {
    const file = path.join(tmp.dir, 'warehouse.db');
    await warehouse(file);
    expect(await summariseRaw(file)).to.equal('cars 2, rejects 0');
  });

  it('aligns text columns left and number columns right', function () {
    const t = textTable([{ city: 'Berlin', n: 5 }, { city: 'Ulm', n: 12 }], ['city', 'n'], '');
    expect(t.split('\n')).to.deep.equal(['city     n', '------  --', 'Berlin   5', 'Ulm     12']);
  });
});
