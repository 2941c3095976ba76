/**
 * /healthz and /metrics of the real daemon (`drivetrain start` as a child process), with small DAGs
 * of the test's own in a temp folder: healthy while idle; 503 while the metadata database does not
 * answer and once the scheduler loop has stalled past the staleness limit (another process holding
 * the metadata write lock causes both); the image HEALTHCHECK passing while a task blocks the event
 * loop within its timeout, the block reported; counters moving after a run.
 */
import { mkdirSync, rmSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { pathToFileURL } from 'node:url';
import { setTimeout as sleep } from 'node:timers/promises';
import { expect } from 'chai';
import { openDb, type SqliteConnection } from '../helpers/sqliteFile.js';
import { testEnv, useTmpDir } from '../helpers/tmp.js';
import { REPO, freePort } from './imageApp.js';
import { readImageSpec } from './dockerfile.js';
import { probe, sample, spawnChild, stop, waitFor, type Child } from './daemon.js';

const dagModule = pathToFileURL(path.join(REPO, 'scheduler', 'dag.ts')).href;
/**
 * The daemon's heartbeat staleness limit is one lease period (scheduler/daemon.ts staleLoopMs); the
 * tests shorten the lease so a stall past it costs seconds. It stays above the health probe's own 2 s
 * deadline, so a locked database is reported by the probe before the loop counts as stale.
 */
const LEASE_S = 5;
const STALE_LOOP_MS = LEASE_S * 1000;
/** How long the blocking task blocks the event loop: longer than the lease and the HEALTHCHECK's 4 s client timeout. */
const BLOCK_MS = 7000;

/** A long-held lock from another connection, as an operator's forgotten `sqlite3` session would hold it. */
class ForeignLock {
  private constructor(private readonly db: SqliteConnection) {}

  static async take(file: string): Promise<ForeignLock> {
    const db = await openDb(file, { busyTimeoutMs: 10_000 });
    await db.exec('BEGIN IMMEDIATE');
    return new ForeignLock(db);
  }

  async release(): Promise<void> {
    await this.db.exec('ROLLBACK');
    await this.db.close();
  }
}

/** The source of an unscheduled DAG file `id` without retries, whose tasks are the code `tasks`. */
function dagSource(id: string, tasks: string): string {
  return `import { defineDag } from '${dagModule}';
export default defineDag({
  id: '${id}',
  schedule: null,
  startDate: '2024-01-01',
  retries: 0,
  tasks: {${tasks}
  },
});
`;
}

describe('the daemon health check and metrics', function () {
  this.timeout(30_000);
  let daemon: Child | undefined;
  let port: number;
  let env: NodeJS.ProcessEnv;
  const url = (p: string): string => `http://127.0.0.1:${port}${p}`;

  /** Writes the test's DAG files: a quick two-task DAG, and one whose task blocks the event loop. */
  function writeDags(dir: string, blockMs: number): void {
    mkdirSync(dir, { recursive: true });
    const tasks: Record<string, string> = {
      ops_probe: `
    first: { run: () => 'first' },
    second: { run: () => 'second', upstream: ['first'] },`,
      ops_stall: `
    // Synchronous work that never yields: the whole process, scheduler loop included, stands still.
    block: { run: () => { const end = Date.now() + ${blockMs}; while (Date.now() < end) { /* spin */ } return 'unblocked'; } },`,
    };
    for (const [id, body] of Object.entries(tasks)) writeFileSync(path.join(dir, `${id}.ts`), dagSource(id, body));
  }

  /** Runs a CLI command against the same home, as an operator would from a second shell. */
  async function cli(...args: string[]): Promise<{ code: number | string; output: string }> {
    const child = spawnChild(process.execPath, ['--import', 'tsx', 'bin/drivetrain.ts', ...args], { cwd: REPO, env });
    const code = await child.exited;
    return { code, output: child.output() };
  }

  // The daemon writes into the directory until it has stopped, so it is stopped before removal.
  const tmp = useTmpDir('drivetrain-health-', {
    beforeRemove: async () => {
      if (!daemon) return;
      const { code } = await stop(daemon, 'SIGTERM', 15_000);
      const output = daemon.output();
      daemon = undefined;
      expect(code, output).to.equal(0);
    },
  });

  beforeEach(async function () {
    port = await freePort();
    writeDags(path.join(tmp.dir, 'dags'), BLOCK_MS);
    env = testEnv(tmp.dir, {
      DRIVETRAIN_ENV: 'test',
      DRIVETRAIN_DAGS_DIR: path.join(tmp.dir, 'dags'),
      DRIVETRAIN_HTTP_PORT: String(port),
      DRIVETRAIN_SCHEDULER_TICK: '* * * * * *',
      DRIVETRAIN_HEARTBEAT_S: '1',
      DRIVETRAIN_LEASE_S: String(LEASE_S),
      DRIVETRAIN_TASK_RETRIES: '0',
    });
    daemon = spawnChild(process.execPath, ['--import', 'tsx', 'bin/drivetrain.ts', 'start'], { cwd: REPO, env });
    await waitFor(daemon, url('/healthz'), (r) => r.status === 200, 25_000);
  });

  it('answers 200 while the loop ticks and the metadata database answers', async function () {
    for (let i = 0; i < 3; i++) {
      const r = await probe(url('/healthz'));
      expect(r?.status).to.equal(200);
      expect(JSON.parse(r!.body)).to.deep.equal({ status: 'ok' });
      await sleep(300);
    }
  });

  it('turns 503 while another process holds the metadata database, and 200 again once it lets go', async function () {
    const lock = await ForeignLock.take(path.join(tmp.dir, 'home', 'metadata.db'));
    let unhealthy: { status: number; body: string } | undefined;
    try {
      // The loop's next write queues behind the lock, and the daemon's probe of the database behind it.
      unhealthy = await waitFor(daemon!, url('/healthz'), (r) => r.status === 503, 10_000);
    } finally {
      await lock.release();
    }
    const body = JSON.parse(unhealthy.body) as { status: string; reason: string };
    expect(body.status).to.equal('unhealthy');
    // Well inside the staleness limit, so it is the database probe that fails, not the heartbeat.
    expect(body.reason).to.match(/^(health check timed out|metadata database: .+)$/);
    await waitFor(daemon!, url('/healthz'), (r) => r.status === 200, 20_000);
  });

  it('turns 503 naming the warehouse file once it is deleted under the running daemon', async function () {
    const warehouse = path.join(tmp.dir, 'home', 'warehouse.db');
    writeFileSync(warehouse, '');
    // The first check after the file appears records which file the daemon works on.
    expect((await probe(url('/healthz')))?.status).to.equal(200);
    rmSync(warehouse);
    const unhealthy = await waitFor(daemon!, url('/healthz'), (r) => r.status === 503, 10_000);
    expect(JSON.parse(unhealthy.body)).to.include({ status: 'unhealthy' });
    expect(JSON.parse(unhealthy.body).reason).to.contain(`warehouse database '${warehouse}' is gone`);
  });

  it('turns 503 naming the stale loop when the loop cannot make a turn, and 200 again once it can', async function () {
    // The loop's every turn is a metadata write; another process holding the write lock longer than
    // the staleness limit stops it while the process itself stays responsive.
    this.timeout(STALE_LOOP_MS + 40_000);
    const lock = await ForeignLock.take(path.join(tmp.dir, 'home', 'metadata.db'));
    let stalled: { status: number; body: string } | undefined;
    try {
      stalled = await waitFor(daemon!, url('/healthz'), (r) => r.status === 503 && /scheduler loop/.test(r.body), STALE_LOOP_MS + 15_000);
    } finally {
      await lock.release();
    }
    expect((JSON.parse(stalled.body) as { reason: string }).reason).to.match(/^scheduler loop last ticked \d+ s ago$/);
    await waitFor(daemon!, url('/healthz'), (r) => r.status === 200, 25_000);
  });

  it('passes the image HEALTHCHECK while a task blocks the event loop within its timeout, and says the loop is blocked', async function () {
    const triggered = await cli('dags', 'trigger', 'ops_stall');
    expect(triggered.code, triggered.output).to.equal(0);
    // The heartbeat thread answers for the blocked loop, and names the block.
    const blocked = await waitFor(daemon!, url('/healthz'), (r) => r.status === 200 && r.body.includes('eventLoop'), 15_000);
    expect(JSON.parse(blocked.body)).to.include({ status: 'ok' });
    expect(JSON.parse(blocked.body).eventLoop).to.match(/^blocked for \d+ s$/);
    // What Docker sees: the image's own HEALTHCHECK command passes.
    const [hcCmd, ...hcArgs] = readImageSpec(path.join(REPO, 'Dockerfile')).healthcheck ?? [];
    const hc = spawnChild(hcCmd === 'node' ? process.execPath : hcCmd, hcArgs, { cwd: REPO, env });
    expect(await hc.exited, `HEALTHCHECK while blocked: ${hc.output()}`).to.equal(0);
    await waitFor(daemon!, url('/healthz'), (r) => r.status === 200 && r.body === '{"status":"ok"}', BLOCK_MS + 10_000);
    // The blocked loop made node-cron miss its ticks: that goes to the scheduler log, never as
    // node-cron's own plain-text warning in the middle of the JSON-lines output.
    expect(daemon!.output()).to.not.match(/NODE-CRON|missed execution/);
  });

  it('counts the attempts and durations of a run on /metrics once it has run', async function () {
    const before = (await probe(url('/metrics')))!.body;
    const success = { dag_id: 'ops_probe', task_id: 'second', outcome: 'success' };
    const was = sample(before, 'drivetrain_task_attempts_total', success) ?? 0;

    const triggered = await cli('dags', 'trigger', 'ops_probe');
    expect(triggered.code, triggered.output).to.equal(0);
    const after = await waitFor(
      daemon!,
      url('/metrics'),
      (r) => (sample(r.body, 'drivetrain_task_attempts_total', success) ?? 0) > was && (sample(r.body, 'drivetrain_dag_runs', { dag_id: 'ops_probe', state: 'success' }) ?? 0) >= 1,
      15_000,
    );
    expect(sample(after.body, 'drivetrain_task_attempts_total', success)).to.equal(was + 1);
    expect(sample(after.body, 'drivetrain_task_attempts_total', { dag_id: 'ops_probe', task_id: 'first', outcome: 'success' })).to.equal(1);
    expect(sample(after.body, 'drivetrain_task_duration_seconds_count', { dag_id: 'ops_probe', task_id: 'first' })).to.equal(1);
    expect(sample(after.body, 'drivetrain_task_instances', { dag_id: 'ops_probe', state: 'success' })).to.equal(2);
  });
});
