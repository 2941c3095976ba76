import { expect } from 'chai';
import { execFileSync } from 'node:child_process';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import type { BlockToPrepare } from '../../operators/load/fast/blockPreparer.js';
import { BlobPool } from '../../operators/load/fast/BlobPool.js';
import { PrepareWorkerError } from '../../operators/load/fast/PrepareWorkerError.js';
import { closeSharedPrepareWorkerPool, PrepareWorkerPool, sharedPrepareWorkerPool } from '../../operators/load/fast/PrepareWorkerPool.js';
import { closeWarehouses } from '../../operators/warehouse/registry.js';
import type { Entity } from '../../operators/entities.js';
import type { Settings } from '../../scheduler/settings.js';
import { generateRows } from '../../source/generator.js';
import { queryFile } from '../helpers/sqliteFile.js';
import { useTmpDir } from '../helpers/tmp.js';
import { loadInNewHome } from './lakeLoad.js';

/** `lines` as the lake reader hands them out: one block of UTF-8 bytes. */
function blockOf(lines: readonly string[]): BlockToPrepare {
  return { bytes: Buffer.from(lines.map((l) => `${l}\n`).join('')), lines: lines.length, lakeLines: Int32Array.from(lines.keys()) };
}

const query = <T extends object = Record<string, unknown>>(file: string, sql: string) => queryFile<T>(file, sql);

/** 2,000 generated customers (German names and streets: non-ASCII text) with bad rows and repeated
 * ids spread over the partition, so repeats meet across blocks prepared on different threads. */
function customerLines(): string[] {
  const lines = [...generateRows('customers', { cars: 1, customers: 2000, subscriptions: 0 }, 7)].map((r) => JSON.stringify(r));
  for (let i = 1; i < 20; i++) lines[i * 97] = lines[i * 61];
  lines[500] = '{"id": "broken';
  lines[1300] = JSON.stringify({ ...JSON.parse(lines[1300]), type: 'b2x' });
  lines[1999] = lines[0];
  return lines;
}

/** Loads `lines` as the customers of DS into a home of its own, `dir`, with `workers` prepare workers. */
function loadWith(dir: string, workers: number, lines: readonly string[], alongside?: () => Promise<void>): Promise<Settings> {
  const env = { DRIVETRAIN_LOAD_MAX_REJECT_SHARE: '1', DRIVETRAIN_LOAD_BATCH_ROWS: '25', DRIVETRAIN_LOAD_PREPARE_WORKERS: String(workers) };
  return loadInNewHome(dir, 'customers', lines, env, { alongside });
}

describe('load prepare workers', () => {
  const tmp = useTmpDir('ingest-workers-', {
    beforeRemove: async () => {
      await closeWarehouses();
      await closeSharedPrepareWorkerPool();
    },
  });

  it('prepares a block too large for a worker\'s heap on the load\'s thread: a row of 40 MB loads', async function () {
    // Writing, reading and hashing 40 MB takes a few seconds alone, several times that on a busy machine.
    this.timeout(90_000);
    const pool = await sharedPrepareWorkerPool(1, 25);
    expect(pool.tryPrepare('customers', blockOf(['{"id":"x"}'])), 'a small block').to.be.instanceOf(Promise);
    expect(pool.tryPrepare('customers', { bytes: Buffer.alloc(pool.maxBlockBytes + 1, 32), lines: 1, lakeLines: Int32Array.of(0) }), 'a block over the limit').to.equal(undefined);
    // Sent to the worker, this row took the process down: the worker's heap is sized for ordinary rows.
    const big = JSON.stringify({ ...JSON.parse(customerLines()[1]), address_street: 'x'.repeat(40 * 1024 * 1024) });
    const settings = await loadWith(tmp.path('big'), 1, [customerLines()[0], big]);
    expect(await query(settings.warehouseDb, 'SELECT length(address_street) n FROM customers ORDER BY rowid')).to.deep.equal([
      { n: JSON.parse(customerLines()[0]).address_street.length },
      { n: 40 * 1024 * 1024 },
    ]);
  });

  it('a load sharing its blocks with a worker leaves the same rows and rejects, in the same order, as one without', async () => {
    const lines = customerLines();
    const alone = await loadWith(tmp.path('alone'), 0, lines);
    const shared = await loadWith(tmp.path('shared'), 1, lines);
    const pool = await sharedPrepareWorkerPool(1, 25);
    expect(pool.blocksSent, 'blocks the worker prepared').to.be.greaterThan(0);
    const rows = 'SELECT * FROM customers ORDER BY rowid';
    const rejects = 'SELECT source, processing_date, raw_json, reason FROM rejects ORDER BY rowid';
    const expected = await query(alone.warehouseDb, rows);
    expect(expected.length).to.be.greaterThan(1900);
    expect(await query(shared.warehouseDb, rows)).to.deep.equal(expected);
    const expectedRejects = await query<{ reason: string }>(alone.warehouseDb, rejects);
    expect(expectedRejects.filter((r) => r.reason.startsWith('id: duplicate')).length).to.equal(20);
    expect(await query(shared.warehouseDb, rejects)).to.deep.equal(expectedRejects);
  });

  it('stops its workers when the last load using them ends, and starts them again for the next load', async () => {
    const lines = customerLines();
    const pool = await sharedPrepareWorkerPool(1, 25);
    await loadWith(tmp.path('first'), 1, lines);
    const sentByFirst = pool.blocksSent;
    expect(sentByFirst, 'blocks the worker prepared in the first load').to.be.greaterThan(0);
    expect(pool.running, 'workers running between loads').to.equal(0);
    let runningDuring = 0;
    await loadWith(tmp.path('second'), 1, lines, async () => {
      while (pool.inFlight === 0) await new Promise((resolve) => setImmediate(resolve));
      runningDuring = pool.running;
    });
    expect(runningDuring, 'workers running during the second load').to.equal(1);
    expect(pool.blocksSent, 'blocks the new worker prepared').to.be.greaterThan(sentByFirst);
    expect(pool.running).to.equal(0);
  });

  it("stops esbuild's service once the workers' code is bundled, and keeps the workers it started", () => {
    // A process of its own: this one's esbuild service may have been started by other tests.
    const fixture = path.join(path.dirname(fileURLToPath(import.meta.url)), '..', 'fixtures', 'ingest', 'workerBundle.ts');
    const out = execFileSync(process.execPath, ['--import', 'tsx', fixture], { encoding: 'utf8' });
    expect(JSON.parse(out)).to.deep.equal({ started: 0, running: 1 });
  });

  it('a load whose worker dies with blocks in flight prepares them itself and leaves the same tables', async () => {
    const lines = customerLines();
    const alone = await loadWith(tmp.path('alone'), 0, lines);
    const pool = await sharedPrepareWorkerPool(1, 25);
    let inFlightAtClose = 0;
    const broken = await loadWith(tmp.path('broken'), 1, lines, async () => {
      while (pool.inFlight === 0) await new Promise((resolve) => setImmediate(resolve));
      inFlightAtClose = pool.inFlight;
      await pool.close();
    });
    expect(inFlightAtClose, 'blocks the worker held when it was stopped').to.be.greaterThan(0);
    for (const sql of ['SELECT * FROM customers ORDER BY rowid', 'SELECT raw_json, reason FROM rejects ORDER BY rowid']) {
      expect(await query(broken.warehouseDb, sql)).to.deep.equal(await query(alone.warehouseDb, sql));
    }
  });

  it('hands a block back to the caller when every worker is full, and prepares it once there is room', async () => {
    const pool = new PrepareWorkerPool(1, 10);
    try {
      await pool.start();
      const line = JSON.stringify([...generateRows('cars', { cars: 1, customers: 0, subscriptions: 0 }, 1)][0]);
      const first = pool.tryPrepare('cars', blockOf([line]));
      const second = pool.tryPrepare('cars', blockOf([line, 'nope']));
      expect(first).to.not.equal(undefined);
      expect(second).to.not.equal(undefined);
      expect(pool.tryPrepare('cars', blockOf([line]))).to.equal(undefined);
      const [a, b] = await Promise.all([first, second]);
      expect(a!.batch?.rows).to.equal(1);
      expect(Buffer.isBuffer(a!.batch?.packed?.blob)).to.equal(true);
      expect(b!.rejects).to.deep.equal([['nope', 'row: not valid JSON']]);
      expect(pool.tryPrepare('cars', blockOf([line]))).to.not.equal(undefined);
    } finally {
      await pool.close();
    }
  });

  it('takes a worker\'s answers while the caller keeps its thread busy, so the worker does not sit idle', async () => {
    const pool = new PrepareWorkerPool(1, 10);
    try {
      await pool.start();
      const line = JSON.stringify([...generateRows('cars', { cars: 1, customers: 0, subscriptions: 0 }, 1)][0]);
      const sent = [pool.tryPrepare('cars', blockOf([line])), pool.tryPrepare('cars', blockOf([line]))];
      // A load preparing blocks itself never returns to the event loop in between: no answer event
      // can arrive here, so room must come from reading the answers synchronously.
      let third: Promise<unknown> | undefined;
      const deadline = Date.now() + 5000;
      while (!third && Date.now() < deadline) third = pool.tryPrepare('cars', blockOf([line]));
      expect(third, 'the worker looked full until the deadline').to.not.equal(undefined);
      const blocks = await Promise.all([...sent, third]);
      expect(blocks.map((b) => (b as { batch?: { rows: number } }).batch?.rows)).to.deep.equal([1, 1, 1]);
    } finally {
      await pool.close();
    }
  });

  it('rejects the blocks in flight when the pool is closed under them', async () => {
    const pool = new PrepareWorkerPool(1, 10);
    await pool.start();
    const lines = Array.from({ length: 10 }, () => '{"id": "x"}');
    const pending = pool.tryPrepare('cars', blockOf(lines))!;
    await pool.close();
    const err = await pending.then(() => undefined, (e: Error) => e);
    expect(err).to.be.instanceOf(PrepareWorkerError);
    expect(err?.message).to.match(/^load prepare worker \d+ exited with code \d+$/);
    await pool.start().then(
      () => expect.fail('a closed pool started'),
      (e: Error) => expect(e.message).to.equal('the load prepare worker pool is closed'),
    );
  });

  it('rejects a block the worker could not prepare with its error, and takes the next one', async () => {
    const pool = new PrepareWorkerPool(1, 10);
    try {
      await pool.start();
      const err = await pool.tryPrepare('boats' as Entity, blockOf(['{"id": "b1"}']))!.then(() => undefined, (e: Error) => e);
      expect(err).to.be.instanceOf(PrepareWorkerError);
      expect(err?.message).to.match(/^load prepare worker \d+ failed a block: TypeError/);
      const next = await pool.tryPrepare('cars', blockOf(['not json']))!;
      expect(next.rejects).to.deep.equal([['not json', 'row: not valid JSON']]);
    } finally {
      await pool.close();
    }
  });

  it('refuses a pool size that is not a positive integer, quoting it', () => {
    expect(() => new PrepareWorkerPool(0, 10)).to.throw(RangeError, "PrepareWorkerPool size '0' is not a positive integer");
    expect(() => new PrepareWorkerPool(1, 0.5)).to.throw(RangeError, "PrepareWorkerPool batchRows '0.5' is not a positive integer");
  });
});

describe('BlobPool', () => {
  it('reuses memory given back for a batch that fits, and allocates for one that does not', () => {
    const pool = new BlobPool(1);
    const a = pool.take(100);
    expect(a.length).to.equal(100);
    pool.give(a.buffer as ArrayBuffer);
    const b = pool.take(110);
    expect(b.buffer).to.equal(a.buffer);
    expect(b.length).to.equal(110);
    pool.give(b.buffer as ArrayBuffer);
    expect(pool.take(1000).buffer).to.not.equal(a.buffer);
  });

  it('keeps no more free buffers than it was told', () => {
    const pool = new BlobPool(1);
    const a = pool.take(10);
    const b = pool.take(10);
    pool.give(a.buffer as ArrayBuffer);
    pool.give(b.buffer as ArrayBuffer);
    expect(pool.take(10).buffer).to.equal(a.buffer);
    expect(pool.take(10).buffer).to.not.equal(b.buffer);
  });
});
