import { expect } from 'chai';
import http from 'node:http';
import type { AddressInfo } from 'node:net';
import { mkdirSync } from 'node:fs';
import path from 'node:path';
import { extractTask } from '../../operators/extract/extractTask.js';
import { resetBreakers } from '../../operators/extract/breakers.js';
import { hashDiff, hashKey, personalHashDiff } from '../../operators/load/hashing.js';
import { loadTask } from '../../operators/load/loadTask.js';
import { PlainPartitionPreparer } from '../../operators/load/PlainPartitionPreparer.js';
import { RowCountMismatchError } from '../../operators/load/RowCountMismatchError.js';
import { closeSharedPrepareWorkerPool } from '../../operators/load/fast/PrepareWorkerPool.js';
import { isIsoDateTime } from '../../operators/load/validation.js';
import { closeWarehouses, settleWarehouses } from '../../operators/warehouse/registry.js';
import { NonRetryableError } from '../../scheduler/errors/NonRetryableError.js';
import type { Settings } from '../../scheduler/settings.js';
import { generateRows } from '../../source/generator.js';
import { GeneratedRowSource, SqliteRowSource } from '../../source/rowSource.js';
import { startSourceServer } from '../../source/server.js';
import { execFile, queryFile, rowsInFileAlone } from '../helpers/sqliteFile.js';
import { testTaskContext } from '../helpers/taskContext.js';
import { testSettings, useTmpDir } from '../helpers/tmp.js';
import { DS, writeLake } from './lakeLoad.js';

const query = <T extends object = Record<string, unknown>>(file: string, sql: string, params: unknown[] = []) => queryFile<T>(file, sql, params);

const car = (id: unknown, extra: Record<string, unknown> = {}) => ({
  id, vin: 'V1', brand: 'Tesla', model: 'Model 3', engine_type: 'electric', license_plate: 'B-AB 1',
  registration_date: '2023-05-01T10:00:00.123456', deregistration_date: null, ...extra,
});

describe('load operator', () => {
  const tmp = useTmpDir('ingest-load-', { beforeRemove: closeWarehouses });
  let settings: Settings;
  beforeEach(() => {
    settings = testSettings(tmp.dir, { DRIVETRAIN_LOAD_MAX_REJECT_SHARE: '1', DRIVETRAIN_LOAD_BATCH_ROWS: '7' });
  });

  it('loads valid rows with processing_date and vault hashes, values as received', async () => {
    const rows = [car('c1'), car(' c2 ', { deregistration_date: '2024-03-01 08:00:00', brand: 'BMW' })];
    await writeLake(settings, 'cars', rows);
    const result = await loadTask({ entity: 'cars' })(testTaskContext(settings, { ds: DS }));
    expect(result).to.deep.equal({ entity: 'cars', ds: DS, fetched: 2, loaded: 2, rejected: 0 });
    const loaded = await query(settings.warehouseDb, 'SELECT * FROM cars ORDER BY rowid');
    expect(loaded[1]).to.deep.equal({
      ...rows[1], processing_date: DS, hk_car: hashKey('c2'), hashdiff: hashDiff('cars', rows[1]), lake_line: 1,
    });
    expect(loaded[0].hk_car).to.equal(hashKey('C1'));
  });

  it('has its rows in the database file itself once the background WAL checkpoint is done', async () => {
    await writeLake(settings, 'cars', Array.from({ length: 50 }, (_, i) => car(`c${i}`)));
    await loadTask({ entity: 'cars' })(testTaskContext(settings, { ds: DS }));
    // Committed and readable at once (from the WAL); in the file itself once the checkpoint is done.
    expect(await query(settings.warehouseDb, 'SELECT count(*) AS n FROM cars')).to.deep.equal([{ n: 50 }]);
    await settleWarehouses();
    expect(await rowsInFileAlone(settings.warehouseDb, 'cars')).to.equal(50);
  });

  it('sends malformed rows to rejects with a one-line reason naming the field and value', async () => {
    const lines = [
      car('ok1'),
      car('', {}),
      car(undefined),
      car('e1', { engine_type: 'steam' }),
      car('d1', { registration_date: '2023-02-30T00:00:00' }),
      car('t1', { brand: 42 }),
      car('ok1', { brand: 'Dup' }),
      'not json at all',
    ];
    await writeLake(settings, 'cars', lines);
    const result = (await loadTask({ entity: 'cars' })(testTaskContext(settings, { ds: DS }))) as { loaded: number; rejected: number };
    expect(result).to.include({ loaded: 1, rejected: 7 });
    const rejects = await query<{ source: string; processing_date: string; raw_json: string; reason: string }>(
      settings.warehouseDb, 'SELECT * FROM rejects ORDER BY rowid');
    expect(rejects.map((r) => r.reason)).to.deep.equal([
      'id: is empty (value "")',
      'id: is missing',
      'engine_type: is not one of electric|hybrid|gasoline|diesel (value "steam")',
      'registration_date: is not an ISO 8601 date or date-time (value "2023-02-30T00:00:00")',
      'brand: must be a string or null (value 42)',
      'row: not valid JSON',
      // Duplicates are confirmed after the partition is read, so they come last.
      'id: duplicate within the partition (value "ok1")',
    ]);
    expect(rejects.every((r) => r.source === 'cars' && r.processing_date === DS)).to.equal(true);
    expect(JSON.parse(rejects[2].raw_json)).to.deep.equal(lines[3]);
    expect(rejects[5].raw_json).to.equal('not json at all');
    expect(JSON.parse(rejects[6].raw_json)).to.deep.equal(lines[6]);
    expect(await query(settings.warehouseDb, 'SELECT id, brand FROM cars')).to.deep.equal([{ id: 'ok1', brand: 'Tesla' }]);
  });

  it('words a reject of a personal field or of a row that is no object without quoting the value', async () => {
    const customer = { id: 'u1', first_name: 'Ada', second_name: 'Lovelace', type: 'b2c', company_name: null, address_city: 'Berlin', address_zip: '10115', address_street: 'Ravenstr', address_street_house: '1' };
    await writeLake(settings, 'customers', [
      customer,
      { ...customer, id: 'u2', second_name: ['Secretname'] },
      { ...customer, id: 'u3', address_street: 12345 },
      ['u4', 'Secretname', 'Ravenstr'],
      JSON.stringify('Secretname'),
      { ...customer, id: 'u5', type: 'person' },
    ]);
    await loadTask({ entity: 'customers' })(testTaskContext(settings, { ds: DS }));
    const reasons = (await query<{ reason: string }>(settings.warehouseDb, 'SELECT reason FROM rejects ORDER BY rowid')).map((r) => r.reason);
    expect(reasons).to.deep.equal([
      'second_name: must be a string or null (an array; personal data, not shown)',
      'address_street: must be a string or null (a number; personal data, not shown)',
      'row: not a JSON object (an array)',
      'row: not a JSON object (a string)',
      'type: is not one of b2b|b2c (value "person")',
    ]);
  });

  it('keeps the first of many rows with the same id and rejects the others, across batches', async () => {
    const rows = Array.from({ length: 60 }, (_, i) => car(`id-${i % 20}`, { vin: `V${i}` }));
    await writeLake(settings, 'cars', rows);
    const r = (await loadTask({ entity: 'cars' })(testTaskContext(settings, { ds: DS }))) as { loaded: number; rejected: number };
    expect(r).to.include({ loaded: 20, rejected: 40 });
    const kept = await query<{ vin: string }>(settings.warehouseDb, 'SELECT vin FROM cars ORDER BY CAST(substr(vin, 2) AS INTEGER)');
    expect(kept.map((k) => k.vin)).to.deep.equal(Array.from({ length: 20 }, (_, i) => `V${i}`));
  });

  it('validates subscriptions: terms, numeric rates and dates', async () => {
    const sub = { id: 's', customer_id: 'c', car_id: 'k', created_at: '2023-01-01T00:00:00', start_date: '2023-01-10', term_month: 'six', monthly_rate: 450 };
    await writeLake(settings, 'subscriptions', [
      sub,
      { ...sub, id: 's2', term_month: 'eighteen' },
      { ...sub, id: 's3', monthly_rate: '450' },
      { ...sub, id: 's4', customer_id: null },
    ]);
    await loadTask({ entity: 'subscriptions' })(testTaskContext(settings, { ds: DS }));
    const reasons = (await query<{ reason: string }>(settings.warehouseDb, 'SELECT reason FROM rejects ORDER BY rowid')).map((r) => r.reason);
    expect(reasons).to.deep.equal([
      'term_month: is not one of six|twelve (value "eighteen")',
      'monthly_rate: must be a number (value "450")',
      'customer_id: must be a string (value null)',
    ]);
    const [row] = await query<Record<string, unknown>>(settings.warehouseDb, 'SELECT * FROM subscriptions');
    expect(row.monthly_rate).to.equal(450);
    expect(row.hk_subscription_link).to.equal(hashKey('s', 'c', 'k'));
  });

  it('accepts the ISO 8601 shapes the contract allows and refuses the rest', () => {
    for (const ok of ['2023-10-21', '2023-10-21T23:17:35.945166', '2023-10-21 23:17:35', '2023-10-21T23:17Z', '2023-10-21T23:17:35+02:00', '2024-02-29']) {
      expect(isIsoDateTime(ok), ok).to.equal(true);
    }
    for (const bad of ['2023-02-29', '2023-13-01', '21.10.2023', '2023-10-21T25:00:00', 'yesterday', '2023-10-21T']) {
      expect(isIsoDateTime(bad), bad).to.equal(false);
    }
  });

  it('keeps the books: rows fetched from the source = rows loaded + rows rejected', async () => {
    const sizes = { cars: 300, customers: 150, subscriptions: 300 };
    const server = await startSourceServer({ source: new GeneratedRowSource(sizes, 4), faults: { malformedRate: 0.05 } });
    try {
      const s = testSettings(tmp.dir, { DRIVETRAIN_SOURCE_URL: server.url, DRIVETRAIN_SOURCE_PAGE_SIZE: '64', DRIVETRAIN_LOAD_MAX_REJECT_SHARE: '0.5' });
      for (const entity of ['cars', 'customers', 'subscriptions'] as const) {
        const ctx = testTaskContext(s, { ds: DS });
        await extractTask({ entity })(ctx);
        const r = (await loadTask({ entity })(ctx)) as { fetched: number; loaded: number; rejected: number };
        expect(r.fetched).to.equal(sizes[entity]);
        expect(r.rejected).to.be.greaterThan(0);
        const [{ n }] = await query<{ n: number }>(s.warehouseDb, `SELECT count(*) n FROM ${entity} WHERE processing_date = ?`, [DS]);
        const [{ m }] = await query<{ m: number }>(s.warehouseDb, 'SELECT count(*) m FROM rejects WHERE source = ? AND processing_date = ?', [entity, DS]);
        expect(n + m).to.equal(sizes[entity]);
        expect([n, m]).to.deep.equal([r.loaded, r.rejected]);
        const books = `loaded ${entity} for ${DS}: fetched ${r.fetched} = loaded ${r.loaded} + rejected ${r.rejected} (`;
        expect(ctx.log.messages().filter((m) => m.startsWith(books)), books).to.have.length(1);
        expect(ctx.log.messages().find((m) => m.startsWith(books))).to.match(/ \(waited \d+ ms for the writer, wrote in \d+ ms\)$/);
      }
    } finally {
      await server.close();
      resetBreakers();
    }
  });

  it('takes a source file\'s rows with a NULL or repeated id or bytes that are not UTF-8 through extract and load into rejects, each with its reason', async () => {
    // A real source's table: no key, so a NULL id and a repeated id, as the original ETL filtered them.
    const file = path.join(tmp.dir, 'source.db');
    const values = (id: string) => `${id}, 'V1', 'Tesla', 'Model 3', 'electric', 'B-AB 1', '2023-05-01 10:00:00.123456', NULL`;
    await execFile(file, `
      CREATE TABLE cars (id VARCHAR(36), vin VARCHAR, brand VARCHAR, model VARCHAR, engine_type VARCHAR(8), license_plate VARCHAR, registration_date DATETIME, deregistration_date DATETIME);
      CREATE TABLE customers (id VARCHAR(36), first_name VARCHAR, second_name VARCHAR, type VARCHAR(3), company_name VARCHAR, address_city VARCHAR, address_zip VARCHAR, address_street VARCHAR, address_street_house VARCHAR);
      CREATE TABLE subscriptions (id VARCHAR(36), customer_id VARCHAR(36), car_id VARCHAR(36), created_at DATETIME, start_date DATETIME, term_month VARCHAR(6), monthly_rate FLOAT);
      INSERT INTO cars VALUES (${values("'k2'")}), (${values('NULL')}), (${values("'k1'")}), (${values("'k2'")}), (${values("'k3'")});
      INSERT INTO cars VALUES (${values("'k4'").replace("'Tesla'", "CAST(X'54FF73' AS TEXT)")});
    `);
    const server = await startSourceServer({ source: await SqliteRowSource.open(file) });
    try {
      const s = testSettings(tmp.dir, { DRIVETRAIN_SOURCE_URL: server.url, DRIVETRAIN_SOURCE_PAGE_SIZE: '2', DRIVETRAIN_LOAD_MAX_REJECT_SHARE: '0.5' });
      const ctx = testTaskContext(s, { ds: DS });
      await extractTask({ entity: 'cars' })(ctx);
      expect(await loadTask({ entity: 'cars' })(ctx)).to.deep.equal({ entity: 'cars', ds: DS, fetched: 6, loaded: 3, rejected: 3 });
      expect(await query(s.warehouseDb, 'SELECT id FROM cars ORDER BY id')).to.deep.equal([{ id: 'k1' }, { id: 'k2' }, { id: 'k3' }]);
      const rejects = await query<{ raw_json: string; reason: string }>(s.warehouseDb, 'SELECT raw_json, reason FROM rejects WHERE source = ? ORDER BY reason', ['cars']);
      expect(rejects.map((r) => [JSON.parse(r.raw_json).id, r.reason])).to.deep.equal([
        ['k2', 'id: duplicate within the partition (value "k2")'],
        [null, 'id: must be a string (value null)'],
        ['k4', 'row: not valid UTF-8 (byte 0xff at byte 32 of the row)'],
      ]);
    } finally {
      await server.close();
      resetBreakers();
    }
  });

  it('rejects a row whose bytes are not UTF-8, naming the byte, on every preparer, and keeps a U+FFFD the source sent', async () => {
    /** A car row's JSON bytes with `brand` as its brand's bytes, whatever they are. */
    const row = (id: string, brand: Buffer) => {
      const [before, after] = JSON.stringify(car(id, { brand: '@' })).split('@');
      return Buffer.concat([Buffer.from(before), brand, Buffer.from(after)]);
    };
    const body = Buffer.concat([
      Buffer.from('{"data":['),
      row('u1', Buffer.from('Tesla')), Buffer.from(','),
      row('u2', Buffer.from([0x54, 0xff, 0x73])), Buffer.from(','), // a byte no UTF-8 text has
      row('u3', Buffer.from('T\uFFFDs', 'utf8')), Buffer.from(','), // the replacement character itself, validly encoded
      row('u4', Buffer.from([0xc0, 0xaf])), // an overlong '/'
      Buffer.from('],"next_cursor":null}'),
    ]);
    const server = http.createServer((_req, res) => void res.writeHead(200, { 'content-type': 'application/json' }).end(body));
    await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
    try {
      const url = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
      const s = (workers: string) => testSettings(tmp.dir, { DRIVETRAIN_SOURCE_URL: url, DRIVETRAIN_LOAD_MAX_REJECT_SHARE: '1', DRIVETRAIN_LOAD_PREPARE_WORKERS: workers });
      await extractTask({ entity: 'cars' })(testTaskContext(s('0'), { ds: DS }));
      for (const [name, workers, preparer] of [['fast', '0', undefined], ['fast with a worker', '1', undefined], ['plain', '0', new PlainPartitionPreparer(7)]] as const) {
        const result = await loadTask({ entity: 'cars', preparer })(testTaskContext(s(workers), { ds: DS }));
        expect(result, name).to.deep.equal({ entity: 'cars', ds: DS, fetched: 4, loaded: 2, rejected: 2 });
        expect(await query(settings.warehouseDb, 'SELECT id, brand FROM cars ORDER BY id'), name).to.deep.equal([{ id: 'u1', brand: 'Tesla' }, { id: 'u3', brand: 'T\uFFFDs' }]);
        const rejects = await query<{ raw_json: string; reason: string }>(settings.warehouseDb, 'SELECT raw_json, reason FROM rejects ORDER BY raw_json');
        expect(rejects.map((r) => r.reason), name).to.deep.equal(['row: not valid UTF-8 (byte 0xff at byte 32 of the row)', 'row: not valid UTF-8 (byte 0xc0 at byte 31 of the row)']);
        expect(rejects[0].raw_json, name).to.contain('"id":"u2"');
      }
    } finally {
      await new Promise((resolve) => server.close(resolve));
      await closeSharedPrepareWorkerPool();
      resetBreakers();
    }
  });

  it('leaves the same rows when the same ds is loaded twice, and other days untouched', async () => {
    const rows = [...generateRows('customers', { cars: 1, customers: 50, subscriptions: 0 }, 8)];
    await writeLake(settings, 'customers', rows, '2024-01-14');
    await writeLake(settings, 'customers', [...rows, { ...rows[0], id: null }]);
    await loadTask({ entity: 'customers' })(testTaskContext(settings, { ds: '2024-01-14' }));
    await loadTask({ entity: 'customers' })(testTaskContext(settings, { ds: DS }));
    const snapshot = () => Promise.all([
      query(settings.warehouseDb, 'SELECT * FROM customers ORDER BY processing_date, id'),
      query(settings.warehouseDb, 'SELECT source, processing_date, raw_json, reason FROM rejects ORDER BY processing_date, raw_json'),
    ]);
    const once = await snapshot();
    await loadTask({ entity: 'customers' })(testTaskContext(settings, { ds: DS }));
    expect(await snapshot()).to.deep.equal(once);
    expect(once[0]).to.have.length(100);
    expect(once[1]).to.have.length(1);
  });

  it('commits rows and rejects, then fails non-retryably when rejects exceed the allowed share', async () => {
    const strict = testSettings(tmp.dir, { DRIVETRAIN_LOAD_MAX_REJECT_SHARE: '0.2' });
    await writeLake(strict, 'cars', [car('a'), car('b'), car('c', { engine_type: 'warp' })]);
    const err = await Promise.resolve(loadTask({ entity: 'cars' })(testTaskContext(strict, { ds: DS }))).then(() => undefined, (e: unknown) => e);
    expect(err).to.be.instanceOf(NonRetryableError);
    expect((err as Error).message).to.match(/1 of 3 rows rejected \(33\.33%\), more than the allowed 20\.00%/);
    expect(await query(strict.warehouseDb, 'SELECT id FROM cars ORDER BY id')).to.deep.equal([{ id: 'a' }, { id: 'b' }]);
    expect(await query(strict.warehouseDb, 'SELECT count(*) n FROM rejects')).to.deep.equal([{ n: 1 }]);
  });

  it('fails non-retryably as soon as repeated ids exceed the allowed share, leaving the partition as it was', async () => {
    const strict = testSettings(tmp.dir, { DRIVETRAIN_LOAD_MAX_REJECT_SHARE: '0.2', DRIVETRAIN_LOAD_BATCH_ROWS: '50' });
    await writeLake(strict, 'cars', [car('kept')]);
    await loadTask({ entity: 'cars' })(testTaskContext(strict, { ds: DS }));
    // Every page twice: 300 of 600 rows repeat an id, against 0.2 * 600 + 100 held aside at most.
    const page = Array.from({ length: 300 }, (_, i) => car(`id-${i}`));
    await writeLake(strict, 'cars', [...page, ...page]);
    const err = await Promise.resolve(loadTask({ entity: 'cars' })(testTaskContext(strict, { ds: DS }))).then(() => undefined, (e: unknown) => e);
    expect(err).to.be.instanceOf(NonRetryableError);
    expect((err as Error).message).to.equal(
      `load of cars for ${DS}: more than 220 rows repeat an id seen earlier in the partition, more than the allowed reject share: nothing is loaded; look for repeated pages in the lake partition`,
    );
    expect(await query(strict.warehouseDb, 'SELECT id FROM cars')).to.deep.equal([{ id: 'kept' }]);
  });

  it('checks the row count its extract reported against the lake partition before touching the warehouse', async () => {
    await writeLake(settings, 'cars', [car('kept')]);
    await loadTask({ entity: 'cars' })(testTaskContext(settings, { ds: DS }));
    await writeLake(settings, 'cars', [car('a'), car('b')]);
    const load = loadTask({ entity: 'cars', extractTask: 'extract_cars' });
    const upstream = (result: unknown) => testTaskContext(settings, { ds: DS, taskId: 'load_cars', upstream: { extract_cars: result } });
    const err = await Promise.resolve(load(upstream({ entity: 'cars', ds: DS, rows: 3 }))).then(() => undefined, (e: unknown) => e);
    expect(err).to.be.instanceOf(RowCountMismatchError).and.instanceOf(NonRetryableError);
    expect((err as Error).message).to.equal(`load of cars for ${DS}: extract 'extract_cars' reported 3 rows, the lake partition has 2; run the extract again`);
    const none = await Promise.resolve(load(upstream(undefined))).then(() => undefined, (e: unknown) => e);
    expect((none as Error).message).to.equal(`load of cars for ${DS}: extract 'extract_cars' reported no row count (its result: none); run the extract again`);
    // The partition loaded before is as it was.
    expect(await query(settings.warehouseDb, 'SELECT id FROM cars')).to.deep.equal([{ id: 'kept' }]);
    expect(await load(upstream({ entity: 'cars', ds: DS, rows: 2 }))).to.include({ fetched: 2, loaded: 2 });
    expect(await query(settings.warehouseDb, 'SELECT id FROM cars ORDER BY id')).to.deep.equal([{ id: 'a' }, { id: 'b' }]);
  });

  it('fails non-retryably without a complete lake partition, calling no source', async () => {
    const err = await Promise.resolve(loadTask({ entity: 'cars' })(testTaskContext(settings, { ds: DS }))).then(() => undefined, (e: unknown) => e);
    expect(err).to.be.instanceOf(NonRetryableError);
    expect((err as Error).message).to.match(/lake partition cars\/ds=2024-01-15 is missing or incomplete/);
  });

  it('creates the raw tables with processing_date indexes and no key but NOT NULL id and processing_date', async () => {
    await writeLake(settings, 'cars', [car('x')]);
    await loadTask({ entity: 'cars' })(testTaskContext(settings, { ds: DS }));
    const indexes = await query<{ tbl_name: string }>(settings.warehouseDb, "SELECT tbl_name FROM sqlite_master WHERE type = 'index' AND sql LIKE '%processing_date%'");
    expect(indexes.map((i) => i.tbl_name).sort()).to.include.members(['cars', 'customers', 'subscriptions', 'rejects']);
    const cols = await query<{ name: string; notnull: number; pk: number }>(settings.warehouseDb, 'PRAGMA table_info(subscriptions)');
    expect(cols.map((c) => c.name)).to.deep.equal([
      'id', 'customer_id', 'car_id', 'created_at', 'start_date', 'term_month', 'monthly_rate', 'processing_date',
      'hk_subscription', 'hk_customer', 'hk_car', 'hk_subscription_link', 'hashdiff', 'lake_line',
    ]);
    expect(cols.filter((c) => c.notnull).map((c) => c.name)).to.deep.equal(['id', 'processing_date']);
    expect(cols.some((c) => c.pk)).to.equal(false);
    expect(path.basename(settings.warehouseDb)).to.equal('warehouse.db');
  });

  it('adds the personal hashdiff to a customers table made before it, and fills it at the next load', async () => {
    mkdirSync(path.dirname(settings.warehouseDb), { recursive: true });
    await execFile(settings.warehouseDb, `CREATE TABLE customers (id TEXT NOT NULL, first_name TEXT, second_name TEXT, type TEXT, company_name TEXT,
      address_city TEXT, address_zip TEXT, address_street TEXT, address_street_house TEXT, processing_date TEXT NOT NULL, hk_customer TEXT, hashdiff TEXT)`);
    const customer = { id: 'u1', first_name: 'Ada', second_name: 'L', type: 'b2c', company_name: null, address_city: 'Berlin', address_zip: '10115', address_street: 'Str', address_street_house: '1' };
    await writeLake(settings, 'customers', [customer]);
    await loadTask({ entity: 'customers' })(testTaskContext(settings, { ds: DS }));
    expect(await query(settings.warehouseDb, 'SELECT hashdiff, hashdiff_pii FROM customers')).to.deep.equal([
      { hashdiff: hashDiff('customers', customer), hashdiff_pii: personalHashDiff('customers', customer) },
    ]);
  });
});
