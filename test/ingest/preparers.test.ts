import { expect } from 'chai';
import sqlite3 from 'sqlite3';
import type { Entity } from '../../operators/entities.js';
import { LakePartitionWriter } from '../../operators/lake/writer.js';
import { closeSharedPrepareWorkerPool } from '../../operators/load/fast/PrepareWorkerPool.js';
import type { PartitionPreparer } from '../../operators/load/interfaces.js';
import { loadTask } from '../../operators/load/loadTask.js';
import { PlainPartitionPreparer } from '../../operators/load/PlainPartitionPreparer.js';
import { closeWarehouses } from '../../operators/warehouse/registry.js';
import { FaultInjector, noFaults } from '../../source/faults.js';
import { generateRows } from '../../source/generator.js';
import { makeTmpDir, testSettings } from '../helpers/tmp.js';
import { taskContext } from './context.js';

const DS = '2024-01-15';

function query(file: string, sql: string): Promise<unknown[]> {
  return new Promise((resolve, reject) => {
    const db = new sqlite3.Database(file, sqlite3.OPEN_READONLY);
    db.all(sql, [], (err, rows) => db.close(() => (err ? reject(err) : resolve(rows))));
  });
}

/** 1,500 generated rows of `entity`, some malformed by the sample source's faults, some repeated
 * (across blocks and at the end), one not JSON. */
function lakeLines(entity: Entity): string[] {
  const faults = new FaultInjector({ ...noFaults(), malformedRate: 0.05 });
  const sizes = { cars: 1500, customers: 1500, subscriptions: 1500 };
  const lines = [...generateRows(entity, sizes, 3)].map((r) => JSON.stringify(faults.maybeMalform(entity, r)));
  for (let i = 1; i < 15; i++) lines[i * 89] = lines[i * 47];
  lines[700] = '{"id": "cut';
  lines.push(lines[3], lines[3]);
  return lines;
}

/** The raw rows (in load order) and the rejects (sorted) a load of `lines` leaves. */
async function loadWith(entity: Entity, lines: readonly string[], workers: number, preparer?: PartitionPreparer): Promise<{ rows: unknown[]; rejects: unknown[] }> {
  const tmp = makeTmpDir('ingest-preparers-');
  try {
    const settings = testSettings(tmp.dir, {
      DRIVETRAIN_LOAD_MAX_REJECT_SHARE: '1',
      DRIVETRAIN_LOAD_BATCH_ROWS: '40',
      DRIVETRAIN_LOAD_PREPARE_WORKERS: String(workers),
    });
    const w = await LakePartitionWriter.open(settings.lakeDir, entity, DS);
    await w.writeLines(lines);
    await w.commit('test', new Date());
    await loadTask({ entity, preparer })(taskContext(settings, DS));
    const rows = await query(settings.warehouseDb, `SELECT * FROM "${entity}" ORDER BY rowid`);
    const rejects = await query(settings.warehouseDb, 'SELECT source, processing_date, raw_json, reason FROM rejects ORDER BY raw_json, reason');
    await closeWarehouses();
    return { rows, rejects };
  } finally {
    tmp.cleanup();
  }
}

describe('load partition preparers', () => {
  afterEach(async () => {
    await closeWarehouses();
    await closeSharedPrepareWorkerPool();
  });

  for (const entity of ['subscriptions', 'customers'] as const) {
    it(`the fast preparer, with and without a worker, leaves the same ${entity} and rejects as the plain one`, async () => {
      const lines = lakeLines(entity);
      const plain = await loadWith(entity, lines, 0, new PlainPartitionPreparer(40));
      expect(plain.rows.length).to.be.greaterThan(1300);
      expect(plain.rejects.length).to.be.greaterThan(30);
      expect(plain.rows.length + plain.rejects.length).to.equal(lines.length);
      for (const workers of [0, 1]) {
        const fast = await loadWith(entity, lines, workers);
        expect(fast.rows, `${workers} workers: rows`).to.deep.equal(plain.rows);
        expect(fast.rejects, `${workers} workers: rejects`).to.deep.equal(plain.rejects);
      }
    });
  }

  it('refuses a batch size that is not a positive integer, quoting it', () => {
    expect(() => new PlainPartitionPreparer(0)).to.throw(RangeError, "batchRows '0' is not a positive integer");
  });
});
