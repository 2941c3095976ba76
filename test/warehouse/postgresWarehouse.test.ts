import { expect } from 'chai';
import { postgresDialect } from '../../operators/sql/dialect/postgres.js';
import { sqliteDialect } from '../../operators/sql/dialect/sqlite.js';
import type { Dialect } from '../../operators/sql/dialect/Dialect.js';
import { PostgresWarehouse } from '../../operators/warehouse/PostgresWarehouse.js';
import { toPositional } from '../../operators/warehouse/postgresParams.js';
import { closeWarehouses, openWarehouse } from '../../operators/warehouse/registry.js';
import type { Warehouse, WarehouseSession } from '../../operators/warehouse/interfaces.js';
import { WarehouseClosedError } from '../../operators/warehouse/WarehouseClosedError.js';
import { WarehouseParameterError } from '../../operators/warehouse/WarehouseParameterError.js';
import { usePostgres } from '../helpers/postgres.js';
import { withDb } from '../helpers/sqliteFile.js';

describe('the PostgreSQL warehouse', function () {
  this.timeout(30_000);
  const pg = usePostgres({ beforeDrop: closeWarehouses });
  let n = 0;
  const fresh = () => openWarehouse(`${pg.url}?schema=pw_${++n}`);

  it('makes ? and $name parameters positional, leaving literals, quoted names and comments alone', async () => {
    expect(toPositional("SELECT '?', \"a?\", ? -- ?\n, ?", [1, 2])).to.deep.equal({ text: "SELECT '?', \"a?\", $1 -- ?\n, $2", values: [1, 2] });
    expect(toPositional("SELECT $b, $a, $b, '$a'", { $a: 'x', $b: 'y', $unused: 'z' })).to.deep.equal({ text: "SELECT $1, $2, $1, '$a'", values: ['y', 'x'] });
    expect(() => toPositional('SELECT $missing', { $a: 1 })).to.throw(WarehouseParameterError, "parameter '$missing' has no value in: SELECT $missing");
    const wh = await fresh();
    expect(await wh.get("SELECT $d::text AS d, '$d' AS literal, $d::text || '?' AS again", { $d: '2024-01-01' })).to.deep.equal({ d: '2024-01-01', literal: '$d', again: '2024-01-01?' });
  });

  it('computes every date function of the dialect as SQLite does, zone suffixes, month ends, leap days and NULL included', async () => {
    const wh = await fresh();
    const stamps = ["'2023-03-31T23:30:00-02:00'", "'2023-03-31 23:30:00.5'", "'2024-02-29'", "'2023-10-21T23:17:35.945166'", "'2023-01-01T00:30:00+01:00'", 'NULL'];
    const days = ["'2023-08-31'", "'2022-08-31'", "'2024-02-29'", "'2023-01-30'", "'2023-12-01'", 'NULL'];
    const expressions = (d: Dialect) => [
      ...stamps.map((s) => d.day(s)),
      ...days.flatMap((x) => [d.monthStart(x), d.addDays(x, '-1'), d.addDays(x, '40'), d.addMonthsToMonthStart(d.monthStart(x), '13')]),
      ...days.flatMap((x) => ['1', '6', '12', 'NULL'].map((k) => d.addMonthsClamped(x, k))),
    ];
    const onPostgres = [];
    for (const e of expressions(postgresDialect)) onPostgres.push((await wh.get<{ v: string | null }>(`SELECT ${e} AS v`))!.v);
    const onSqlite = await withDb(':memory:', async (db) => {
      const out = [];
      for (const e of expressions(sqliteDialect)) out.push((await db.get<{ v: string | null }>(`SELECT ${e} AS v`))!.v);
      return out;
    });
    expect(onPostgres).to.deep.equal(onSqlite);
    expect(onPostgres.slice(0, 2)).to.deep.equal(['2023-04-01', '2023-03-31']);
  });

  it('creates the schema of the URL, names the warehouse without its password and counts as SQLite does', async () => {
    const wh = await fresh();
    expect(wh.kind).to.equal('postgres');
    expect(wh.location).to.match(/\?schema=pw_\d+$/);
    expect(await wh.get('SELECT current_schema() AS s, count(*) AS n, 1.5::numeric AS x')).to.deep.equal({ s: `pw_${n}`, n: 1, x: 1.5 });
    const secret = await PostgresWarehouse.open(pg.url.replace('postgres@', 'postgres:hunter22@'), 'pw_secret');
    try {
      // The user may be redacted too (a lone user counts as a secret once another URL registered it).
      expect(secret.location).to.match(/:\*\*\*@127\.0\.0\.1:5432\/drivetrain_test_\w+\?schema=pw_secret$/).and.not.include('hunter22');
    } finally {
      await secret.close();
    }
  });

  it('rolls a failed transaction back whole and refuses its session afterwards', async () => {
    const wh = await fresh();
    await wh.exec('CREATE TABLE t (k INTEGER PRIMARY KEY)');
    let session: WarehouseSession | undefined;
    const err = await wh
      .transaction(async (s) => {
        session = s;
        await s.run('INSERT INTO t VALUES (?)', [1]);
        await s.run('INSERT INTO t VALUES (?)', [1]);
      })
      .catch((e: unknown) => e);
    expect(err).to.have.property('code', '23505');
    expect(await wh.all('SELECT k FROM t')).to.deep.equal([]);
    const after = await Promise.resolve()
      .then(() => session!.run('INSERT INTO t VALUES (2)'))
      .catch((e: unknown) => e);
    expect(after).to.be.instanceOf(WarehouseClosedError);
    expect(await wh.run('INSERT INTO t VALUES (?), (?)', [3, 4])).to.deep.equal({ changes: 2 });
  });

  it('runs a prepared statement many times with different values, and not after it is finalized', async () => {
    const wh = await fresh();
    await wh.exec('CREATE TABLE t (k INTEGER, d TEXT)');
    const counts = await wh.transaction(async (s) => {
      const insert = await s.prepare('INSERT INTO t VALUES ($k, $d), ($k + 100, $d)');
      const out = [];
      for (const k of [1, 2, 3]) out.push((await insert.run({ $k: k, $d: `day ${k}` })).changes);
      await insert.finalize();
      out.push(await insert.run({ $k: 9, $d: 'x' }).then(() => 'ran', (e: Error) => `${e.name}: ${e.message.split(':')[0]}`));
      return out;
    });
    expect(counts.slice(0, 3)).to.deep.equal([2, 2, 2]);
    expect(counts[3]).to.match(/^StatementFinalizedError: prepared statement drivetrain_\d+_\d+ was finalized$/);
    expect(await wh.all('SELECT k, d FROM t ORDER BY k')).to.deep.equal([1, 2, 3, 101, 102, 103].map((k) => ({ k, d: `day ${k % 100}` })));
  });

  it('runs writers one at a time across warehouses on the same schema, while a reader goes past them', async () => {
    const url = `${pg.url}?schema=pw_lock`;
    const first = await openWarehouse(url);
    await first.exec('CREATE TABLE t (k INTEGER)');
    // A second process's warehouse on the same schema: another pool, the same lock.
    const second: Warehouse = await PostgresWarehouse.open(pg.url, 'pw_lock');
    try {
      const order: string[] = [];
      let release!: () => void;
      const held = new Promise<void>((r) => (release = r));
      let started!: () => void;
      const inFirst = new Promise<void>((r) => (started = r));
      const writer1 = first.transaction(async (s) => {
        await s.run('INSERT INTO t VALUES (1)');
        started();
        await held;
        order.push('first commits');
      });
      await inFirst;
      const writer2 = second.transaction(async (s) => {
        order.push('second starts');
        await s.run('INSERT INTO t VALUES (2)');
      });
      // Wait until the second writer's backend is seen waiting for the advisory lock.
      for (;;) {
        const waiting = await first.get<{ n: number }>("SELECT count(*) AS n FROM pg_locks WHERE locktype = 'advisory' AND NOT granted AND database = (SELECT oid FROM pg_database WHERE datname = current_database())");
        if (waiting!.n > 0) break;
      }
      expect(await first.transaction((s) => s.all('SELECT k FROM t'), { write: false }), 'a reader sees the last commit, without waiting').to.deep.equal([]);
      expect(order).to.deep.equal([]);
      release();
      await Promise.all([writer1, writer2]);
      expect(order).to.deep.equal(['first commits', 'second starts']);
      expect(await first.all('SELECT k FROM t ORDER BY k')).to.deep.equal([{ k: 1 }, { k: 2 }]);
    } finally {
      await second.close();
    }
  });
});
