import { expect } from 'chai';
import { mkdirSync } from 'node:fs';
import type { Entity } from '../../operators/entities.js';
import { LakePartitionWriter } from '../../operators/lake/writer.js';
import { closeSharedPrepareWorkerPool } from '../../operators/load/fast/PrepareWorkerPool.js';
import type { PartitionPreparer } from '../../operators/load/interfaces.js';
import { loadTask } from '../../operators/load/loadTask.js';
import { PlainPartitionPreparer } from '../../operators/load/PlainPartitionPreparer.js';
import { closeWarehouses } from '../../operators/warehouse.js';
import { FaultInjector, noFaults } from '../../source/faults.js';
import { generateRows } from '../../source/generator.js';
import { queryFile } from '../helpers/sqliteFile.js';
import { testTaskContext } from '../helpers/taskContext.js';
import { testSettings, useTmpDir, type TmpDir } from '../helpers/tmp.js';

const DS = '2024-01-15';

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

/** The raw rows (in load order) and the rejects (sorted) a load of `lines` leaves, in a home of its
 * own under `tmp` (named `name`). */
async function loadWith(
  tmp: TmpDir,
  name: string,
  entity: Entity,
  lines: readonly string[],
  workers: number,
  preparer?: PartitionPreparer,
): Promise<{ rows: unknown[]; rejects: unknown[] }> {
  const dir = tmp.path(name);
  mkdirSync(dir);
  const settings = testSettings(dir, {
    DRIVETRAIN_LOAD_MAX_REJECT_SHARE: '1',
    DRIVETRAIN_LOAD_BATCH_ROWS: '40',
    DRIVETRAIN_LOAD_PREPARE_WORKERS: String(workers),
  });
  const w = await LakePartitionWriter.open(settings.lakeDir, entity, DS);
  await w.writeLines(lines);
  await w.commit('test', new Date());
  await loadTask({ entity, preparer })(testTaskContext(settings, { ds: DS }));
  const rows = await queryFile(settings.warehouseDb, `SELECT * FROM "${entity}" ORDER BY rowid`);
  const rejects = await queryFile(settings.warehouseDb, 'SELECT source, processing_date, raw_json, reason FROM rejects ORDER BY raw_json, reason');
  return { rows, rejects };
}

describe('load partition preparers', () => {
  const tmp = useTmpDir('ingest-preparers-', {
    beforeRemove: async () => {
      await closeWarehouses();
      await closeSharedPrepareWorkerPool();
    },
  });

  for (const entity of ['subscriptions', 'customers'] as const) {
    it(`the fast preparer, with and without a worker, leaves the same ${entity} and rejects as the plain one`, async () => {
      const lines = lakeLines(entity);
      const plain = await loadWith(tmp, 'plain', entity, lines, 0, new PlainPartitionPreparer(40));
      expect(plain.rows.length).to.be.greaterThan(1300);
      expect(plain.rejects.length).to.be.greaterThan(30);
      expect(plain.rows.length + plain.rejects.length).to.equal(lines.length);
      for (const workers of [0, 1]) {
        const fast = await loadWith(tmp, `fast-${workers}`, entity, lines, workers);
        expect(fast.rows, `${workers} workers: rows`).to.deep.equal(plain.rows);
        expect(fast.rejects, `${workers} workers: rejects`).to.deep.equal(plain.rejects);
      }
    });
  }

  it('refuses a batch size that is not a positive integer, quoting it', () => {
    expect(() => new PlainPartitionPreparer(0)).to.throw(RangeError, "batchRows '0' is not a positive integer");
  });
});
