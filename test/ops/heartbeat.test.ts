/**
 * The heartbeat thread seen from outside (`drivetrain start` as real child processes on one home):
 * a task or a DAG import that blocks the event loop longer than the lease neither freezes /healthz
 * nor gets its task instance taken over by another daemon, and a task blocked past its timeout does
 * lose its lease, so a daemon stuck in it cannot hold the instance for ever.
 */
import { existsSync, mkdirSync, readFileSync, readdirSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { pathToFileURL } from 'node:url';
import { setTimeout as sleep } from 'node:timers/promises';
import { expect } from 'chai';
import { openDb, queryFile } from '../helpers/sqliteFile.js';
import { testEnv, useTmpDir } from '../helpers/tmp.js';
import { REPO, freePort } from './imageApp.js';
import { probe, spawnChild, stop, waitFor, type Child } from './daemon.js';

const dagModule = pathToFileURL(path.join(REPO, 'scheduler', 'dag.ts')).href;
/** Short leases, so a block of a few seconds outlasts several of them. */
const LEASE_S = 2;
/** How long the blocking code spins: more than two lease periods. */
const BLOCK_MS = 5000;

/**
 * A DAG file whose one task appends `start try=N` to the out file, spins for `blockMs` without ever
 * yielding, then appends `done try=N`. One retry: a lost try would run again and show in the file.
 */
function blockingDag(id: string, blockMs: number, opts: { retries?: number; timeoutS?: number } = {}): string {
  return `import { appendFileSync } from 'node:fs';
import { defineDag } from '${dagModule}';
const out = process.env.DT_OUT;
export default defineDag({
  id: '${id}',
  schedule: null,
  startDate: '2024-01-01',
  retries: ${opts.retries ?? 1},
  retryDelayS: 0,${opts.timeoutS === undefined ? '' : `\n  timeoutS: ${opts.timeoutS},`}
  tasks: {
    block: {
      run: (ctx) => {
        appendFileSync(out, \`start try=\${ctx.tryNumber}\\n\`);
        const end = Date.now() + ${blockMs};
        while (Date.now() < end) { /* spin: the event loop stands still */ }
        appendFileSync(out, \`done try=\${ctx.tryNumber}\\n\`);
        return 'unblocked';
      },
    },
  },
});
`;
}

/** A DAG file whose top level spins for `blockMs` in the daemon's own thread (not in the import probe's worker). */
function spinningImport(id: string, blockMs: number): string {
  return `import { appendFileSync } from 'node:fs';
import { isMainThread } from 'node:worker_threads';
import { defineDag } from '${dagModule}';
const out = process.env.DT_OUT;
const where = isMainThread ? 'main' : 'probe';
appendFileSync(out, \`import start \${where}\\n\`);
const end = Date.now() + ${blockMs};
while (Date.now() < end) { /* spin */ }
appendFileSync(out, \`import done \${where}\\n\`);
export default defineDag({ id: '${id}', schedule: null, startDate: '2024-01-01', tasks: { t: { run: () => undefined } } });
`;
}

describe('the heartbeat thread: a blocked event loop', function () {
  this.timeout(90_000);
  const daemons: Child[] = [];

  // Daemons write into the directory until they have stopped, so they are stopped before removal.
  const tmp = useTmpDir('drivetrain-heartbeat-', {
    beforeRemove: async () => {
      const codes = await Promise.all(daemons.splice(0).map(async (d) => ({ ...(await stop(d, 'SIGTERM', 20_000)), out: d.output() })));
      for (const c of codes) expect(c.code, c.out).to.equal(0);
    },
  });

  const outFile = (): string => tmp.path('out.txt');
  const outLines = (): string[] => (existsSync(outFile()) ? readFileSync(outFile(), 'utf8').split('\n').filter(Boolean) : []);
  const dagsDir = (): string => tmp.path('dags');
  const metadataFile = (): string => tmp.path('home', 'metadata.db');

  function env(port: number, extra: Record<string, string> = {}): NodeJS.ProcessEnv {
    return testEnv(tmp.dir, {
      DRIVETRAIN_ENV: 'test',
      DRIVETRAIN_DAGS_DIR: dagsDir(),
      DRIVETRAIN_HTTP_PORT: String(port),
      DRIVETRAIN_SCHEDULER_TICK: '* * * * * *',
      DRIVETRAIN_LEASE_S: String(LEASE_S),
      DRIVETRAIN_HEARTBEAT_S: '0.5',
      DT_OUT: outFile(),
      ...extra,
    });
  }

  /** Starts a daemon on its own port and waits until its /healthz says 200. */
  async function startDaemon(extra: Record<string, string> = {}): Promise<{ daemon: Child; url: (p: string) => string }> {
    const port = await freePort();
    const daemon = spawnChild(process.execPath, ['--import', 'tsx', 'bin/drivetrain.ts', 'start'], { cwd: REPO, env: env(port, extra) });
    daemons.push(daemon);
    const url = (p: string): string => `http://127.0.0.1:${port}${p}`;
    await waitFor(daemon, url('/healthz'), (r) => r.status === 200, 30_000);
    return { daemon, url };
  }

  async function trigger(dagId: string): Promise<void> {
    const cli = spawnChild(process.execPath, ['--import', 'tsx', 'bin/drivetrain.ts', 'dags', 'trigger', dagId], { cwd: REPO, env: env(0) });
    expect(await cli.exited, cli.output()).to.equal(0);
  }

  /** Resolves once `line` is in the out file. */
  async function outHas(line: string, timeoutMs: number, who: readonly Child[]): Promise<void> {
    const until = Date.now() + timeoutMs;
    while (!outLines().includes(line)) {
      if (Date.now() > until) throw new Error(`'${line}' never appeared in the out file (${outLines().join(', ')}):\n${who.map((d) => d.output()).join('\n----\n')}`);
      await sleep(25);
    }
  }

  /**
   * Probes every url until `done` appears in the out file; every probe must be answered within 1.5 s.
   * Returns the answers given once the block had lasted longer than the lease.
   */
  async function probeThroughBlock(urls: readonly string[], since: number, done: string): Promise<{ status: number; body: string }[]> {
    const late: { status: number; body: string }[] = [];
    while (!outLines().includes(done)) {
      for (const u of urls) {
        const t = Date.now();
        const r = await probe(u, 1500);
        expect(r, `${u} did not answer ${Math.round((t - since) / 100) / 10} s into the block`).to.not.equal(undefined);
        if (t - since > LEASE_S * 1000 + 500 && !outLines().includes(done)) late.push(r!);
      }
      await sleep(200);
    }
    return late;
  }

  /** Stops `who` with SIGTERM and waits for each to exit 0. */
  async function stopAll(who: readonly Child[]): Promise<void> {
    for (const d of who) expect((await stop(d, 'SIGTERM', 20_000)).code, d.output()).to.equal(0);
  }

  async function instances(dagId: string) {
    return queryFile<{ state: string; try_number: number; last_error: string | null }>(
      metadataFile(),
      'SELECT state, try_number, last_error FROM task_instances WHERE dag_id = ?',
      [dagId],
    );
  }

  async function runStates(dagId: string): Promise<string[]> {
    return (await queryFile<{ state: string }>(metadataFile(), 'SELECT state FROM dag_runs WHERE dag_id = ?', [dagId])).map((r) => r.state);
  }

  async function runEnds(dagId: string, who: readonly Child[]): Promise<string> {
    const until = Date.now() + 30_000;
    for (;;) {
      const [state] = await runStates(dagId);
      if (state === 'success' || state === 'failed') return state;
      if (Date.now() > until) throw new Error(`the run of ${dagId} never ended (${state}):\n${who.map((d) => d.output()).join('\n----\n')}`);
      await sleep(100);
    }
  }

  function attemptLogs(dagId: string): string[] {
    const dir = tmp.path('logs', `dag_id=${dagId}`);
    if (!existsSync(dir)) return [];
    return readdirSync(dir, { recursive: true, encoding: 'utf8' }).filter((f) => /attempt=\d+\.log$/.test(f));
  }

  beforeEach(function () {
    mkdirSync(dagsDir(), { recursive: true });
  });

  it('answers /healthz and keeps the lease while a task blocks the event loop for longer than the lease, and runs it once', async function () {
    writeFileSync(path.join(dagsDir(), 'stall.ts'), blockingDag('stall', BLOCK_MS));
    const { daemon, url } = await startDaemon();
    await trigger('stall');
    await outHas('start try=1', 20_000, [daemon]);
    const since = Date.now();
    const late = await probeThroughBlock([url('/healthz'), url('/metrics')], since, 'done try=1');
    expect(late.length, 'probes answered after the lease period into the block').to.be.greaterThan(0);
    for (const r of late.filter((x) => x.body.startsWith('{'))) {
      expect(r.status, r.body).to.equal(200);
      expect(JSON.parse(r.body)).to.include({ status: 'ok' });
      expect(JSON.parse(r.body).eventLoop).to.match(/^blocked for \d+ s$/);
    }
    expect(await runEnds('stall', [daemon])).to.equal('success');
    expect(await instances('stall')).to.deep.equal([{ state: 'success', try_number: 1, last_error: null }]);
    expect(outLines()).to.deep.equal(['start try=1', 'done try=1']);
    expect(attemptLogs('stall')).to.have.length(1);
    // Once the loop turns again, /healthz is back to its plain answer.
    await waitFor(daemon, url('/healthz'), (r) => r.status === 200 && r.body === '{"status":"ok"}', 10_000);
  });

  it('keeps a second daemon on the same home from taking over an instance whose task blocks the event loop', async function () {
    writeFileSync(path.join(dagsDir(), 'stall.ts'), blockingDag('stall', BLOCK_MS));
    const a = await startDaemon();
    const b = await startDaemon();
    await trigger('stall');
    await outHas('start try=1', 20_000, [a.daemon, b.daemon]);
    const since = Date.now();
    await probeThroughBlock([a.url('/healthz'), b.url('/healthz')], since, 'done try=1');
    expect(await runEnds('stall', [a.daemon, b.daemon])).to.equal('success');
    // Both daemons stopped: a stop records every attempt it ran, so whatever either would still
    // write (a takeover, a second try) is written by now.
    await stopAll([a.daemon, b.daemon]);
    expect(outLines(), a.daemon.output() + b.daemon.output()).to.deep.equal(['start try=1', 'done try=1']);
    expect(await instances('stall')).to.deep.equal([{ state: 'success', try_number: 1, last_error: null }]);
    expect(await runStates('stall')).to.deep.equal(['success']);
    expect(attemptLogs('stall')).to.have.length(1);
    expect(a.daemon.output() + b.daemon.output()).to.not.contain('recovered a lost task instance');
  });

  it('answers /healthz while a DAG file whose import spins is loaded by the daemon', async function () {
    writeFileSync(path.join(dagsDir(), 'quiet.ts'), blockingDag('quiet', 0));
    const { daemon, url } = await startDaemon();
    // The daemon watches the folder: the new file is probed in a worker, then imported in its thread.
    writeFileSync(path.join(dagsDir(), 'spinning.ts'), spinningImport('spinning', BLOCK_MS));
    await outHas('import start main', 30_000, [daemon]);
    const since = Date.now();
    const late = await probeThroughBlock([url('/healthz')], since, 'import done main');
    expect(late.length, 'probes answered after the lease period into the import').to.be.greaterThan(0);
    for (const r of late) expect(r.status, r.body).to.equal(200);
    await waitFor(daemon, url('/healthz'), (r) => r.status === 200 && r.body === '{"status":"ok"}', 10_000);
    expect(daemon.output()).to.contain('"dags":["quiet","spinning"]');
  });

  it('answers /healthz from the first moment of a block while the metadata write lock is held, instead of waiting for the lock', async function () {
    writeFileSync(path.join(dagsDir(), 'quiet.ts'), blockingDag('quiet', 0));
    const { daemon, url } = await startDaemon();
    writeFileSync(path.join(dagsDir(), 'spinning.ts'), spinningImport('spinning', BLOCK_MS));
    await outHas('import start main', 30_000, [daemon]);
    const since = Date.now();
    // The lock held through the block, as the blocked thread itself may hold it (a DAG import between
    // two statements of a turn): a probe within the first second still asks for a write, which waits.
    const holder = await openDb(metadataFile(), { busyTimeoutMs: 10_000 });
    try {
      await holder.exec('BEGIN IMMEDIATE');
      const blocked = await probeThroughBlock([url('/healthz')], since, 'import done main');
      for (const r of blocked) expect(r.status, r.body).to.equal(200);
      await holder.exec('COMMIT');
    } finally {
      await holder.close();
    }
    await waitFor(daemon, url('/healthz'), (r) => r.status === 200 && r.body === '{"status":"ok"}', 10_000);
  });

  it('stops renewing the lease of a task blocked past its timeout, so another daemon records the attempt lost', async function () {
    writeFileSync(path.join(dagsDir(), 'overrun.ts'), blockingDag('overrun', 4 * LEASE_S * 1000, { timeoutS: 1, retries: 0 }));
    const a = await startDaemon();
    const b = await startDaemon();
    await trigger('overrun');
    await outHas('start try=1', 20_000, [a.daemon, b.daemon]);
    // The daemon stuck in the task says so once the task is past its timeout.
    const urls = [a.url('/healthz'), b.url('/healthz')];
    const unhealthy = await Promise.any(urls.map((u) => waitFor(a.daemon, u, (r) => r.status === 503, 3 * LEASE_S * 1000)));
    expect(JSON.parse(unhealthy.body).reason).to.match(/^event loop blocked for \d+ s, past the timeout of every running task$/);
    const [ti] = await waitForInstance('overrun', (t) => t.state === 'failed', [a.daemon, b.daemon]);
    expect(ti.try_number).to.equal(1);
    expect(ti.last_error).to.match(/^attempt 1 lost: lease of .+ expired$/);
    expect(await runEnds('overrun', [a.daemon, b.daemon])).to.equal('failed');
    await outHas('done try=1', 20_000, [a.daemon, b.daemon]);
    // The stuck copy finished after all; once its daemon has stopped (a stop records every attempt
    // it ran), its success has been offered and refused: the recorded loss stands.
    await stopAll([a.daemon, b.daemon]);
    expect((await instances('overrun'))[0]).to.include({ state: 'failed', try_number: 1 });
    expect(outLines()).to.deep.equal(['start try=1', 'done try=1']);
  });

  async function waitForInstance(dagId: string, accept: (t: { state: string }) => boolean, who: readonly Child[]) {
    const until = Date.now() + 20_000;
    for (;;) {
      const tis = await instances(dagId);
      if (tis.length > 0 && accept(tis[0])) return tis;
      if (Date.now() > until) throw new Error(`instance of ${dagId} never reached the state (${JSON.stringify(tis)}):\n${who.map((d) => d.output()).join('\n----\n')}`);
      await sleep(100);
    }
  }
});
