/**
 * The warehouse-file health check: a real SQLite file deleted or replaced under the check turns it
 * unhealthy with the reason, on its own and through the real health listener.
 */
import { renameSync, rmSync, writeFileSync } from 'node:fs';
import { expect } from 'chai';
import { allHealthy, startHttpServer } from '../../scheduler/httpServer.js';
import { metricsText } from '../../scheduler/metrics.js';
import { WarehouseFileCheck } from '../../scheduler/WarehouseFileCheck.js';
import { execFile } from '../helpers/sqliteFile.js';
import { useTmpDir } from '../helpers/tmp.js';

describe('the warehouse file health check', function () {
  const tmp = useTmpDir('drivetrain-warehouse-health-');

  /** A real warehouse file with a table in it. */
  async function warehouse(): Promise<string> {
    const file = tmp.path('warehouse.db');
    await execFile(file, 'CREATE TABLE cars (id INTEGER)');
    return file;
  }

  it('is healthy while the file it first saw is in place, and unhealthy naming the file once it is deleted', async function () {
    const file = await warehouse();
    const check = new WarehouseFileCheck(file);
    expect(await check.check()).to.deep.equal({ healthy: true });
    rmSync(file);
    const report = await check.check();
    expect(report.healthy).to.equal(false);
    expect(report.reason).to.equal(`warehouse database '${file}' is gone (ENOENT): deleted while the daemon runs? restart it`);
  });

  it('is unhealthy when another file took the place of the one it first saw', async function () {
    const file = await warehouse();
    const check = new WarehouseFileCheck(file);
    writeFileSync(tmp.path('restored.db'), '');
    renameSync(tmp.path('restored.db'), file);
    const report = await check.check();
    expect(report.healthy).to.equal(false);
    expect(report.reason).to.include('was replaced by another file');
  });

  it('is healthy before a fresh home has a warehouse, and watches the file from when it appears', async function () {
    const file = tmp.path('warehouse.db');
    const check = new WarehouseFileCheck(file);
    expect(await check.check()).to.deep.equal({ healthy: true });
    await warehouse();
    expect(await check.check()).to.deep.equal({ healthy: true });
    rmSync(file);
    expect((await check.check()).healthy).to.equal(false);
  });

  it('turns /healthz to 503 with the reason once the file is deleted', async function () {
    const file = await warehouse();
    const check = new WarehouseFileCheck(file);
    const server = await startHttpServer({ host: '127.0.0.1', port: 0, health: allHealthy(async () => ({ healthy: true }), () => check.check()), metrics: metricsText });
    try {
      const url = `http://127.0.0.1:${server.port}/healthz`;
      expect((await fetch(url)).status).to.equal(200);
      rmSync(file);
      const res = await fetch(url);
      expect(res.status).to.equal(503);
      expect(await res.json()).to.deep.equal({ status: 'unhealthy', reason: `warehouse database '${file}' is gone (ENOENT): deleted while the daemon runs? restart it` });
    } finally {
      await server.close();
    }
  });

  it('reports the first failing check of several, in order', async function () {
    const calls: string[] = [];
    const check = (name: string, healthy: boolean) => async () => (calls.push(name), healthy ? { healthy } : { healthy, reason: name });
    expect(await allHealthy(check('a', true), check('b', false), check('c', false))()).to.deep.equal({ healthy: false, reason: 'b' });
    expect(calls).to.deep.equal(['a', 'b']);
    expect(await allHealthy(check('d', true))()).to.deep.equal({ healthy: true });
  });
});
