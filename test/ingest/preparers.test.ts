import { expect } from 'chai';
import type { Entity } from '../../operators/entities.js';
import { closeSharedPrepareWorkerPool } from '../../operators/load/fast/PrepareWorkerPool.js';
import type { PartitionPreparer } from '../../operators/load/interfaces.js';
import { PlainPartitionPreparer } from '../../operators/load/PlainPartitionPreparer.js';
import { closeWarehouses } from '../../operators/warehouse/registry.js';
import { FaultInjector, noFaults } from '../../source/faults.js';
import { generateRows } from '../../source/generator.js';
import { queryFile } from '../helpers/sqliteFile.js';
import { useTmpDir } from '../helpers/tmp.js';
import { loadInNewHome } from './lakeLoad.js';

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

/** The raw rows (in load order) and the rejects (sorted) a load of `lines` leaves in a home of its own, `dir`. */
async function loadWith(dir: string, entity: Entity, lines: readonly string[], workers: number, preparer?: PartitionPreparer): Promise<{ rows: unknown[]; rejects: unknown[] }> {
  const env = { DRIVETRAIN_LOAD_MAX_REJECT_SHARE: '1', DRIVETRAIN_LOAD_BATCH_ROWS: '40', DRIVETRAIN_LOAD_PREPARE_WORKERS: String(workers) };
  const settings = await loadInNewHome(dir, entity, lines, env, { preparer });
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
      const plain = await loadWith(tmp.path('plain'), entity, lines, 0, new PlainPartitionPreparer(40));
      expect(plain.rows.length).to.be.greaterThan(1300);
      expect(plain.rejects.length).to.be.greaterThan(30);
      expect(plain.rows.length + plain.rejects.length).to.equal(lines.length);
      for (const workers of [0, 1]) {
        const fast = await loadWith(tmp.path(`fast-${workers}`), entity, lines, workers);
        expect(fast.rows, `${workers} workers: rows`).to.deep.equal(plain.rows);
        expect(fast.rejects, `${workers} workers: rejects`).to.deep.equal(plain.rejects);
      }
    });
  }

  it('refuses a batch size that is not a positive integer, quoting it', () => {
    expect(() => new PlainPartitionPreparer(0)).to.throw(RangeError, "batchRows '0' is not a positive integer");
  });
});
