import { expect } from 'chai';
import { mkdirSync, readdirSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { gzipSync } from 'node:zlib';
import type { Entity } from '../../operators/entities.js';
import { closeSharedPrepareWorkerPool } from '../../operators/load/fast/PrepareWorkerPool.js';
import { readPreviousPartition, unchangedSince } from '../../operators/load/fast/PreviousPartition.js';
import { CarrySourceError } from '../../operators/load/fast/CarrySourceError.js';
import { CarryWriter } from '../../operators/load/fast/CarryWriter.js';
import type { PartitionPreparer } from '../../operators/load/interfaces.js';
import { loadTask } from '../../operators/load/loadTask.js';
import { PlainPartitionPreparer } from '../../operators/load/PlainPartitionPreparer.js';
import { erasePersonalData } from '../../operators/privacy/erase.js';
import { partitionDir } from '../../operators/lake/manifest.js';
import { closeWarehouses, openWarehouse } from '../../operators/warehouse/registry.js';
import type { SqliteSession } from '../../operators/warehouse/SqliteSession.js';
import type { Settings } from '../../scheduler/settings.js';
import { FaultInjector, noFaults } from '../../source/faults.js';
import { generateRows } from '../../source/generator.js';
import { execFile, openDb, queryFile } from '../helpers/sqliteFile.js';
import { testTaskContext } from '../helpers/taskContext.js';
import { testSettings, useTmpDir } from '../helpers/tmp.js';
import { writeLake } from './lakeLoad.js';

const DAY1 = '2024-01-14';
const DAY2 = '2024-01-15';
const ENV = { DRIVETRAIN_LOAD_MAX_REJECT_SHARE: '1', DRIVETRAIN_LOAD_BATCH_ROWS: '40' };

/** The first day: `rows` generated rows, some malformed by the sample source's faults, one id repeated. */
function firstDay(entity: Entity, rows = 2000): string[] {
  const faults = new FaultInjector({ ...noFaults(), malformedRate: 0.03 });
  const sizes = { cars: rows, customers: rows, subscriptions: rows };
  const lines = [...generateRows(entity, sizes, 5)].map((r) => JSON.stringify(faults.maybeMalform(entity, r)));
  lines[60] = lines[20];
  return lines;
}

/** A line with a value of `field` changed (a valid line stays valid). */
function changed(line: string, field: string, value: unknown): string {
  return JSON.stringify({ ...(JSON.parse(line) as object), [field]: value });
}

/**
 * The next day: lines changed in place, inserted, deleted one by one and in a run longer than the
 * matcher's wide look-ahead, a stretch moved to the end, a reject of the day before fixed, and an id
 * repeated with the carried line first, with it second, and as two identical lines.
 */
function nextDay(entity: Entity, day1: readonly string[], field: string, value: unknown): string[] {
  const valid = (i: number): boolean => {
    try {
      JSON.parse(day1[i]);
      return true;
    } catch {
      return false;
    }
  };
  const lines = day1.map((l, i) => (i % 97 === 5 && valid(i) ? changed(l, field, value) : l));
  const fresh = [...generateRows(entity, { cars: 2030, customers: 2030, subscriptions: 2030 }, 5)].slice(2000).map((r) => JSON.stringify(r));
  for (let k = 0; k < 20; k++) lines.splice(100 + k * 71, 0, fresh[k]);
  lines.splice(900, 600);
  for (let k = 0; k < 10; k++) lines.splice(300 + k * 37, 1);
  lines.push(...lines.splice(1100, 50));
  const fixable = day1.findIndex((l, i) => !valid(i));
  if (fixable >= 0) lines.push(JSON.stringify({ ...(JSON.parse(day1[fixable - 1]) as object), id: 'fixed-today' }));
  const carriedFirst = lines[210];
  lines.splice(230, 0, changed(carriedFirst, field, value));
  const carriedSecond = lines[450];
  lines.splice(440, 0, changed(carriedSecond, field, value));
  lines.splice(600, 0, lines[620]);
  return lines;
}

/** Loads `day1` then `day2` into a new home; returns the settings and the second load's log lines. */
async function loadBoth(dir: string, entity: Entity, day1: readonly string[], day2: readonly string[], env: Record<string, string>, preparer?: PartitionPreparer): Promise<{ settings: Settings; info: string[] }> {
  mkdirSync(dir);
  const settings = testSettings(dir, env);
  await writeLake(settings, entity, day1, DAY1);
  await writeLake(settings, entity, day2, DAY2);
  await loadTask({ entity, preparer })(testTaskContext(settings, { ds: DAY1 }));
  const ctx = testTaskContext(settings, { ds: DAY2 });
  await loadTask({ entity, preparer })(ctx);
  return { settings, info: ctx.log.messages('info') };
}

/** A home's raw rows and rejects of both days, in an order that does not depend on insertion. */
async function tables(settings: Settings, entity: Entity): Promise<{ rows: unknown[]; rejects: unknown[] }> {
  return {
    rows: await queryFile(settings.warehouseDb, `SELECT * FROM "${entity}" ORDER BY processing_date, lake_line`),
    rejects: await queryFile(settings.warehouseDb, 'SELECT source, processing_date, raw_json, reason FROM rejects ORDER BY processing_date, raw_json, reason'),
  };
}

/** The number in the load's "N rows of unchanged lines copied" note, or undefined without one. */
function carriedIn(info: readonly string[]): number | undefined {
  const m = info.map((l) => /; (\d+) rows of unchanged lines copied from/.exec(l)).find(Boolean);
  return m ? Number(m[1]) : undefined;
}

describe('carrying unchanged rows from the previous partition', () => {
  const tmp = useTmpDir('ingest-carry-', {
    beforeRemove: async () => {
      await closeWarehouses();
      await closeSharedPrepareWorkerPool();
    },
  });

  for (const [entity, field, value] of [['subscriptions', 'monthly_rate', 123.45], ['customers', 'address_city', 'Hamburg']] as const) {
    it(`leaves the same ${entity} and rejects as the plain preparer, which copies nothing, through changes, moves and repeated ids`, async () => {
      const day1 = firstDay(entity);
      const day2 = nextDay(entity, day1, field, value);
      const plain = await loadBoth(tmp.path(`plain-${entity}`), entity, day1, day2, ENV, new PlainPartitionPreparer(40));
      const expected = await tables(plain.settings, entity);
      expect(expected.rejects.filter((r) => (r as { reason: string }).reason.startsWith('id: duplicate')).length, 'repeated ids rejected').to.be.at.least(4);
      for (const workers of ['0', '1']) {
        const fast = await loadBoth(tmp.path(`fast-${entity}-${workers}`), entity, day1, day2, { ...ENV, DRIVETRAIN_LOAD_PREPARE_WORKERS: workers });
        const copied = carriedIn(fast.info);
        expect(copied, `${workers} workers: rows copied`).to.be.greaterThan(day2.length * 0.8);
        expect(await tables(fast.settings, entity), `${workers} workers`).to.deep.equal(expected);
      }
    });
  }

  it('copies a row from the previous partition, not parsed again: a value changed there by hand shows through', async () => {
    // More rows than one copy statement takes.
    const day1 = firstDay('cars', 45_000);
    const { settings, info } = await loadBoth(tmp.path('proof'), 'cars', day1, day1, ENV);
    expect(carriedIn(info)).to.equal((await queryFile<{ n: number }>(settings.warehouseDb, `SELECT count(*) AS n FROM cars WHERE processing_date = '${DAY1}'`))[0].n);
    expect(info.filter((l) => / copied from 2024-01-14 \(read the previous partition in \d+ ms, waited \d+ ms for the writer, wrote in \d+ ms\)$/.test(l))).to.have.length(1);
    await execFile(settings.warehouseDb, `UPDATE cars SET brand = 'by hand' WHERE processing_date = '${DAY2}' AND lake_line IN (7, 44000)`);
    await writeLake(settings, 'cars', day1, '2024-01-16');
    await loadTask({ entity: 'cars' })(testTaskContext(settings, { ds: '2024-01-16' }));
    expect(await queryFile(settings.warehouseDb, "SELECT lake_line, brand FROM cars WHERE processing_date = '2024-01-16' AND brand = 'by hand' ORDER BY 1")).to.deep.equal([
      { lake_line: 7, brand: 'by hand' },
      { lake_line: 44000, brand: 'by hand' },
    ]);
  });

  it('copies nothing from a partition loaded in another format, or whose lake partition was rewritten by an erasure', async () => {
    const day1 = firstDay('customers');
    const { settings } = await loadBoth(tmp.path('guards'), 'customers', day1, day1, ENV);
    const loadDay = async (ds: string): Promise<number | undefined> => {
      await writeLake(settings, 'customers', day1, ds);
      const ctx = testTaskContext(settings, { ds });
      await loadTask({ entity: 'customers' })(ctx);
      return carriedIn(ctx.log.messages('info'));
    };
    await execFile(settings.warehouseDb, `UPDATE raw_partitions SET load_format = '0:old' WHERE processing_date = '${DAY2}'`);
    expect(await loadDay('2024-01-16'), 'another format').to.equal(undefined);
    expect(await loadDay('2024-01-17'), 'the day after: copied again').to.be.greaterThan(1900);
    const id = (JSON.parse(day1[0]) as { id: string }).id;
    await erasePersonalData({ entity: 'customers', ids: [id], lakeDir: settings.lakeDir, warehouse: settings.warehouseDb, now: new Date('2024-01-18T00:00:00Z') });
    expect(await loadDay('2024-01-18'), 'after an erasure').to.equal(undefined);
    const plain = await loadBoth(tmp.path('guards-plain'), 'customers', day1, day1, ENV, new PlainPartitionPreparer(40));
    const row = `SELECT * FROM customers WHERE processing_date = ? ORDER BY lake_line`;
    expect(await queryFile(settings.warehouseDb, row.replace('?', "'2024-01-18'"))).to.deep.equal(
      (await queryFile<Record<string, unknown>>(plain.settings.warehouseDb, row.replace('?', `'${DAY2}'`))).map((r) => ({ ...r, processing_date: '2024-01-18' })),
    );
  });

  it('loads every line again when the previous lake partition turns out broken, also in a part the match never needed whole', async () => {
    const day1 = firstDay('cars');
    mkdirSync(tmp.path('broken'));
    const settings = testSettings(tmp.path('broken'), ENV);
    await writeLake(settings, 'cars', day1, DAY1);
    await loadTask({ entity: 'cars' })(testTaskContext(settings, { ds: DAY1 }));
    // The day's part, changed under its manifest after the load: its lines no longer are what loaded.
    const dir = partitionDir(settings.lakeDir, 'cars', DAY1);
    const part = readdirSync(dir).find((f) => f.endsWith('.ndjson.gz'))!;
    writeFileSync(path.join(dir, part), gzipSync(`${day1.map((l, i) => (i === 1999 ? changed(l, 'brand', 'tampered') : l)).join('\n')}\n`));
    // Today's partition is half of it: the match itself reads the previous one only a little past that.
    const today = day1.slice(0, 1000);
    await writeLake(settings, 'cars', today, DAY2);
    const ctx = testTaskContext(settings, { ds: DAY2 });
    await loadTask({ entity: 'cars' })(ctx);
    expect(ctx.log.messages('warn').join('\n')).to.match(
      new RegExp(`the previous partition cars/ds=${DAY1} could not be used to copy unchanged rows: .*sha256.*; loading every line instead`),
    );
    expect(carriedIn(ctx.log.messages('info'))).to.equal(undefined);
    const rows = (ds: string) => queryFile(settings.warehouseDb, `SELECT * FROM cars WHERE processing_date = '${ds}' AND lake_line < 1000 ORDER BY lake_line`);
    expect(await rows(DAY2)).to.deep.equal((await rows(DAY1)).map((r) => ({ ...(r as object), processing_date: DAY2 })));
  });

  it('copies nothing when the previous partition was loaded again between the read and the write lock, though its rowids are the same', async () => {
    const day1 = firstDay('cars');
    const { settings } = await loadBoth(tmp.path('rerun'), 'cars', day1, day1, ENV);
    const db = await openDb(settings.warehouseDb);
    try {
      const previous = await readPreviousPartition(db, settings.lakeDir, 'cars', '2024-01-16');
      expect(previous?.ds).to.equal(DAY2);
      expect(await unchangedSince(db, previous!)).to.equal(true);
      // DAY2's rows are the table's last: loaded again, they get the same rowids.
      await loadTask({ entity: 'cars' })(testTaskContext(settings, { ds: DAY2 }));
      const [now] = await queryFile<{ rows: number; first: number; last: number }>(
        settings.warehouseDb,
        `SELECT count(*) AS rows, min(rowid) AS first, max(rowid) AS last FROM cars WHERE processing_date = '${DAY2}'`,
      );
      expect(previous!.stamp).to.include(now);
      expect(await unchangedSince(db, previous!)).to.equal(false);
    } finally {
      await db.close();
    }
  });

  it('copies a run of rows only while each is still the row of its line in the previous partition, else fails the batch as a CarrySourceError', async () => {
    const day1 = firstDay('cars');
    const { settings } = await loadBoth(tmp.path('short'), 'cars', day1, day1, ENV);
    const warehouse = await openWarehouse(settings.warehouseDb);
    const [a, b] = await warehouse.all<{ rowid: number; lake_line: number }>(`SELECT rowid, lake_line FROM cars WHERE processing_date = '${DAY2}' ORDER BY rowid LIMIT 2`);
    expect(b).to.deep.equal({ rowid: a.rowid + 1, lake_line: a.lake_line + 1 });
    const copy = (previousLine: number): Promise<unknown> =>
      warehouse
        .transaction(
          async (session) => {
            const writer = new CarryWriter(session, 'cars', '2024-01-20', { schema: 'carry_source', ds: DAY2 });
            try {
              await writer.write({ rows: 2, ranges: [a.rowid, b.rowid, previousLine, 0] });
              await writer.flush();
            } finally {
              await writer.close();
            }
          },
          { prepare: (session) => (session as SqliteSession).attachReadOnly('carry_source') },
        )
        .then(() => undefined, (e: unknown) => e);
    expect(await copy(a.lake_line)).to.equal(undefined);
    expect(await warehouse.all("SELECT lake_line FROM cars WHERE processing_date = '2024-01-20' ORDER BY lake_line")).to.deep.equal([{ lake_line: 0 }, { lake_line: 1 }]);
    const err = await copy(a.lake_line + 1);
    expect(err).to.be.instanceOf(CarrySourceError).and.include({ name: 'CarrySourceError', entity: 'cars', ds: DAY2 });
    expect((err as Error).message).to.equal(`the previous partition cars/ds=${DAY2} could not be used to copy unchanged rows: 0 of 2 rows were where they were read`);
  });
});
