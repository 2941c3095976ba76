/**
 * Several daemons on one PostgreSQL metadata database, as real child processes of `drivetrain start`:
 * three daemons run more than a thousand task instances, each once, all three doing work; one is
 * killed with SIGKILL in the middle, its instances are taken over once its lease has expired, every
 * run finishes, and the other two stop on SIGTERM with exit 0.
 */
import { existsSync, mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { pathToFileURL } from 'node:url';
import { setTimeout as sleep } from 'node:timers/promises';
import { expect } from 'chai';
import pg from 'pg';
import { usePostgres } from '../helpers/postgres.js';
import { testEnv, useTmpDir } from '../helpers/tmp.js';
import { spawnChild, stop, type Child } from './daemon.js';
import { REPO } from './imageApp.js';

const dagModule = pathToFileURL(path.join(REPO, 'scheduler', 'dag.ts')).href;
const DAGS = 3;
const DAYS = 25; // 2024-01-01 .. 2024-01-25
const TASKS = 14;
const TOTAL = DAGS * DAYS * TASKS; // 1,050
const LEASE_S = 3;

/** A daily DAG of TASKS independent tasks; each sleeps a little, then appends one line naming itself. */
function manyTasksDag(id: string): string {
  const tasks = Array.from({ length: TASKS }, (_, i) => `    t${String(i).padStart(2, '0')}: { run: work },`).join('\n');
  return `import { appendFileSync } from 'node:fs';
import { defineDag } from '${dagModule}';
const out = process.env.DT_OUT;
const work = async (ctx) => {
  await new Promise((r) => setTimeout(r, 150));
  appendFileSync(out, \`\${ctx.dagId} \${ctx.taskId} \${ctx.ds} \${ctx.tryNumber} \${process.pid}\\n\`);
};
export default defineDag({
  id: '${id}',
  schedule: '@daily',
  startDate: '2024-01-01',
  endDate: '2024-01-${String(DAYS).padStart(2, '0')}',
  maxActiveRuns: 4,
  retries: 1,
  retryDelayS: 0,
  tasks: {
${tasks}
  },
});
`;
}

interface TiRow {
  dag_id: string;
  run_id: string;
  task_id: string;
  state: string | null;
  try_number: number;
  pid: number | null;
  lease_owner: string | null;
}

describe('several daemons on one PostgreSQL metadata database', function () {
  this.timeout(240_000);
  const daemons: Child[] = [];
  const tmp = useTmpDir('drivetrain-multi-', {
    scope: 'suite',
    beforeRemove: async () => {
      for (const d of daemons.splice(0)) if (d.proc.exitCode === null && d.proc.signalCode === null) await stop(d, 'SIGKILL', 5000);
    },
  });
  const db = usePostgres();

  async function query<T>(sql: string, params: unknown[] = []): Promise<T[]> {
    const client = new pg.Client({ connectionString: db.url });
    await client.connect();
    try {
      return (await client.query(sql, params)).rows as T[];
    } catch (err) {
      // Before the first daemon has migrated, the tables do not exist yet.
      if ((err as { code?: string }).code === '42P01') return [];
      throw err;
    } finally {
      await client.end();
    }
  }

  const instances = () => query<TiRow>('SELECT dag_id, run_id, task_id, state, try_number::int, pid::int, lease_owner FROM task_instances');

  /** Polls the metadata until `done` says yes; the deadline only guards against hanging. */
  async function until<T>(what: string, read: () => Promise<T>, done: (v: T) => boolean, deadlineMs: number): Promise<T> {
    const end = Date.now() + deadlineMs;
    for (;;) {
      const v = await read();
      if (done(v)) return v;
      if (Date.now() > end) throw new Error(`${what} never happened:\n${daemons.map((d) => d.output().slice(-3000)).join('\n----\n')}`);
      await sleep(250);
    }
  }

  it('runs every instance once across three daemons, takes over a killed one\'s after its lease, and the rest stop with exit 0', async () => {
    const dagsDir = tmp.path('dags');
    mkdirSync(dagsDir, { recursive: true });
    for (let i = 0; i < DAGS; i++) writeFileSync(path.join(dagsDir, `many_${i}.ts`), manyTasksDag(`many_${i}`));
    const out = tmp.path('out.txt');
    for (let i = 0; i < 3; i++) {
      const env = testEnv(tmp.path(`daemon${i}`), {
        DRIVETRAIN_ENV: 'test',
        DRIVETRAIN_METADATA_URL: db.url,
        DRIVETRAIN_DAGS_DIR: dagsDir,
        DRIVETRAIN_HTTP_PORT: '0',
        DRIVETRAIN_NOW: '2024-02-01T00:00:00Z',
        DRIVETRAIN_SCHEDULER_TICK: '* * * * * *',
        DRIVETRAIN_LEASE_S: String(LEASE_S),
        DRIVETRAIN_HEARTBEAT_S: '0.5',
        DRIVETRAIN_PARALLELISM: '6',
        DT_OUT: out,
      });
      daemons.push(spawnChild(process.execPath, ['--import', 'tsx', 'bin/drivetrain.ts', 'start'], { cwd: REPO, env }));
    }
    const pids = daemons.map((d) => d.proc.pid!);

    // Every daemon claims some instances, and a third of the work is done: the middle.
    const middle = await until(
      'a third of the instances done by three daemons',
      instances,
      (rows) => rows.filter((r) => r.state === 'success').length >= TOTAL / 3 && pids.every((p) => rows.some((r) => r.pid === p)),
      150_000,
    );
    expect(middle.length).to.be.greaterThan(0);
    const [victim, ...rest] = daemons;
    // Killed while it runs something, so there is work to take over.
    await until('the first daemon running an instance', instances, (r) => r.some((x) => x.state === 'running' && x.pid === victim.proc.pid), 60_000);
    victim.proc.kill('SIGKILL');
    expect(await victim.exited).to.equal('SIGKILL');
    // What it held when it died: running under its lease.
    const held = (await instances()).filter((r) => r.state === 'running' && r.pid === victim.proc.pid && r.lease_owner !== null);
    expect(held.length).to.be.greaterThan(0);

    const finished = await until(
      'every run finished',
      () => query<{ state: string; n: number }>('SELECT state, COUNT(*)::int AS n FROM dag_runs GROUP BY state'),
      (rows) => rows.length > 0 && rows.every((r) => r.state === 'success' || r.state === 'failed') && rows.reduce((n, r) => n + r.n, 0) === DAGS * DAYS,
      150_000,
    );
    expect(finished, JSON.stringify(finished)).to.deep.equal([{ state: 'success', n: DAGS * DAYS }]);

    const rows = await instances();
    expect(rows).to.have.length(TOTAL);
    expect(rows.every((r) => r.state === 'success')).to.equal(true);
    const key = (r: { dag_id: string; run_id: string; task_id: string }) => `${r.dag_id} ${r.run_id} ${r.task_id}`;
    const heldKeys = new Set(held.map(key));
    // The killed daemon's instances ran again elsewhere, as their second try; every other one once.
    for (const r of rows) {
      if (heldKeys.has(key(r))) expect(r.try_number, key(r)).to.equal(2);
      else expect(r.try_number, key(r)).to.equal(1);
    }
    for (const r of rows.filter((x) => heldKeys.has(key(x)))) expect(r.pid).to.not.equal(victim.proc.pid);
    // All three did work (the victim before it died).
    const byPid = new Map<number, number>();
    for (const r of rows) byPid.set(r.pid!, (byPid.get(r.pid!) ?? 0) + 1);
    for (const p of rest.map((d) => d.proc.pid!)) expect(byPid.get(p) ?? 0, `daemon ${p}`).to.be.greaterThan(0);
    expect(middle.some((r) => r.pid === victim.proc.pid)).to.equal(true);

    // What the tasks themselves say: an instance not held by the killed daemon ran exactly once.
    const lines = existsSync(out) ? readFileSync(out, 'utf8').split('\n').filter(Boolean) : [];
    const runs = new Map<string, number>();
    for (const line of lines) {
      const [dagId, taskId, ds] = line.split(' ');
      const k = `${dagId} ${taskId} ${ds}`;
      runs.set(k, (runs.get(k) ?? 0) + 1);
    }
    expect(runs.size).to.equal(TOTAL);
    const twice = [...runs.entries()].filter(([, n]) => n > 1).map(([k]) => k);
    // Only an instance the victim held may have finished its work there before the kill, then again.
    expect(twice.length).to.be.at.most(held.length);

    const codes = await Promise.all(rest.map((d) => stop(d, 'SIGTERM', 30_000)));
    for (const [i, c] of codes.entries()) expect(c.code, rest[i].output().slice(-3000)).to.equal(0);
  });
});
