import { expect } from 'chai';
import { mkdirSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { modelTaskSpecs } from '../../operators/sql/dagTasks.js';
import { selectionOf } from '../../dags/_pipeline.js';
import { sqliteDialect } from '../../operators/sql/dialect/sqlite.js';
import { ModelError } from '../../operators/sql/ModelError.js';
import { ModelRegistry } from '../../operators/sql/registry.js';
import { dataTestTask, modelTask } from '../../operators/sql/sqlTask.js';
import { parameterNames, toPlaceholders } from '../../operators/sql/template.js';
import { openWarehouse } from '../../operators/warehouse/registry.js';
import { NonRetryableError } from '../../scheduler/errors/NonRetryableError.js';
import { withDb } from '../helpers/sqliteFile.js';
import { RecordingLogger } from '../helpers/recordingLogger.js';
import { testTaskContext } from '../helpers/taskContext.js';
import { useTmpWarehouse } from '../helpers/tmp.js';
import { tableRows } from './fixtures.js';

function sqlDir(root: string, files: Record<string, string>): string {
  const dir = path.join(root, 'sql');
  for (const [name, text] of Object.entries(files)) {
    mkdirSync(path.dirname(path.join(dir, name)), { recursive: true });
    writeFileSync(path.join(dir, name), text);
  }
  return dir;
}

async function evaluate(sql: string): Promise<string> {
  const row = await withDb(':memory:', (db) => db.get<{ v: string }>(`SELECT ${sql} AS v`));
  return row!.v;
}

describe('SQL operator', function () {
  this.timeout(30_000);
  const tmp = useTmpWarehouse();

  it('keeps run values out of the SQL: models carry named parameters the driver binds', () => {
    const registry = ModelRegistry.load();
    const sql = registry.model('marts/infleeted_cars_volumes').statements[0];
    expect(parameterNames(sql)).to.deep.equal(['start_day']);
    expect(sql).not.to.match(/\d{4}-\d{2}-\d{2}/);
    expect(toPlaceholders(sql, sqliteDialect)).to.include('$start_day');
    expect(parameterNames("SELECT ':not_a_param', x FROM t WHERE d >= :start_day -- :nor_this")).to.deep.equal(['start_day']);
  });

  it('adds months clamped to the month end as PostgreSQL does, in the one dialect module', async () => {
    const cases: [string, number, string][] = [
      ['2023-08-31', 6, '2024-02-29'],
      ['2022-08-31', 6, '2023-02-28'],
      ['2023-03-31', 6, '2023-09-30'],
      ['2023-12-15', 12, '2024-12-15'],
      ['2024-02-29', 12, '2025-02-28'],
      ['2023-01-30', 1, '2023-02-28'],
    ];
    for (const [day, n, expected] of cases) {
      expect(await evaluate(sqliteDialect.addMonthsClamped(`'${day}'`, String(n))), `${day} + ${n} months`).to.equal(expected);
    }
    expect(await evaluate(sqliteDialect.day("'2023-03-31T23:30:00-02:00'"))).to.equal('2023-04-01');
  });

  it('rejects a bad model with one line naming it and quoting the bad part', () => {
    let n = 0;
    const bad = (files: Record<string, string>) => () => ModelRegistry.load(sqlDir(path.join(tmp.dir, String(n++)), files));
    expect(bad({ 'marts/a.sql': '-- materialized: sometimes\nSELECT 1' })).to.throw(ModelError, "model 'a': bad materialized 'sometimes'");
    expect(bad({ 'marts/a.sql': '-- materialized: view\nSELECT {{ nope(1) }}' })).to.throw(ModelError, "unknown macro 'nope'");
    expect(bad({ 'marts/a.sql': "-- materialized: view\nSELECT * FROM {{ ref('missing') }}" })).to.throw(ModelError, "'a' refs unknown model 'missing'");
    expect(bad({ 'marts/a.sql': '-- colour: blue\nSELECT 1' })).to.throw(ModelError, "unknown header key 'colour'");
    const partition = '-- materialized: partition\n-- partition_by: day\n-- partition_column: day\n-- columns: day TEXT\n';
    expect(bad({ 'marts/a.sql': `${partition}-- staged: yes\nSELECT 1 AS day` })).to.throw(ModelError, "model 'a': bad staged 'yes' (true or false)");
    expect(bad({ 'marts/a.sql': '-- materialized: table\n-- staged: true\nSELECT 1' })).to.throw(ModelError, "model 'a': staged is for partition models, not 'table'");
    const keyed = '-- materialized: keyed\n-- columns: k TEXT\n-- primary_key: k\n';
    expect(bad({ 'marts/a.sql': `${keyed}SELECT 1 AS k` })).to.throw(ModelError, "model 'a': a keyed model needs two SELECTs");
    expect(bad({ 'core/v.sql': '-- materialized: view\nSELECT 1 AS k', 'marts/a.sql': `${keyed}SELECT k FROM {{ ref('v') }}; SELECT k FROM {{ ref('v') }} WHERE k IN {{ loads('v') }}` }))
      .to.throw(ModelError, "model 'a': ':loads__v' must name an incremental model it refs, got 'v'");
  });

  it('a keyed model updates only the keys new loads touched, and is rebuilt whole when its SELECT changes', async () => {
    const settings = tmp.settings;
    const files = (label: string) => ({
      'core/items.sql':
        '-- materialized: incremental\n-- columns: k TEXT NOT NULL, v TEXT, load_date TEXT NOT NULL\n-- primary_key: k, load_date\n' +
        // creates the table; the test writes its rows (and their load-log lines) itself
        "INSERT INTO items (k, v, load_date) SELECT 'k', 'v', :load_date WHERE 0;",
      'core/latest.sql':
        '-- materialized: keyed\n-- columns: k TEXT NOT NULL, v TEXT\n-- primary_key: k\n' +
        `SELECT i.k, '${label}' || i.v AS v FROM {{ ref('items') }} i WHERE i.load_date = (SELECT max(x.load_date) FROM items x WHERE x.k = i.k);\n` +
        "SELECT k FROM {{ ref('items') }} WHERE load_date IN {{ loads('items') }}",
    });
    const run = async (label: string) => {
      const registry = ModelRegistry.load(sqlDir(path.join(tmp.dir, label), files(label)));
      for (const m of ['items', 'latest']) await modelTask(m, { registry })(testTaskContext(settings, { taskId: m, ds: '2024-01-01' }));
      return (await tableRows(settings.warehouseDb, 'latest')).map((r) => `${r.k}=${r.v}`);
    };
    // items is written here as a load would: rows, then its line in the load log
    const load = async (loadDate: string, rows: [string, string][]) => {
      const db = await openWarehouse(settings.warehouseDb);
      for (const [k, v] of rows) await db.run('INSERT INTO items (k, v, load_date) VALUES (?, ?, ?)', [k, v, loadDate]);
      await db.run('INSERT INTO _drivetrain_loads (model, load_date, inserted) VALUES (?, ?, ?)', ['items', loadDate, rows.length]);
    };
    expect(await run('a')).to.deep.equal([]);
    await load('1', [['x', '1'], ['y', '1']]);
    expect(await run('a')).to.deep.equal(['x=a1', 'y=a1']);
    // a row written behind the log's back is not seen: only logged loads' keys are re-derived
    const db = await openWarehouse(settings.warehouseDb);
    await db.run("INSERT INTO items (k, v, load_date) VALUES ('y', '2', '2')");
    await load('3', [['x', '3']]);
    expect(await run('a')).to.deep.equal(['x=a3', 'y=a1']);
    // a changed SELECT rebuilds the whole table from the vault
    expect(await run('b')).to.deep.equal(['x=b3', 'y=b2']);
  });

  it('fails a data-test task without retries, with the count and five sample rows in the attempt log; a warning only logs', async () => {
    const dir = sqlDir(tmp.dir, {
      'marts/numbers.sql': '-- materialized: table\n-- columns: n INTEGER\nWITH RECURSIVE c(n) AS (SELECT 1 UNION ALL SELECT n + 1 FROM c WHERE n < 7) SELECT n FROM c',
      'tests/no_numbers.sql': "SELECT n FROM {{ ref('numbers') }}",
      'tests/few_numbers.sql': "-- severity: warn\nSELECT n FROM {{ ref('numbers') }} WHERE n > 5",
    });
    const registry = ModelRegistry.load(dir);
    const settings = tmp.settings;
    await modelTask('numbers', { registry })(testTaskContext(settings, { taskId: 'numbers', ds: '2024-01-01' }));
    expect(await tableRows(settings.warehouseDb, 'numbers')).to.have.length(7);

    const log = new RecordingLogger();
    const warnOnly = await dataTestTask(['few_numbers'], { registry })(testTaskContext(settings, { ds: '2024-01-01', log }));
    expect(warnOnly).to.deep.equal({ passed: 0, warned: 1 });
    expect(log.lines.map((l) => l.level)).to.deep.equal(['warn']);

    const failLog = new RecordingLogger();
    const err = await Promise.resolve(dataTestTask(['no_numbers'], { registry })(testTaskContext(settings, { ds: '2024-01-01', log: failLog }))).then(
      () => undefined,
      (e: unknown) => e,
    );
    expect(err).to.be.instanceOf(NonRetryableError);
    expect((err as Error).message).to.equal('1 data test(s) failed: no_numbers (7 rows)');
    const [line] = failLog.at('error');
    expect(line.message).to.include('7 offending row(s)');
    expect(line.meta?.samples).to.have.length(5);
  });

  it('a relationships test reports each key of its scope missing from the target once, with the rows that carry it', async () => {
    const dir = sqlDir(tmp.dir, {
      'marts/parents.sql': "-- materialized: table\n-- columns: k TEXT\nSELECT 'a' AS k UNION ALL SELECT 'c'",
      'marts/children.sql':
        '-- materialized: table\n-- columns: p TEXT, d TEXT\n-- tests: relationships(p, parents.k)\n-- test_scope: d = :ds\n' +
        "SELECT 'a' AS p, '2024-01-01' AS d UNION ALL SELECT 'b', '2024-01-01' UNION ALL SELECT 'b', '2024-01-01' UNION ALL SELECT 'z', '2024-01-01'" +
        " UNION ALL SELECT 'c', '2024-01-01' UNION ALL SELECT NULL, '2024-01-01' UNION ALL SELECT 'y', '2023-12-31'",
    });
    const registry = ModelRegistry.load(dir);
    const settings = tmp.settings;
    for (const m of ['parents', 'children']) await modelTask(m, { registry })(testTaskContext(settings, { taskId: m, ds: '2024-01-01' }));
    const test = registry.test('relationships__children__p');
    const db = await openWarehouse(settings.warehouseDb);
    const offending = await db.all(toPlaceholders(test.sql, sqliteDialect), { $ds: '2024-01-01' });
    expect(offending).to.deep.equal([{ p: 'b', n: 2 }, { p: 'z', n: 1 }]);
  });

  it("raw_ids_in_hubs reports the ds's raw ids whose hub key is missing, and no other day's", async () => {
    const db = await openWarehouse(tmp.settings.warehouseDb);
    await db.exec(`
      CREATE TABLE cars (id TEXT, hk_car TEXT, processing_date TEXT); CREATE TABLE hub_car (hk_car TEXT);
      CREATE TABLE customers (id TEXT, hk_customer TEXT, processing_date TEXT); CREATE TABLE hub_customer (hk_customer TEXT);
      CREATE TABLE subscriptions (id TEXT, hk_subscription TEXT, processing_date TEXT); CREATE TABLE hub_subscription (hk_subscription TEXT);
      INSERT INTO cars VALUES ('car-1', 'h1', '2024-01-01'), ('car-2', 'h2', '2024-01-01'), ('car-3', 'h3', '2023-12-31');
      INSERT INTO hub_car VALUES ('h1');
      INSERT INTO customers VALUES ('cust-1', 'c1', '2024-01-01'); INSERT INTO hub_customer VALUES ('c1');
      INSERT INTO subscriptions VALUES ('sub-1', 's1', '2024-01-01'), ('sub-2', 's2', '2024-01-01');`);
    const test = ModelRegistry.load().test('raw_ids_in_hubs');
    const offending = await db.all(`${toPlaceholders(test.sql, sqliteDialect)} ORDER BY 1, 2`, { $ds: '2024-01-01' });
    expect(offending).to.deep.equal([
      { entity: 'cars', id: 'car-2' },
      { entity: 'subscriptions', id: 'sub-1' },
      { entity: 'subscriptions', id: 'sub-2' },
    ]);
  });

  it('fails the data tests of a mart with a column named like a personal field, and has that test on every company mart', async () => {
    const dir = sqlDir(tmp.dir, {
      'marts/by_name.sql': "-- materialized: table\n-- columns: first_name TEXT, n INTEGER\nSELECT 'Ada' AS first_name, 1 AS n",
      'marts/by_street.sql': '-- materialized: table\n-- columns: Customer_Address_Street TEXT\nSELECT NULL AS Customer_Address_Street',
      'marts/by_city.sql': "-- materialized: table\n-- columns: address_city TEXT, n INTEGER\nSELECT 'Berlin' AS address_city, 1 AS n",
    });
    const registry = ModelRegistry.load(dir);
    const settings = tmp.settings;
    for (const m of ['by_name', 'by_street', 'by_city']) await modelTask(m, { registry })(testTaskContext(settings, { taskId: m, ds: '2024-01-01' }));
    const log = new RecordingLogger();
    const tests = ['no_personal_columns__by_name', 'no_personal_columns__by_street', 'no_personal_columns__by_city'];
    const err = await Promise.resolve(dataTestTask(tests, { registry })(testTaskContext(settings, { ds: '2024-01-01', log }))).then(
      () => undefined,
      (e: unknown) => e,
    );
    expect(err).to.be.instanceOf(NonRetryableError);
    expect((err as Error).message).to.equal('2 data test(s) failed: no_personal_columns__by_name (1 rows), no_personal_columns__by_street (1 rows)');
    expect(log.at('error').map((l) => l.meta?.samples)).to.deep.equal([
      [{ mart: 'by_name', column_name: 'first_name' }],
      [{ mart: 'by_street', column_name: 'Customer_Address_Street' }],
    ]);
    const company = ModelRegistry.load();
    const marts = [...company.models.values()].filter((m) => m.layer === 'marts').map((m) => m.name);
    expect(marts).to.have.length.above(0);
    for (const m of marts) expect(company.tests.has(`no_personal_columns__${m}`), m).to.equal(true);
  });

  it('builds DAG tasks from the model graph, so a new model file needs no wiring', () => {
    const dir = sqlDir(tmp.dir, {
      'core/base.sql': "-- materialized: view\nSELECT id FROM {{ source('cars') }}",
      'marts/daily_a.sql': "-- materialized: partition\n-- partition_by: day\n-- partition_column: day\n-- columns: day TEXT\nSELECT id AS day FROM {{ ref('base') }}",
      'marts/daily_b.sql': "-- materialized: partition\n-- partition_by: day\n-- partition_column: day\n-- columns: day TEXT\nSELECT day FROM {{ ref('daily_a') }}",
      'marts/monthly.sql': "-- materialized: table\n-- columns: n INTEGER\nSELECT count(*) AS n FROM {{ ref('base') }}",
      'marts/as_of.sql': "-- materialized: table\n-- columns: n INTEGER\nSELECT count(*) AS n FROM {{ ref('base') }} WHERE id < :end_day",
      'tests/b_ok.sql': "SELECT * FROM {{ ref('daily_b') }} WHERE day IS NULL",
    });
    const registry = ModelRegistry.load(dir);
    const ingest = modelTaskSpecs(selectionOf('ingest'), { registry, sourceTask: (s) => `load_${s}` });
    expect(Object.keys(ingest)).to.deep.equal(['base']);
    expect(ingest.base.upstream).to.deep.equal(['load_cars']);
    const daily = modelTaskSpecs(selectionOf('marts_daily'), { registry });
    expect(Object.entries(daily).map(([id, t]) => [id, t.upstream, t.batch])).to.deep.equal([
      ['daily_a', [], true],
      ['daily_b', ['daily_a'], true],
      ['data_tests', ['daily_a', 'daily_b'], true],
    ]);
    // Every mart gets the no-personal-columns test, so even a mart without tests of its own has a test task.
    // A table is rebuilt whole: batched unless it reads a run parameter, which would differ per interval.
    const monthly = modelTaskSpecs(selectionOf('marts_monthly'), { registry });
    expect(Object.entries(monthly).map(([id, t]) => [id, t.batch]).sort()).to.deep.equal([
      ['as_of', false],
      ['data_tests', true],
      ['monthly', true],
    ]);
  });

  it('starts a test task once the models its tests read are built, so a model no test reads runs beside it', () => {
    const dir = sqlDir(tmp.dir, {
      'core/base.sql': "-- materialized: table\n-- columns: id TEXT\nSELECT id FROM {{ source('cars') }}",
      'core/slow.sql': "-- materialized: table\n-- columns: id TEXT\nSELECT id FROM {{ ref('base') }}",
      'core/narrow.sql': "-- materialized: table\n-- columns: id TEXT\nSELECT id FROM {{ ref('base') }}",
      'marts/other.sql': "-- materialized: table\n-- columns: id TEXT\nSELECT id FROM {{ ref('base') }}",
      'tests/base_ok.sql': "SELECT * FROM {{ ref('base') }} WHERE id IS NULL",
      'tests/raw_ok.sql': "SELECT * FROM {{ source('cars') }} WHERE id IS NULL",
      'tests/narrow_ok.sql': "SELECT * FROM {{ ref('narrow') }} WHERE id IS NULL",
    });
    const registry = ModelRegistry.load(dir);
    const core = (m: { layer: string }) => m.layer === 'core';
    const specs = modelTaskSpecs(
      { model: core, test: (t) => !t.name.startsWith('no_personal_columns') },
      { registry, sourceTask: (s) => `load_${s}`, testTaskId: 'test_rest', testGroups: [{ id: 'test_base', test: (t) => t.refs.every((r) => r === 'base') }] },
    );
    const tasks = Object.fromEntries(Object.entries(specs).map(([id, t]) => [id, [...(t.upstream ?? [])].sort()]));
    expect(tasks).to.deep.equal({
      base: ['load_cars'],
      slow: ['base'],
      narrow: ['base'],
      // base_ok and raw_ok (no ref at all: every() holds) go to the group; neither waits for slow or narrow
      test_base: ['base', 'load_cars'],
      test_rest: ['narrow'],
    });
    expect(specs.test_base.description).to.equal('data tests: base_ok, raw_ok');

    // Tests reading nothing of the DAG (here a mart of another DAG) wait for every model of it.
    const marts = modelTaskSpecs({ model: core, test: (t) => t.name === 'no_personal_columns__other' }, { registry });
    expect([...(marts.data_tests.upstream ?? [])].sort()).to.deep.equal(['base', 'narrow', 'slow']);

    const clash = () => modelTaskSpecs({ model: core, test: () => true }, { registry, testGroups: [{ id: 'slow', test: () => true }] });
    expect(clash).to.throw(ModelError, "test task 'slow' has the id of another task of the DAG");
  });

  it('wires the company DAGs: extract, load, vault in ref order, tests; marts batched and waiting for ingest', async () => {
    const daily = (await import('../../dags/marts_daily.js')).default;
    expect([daily.id, daily.schedule, daily.catchup, daily.waitFor]).to.deep.equal(['marts_daily', '@daily', true, ['ingest']]);
    expect(daily.tasks.filter((t) => t.batch).map((t) => t.id).sort()).to.deep.equal(
      ['cars_deliveries', 'defleeted_cars_volumes', 'infleeted_cars_volumes', 'test_marts_daily', 'wait_for_ingest'],
    );
    const monthly = (await import('../../dags/marts_monthly.js')).default;
    expect([monthly.id, monthly.schedule, monthly.catchup, monthly.waitFor]).to.deep.equal(['marts_monthly', '@monthly', true, ['ingest']]);
    // waitFor is the wait_for_ingest sensor before the roots.
    expect(monthly.tasks.map((t) => t.id).sort()).to.deep.equal(['test_marts_monthly', 'type_distribution', 'type_share', 'wait_for_ingest']);
    expect(monthly.tasks.find((t) => t.id === 'type_distribution')!.upstream).to.deep.equal(['wait_for_ingest']);
    expect(monthly.tasks.every((t) => t.batch)).to.equal(true);
    const ingest = (await import('../../dags/ingest.js')).default;
    expect([ingest.id, ingest.schedule, ingest.catchup]).to.deep.equal(['ingest', '@daily', false]);
    const up = (id: string) => ingest.tasks.find((t) => t.id === id)!.upstream;
    expect(up('load_cars')).to.deep.equal(['extract_cars']);
    expect(up('hub_car')).to.have.members(['load_cars', 'load_subscriptions']);
    expect(up('link_subscription')).to.deep.equal(['load_subscriptions']);
    expect(up('sat_customer_current')).to.have.members(['sat_customer', 'hub_customer']);
    // the keyed timeline also reads the loads of the vault tables behind them (its changed keys)
    expect(up('subscription_timeline')).to.have.members(['sat_subscription_current', 'customer_profile', 'car_timeline', 'sat_subscription', 'link_subscription', 'sat_customer', 'sat_car']);
    // the vault's tests run beside the timelines; the rest wait for what they read
    expect(up('test_vault')).to.have.members(['hub_car', 'hub_customer', 'hub_subscription', 'link_subscription', 'sat_car', 'sat_customer', 'sat_customer_pii', 'sat_subscription', 'load_cars', 'load_customers', 'load_subscriptions']);
    expect(up('test_core')).to.have.members(['customer_profile', 'sat_subscription_current', 'hub_subscription', 'subscription_timeline']);
  });
});
