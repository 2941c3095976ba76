import { expect } from 'chai';
import { mkdirSync } from 'node:fs';
import path from 'node:path';
import { ENTITIES, type Entity } from '../../operators/entities.js';
import { closeSharedPrepareWorkerPool } from '../../operators/load/fast/PrepareWorkerPool.js';
import type { PartitionPreparer } from '../../operators/load/interfaces.js';
import { loadTask } from '../../operators/load/loadTask.js';
import { PlainPartitionPreparer } from '../../operators/load/PlainPartitionPreparer.js';
import { recordLoadedPartition } from '../../operators/load/rawPartitions.js';
import { sqliteDialect } from '../../operators/sql/dialect/sqlite.js';
import { execute, runModel } from '../../operators/sql/materialize.js';
import { paramsFor } from '../../operators/sql/params.js';
import { defaultRegistry } from '../../operators/sql/sqlTask.js';
import type { Warehouse } from '../../operators/warehouse/interfaces.js';
import { closeWarehouses, openWarehouse } from '../../operators/warehouse/registry.js';
import type { Settings } from '../../scheduler/settings.js';
import { generateRows } from '../../source/generator.js';
import { queryFile } from '../helpers/sqliteFile.js';
import { testTaskContext } from '../helpers/taskContext.js';
import { testSettings, useTmpDir } from '../helpers/tmp.js';
import { writeLake } from '../ingest/lakeLoad.js';
import { createRawTables, dayInterval, hashKey, runModelDag, tableRows, writeRaw, type Row } from './fixtures.js';

const [DAY1, DAY2, DAY3] = ['2024-01-14', '2024-01-15', '2024-01-16'];
/** Small batches: a partition in many blocks, its fresh rows in many rowid ranges. */
const ENV = { DRIVETRAIN_LOAD_BATCH_ROWS: '40' };
const VAULT = ['hub_car', 'hub_customer', 'hub_subscription', 'link_subscription', 'sat_car', 'sat_customer', 'sat_customer_pii', 'sat_subscription'];
const TABLES = [...VAULT, 'car_timeline', 'customer_profile', 'subscription_timeline'];

type Lines = Record<Entity, string[]>;

/** A generated snapshot of the three sources, as lake lines. */
function snapshot(): Lines {
  const sizes = { cars: 400, customers: 250, subscriptions: 400 };
  const of = (e: Entity) => [...generateRows(e, sizes, 11)].map((r) => JSON.stringify(r));
  return { cars: of('cars'), customers: of('customers'), subscriptions: of('subscriptions') };
}

/** `line` with `field` set to `value`. */
function edited(line: string, field: string, value: unknown): string {
  return JSON.stringify({ ...(JSON.parse(line) as object), [field]: value });
}

/**
 * The next snapshot: every `every`-th customer moves and subscription is repriced, cars are deregistered,
 * some lines leave, and new keys come (a new car, customer and subscription referring to each other).
 */
function next(day: Lines, tag: string, every: number): Lines {
  const cars = day.cars.map((l, i) => (i % every === 3 ? edited(l, 'deregistration_date', '2024-01-10 00:00:00') : l)).filter((_, i) => i % 101 !== 7);
  const customers = day.customers.map((l, i) => (i % every === 1 ? edited(l, 'address_city', `City ${tag}`) : l));
  const subscriptions = day.subscriptions.map((l, i) => (i % every === 2 ? edited(l, 'monthly_rate', 400 + i) : l));
  const car = edited(day.cars[0], 'id', `car-${tag}`);
  const customer = edited(day.customers[0], 'id', `customer-${tag}`);
  const subscription = edited(edited(edited(day.subscriptions[0], 'id', `subscription-${tag}`), 'car_id', `car-${tag}`), 'customer_id', `customer-${tag}`);
  return { cars: [...cars.slice(0, 50), car, ...cars.slice(50)], customers: [...customers, customer], subscriptions: [subscription, ...subscriptions] };
}

/** Loads the day's lake partitions (writing them first) into the raw tables. */
async function load(settings: Settings, ds: string, lines: Partial<Lines>, preparer?: PartitionPreparer): Promise<void> {
  for (const e of ENTITIES) {
    if (!lines[e]) continue;
    await writeLake(settings, e, lines[e], ds);
    await loadTask({ entity: e, preparer })(testTaskContext(settings, { ds }));
  }
}

/** Loads the day and runs the ingest DAG's vault models, timelines and tests for it. */
async function ingestDay(settings: Settings, ds: string, lines: Lines, preparer?: PartitionPreparer): Promise<void> {
  await load(settings, ds, lines, preparer);
  await runModelDag(settings, 'ingest', [dayInterval(ds)]);
}

/** Every vault and timeline table's rows. */
async function vault(settings: Settings): Promise<Record<string, unknown[]>> {
  const out: Record<string, unknown[]> = {};
  for (const t of TABLES) out[t] = await tableRows(settings.warehouseDb, t);
  return out;
}

/** Per model run of `ds`: the raw tables whose copied rows it skipped. */
async function skipped(settings: Settings, ds: string): Promise<Record<string, string[]>> {
  const runs = await queryFile<{ model: string; fresh_only: string }>(settings.warehouseDb, `SELECT model, fresh_only FROM _drivetrain_vault_runs WHERE ds = '${ds}' ORDER BY seq`);
  return Object.fromEntries(runs.map((r) => [r.model, JSON.parse(r.fresh_only) as string[]]));
}

const SKIPPING_ALL: Record<string, string[]> = {
  hub_car: ['cars', 'subscriptions'],
  hub_customer: ['customers', 'subscriptions'],
  hub_subscription: ['subscriptions'],
  link_subscription: ['subscriptions'],
  sat_car: ['cars'],
  sat_customer: ['customers'],
  sat_customer_pii: ['customers'],
  sat_subscription: ['subscriptions'],
};

describe('vault loads skipping copied rows', function () {
  this.timeout(120_000);
  const tmp = useTmpDir('vault-copied-', {
    beforeRemove: async () => {
      await closeWarehouses();
      await closeSharedPrepareWorkerPool();
    },
  });
  const home = (name: string): Settings => {
    const dir = path.join(tmp.dir, name);
    mkdirSync(dir);
    return testSettings(dir, ENV);
  };
  /** A preparer that copies nothing: every vault load reads every row. */
  const plain = new PlainPartitionPreparer(40);
  /** Runs `steps` in two new homes, one whose loads copy unchanged rows and one whose loads copy nothing; returns them in that order. */
  const bothWays = async (name: string, steps: (settings: Settings, preparer: PartitionPreparer | undefined) => Promise<void>): Promise<[Settings, Settings]> => {
    const [copying, full] = [home(name), home(`${name}-full`)];
    await steps(copying, undefined);
    await steps(full, plain);
    return [copying, full];
  };
  const day1 = snapshot();
  const day2 = next(day1, 'b', 9);
  const day3 = next(day2, 'c', 13);

  it('read only the rows the loads did not copy, day after day, and leave the vault as loads of every row do', async () => {
    const [copying, full] = await bothWays('days', async (settings, preparer) => {
      for (const [ds, lines] of [[DAY1, day1], [DAY2, day2], [DAY3, day3]] as const) await ingestDay(settings, ds, lines, preparer);
    });
    expect(await skipped(copying, DAY1), 'the first day copies nothing').to.deep.equal(Object.fromEntries(VAULT.map((m) => [m, []])));
    expect(await skipped(copying, DAY2)).to.deep.equal(SKIPPING_ALL);
    expect(await skipped(copying, DAY3)).to.deep.equal(SKIPPING_ALL);
    expect(await skipped(full, DAY3), 'nothing copied, nothing skipped').to.deep.equal(Object.fromEntries(VAULT.map((m) => [m, []])));
    const [got, want] = [await vault(copying), await vault(full)];
    for (const t of TABLES) expect(got[t], t).to.deep.equal(want[t]);
    // The days changed something in every satellite: the comparison covers new versions, not only none.
    for (const sat of ['sat_car', 'sat_customer', 'sat_subscription']) {
      const dates = new Set((want[sat] as Array<{ load_date: string }>).map((r) => r.load_date));
      expect(dates.size, sat).to.equal(3);
    }
  });

  it('have the load record the partition it copied from, the rowids of the rows it did not copy, and whether keys are distinct', async () => {
    const settings = home('records');
    await load(settings, DAY1, day1);
    await load(settings, DAY2, day2);
    const records = await queryFile<{ entity: string; processing_date: string; copied_from: string | null; fresh_rowids: string | null; unique_keys: number; load_id: string }>(
      settings.warehouseDb,
      'SELECT * FROM raw_partitions ORDER BY entity, processing_date',
    );
    const first = records.find((r) => r.entity === 'subscriptions' && r.processing_date === DAY1)!;
    const second = records.find((r) => r.entity === 'subscriptions' && r.processing_date === DAY2)!;
    expect(first).to.include({ copied_from: null, fresh_rowids: null, unique_keys: 1 });
    expect(second).to.deep.include({ copied_from: DAY1, copied_load_id: first.load_id, unique_keys: 1 });
    const ranges = JSON.parse(second.fresh_rowids!) as Array<[number, number]>;
    const fresh = await queryFile<{ id: string }>(
      settings.warehouseDb,
      `SELECT s.id FROM json_each('${second.fresh_rowids}') j JOIN subscriptions s ON s.rowid BETWEEN j.value->>0 AND j.value->>1 ORDER BY s.id`,
    );
    const changedIds = day2.subscriptions.filter((l) => !day1.subscriptions.includes(l)).map((l) => (JSON.parse(l) as { id: string }).id);
    expect(fresh.map((r) => r.id)).to.deep.equal([...changedIds].sort());
    expect(ranges.length, 'one range per batch with a changed line').to.be.above(1);
    // A vault load's read of the fresh rows stages exactly those.
    const read = defaultRegistry().forDialect(sqliteDialect).model('sat_subscription').staging![0];
    const staged = await (await openWarehouse(settings.warehouseDb)).transaction(async (t) => {
      await execute(t, read.freshSql, paramsFor([dayInterval(DAY2)]));
      return t.all<{ hk_subscription: string }>(`SELECT hk_subscription FROM temp.${read.table} ORDER BY 1`);
    });
    expect(staged.map((r) => r.hk_subscription)).to.deep.equal(changedIds.map((id) => hashKey(id)).sort());
  });

  it('keep no fresh rows for a partition whose ranges do not hold, and say why', async () => {
    const settings = home('bad-ranges');
    await load(settings, DAY1, day1);
    await load(settings, DAY2, day2);
    const db = await openWarehouse(settings.warehouseDb);
    const [{ load_id: loadId }] = await db.all<{ load_id: string }>(`SELECT load_id FROM raw_partitions WHERE entity = 'cars' AND processing_date = '${DAY1}'`);
    const [{ first }] = await db.all<{ first: number }>(`SELECT min(rowid) AS first FROM cars WHERE processing_date = '${DAY2}'`);
    const record = (rowids: number[], prepared: number) =>
      db.transaction((t) => recordLoadedPartition(t, 'cars', DAY2, { copiedFrom: { ds: DAY1, loadId }, freshRowids: rowids, uniqueKeys: true }, prepared));
    expect(await record([first, first + 9, first + 5, first + 20], 26)).to.equal(`rowids ${first + 5}..${first + 20} are out of order or overlap the range before`);
    expect(await record([first - 10, first + 9], 20)).to.equal(`rowids ${first - 10}..${first + 9} are not all rows of ${DAY2}`);
    expect(await record([first, first + 9], 11)).to.equal('the ranges hold 10 rows, 11 were prepared');
    expect(await db.all(`SELECT copied_from, fresh_rowids FROM raw_partitions WHERE entity = 'cars' AND processing_date = '${DAY2}'`)).to.deep.equal([
      { copied_from: null, fresh_rowids: null },
    ]);
  });

  it("read every row of a satellite's partition whose business keys repeat once normalised, and still skip for its hub", async () => {
    // A second car of the same key: each day, one of the two is compared with the key's latest version
    // and differs from it, so a full read gives a new version every day, which a skipping one would not.
    const twin = (lines: string[]) => [...lines, edited(edited(lines[5], 'id', ` ${(JSON.parse(lines[5]) as { id: string }).id.toUpperCase()}`), 'brand', 'Twin')];
    const days = [
      { ...day1, cars: twin(day1.cars) },
      { ...day2, cars: twin(day2.cars) },
    ];
    const [copying, full] = await bothWays('twins', async (settings, preparer) => {
      await ingestDay(settings, DAY1, days[0], preparer);
      await ingestDay(settings, DAY2, days[1], preparer);
    });
    const unique = await queryFile<{ unique_keys: number }>(copying.warehouseDb, `SELECT unique_keys FROM raw_partitions WHERE entity = 'cars' AND processing_date = '${DAY2}'`);
    expect(unique).to.deep.equal([{ unique_keys: 0 }]);
    expect(await vault(copying)).to.deep.equal(await vault(full));
    expect(await skipped(copying, DAY2)).to.deep.equal({ ...SKIPPING_ALL, sat_car: [] });
  });

  it('read every row after a vault load that was not clean, or that read another load of the previous partition', async () => {
    // The first day loaded again with other cities, and its vault loads run again: they find rows of
    // their own load_date (not clean), and keep those versions, not the new cities. The next day copies
    // the new cities' lines: read, they give new versions; skipped, they would give none.
    const moved: Lines = { ...day1, customers: day1.customers.map((l, i) => (i % 7 === 4 ? edited(l, 'address_city', 'Elsewhere') : l)) };
    const movedNext = next(moved, 'b', 9);
    const [rerun, rerunFull] = await bothWays('rerun', async (settings, preparer) => {
      await ingestDay(settings, DAY1, day1, preparer);
      await ingestDay(settings, DAY1, moved, preparer);
      await ingestDay(settings, DAY2, movedNext, preparer);
    });
    const elsewhere = await queryFile(rerun.warehouseDb, `SELECT 1 FROM sat_customer WHERE address_city = 'Elsewhere' AND load_date = '${paramsFor([dayInterval(DAY2)]).load_date}'`);
    expect(elsewhere, 'the next day gives the versions the rerun dropped').to.not.be.empty;
    expect(await vault(rerun)).to.deep.equal(await vault(rerunFull));
    expect(await skipped(rerun, DAY2)).to.deep.equal(Object.fromEntries(VAULT.map((m) => [m, []])));
    // The first day's raw partitions loaded again, with the other cities, after its vault loads: the
    // next day copies those lines from a load the vault never read.
    const [reloaded, reloadedFull] = await bothWays('reloaded', async (settings, preparer) => {
      await ingestDay(settings, DAY1, day1, preparer);
      await load(settings, DAY1, moved, preparer);
      await ingestDay(settings, DAY2, movedNext, preparer);
    });
    expect(await vault(reloaded)).to.deep.equal(await vault(reloadedFull));
    expect(await skipped(reloaded, DAY2)).to.deep.equal(Object.fromEntries(VAULT.map((m) => [m, []])));
    // The model's definition changed since its last load (a new version of its macro).
    const [redefined, full] = [home('redefined'), home('full')];
    await ingestDay(redefined, DAY1, day1);
    await (await openWarehouse(redefined.warehouseDb)).run(`UPDATE _drivetrain_vault_runs SET definition = 'earlier' WHERE model = 'sat_car'`);
    await ingestDay(redefined, DAY2, day2);
    expect((await skipped(redefined, DAY2)).sat_car).to.deep.equal([]);
    await ingestDay(full, DAY1, day1, plain);
    await ingestDay(full, DAY2, day2, plain);
    expect(await vault(redefined)).to.deep.equal(await vault(full));
  });

  it('read every row into a table created again, as its first load', async () => {
    const [copying, full] = await bothWays('dropped', async (settings, preparer) => {
      await ingestDay(settings, DAY1, day1, preparer);
      await (await openWarehouse(settings.warehouseDb)).run('DROP TABLE sat_customer');
      await ingestDay(settings, DAY2, day2, preparer);
    });
    expect(await vault(copying)).to.deep.equal(await vault(full));
    expect((await skipped(copying, DAY2)).sat_customer).to.deep.equal([]);
  });

  it('read every row when the recorded rowids no longer name the rows the load did not copy (a VACUUM may renumber them)', async () => {
    const [copying, full] = [home('copying'), home('full')];
    await ingestDay(copying, DAY1, day1);
    await load(copying, DAY2, day2);
    // The day's cars moved to other rowids, in order, as a renumbering leaves them.
    await (await openWarehouse(copying.warehouseDb)).run(`UPDATE cars SET rowid = rowid + 10000000 WHERE processing_date = '${DAY2}'`);
    await runModelDag(copying, 'ingest', [dayInterval(DAY2)]);
    await ingestDay(full, DAY1, day1, plain);
    await ingestDay(full, DAY2, day2, plain);
    expect(await vault(copying)).to.deep.equal(await vault(full));
    expect(await skipped(copying, DAY2)).to.deep.equal({ ...SKIPPING_ALL, hub_car: ['subscriptions'], sat_car: [] });
  });

  it('run on a warehouse whose raw_partitions predates the columns they read, before any load added them', async () => {
    const settings = home('old');
    const file = settings.warehouseDb;
    await createRawTables(file);
    const db = await openWarehouse(file);
    await db.exec(
      'DROP TABLE raw_partitions; CREATE TABLE raw_partitions ("entity" TEXT NOT NULL, "processing_date" TEXT NOT NULL, ' +
        '"lake_digest" TEXT NOT NULL, "load_format" TEXT NOT NULL, "load_id" TEXT NOT NULL, PRIMARY KEY ("entity", "processing_date"))',
    );
    for (const e of ENTITIES) await writeRaw(file, e, DAY1, day1[e].map((l) => JSON.parse(l) as Row));
    await runModelDag(settings, 'ingest', [dayInterval(DAY1)]);
    expect(await tableRows(file, 'hub_car')).to.have.length(day1.cars.length);
    expect(await skipped(settings, DAY1)).to.deep.equal(Object.fromEntries(VAULT.map((m) => [m, []])));
  });

  it('stage their reads again under the write lock when the raw partition was loaded again after they were staged', async () => {
    const changedAgain: Lines = { ...day2, cars: day2.cars.map((l, i) => (i % 5 === 0 ? edited(l, 'brand', 'Reloaded') : l)) };
    const [copying, full] = [home('copying'), home('full')];
    await ingestDay(copying, DAY1, day1);
    await load(copying, DAY2, day2);
    const db = await openWarehouse(copying.warehouseDb);
    // The same warehouse, but each transaction's staged reads are followed by a load of the cars again.
    let staged = 0;
    const reloading: Warehouse = Object.create(db, {
      transaction: {
        value: (fn: Parameters<Warehouse['transaction']>[0], opts?: Parameters<Warehouse['transaction']>[1]) =>
          db.transaction(fn, {
            ...opts,
            prepare: async (session) => {
              await opts?.prepare?.(session);
              staged++;
              await load(copying, DAY2, { cars: changedAgain.cars });
            },
          }),
      },
    });
    const model = defaultRegistry().forDialect(sqliteDialect).model('sat_car');
    const r = await runModel(reloading, model, paramsFor([dayInterval(DAY2)]));
    expect(staged).to.equal(1);
    expect(r.freshOnly, 'the reload copied from the first day too: the read is still of fresh rows').to.deep.equal(['cars']);
    await ingestDay(full, DAY1, day1, plain);
    await load(full, DAY2, changedAgain, plain);
    await runModel(await openWarehouse(full.warehouseDb), model, paramsFor([dayInterval(DAY2)]));
    expect(await tableRows(copying.warehouseDb, 'sat_car')).to.deep.equal(await tableRows(full.warehouseDb, 'sat_car'));
  });
});
