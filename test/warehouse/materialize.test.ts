import { expect } from 'chai';
import path from 'node:path';
import { execute, LOAD_LOG, MODEL_STATE, runModel, select, tuneConnection } from '../../operators/sql/materialize.js';
import { ModelError } from '../../operators/sql/ModelError.js';
import type { Model, ModelConfig } from '../../operators/sql/registry.js';
import { openWarehouse } from '../../operators/warehouse/registry.js';
import type { Warehouse } from '../../operators/warehouse/interfaces.js';
import { DEFAULT_MEMORY } from '../../operators/warehouse/SqliteWarehouse.js';
import { dialectOf } from '../../operators/sql/dialect/dialectOf.js';
import { describeEachEngine } from '../helpers/engines.js';
import { gate } from '../helpers/gate.js';
import { useTmpWarehouse } from '../helpers/tmp.js';

/** A model as the registry would give it, with only what a materialization reads. */
function model(name: string, config: Partial<ModelConfig> & Pick<ModelConfig, 'materialized'>, statements: string[], shape: Model['shape'] = {}): Model {
  return { name, layer: 'marts', file: `${name}.sql`, config: { tests: [], severity: 'error', staged: false, ...config }, statements, refs: [], sources: [], shape };
}

const PARAMS = { ds: '2024-01-03', start_day: '2024-01-03', end_day: '2024-01-04', start_month: '2024-01-01', end_month: '2024-02-01', load_date: '2024-01-04 00:00:00' };

describeEachEngine('materializations', (engine) => {
  const tmp = useTmpWarehouse({}, { engine });
  let wh: Warehouse;
  beforeEach(async () => {
    wh = await openWarehouse(tmp.warehouse);
  });

  const rows = (sql: string) => wh.all(sql);
  /** Tables or secondary indexes of the warehouse, by name. */
  const names = async (type: 'table' | 'index') => {
    const sql =
      engine === 'sqlite'
        ? `SELECT name FROM sqlite_master WHERE type = ? AND name NOT LIKE 'sqlite_%' ORDER BY name`
        : type === 'table'
          ? "SELECT table_name::text AS name FROM information_schema.tables WHERE table_schema = current_schema() AND table_type = 'BASE TABLE' AND ? <> '' ORDER BY 1"
          : "SELECT indexname::text AS name FROM pg_indexes WHERE schemaname = current_schema() AND indexname NOT LIKE '%_pkey' AND ? <> '' ORDER BY 1";
    return (await wh.all<{ name: string }>(sql, [type])).map((r) => r.name);
  };
  /** The table's DDL as SQLite keeps it (PostgreSQL keeps none: its catalog is checked by the rows instead). */
  const ddl = async (table: string) => (engine === 'sqlite' ? (await wh.all<{ sql: string }>('SELECT sql FROM sqlite_master WHERE name = ?', [table]))[0]?.sql : undefined);
  /** Insertion order of a table without a key. */
  const physical = engine === 'sqlite' ? 'rowid' : 'ctid';

  describe('parameters', () => {
    it('binds only the parameters a statement uses, and names the model and the parameter that has no value', async () => {
      await wh.run('CREATE TABLE t (d TEXT)');
      expect(await execute(wh, 'INSERT INTO t VALUES (:ds), (:start_day)', { ...PARAMS, unused: 'x' })).to.equal(2);
      expect(await select(wh, 'SELECT d FROM t WHERE d = :ds', PARAMS)).to.deep.equal([{ d: '2024-01-03' }, { d: '2024-01-03' }]);
      const err = await execute(wh, 'INSERT INTO t VALUES (:nope)', PARAMS, { model: 'm' }).catch((e: unknown) => e);
      expect(err).to.be.instanceOf(ModelError);
      expect(err).to.include({ message: "model 'm': parameter ':nope' has no value", model: 'm', detail: 'nope' });
      const anonymous = await Promise.resolve()
        .then(() => select(wh, 'SELECT :nope', PARAMS))
        .catch((e: unknown) => e);
      expect(anonymous).to.include({ message: "parameter ':nope' has no value", model: '?', detail: 'nope' });
    });
  });

  it('names the model whose statement lacks a parameter, whatever its materialization', async () => {
    await wh.exec('CREATE TABLE up (k INTEGER, load_date TEXT); INSERT INTO up VALUES (1, 1)');
    const shape = { columns: ['k INTEGER NOT NULL'], primaryKey: ['k'] };
    const models = [
      model('m_view', { materialized: 'view' }, ['SELECT :nope AS k']),
      model('m_table', { materialized: 'table' }, ['SELECT :nope AS k'], shape),
      model('m_incremental', { materialized: 'incremental' }, ['INSERT INTO m_incremental (k) SELECT :nope'], shape),
      // A partition column holds days (text), on every engine.
      model('m_partition', { materialized: 'partition', partitionBy: 'day', partitionColumn: 'k' }, ['SELECT :nope AS k'], { columns: ['k TEXT NOT NULL'], primaryKey: ['k'] }),
      model('m_keyed', { materialized: 'keyed' }, ['SELECT :nope AS k', 'SELECT k FROM up'], shape),
    ];
    for (const m of models) {
      const err = await runModel(wh, m, PARAMS).catch((e: unknown) => e);
      expect(err, m.name).to.be.instanceOf(ModelError);
      expect((err as Error).message).to.equal(`model '${m.name}': parameter ':nope' has no value`);
    }
    // A keyed model's changed-keys statement, on a run after the first.
    const keyed = model('m_keys', { materialized: 'keyed' }, ['SELECT k FROM up', 'SELECT k FROM up WHERE :nope'], shape);
    await runModel(wh, keyed, PARAMS);
    await runModel(wh, model('up', { materialized: 'incremental' }, ['INSERT INTO up (k, load_date) VALUES (2, :load_date)'], { columns: ['k INTEGER', 'load_date TEXT'] }), PARAMS);
    const err = await runModel(wh, keyed, PARAMS).catch((e: unknown) => e);
    expect((err as Error).message).to.equal("model 'm_keys': parameter ':nope' has no value");
  });

  it('orders and indexes by every column of a key or an index of several columns', async () => {
    await wh.exec("CREATE TABLE src (a INTEGER, b INTEGER, v TEXT); INSERT INTO src VALUES (2, 1, 'x'), (1, 2, 'y'), (1, 1, 'z')");
    const shape = { columns: ['a INTEGER NOT NULL', 'b INTEGER NOT NULL', 'v TEXT'], primaryKey: ['a', 'b'], indexes: [['v', 'b']] };
    await runModel(wh, model('two', { materialized: 'table' }, ['SELECT a, b, v FROM src'], shape), PARAMS);
    expect(await rows('SELECT a, b, v FROM two ORDER BY a, b')).to.deep.equal([{ a: 1, b: 1, v: 'z' }, { a: 1, b: 2, v: 'y' }, { a: 2, b: 1, v: 'x' }]);
    if (engine === 'sqlite') {
      const [{ sql }] = await wh.all<{ sql: string }>("SELECT sql FROM sqlite_master WHERE name = 'two__v__b'");
      expect(sql).to.equal('CREATE INDEX two__v__b ON two (v, b)');
    } else {
      const [{ indexdef }] = await wh.all<{ indexdef: string }>("SELECT indexdef FROM pg_indexes WHERE indexname = 'two__v__b'");
      expect(indexdef).to.match(/ON \S*two USING btree \(v, b\)$/);
    }
    // Keyed, built whole, then by its changed keys.
    const up = model('up2', { materialized: 'incremental' }, ['INSERT INTO up2 (a, b, v, load_date) SELECT a, b, v, :load_date FROM src'], {
      columns: ['a INTEGER', 'b INTEGER', 'v TEXT', 'load_date TEXT'],
    });
    const keyed = model('two_keyed', { materialized: 'keyed' }, ['SELECT a, b, max(v) AS v FROM up2 GROUP BY a, b', `SELECT DISTINCT a FROM up2 WHERE load_date IN ${dialectOf(wh).jsonTextValues(':loads__up2')}`], shape);
    await runModel(wh, up, PARAMS);
    expect(await runModel(wh, keyed, PARAMS)).to.include({ inserted: 3 });
    // A new row for a = 1: its two rows stay as they are, the third is added.
    await wh.exec("DELETE FROM src; INSERT INTO src VALUES (1, 3, 'w')");
    await runModel(wh, up, { ...PARAMS, load_date: '2024-01-05 00:00:00' });
    expect(await runModel(wh, keyed, PARAMS)).to.include({ deleted: 0, inserted: 1 });
    // One of them changes: the key's rows are written again, all of them.
    await wh.exec("DELETE FROM src; INSERT INTO src VALUES (1, 1, 'zz')");
    await runModel(wh, up, { ...PARAMS, load_date: '2024-01-06 00:00:00' });
    expect(await runModel(wh, keyed, PARAMS)).to.include({ deleted: 3, inserted: 3 });
    expect(await rows('SELECT a, b, v FROM two_keyed ORDER BY a, b')).to.deep.equal([{ a: 1, b: 1, v: 'zz' }, { a: 1, b: 2, v: 'y' }, { a: 1, b: 3, v: 'w' }, { a: 2, b: 1, v: 'x' }]);
  });

  describe('view', () => {
    it('replaces the view with the current SELECT, writing no rows', async () => {
      const v1 = await runModel(wh, model('v', { materialized: 'view' }, ["SELECT 'one' AS d"]), PARAMS);
      expect(v1).to.include({ model: 'v', materialized: 'view', deleted: 0, inserted: 0 });
      expect(v1.ms).to.be.within(0, 60_000);
      await runModel(wh, model('v', { materialized: 'view' }, ["SELECT 'two' AS d"]), PARAMS);
      expect(await rows('SELECT d FROM v')).to.deep.equal([{ d: 'two' }]);
    });
  });

  describe('table', () => {
    const shape = { columns: ['k INTEGER NOT NULL', 'v TEXT'], primaryKey: ['k'], indexes: [['v']] };

    it('rebuilds the whole table in key order, with its indexes, counting what went and came', async () => {
      await wh.exec("CREATE TABLE src (k INTEGER, v TEXT); INSERT INTO src VALUES (3, 'c'), (1, 'a'), (2, 'b')");
      const m = model('tbl', { materialized: 'table' }, ['SELECT k, v FROM src']);
      expect(await runModel(wh, { ...m, shape }, PARAMS)).to.include({ deleted: 0, inserted: 3 });
      expect(await rows('SELECT k, v FROM tbl')).to.deep.equal([{ k: 1, v: 'a' }, { k: 2, v: 'b' }, { k: 3, v: 'c' }]);
      await wh.run('DELETE FROM src WHERE k = 2');
      expect(await runModel(wh, { ...m, shape }, PARAMS)).to.include({ deleted: 3, inserted: 2 });
      expect(await rows('SELECT k FROM tbl ORDER BY k')).to.deep.equal([{ k: 1 }, { k: 3 }]);
      expect(await names('index')).to.deep.equal(['tbl__v']);
      if (engine === 'sqlite') expect(await ddl('tbl')).to.equal('CREATE TABLE tbl (k INTEGER NOT NULL, v TEXT, PRIMARY KEY (k)) WITHOUT ROWID');
    });

    it('keeps the order of the SELECT when the table has no key, and recreates a table whose columns changed', async () => {
      await wh.exec("CREATE TABLE tbl (old TEXT); INSERT INTO tbl VALUES ('stale')");
      // A column definition as a header may spell it, with spaces around.
      const m = model('tbl', { materialized: 'table' }, ["SELECT 2 AS k, 'x' AS v UNION ALL SELECT 1, 'y'"], { columns: ['  k INTEGER', 'v TEXT '] });
      expect(await runModel(wh, m, PARAMS)).to.include({ inserted: 2 });
      expect(await rows(`SELECT k, v FROM tbl ORDER BY ${physical}`)).to.deep.equal([{ k: 2, v: 'x' }, { k: 1, v: 'y' }]);
      if (engine === 'sqlite') expect(await ddl('tbl')).to.equal('CREATE TABLE tbl (  k INTEGER, v TEXT )');
      expect(await runModel(wh, m, PARAMS), 'the same columns: kept, not recreated').to.include({ deleted: 2, inserted: 2 });
    });
  });

  describe('incremental', () => {
    const shape = { columns: ['k INTEGER NOT NULL', 'load_date TEXT NOT NULL'], primaryKey: ['k', 'load_date'], indexes: [['load_date']] };
    const m = model(
      'sat',
      { materialized: 'incremental' },
      ['INSERT INTO sat (k, load_date) SELECT k, :load_date FROM src WHERE k <= 2', 'INSERT INTO sat (k, load_date) SELECT k, :load_date FROM src WHERE k > 2'],
      shape,
    );

    it('runs every statement, only adding rows, and logs a load that inserted rows under its load date', async () => {
      await wh.exec('CREATE TABLE src (k INTEGER); INSERT INTO src VALUES (1), (2), (3)');
      expect(await runModel(wh, m, PARAMS)).to.include({ materialized: 'incremental', deleted: 0, inserted: 3 });
      expect(await names('index')).to.deep.equal(['sat__load_date']);
      expect(await rows(`SELECT model, load_date, inserted FROM ${LOAD_LOG}`)).to.deep.equal([{ model: 'sat', load_date: '2024-01-04 00:00:00', inserted: 3 }]);
      await wh.exec('DELETE FROM src; INSERT INTO src VALUES (1)');
      expect(await runModel(wh, m, { ...PARAMS, load_date: '2024-01-05 00:00:00' })).to.include({ inserted: 1 });
      expect(await rows('SELECT count(*) AS n FROM sat')).to.deep.equal([{ n: 4 }]);
    });

    it('keeps the indexes a first load appends to in order, and builds the others once it has loaded', async () => {
      // Each row records the table's secondary indexes as its statement saw them.
      const present =
        engine === 'sqlite'
          ? "(SELECT group_concat(name, ',') FROM (SELECT name FROM sqlite_master WHERE type = 'index' AND tbl_name = 'seen' AND name NOT LIKE 'sqlite_%' ORDER BY name))"
          : "(SELECT string_agg(indexname::text, ',' ORDER BY indexname) FROM pg_indexes WHERE schemaname = current_schema() AND tablename = 'seen' AND indexname NOT LIKE '%_pkey')";
      const seen = model('seen', { materialized: 'incremental' }, [`INSERT INTO seen (k, load_date, v) SELECT k, :load_date, ${present} FROM src`], {
        columns: ['k INTEGER NOT NULL', 'load_date TEXT NOT NULL', 'v TEXT'],
        primaryKey: ['k', 'load_date'],
        indexes: [['load_date'], ['v']],
        appendedIndexes: [['load_date']],
      });
      await wh.exec('CREATE TABLE src (k INTEGER); INSERT INTO src VALUES (1)');
      await runModel(wh, seen, PARAMS);
      await runModel(wh, seen, { ...PARAMS, load_date: '2024-01-05 00:00:00' });
      expect(await rows('SELECT v FROM seen ORDER BY load_date')).to.deep.equal([{ v: 'seen__load_date' }, { v: 'seen__load_date,seen__v' }]);
      expect(await names('index')).to.deep.equal(['seen__load_date', 'seen__v']);
    });

    it('logs a load of a run without a load date under an empty date', async () => {
      const plain = model('plain', { materialized: 'incremental' }, ['INSERT INTO plain (k) VALUES (1)'], { columns: ['k INTEGER'] });
      const { load_date: _unused, ...withoutLoadDate } = PARAMS;
      expect(await runModel(wh, plain, withoutLoadDate)).to.include({ inserted: 1 });
      expect(await rows(`SELECT model, load_date, inserted FROM ${LOAD_LOG}`)).to.deep.equal([{ model: 'plain', load_date: '', inserted: 1 }]);
    });

    it('logs no load when nothing was inserted', async () => {
      await wh.exec('CREATE TABLE src (k INTEGER)');
      expect(await runModel(wh, m, PARAMS)).to.include({ inserted: 0 });
      expect(await names('table')).to.not.include(LOAD_LOG);
    });
  });

  describe('partition', () => {
    const shape = { columns: ['day TEXT NOT NULL', 'n INTEGER NOT NULL'], primaryKey: ['day'] };
    const daily = model('per_day', { materialized: 'partition', partitionBy: 'day', partitionColumn: 'day' }, ['SELECT day, count(*) AS n FROM src GROUP BY day'], shape);
    const monthly = model('per_month', { materialized: 'partition', partitionBy: 'month', partitionColumn: 'month' }, ["SELECT substr(day, 1, 8) || '01' AS month, count(*) AS n FROM src GROUP BY 1"], {
      columns: ['month TEXT NOT NULL', 'n INTEGER NOT NULL'],
      primaryKey: ['month'],
    });

    it('replaces the run day and every later day, and leaves the days before it as they were, staged or not', async () => {
      // staged: the rows computed into a temporary table before the write transaction (SQLite only).
      const staged = { ...daily, name: 'per_day_staged', config: { ...daily.config, staged: true } };
      await wh.exec("CREATE TABLE src (day TEXT); INSERT INTO src VALUES ('2024-01-02'), ('2024-01-03'), ('2024-01-04'), ('2024-01-04')");
      for (const m of [daily, staged]) await runModel(wh, m, { ...PARAMS, start_day: '2024-01-01' });
      // The source changes everywhere; a run for 2024-01-03 must take the new values from that day on only.
      await wh.exec("INSERT INTO src VALUES ('2024-01-02'), ('2024-01-03'), ('2024-01-05')");
      for (const m of [daily, staged]) {
        expect(await runModel(wh, m, PARAMS), m.name).to.include({ materialized: 'partition', deleted: 2, inserted: 3 });
        expect(await rows(`SELECT day, n FROM ${m.name} ORDER BY day`), m.name).to.deep.equal([
          { day: '2024-01-02', n: 1 },
          { day: '2024-01-03', n: 2 },
          { day: '2024-01-04', n: 2 },
          { day: '2024-01-05', n: 1 },
        ]);
      }
    });

    it('replaces by month from the run month on for a monthly partition', async () => {
      await wh.exec("CREATE TABLE src (day TEXT); INSERT INTO src VALUES ('2023-12-31'), ('2024-01-03')");
      await runModel(wh, monthly, { ...PARAMS, start_month: '2023-12-01' });
      await wh.exec("INSERT INTO src VALUES ('2023-12-30'), ('2024-01-30'), ('2024-02-01')");
      expect(await runModel(wh, monthly, PARAMS)).to.include({ deleted: 1, inserted: 2 });
      expect(await rows('SELECT month, n FROM per_month ORDER BY month')).to.deep.equal([
        { month: '2023-12-01', n: 1 },
        { month: '2024-01-01', n: 2 },
        { month: '2024-02-01', n: 1 },
      ]);
    });

    it('is one transaction: a replacement that fails leaves the partition as it was', async () => {
      await wh.exec("CREATE TABLE src (day TEXT); INSERT INTO src VALUES ('2024-01-03')");
      await runModel(wh, daily, PARAMS);
      // The insert breaks the primary key after the delete has run.
      const broken = { ...daily, statements: ["SELECT '2024-01-03' AS day, 1 AS n UNION ALL SELECT '2024-01-03', 2"] };
      const err = await runModel(wh, broken, PARAMS).catch((e: unknown) => e);
      expect(err).to.be.instanceOf(Error);
      expect(await rows('SELECT day, n FROM per_day')).to.deep.equal([{ day: '2024-01-03', n: 1 }]);
    });
  });

  describe('keyed', () => {
    const shape = { columns: ['k INTEGER NOT NULL', 'total INTEGER NOT NULL'], primaryKey: ['k'], indexes: [['total']] };
    const sat = model('up', { materialized: 'incremental' }, ['INSERT INTO up (k, v, load_date) SELECT k, v, :load_date FROM src'], {
      columns: ['k INTEGER NOT NULL', 'v INTEGER NOT NULL', 'load_date TEXT NOT NULL'],
    });
    const keyed = (select = 'SELECT k, sum(v) AS total FROM up GROUP BY k') =>
      // Statement 2 also uses a run parameter, which is bound as it is, not as a list of loads.
      model('totals', { materialized: 'keyed' }, [select, `SELECT DISTINCT k FROM up WHERE load_date IN ${dialectOf(wh).jsonTextValues(':loads__up')} AND :start_day LIKE '2024-%'`], shape);
    /** Loads `values` (k, v) into `up` as of `day`. */
    async function load(day: string, values: [number, number][]): Promise<void> {
      await wh.exec(`DROP TABLE IF EXISTS src; CREATE TABLE src (k INTEGER, v INTEGER); ${values.map(([k, v]) => `INSERT INTO src VALUES (${k}, ${v});`).join(' ')}`);
      await runModel(wh, sat, { ...PARAMS, load_date: `${day} 00:00:00` });
    }
    const totals = () => rows('SELECT k, total FROM totals ORDER BY k');

    it('builds the table whole on its first run, then re-inserts only the keys the loads since then touched', async () => {
      await load('2024-01-01', [[1, 10], [2, 20], [3, 30]]);
      expect(await runModel(wh, keyed(), PARAMS)).to.include({ materialized: 'keyed', deleted: 0, inserted: 3 });
      expect(await names('index')).to.include('totals__total');
      // A key changed behind the model's back stays as it is unless a load touches it: only loaded keys are redone.
      await wh.run('UPDATE totals SET total = -1 WHERE k IN (1, 3)');
      await load('2024-01-02', [[2, 5], [4, 40]]);
      expect(await runModel(wh, keyed(), PARAMS)).to.include({ deleted: 1, inserted: 2 });
      expect(await totals()).to.deep.equal([{ k: 1, total: -1 }, { k: 2, total: 25 }, { k: 3, total: -1 }, { k: 4, total: 40 }]);
    });

    it('writes only the rows that differ among the keys the loads touched, a NULL equal to a NULL', async () => {
      const changedKeys = `SELECT DISTINCT k FROM up WHERE load_date IN ${dialectOf(wh).jsonTextValues(':loads__up')}`;
      const nullable = model('totals', { materialized: 'keyed' }, ['SELECT k, nullif(sum(v), 0) AS total FROM up GROUP BY k', changedKeys], {
        ...shape,
        columns: ['k INTEGER NOT NULL', 'total INTEGER'],
      });
      await load('2024-01-01', [[1, 0], [2, 20], [3, 30]]);
      await runModel(wh, nullable, PARAMS);
      // Every key is touched; only 3's total moves (1 stays NULL, 2 stays 20).
      await load('2024-01-02', [[1, 0], [2, 0], [3, 5]]);
      expect(await runModel(wh, nullable, PARAMS)).to.include({ deleted: 1, inserted: 1 });
      expect(await totals()).to.deep.equal([{ k: 1, total: null }, { k: 2, total: 20 }, { k: 3, total: 35 }]);
    });

    it('changes nothing when no load came since its last run', async () => {
      await load('2024-01-01', [[1, 10]]);
      await runModel(wh, keyed(), PARAMS);
      await wh.run('UPDATE totals SET total = -1');
      expect(await runModel(wh, keyed(), PARAMS)).to.include({ deleted: 0, inserted: 0 });
      expect(await totals()).to.deep.equal([{ k: 1, total: -1 }]);
    });

    it('binds the load dates of the loads since its last run only, a re-run of an older day included', async () => {
      await load('2024-01-05', [[1, 1]]);
      await runModel(wh, keyed(), PARAMS);
      await load('2024-01-02', [[2, 2]]);
      await load('2024-01-01', [[3, 3]]);
      await wh.run('UPDATE totals SET total = -1 WHERE k = 1');
      expect(await runModel(wh, keyed(), PARAMS)).to.include({ deleted: 0, inserted: 2 });
      expect(await totals()).to.deep.equal([{ k: 1, total: -1 }, { k: 2, total: 2 }, { k: 3, total: 3 }]);
      expect(await rows(`SELECT model, seq FROM ${MODEL_STATE}`)).to.deep.equal([{ model: 'totals', seq: 3 }]);
    });

    it('builds the table whole again when its SELECT changed', async () => {
      await load('2024-01-01', [[1, 10], [2, 20]]);
      await runModel(wh, keyed(), PARAMS);
      await wh.run('UPDATE totals SET total = -1');
      expect(await runModel(wh, keyed('SELECT k, max(v) * 2 AS total FROM up GROUP BY k'), PARAMS)).to.include({ deleted: 2, inserted: 2 });
      expect(await totals()).to.deep.equal([{ k: 1, total: 20 }, { k: 2, total: 40 }]);
    });

    it('builds the table whole again when its columns changed, even with the same SELECT', async () => {
      await load('2024-01-01', [[1, 10], [1, 5], [2, 20]]);
      const select = 'SELECT k, sum(v) AS total, count(*) AS n FROM up GROUP BY k';
      await runModel(wh, keyed(select), PARAMS);
      // The header now also keeps the count the SELECT already had: the old table is dropped, and no
      // load came since, so only a whole build can fill the new one.
      const wider = { ...keyed(select), shape: { ...shape, columns: [...shape.columns, 'n INTEGER NOT NULL'] } };
      expect(await runModel(wh, wider, PARAMS)).to.include({ inserted: 2 });
      expect(await rows('SELECT k, total, n FROM totals ORDER BY k')).to.deep.equal([{ k: 1, total: 15, n: 2 }, { k: 2, total: 20, n: 1 }]);
    });

    it('builds the table whole by its key-ordered build statements on SQLite (no hash joins), by its first on PostgreSQL; later runs by the first', async () => {
      await load('2024-01-01', [[1, 10], [2, 20]]);
      // Build statements that differ from the first only to show which ran: a temporary table, then the rows.
      const build = [`CREATE TEMP TABLE plus AS SELECT k, sum(v) + 1000 AS total FROM up GROUP BY k ORDER BY k`, `SELECT k, total FROM ${dialectOf(wh).tempTable('plus')}`];
      const ordered = { ...keyed(), statements: [...keyed().statements, ...build] };
      await runModel(wh, ordered, PARAMS);
      const whole = engine === 'sqlite' ? [1010, 1020] : [10, 20];
      expect(await totals()).to.deep.equal([{ k: 1, total: whole[0] }, { k: 2, total: whole[1] }]);
      await load('2024-01-02', [[2, 5]]);
      await runModel(wh, ordered, PARAMS);
      expect(await totals()).to.deep.equal([{ k: 1, total: whole[0] }, { k: 2, total: 25 }]);
    });

    it('builds the table whole again when it was dropped', async () => {
      await load('2024-01-01', [[1, 10]]);
      await runModel(wh, keyed(), PARAMS);
      await wh.run('DROP TABLE totals');
      expect(await runModel(wh, keyed(), PARAMS)).to.include({ deleted: 0, inserted: 1 });
    });
  });

  it("gives a run's transaction the dialect's settings for large set-based work (PostgreSQL: sort memory; SQLite: the warehouse's own cache)", async () => {
    if (engine === 'postgres') {
      const [inside, after] = [await wh.transaction(async (db) => (await tuneConnection(db, dialectOf(wh)), db.get('SHOW work_mem'))), await wh.get('SHOW work_mem')];
      expect(inside).to.deep.equal({ work_mem: '128MB' });
      expect(after, 'local to the transaction').to.not.deep.equal({ work_mem: '128MB' });
      return;
    }
    // SQLite's page cache is the warehouse's memory setting (DEFAULT_MEMORY), not raised per run.
    const seen = await wh.transaction(async (db) => {
      await tuneConnection(db, dialectOf(wh));
      return db.get('PRAGMA cache_size');
    });
    expect(seen).to.deep.equal({ cache_size: -DEFAULT_MEMORY.cacheMb * 1024 });
  });
});

describe('a model run on SQLite', () => {
  const tmp = useTmpWarehouse();

  /** Another writer, holding the write lock from the moment it ran `sql` until `release()`; `done` settles after. */
  async function otherWriter(wh: Warehouse, sql: string): Promise<{ release: () => void; done: Promise<void> }> {
    const [locked, released] = [gate(), gate()];
    const done = wh.transaction(async (db) => {
      await db.run(sql);
      locked.open();
      await released.opened;
    });
    await locked.opened;
    return { release: released.open, done };
  }

  it("tells its staged reads and its own write from the wait for another writer's lock", async () => {
    const wh = await openWarehouse(tmp.warehouse);
    await wh.exec('CREATE TABLE src (k INTEGER); INSERT INTO src VALUES (1), (2), (3)');
    const staged = model('staged', { materialized: 'incremental' }, ['INSERT INTO staged (k) SELECT k FROM temp.staged_src'], { columns: ['k INTEGER'] });
    const read = 'CREATE TEMP TABLE staged_src AS SELECT k FROM src ORDER BY k';
    const withStaging: Model = { ...staged, staging: [{ table: 'staged_src', sql: read, freshSql: read, source: 'src', perKey: false }] };
    // Another writer holds the lock for HOLD_MS once the run has asked for it.
    const HOLD_MS = 400;
    const other = await otherWriter(wh, 'INSERT INTO src VALUES (4)');
    const run = runModel(wh, withStaging, PARAMS);
    setTimeout(other.release, HOLD_MS);
    const r = await run;
    await other.done;
    expect(r).to.include({ inserted: 3 }); // what was committed when its reads were staged
    expect(r.prepareMs).to.be.at.least(0);
    expect(r.ms - r.prepareMs - r.writeMs, 'the wait').to.be.at.least(HOLD_MS - 50);
    expect(r.writeMs, 'its own write').to.be.below(r.ms - (HOLD_MS - 50));
    await wh.close();
  });

  it("computes a staged partition model's rows before it waits for another writer's lock", async () => {
    const wh = await openWarehouse(tmp.warehouse);
    await wh.exec("CREATE TABLE src (day TEXT); INSERT INTO src VALUES ('2024-01-03'), ('2024-01-04')");
    const config = { materialized: 'partition', partitionBy: 'day', partitionColumn: 'day' } as const;
    const shape = { columns: ['day TEXT NOT NULL', 'n INTEGER NOT NULL'], primaryKey: ['day'] };
    const select = ['SELECT day, count(*) AS n FROM src GROUP BY day'];
    const staged = model('staged_days', { ...config, staged: true }, select, shape);
    const plain = model('plain_days', config, select, shape);
    const other = await otherWriter(wh, "INSERT INTO src VALUES ('2024-01-05')");
    const runs = [runModel(wh, staged, PARAMS), runModel(wh, plain, PARAMS)];
    setTimeout(other.release, 200);
    const [s, p] = await Promise.all(runs);
    await other.done;
    // The staged rows are what was committed before the other writer's; the plain SELECT ran after it.
    expect(s).to.include({ inserted: 2 });
    expect(p).to.include({ inserted: 3 });
    await wh.close();
  });
});
