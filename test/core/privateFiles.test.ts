import { expect } from 'chai';
import { mkdirSync, readdirSync, readFileSync, statSync, writeFileSync } from 'node:fs';
import http from 'node:http';
import type { AddressInfo } from 'node:net';
import path from 'node:path';
import { createSchedulerLogger, openAttemptLog } from '../../scheduler/logging.js';
import { LakePartitionWriter } from '../../operators/lake/writer.js';
import { testEnv, testSettings, useTmpDir } from '../helpers/tmp.js';
import { REPO, runBin } from './runBin.js';

/** Every file and directory under `root` (itself included) whose mode is not owner-only, as `mode path`. */
function notPrivate(root: string): string[] {
  const found: string[] = [];
  const visit = (p: string): void => {
    const s = statSync(p);
    const mode = s.mode & 0o777;
    if (mode !== (s.isDirectory() ? 0o700 : 0o600)) found.push(`${mode.toString(8)} ${path.relative(path.dirname(root), p)}`);
    if (s.isDirectory()) for (const name of readdirSync(p)) visit(path.join(p, name));
  };
  visit(root);
  return found;
}

/** Every file under `root`. */
function filesUnder(root: string): string[] {
  return readdirSync(root, { recursive: true, withFileTypes: true })
    .filter((e) => e.isFile())
    .map((e) => path.join(e.parentPath, e.name));
}

describe('files under the home and the log directory', function () {
  this.timeout(60_000);
  const tmp = useTmpDir('drivetrain-modes-');
  // A permissive umask, as on most machines, so a mode left to the default would show as 0644/0755.
  let umask: number;
  beforeEach(() => (umask = process.umask(0o022)));
  afterEach(() => process.umask(umask));

  it('are owner-only when Drivetrain itself creates them, whatever the umask: attempt logs, scheduler.log, lake partitions', async () => {
    const settings = testSettings(tmp.dir);
    const log = openAttemptLog(settings.logDir, [{ dagId: 'd', runId: 'r', taskId: 't', attempt: 1 }]);
    log.info('a line');
    await log.close();
    const scheduler = createSchedulerLogger(settings, { stdout: false });
    scheduler.info('a line');
    await scheduler.close();
    const writer = await LakePartitionWriter.open(settings.lakeDir, 'cars', '2024-01-15');
    await writer.writeLines(['{"id":1}']);
    await writer.commit('http://127.0.0.1:8000/v1/cars', new Date(0));

    expect(filesUnder(settings.logDir)).to.have.length(2);
    expect(filesUnder(settings.lakeDir)).to.have.length(2);
    expect(notPrivate(settings.logDir)).to.deep.equal([]);
    expect(notPrivate(settings.lakeDir)).to.deep.equal([]);
  });

  it('are owner-only and hold no secret after a backfill through the drivetrain command: SQLite files, lake, logs', async () => {
    const password = 'Pw-3e1d77c2-modes';
    const authorizations: string[] = [];
    const server = http.createServer((req, res) => {
      authorizations.push(req.headers.authorization ?? '');
      res.writeHead(200, { 'content-type': 'application/json' }).end(JSON.stringify({ data: [{ id: 1, vin: 'V1' }], next_cursor: null }));
    });
    await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
    try {
      const dags = tmp.path('dags');
      mkdirSync(dags);
      const from = (p: string) => JSON.stringify(path.join(REPO, p));
      writeFileSync(
        path.join(dags, 'private.ts'),
        `import { defineDag } from ${from('scheduler/dag.ts')};
import { extractTask } from ${from('operators/extract/extractTask.ts')};
import { openWarehouse } from ${from('operators/warehouse/registry.ts')};
export default defineDag({
  id: 'private', schedule: '@daily', startDate: '2024-01-01', catchup: true, retries: 0,
  tasks: {
    extract: { run: extractTask({ entity: 'cars' }) },
    store: { upstream: ['extract'], run: async (ctx) => {
      ctx.log.info('storing what came from ' + ctx.settings.source.url);
      await (await openWarehouse(ctx.settings.warehouseDb)).exec('CREATE TABLE IF NOT EXISTS t (x)');
    } },
  },
});\n`,
      );
      const env = testEnv(tmp.dir, {
        DRIVETRAIN_DAGS_DIR: dags,
        DRIVETRAIN_NOW: '2024-01-03T00:00:00Z',
        DRIVETRAIN_SOURCE_URL: `http://user:${password}@127.0.0.1:${(server.address() as AddressInfo).port}`,
      });
      const r = await runBin(['backfill', '--from', '2024-01-01', '--to', '2024-01-01', '--dag', 'private'], env);
      expect(r.code, r.stdout + r.stderr).to.equal(0);
      expect(authorizations).to.have.length(1);
      expect(r.stdout + r.stderr).not.to.contain(password);

      const home = env.DRIVETRAIN_HOME!;
      const logs = env.DRIVETRAIN_LOG_DIR!;
      const names = filesUnder(home).map((f) => path.relative(home, f));
      expect(names).to.include.members(['metadata.db', 'warehouse.db', 'lake/cars/ds=2024-01-01/_SUCCESS']);
      expect(notPrivate(home)).to.deep.equal([]);
      expect(notPrivate(logs)).to.deep.equal([]);
      for (const file of [...filesUnder(home), ...filesUnder(logs)]) {
        expect(readFileSync(file).includes(password), file).to.equal(false);
      }
      expect(filesUnder(logs).some((f) => readFileSync(f, 'utf8').includes('storing what came from http://user:***@127.0.0.1'))).to.equal(true);
    } finally {
      await new Promise<void>((resolve) => server.close(() => resolve()));
    }
  });
});
