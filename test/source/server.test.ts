import { expect } from 'chai';
import path from 'node:path';
import { generateRows } from '../../source/generator.js';
import { batchJson } from '../../source/batchJson.js';
import { GeneratedRowSource, jsonPageQuery, pageQuery, SqliteRowSource } from '../../source/rowSource.js';
import { startSourceServer, type SourceServer } from '../../source/server.js';
import { SourceFileError } from '../../source/SourceFileError.js';
import { useTmpDir } from '../helpers/tmp.js';
import { execFile, queryFile } from '../helpers/sqliteFile.js';

const sizes = { cars: 57, customers: 23, subscriptions: 101 };

async function getJson(url: string): Promise<{ status: number; body: unknown }> {
  const res = await fetch(url);
  return { status: res.status, body: await res.json() };
}

async function allPages(base: string, entity: string, limit: number): Promise<{ rows: unknown[]; pages: number }> {
  const rows: unknown[] = [];
  let cursor: string | null = null;
  let pages = 0;
  do {
    const { body } = await getJson(`${base}/v1/${entity}?limit=${limit}${cursor ? `&cursor=${cursor}` : ''}`);
    const page = body as { data: unknown[]; next_cursor: string | null };
    rows.push(...page.data);
    cursor = page.next_cursor;
    pages++;
  } while (cursor);
  return { rows, pages };
}

/** The original source schema (as ../shared/data/source.db), with two rows each. */
async function makeSourceDb(file: string): Promise<void> {
  await execFile(file, `
    CREATE TABLE cars (id VARCHAR(36) NOT NULL, vin VARCHAR, brand VARCHAR, model VARCHAR, engine_type VARCHAR(8), license_plate VARCHAR, registration_date DATETIME, deregistration_date DATETIME, PRIMARY KEY (id));
    CREATE TABLE customers (id VARCHAR(36) NOT NULL, first_name VARCHAR, second_name VARCHAR, type VARCHAR(3), company_name VARCHAR, address_city VARCHAR, address_zip VARCHAR, address_street VARCHAR, address_street_house VARCHAR, PRIMARY KEY (id));
    CREATE TABLE subscriptions (id VARCHAR(36) NOT NULL, customer_id VARCHAR(36), car_id VARCHAR(36), created_at DATETIME, start_date DATETIME, term_month VARCHAR(6), monthly_rate FLOAT, PRIMARY KEY (id));
    INSERT INTO cars VALUES ('b-car', 'VIN2', 'BMW', 'i3', 'electric', 'EUAB1234', '2023-07-14 22:25:12.055285', '2024-02-22 22:09:13.513788');
    INSERT INTO cars VALUES ('a-car', 'VIN1', 'Tesla', 'Model S', 'electric', 'EUXN6786', '2023-10-21 23:17:35.945166', NULL);
    INSERT INTO customers VALUES ('c1', NULL, NULL, 'b2b', 'Gerlach GmbH & Co. KGaA', 'Böblingen', '19465', 'Schmidtkering', '1/6');
    INSERT INTO customers VALUES ('c2', 'Roland', 'Thanel', 'b2c', NULL, 'Rehau', '30120', 'Wolf-Eberth-Ring', '5');
    INSERT INTO subscriptions VALUES ('s1', 'c1', 'a-car', '2023-12-10 00:05:14.393870', '2023-12-27 00:05:14.393870', 'twelve', 450.0);
  `);
}

/** A dirty source: no key, no index on id, rows with a NULL and a repeated id, not in id order. */
async function makeDirtySourceDb(file: string): Promise<void> {
  await execFile(file, `
    CREATE TABLE cars (id VARCHAR(36), vin VARCHAR, brand VARCHAR, model VARCHAR, engine_type VARCHAR(8), license_plate VARCHAR, registration_date DATETIME, deregistration_date DATETIME);
    CREATE TABLE customers (id VARCHAR(36), first_name VARCHAR, second_name VARCHAR, type VARCHAR(3), company_name VARCHAR, address_city VARCHAR, address_zip VARCHAR, address_street VARCHAR, address_street_house VARCHAR);
    CREATE TABLE subscriptions (id VARCHAR(36), customer_id VARCHAR(36), car_id VARCHAR(36), created_at DATETIME, start_date DATETIME, term_month VARCHAR(6), monthly_rate FLOAT);
    INSERT INTO cars (id, brand) VALUES ('b', 'first'), (NULL, 'null id'), ('a', 'third'), ('b', 'repeated id'), ('c', 'last');
  `);
}

describe('source service', () => {
  let server: SourceServer | undefined;
  const tmp = useTmpDir('ingest-source-', {
    beforeRemove: async () => {
      await server?.close();
      server = undefined;
    },
  });

  it('serves the same rows on the unpaged route and through every page of the paged route', async () => {
    server = await startSourceServer({ generate: { sizes, seed: 11 } });
    for (const entity of ['cars', 'customers', 'subscriptions'] as const) {
      const unpaged = await getJson(`${server.url}/${entity}/`);
      expect(unpaged.status).to.equal(200);
      const paged = await allPages(server.url, entity, 10);
      expect(paged.rows).to.deep.equal(unpaged.body);
      expect(unpaged.body).to.deep.equal([...generateRows(entity, sizes, 11)]);
      expect(paged.pages).to.equal(Math.floor(sizes[entity] / 10) + 1);
    }
  });

  it('serves a SQLite file in the original schema with ISO datetimes and numbers', async () => {
    const file = path.join(tmp.dir, 'source.db');
    await makeSourceDb(file);
    server = await startSourceServer({ source: await SqliteRowSource.open(file) });
    const cars = (await getJson(`${server.url}/cars/`)).body as Record<string, unknown>[];
    // The file's own order (rowid), not id order.
    expect(cars.map((c) => c.id)).to.deep.equal(['b-car', 'a-car']);
    expect(cars[1]).to.deep.equal({
      id: 'a-car', vin: 'VIN1', brand: 'Tesla', model: 'Model S', engine_type: 'electric', license_plate: 'EUXN6786',
      registration_date: '2023-10-21T23:17:35.945166', deregistration_date: null,
    });
    const subs = (await getJson(`${server.url}/subscriptions/`)).body as Record<string, unknown>[];
    expect(subs[0].monthly_rate).to.equal(450);
    expect(subs[0].start_date).to.equal('2023-12-27T00:05:14.393870');
    const page1 = (await getJson(`${server.url}/v1/customers?limit=1`)).body as { data: { id: string }[]; next_cursor: string };
    expect(page1.data.map((c) => c.id)).to.deep.equal(['c1']);
    const page2 = (await getJson(`${server.url}/v1/customers?limit=1&cursor=${page1.next_cursor}`)).body as { data: { id: string }[]; next_cursor: string };
    expect(page2.data.map((c) => c.id)).to.deep.equal(['c2']);
    const page3 = (await getJson(`${server.url}/v1/customers?limit=1&cursor=${page2.next_cursor}`)).body;
    expect(page3).to.deep.equal({ data: [], next_cursor: null });
  });

  it('serves every row of a SQLite file as it is, a NULL or a repeated id included, on every page size', async () => {
    const file = path.join(tmp.dir, 'dirty.db');
    await makeDirtySourceDb(file);
    server = await startSourceServer({ source: await SqliteRowSource.open(file) });
    const unpaged = (await getJson(`${server.url}/cars/`)).body as Record<string, unknown>[];
    expect(unpaged.map((c) => [c.id, c.brand])).to.deep.equal([['b', 'first'], [null, 'null id'], ['a', 'third'], ['b', 'repeated id'], ['c', 'last']]);
    for (const limit of [1, 2, 3, 5]) expect((await allPages(server.url, 'cars', limit)).rows, `limit ${limit}`).to.deep.equal(unpaged);
  });

  it('serves text of a SQLite file that is not UTF-8 as its bytes, and a U+FFFD stored as such as it is', async () => {
    const file = path.join(tmp.dir, 'dirty.db');
    await makeDirtySourceDb(file);
    // 'T', a byte no UTF-8 text has, a quote and a backslash (escaped in JSON), 's'.
    await execFile(file, `INSERT INTO cars (id, brand, model) VALUES ('bad', CAST(X'54FF225C73' AS TEXT), 'M\uFFFD')`);
    server = await startSourceServer({ source: await SqliteRowSource.open(file) });
    const expected = Buffer.concat([Buffer.from('"brand":"T'), Buffer.from([0xff]), Buffer.from('\\"\\\\s","model":"M\uFFFD"')]);
    for (const url of [`${server.url}/cars/`, `${server.url}/v1/cars?limit=2&cursor=${Buffer.from('4').toString('base64url')}`]) {
      const body = Buffer.from(await (await fetch(url)).arrayBuffer());
      expect(body.includes(expected), url).to.equal(true);
      // Everything but that byte is the JSON the service always sends.
      const rows = JSON.parse(body.toString('utf8')) as unknown;
      const bad = (Array.isArray(rows) ? rows : (rows as { data: unknown[] }).data).find((r) => (r as { id: string }).id === 'bad');
      expect(bad).to.include({ brand: 'T\uFFFD"\\s', model: 'M\uFFFD' });
    }
  });

  it('pages a SQLite file by rowid: a search on the table itself, not a scan and sort per page', async () => {
    const file = path.join(tmp.dir, 'dirty.db');
    await makeDirtySourceDb(file);
    for (const entity of ['cars', 'customers', 'subscriptions'] as const) {
      for (const resume of [false, true]) {
        const params = resume ? [3, 500] : [500];
        const plan = (await queryFile<{ detail: string }>(file, `EXPLAIN QUERY PLAN ${pageQuery(entity, resume)}`, params)).map((p) => p.detail);
        // Without an index on id, paging by id read and sorted the whole table for every page.
        expect(plan.join('; '), `${entity}, resume ${resume}`).to.not.match(/TEMP B-TREE/);
        if (resume) expect(plan, entity).to.deep.equal([`SEARCH ${entity} USING INTEGER PRIMARY KEY (rowid>?)`]);
        const json = (await queryFile<{ detail: string }>(file, `EXPLAIN QUERY PLAN ${jsonPageQuery(entity, resume)}`, params)).map((p) => p.detail);
        expect(json.join('; '), `JSON of ${entity}, resume ${resume}`).to.not.match(/TEMP B-TREE/);
        // group_concat takes the rows in the page's order because the page runs as a co-routine.
        expect(json, entity).to.include('CO-ROUTINE (subquery-1)');
        if (resume) expect(json, entity).to.include(`SEARCH ${entity} USING INTEGER PRIMARY KEY (rowid>?)`);
      }
    }
  });

  it('serves the values SQLite renders as JSON as its row objects give them: doubles exactly, datetimes with T, a BLOB through the objects', async () => {
    const file = path.join(tmp.dir, 'source.db');
    await makeSourceDb(file);
    // Doubles SQLite's 15 digits or its own conversions would not give back exactly, a REAL past 2^53,
    // text in a numeric column, and BLOBs: one that is valid JSONB (SQLite would read X'02' as false).
    await execFile(file, `
      INSERT INTO subscriptions VALUES ('s2', 'c2', 'b-car', '2023-12-10', 1700000000, 'six', 0.1 + 0.2), ('s3', 'c2', 'b-car', NULL, '2024-01-01 00:00:00', 'six', 1.0 / 3),
        ('s4', NULL, NULL, 17.5, 'soon', 'twelve', 1e20), ('s5', 'c1', 'a-car', '2023-12-10 00:05:14.393870', NULL, 'six', 1e300 * 1e10),
        ('s6', 'c1', 'a-car', NULL, NULL, 'six', 'four hundred'), ('s7', 'c1', 'a-car', NULL, NULL, 'six', 123456789012345678),
        ('s8', 'c1', 'a-car', NULL, NULL, 'six', 118225023142009010.0), ('s9', 'c1', 'a-car', NULL, NULL, 'six', -4.6661423384550595e-53);
      INSERT INTO cars (id, brand) VALUES ('c-car', X'00FF'), ('d-car', 'after the BLOB'), ('e-car', X'02');
    `);
    const source = await SqliteRowSource.open(file);
    server = await startSourceServer({ source });
    for (const entity of ['cars', 'subscriptions'] as const) {
      // What the row objects give: the service's rows before SQLite rendered them.
      const objects: unknown[] = [];
      for await (const batch of source.batches(entity, undefined, 100)) objects.push(...(JSON.parse(`[${batchJson(batch.rows, batch.raw ?? false).toString()}]`) as unknown[]));
      const unpaged = (await getJson(`${server.url}/${entity}/`)).body;
      expect(unpaged, entity).to.deep.equal(objects);
      for (const limit of [1, 2]) expect((await allPages(server.url, entity, limit)).rows, `${entity} in pages of ${limit}`).to.deep.equal(objects);
    }
    // A page of REALs SQLite gives back exactly is SQLite's JSON, a whole one written as the row objects
    // write it (450, not SQLite's 450.0): a row's bytes do not depend on the way its page went.
    expect(await (await fetch(`${server.url}/v1/subscriptions?limit=1`)).text()).to.include('"monthly_rate":450}');
    const subs = (await getJson(`${server.url}/subscriptions/`)).body as Record<string, unknown>[];
    expect(subs.map((s) => [s.created_at, s.start_date])).to.deep.equal([
      ['2023-12-10T00:05:14.393870', '2023-12-27T00:05:14.393870'], ['2023-12-10', 1700000000], [null, '2024-01-01T00:00:00'],
      [17.5, 'soon'], ['2023-12-10T00:05:14.393870', null], [null, null], [null, null], [null, null], [null, null],
    ]);
    expect(subs.map((s) => s.monthly_rate)).to.deep.equal([450, 0.1 + 0.2, 1 / 3, 1e20, null, 'four hundred', 123456789012345680, 118225023142009010, -4.6661423384550595e-53]);
    const cars = (await getJson(`${server.url}/cars/`)).body as Record<string, unknown>[];
    expect(cars.find((c) => c.id === 'e-car')?.brand).to.deep.equal({ type: 'Buffer', data: [2] });
    // Malformed rows need the objects: with the faults on, the rows are no longer SQLite's JSON.
    server.faults.malformedRate = 1;
    expect((await getJson(`${server.url}/subscriptions/`)).body).to.not.deep.equal(subs);
  });

  it('refuses a file without one of the tables, or with one it cannot page by rowid, naming the table', async () => {
    const missing = path.join(tmp.dir, 'missing.db');
    await execFile(missing, 'CREATE TABLE cars (id TEXT)');
    const error = await SqliteRowSource.open(missing).then(() => undefined, (e: Error) => e);
    expect(error).to.be.instanceOf(SourceFileError).and.include({ name: 'SourceFileError', file: missing, table: 'customers' });
    expect(error?.message).to.equal(`'${missing}': table 'customers' is missing: not a source database`);
    const noRowid = path.join(tmp.dir, 'no-rowid.db');
    await makeSourceDb(noRowid);
    await execFile(noRowid, 'DROP TABLE subscriptions; CREATE TABLE subscriptions (id TEXT PRIMARY KEY) WITHOUT ROWID');
    const paged = await SqliteRowSource.open(noRowid).then(() => undefined, (e: Error) => e);
    expect(paged?.message).to.equal(`'${noRowid}': table 'subscriptions' has no rowid (WITHOUT ROWID): the source pages by rowid`);
  });

  it('answers 400 for a bad limit or cursor, 404 for an unknown route', async () => {
    server = await startSourceServer({ source: new GeneratedRowSource(sizes, 1) });
    expect((await getJson(`${server.url}/v1/cars?limit=0`)).status).to.equal(400);
    expect((await getJson(`${server.url}/v1/cars?limit=abc`)).status).to.equal(400);
    expect((await getJson(`${server.url}/v1/cars?cursor=${Buffer.from('nope').toString('base64url')}`)).status).to.equal(400);
    expect((await getJson(`${server.url}/trucks/`)).status).to.equal(404);
  });

  it('serves /healthz and an OpenAPI 3 document naming every route', async () => {
    server = await startSourceServer({ source: new GeneratedRowSource(sizes, 1) });
    expect(await getJson(`${server.url}/healthz`)).to.deep.equal({ status: 200, body: { status: 'ok' } });
    const doc = (await getJson(`${server.url}/openapi.json`)).body as { openapi: string; paths: Record<string, unknown> };
    expect(doc.openapi).to.match(/^3\./);
    for (const p of ['/cars/', '/customers/', '/subscriptions/', '/v1/cars', '/v1/customers', '/v1/subscriptions', '/healthz']) {
      expect(doc.paths).to.have.property(p);
    }
  });

  it('injects failures for the first N requests, then answers', async () => {
    server = await startSourceServer({ source: new GeneratedRowSource(sizes, 1), faults: { failFirst: 2, failStatus: 503, retryAfterS: 3 } });
    const r1 = await fetch(`${server.url}/cars/`);
    expect(r1.status).to.equal(503);
    expect(r1.headers.get('retry-after')).to.equal('3');
    expect((await fetch(`${server.url}/cars/`)).status).to.equal(503);
    expect((await fetch(`${server.url}/cars/`)).status).to.equal(200);
    expect(server.dataRequests()).to.equal(3);
  });

  it('serves a stable share of rows malformed', async () => {
    const big = { cars: 2000, customers: 1, subscriptions: 0 };
    server = await startSourceServer({ source: new GeneratedRowSource(big, 1), faults: { malformedRate: 0.05 } });
    const clean = [...generateRows('cars', big, 1)];
    const a = (await getJson(`${server.url}/cars/`)).body as Record<string, unknown>[];
    const b = (await getJson(`${server.url}/cars/`)).body as Record<string, unknown>[];
    expect(a).to.deep.equal(b);
    const broken = a.filter((r, i) => JSON.stringify(r) !== JSON.stringify(clean[i]));
    expect(broken.length).to.be.within(50, 150);
  });

  it('streams a large unpaged body in chunks rather than as one sized buffer', async () => {
    const large = { cars: 50_000, customers: 1, subscriptions: 0 };
    server = await startSourceServer({ source: new GeneratedRowSource(large, 1) });
    const res = await fetch(`${server.url}/cars/`);
    const reader = res.body!.getReader();
    let bytes = 0;
    for (;;) {
      const { done, value } = await reader.read();
      if (done) break;
      bytes += value.length;
    }
    expect(res.headers.get('content-length')).to.equal(null);
    expect(bytes).to.be.greaterThan(50_000 * 200);
  });
});
