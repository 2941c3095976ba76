import { expect } from 'chai';
import { mkdirSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { makeTmpDir, testEnv } from '../helpers/tmp.js';
import { REPO_ROOT, cliEnv, outLines, runCli } from './harness.js';

const DAG_MODULE = JSON.stringify(path.join(REPO_ROOT, 'scheduler', 'dag.ts'));

/** A DAG folder with one good DAG (a failing task among its tasks), a syntax error and a cycle. */
function writeDags(dir: string): string {
  const dags = path.join(dir, 'dags');
  mkdirSync(dags, { recursive: true });
  writeFileSync(
    path.join(dags, 'good.ts'),
    `import { defineDag } from ${DAG_MODULE};
export default defineDag({
  id: 'good', schedule: '@daily', startDate: '2024-01-01', catchup: false,
  tasks: {
    fine: { run: (ctx) => ctx.log.info('fine', { ds: ctx.ds, conf: ctx.params }) },
    explode: { run: () => { throw new Error('kaboom', { cause: new Error('the root cause') }); }, upstream: ['fine'] },
  },
});\n`,
  );
  writeFileSync(path.join(dags, 'syntax.ts'), 'export default {{{ nope\n');
  writeFileSync(
    path.join(dags, 'cycle.ts'),
    `import { defineDag } from ${DAG_MODULE};
export default defineDag({ id: 'cyclic', schedule: '@daily', startDate: '2024-01-01',
  tasks: { a: { run: () => undefined, upstream: ['b'] }, b: { run: () => undefined, upstream: ['a'] } } });\n`,
  );
  return dags;
}

describe('drivetrain dags / tasks / runs', function () {
  this.timeout(60_000);
  let tmp: { dir: string; cleanup: () => void };
  let env: NodeJS.ProcessEnv;
  beforeEach(() => {
    tmp = makeTmpDir('drivetrain-cli-');
    env = testEnv(tmp.dir, { DRIVETRAIN_DAGS_DIR: writeDags(tmp.dir), DRIVETRAIN_NOW: '2024-01-05T10:00:00Z' });
  });
  afterEach(() => tmp.cleanup());

  it('lists DAGs with schedule, paused, catchup and next run, and the files that failed with their reasons', async () => {
    const r = await runCli(['dags', 'list'], env);
    expect(r.code, r.stderr).to.equal(0);
    expect(r.stdout).to.match(/good\s+@daily\s+no\s+no\s+2024-01-04T00:00:00.000Z/);
    expect(r.stdout).to.contain('import errors (2)');
    expect(r.stdout).to.match(/syntax\.ts\s+\S/);
    expect(r.stdout).to.match(/cycle\.ts\s+.*cycle/);
  });

  it('pauses and unpauses a DAG, and refuses an unknown one with exit 2', async () => {
    expect((await runCli(['dags', 'pause', 'good'], env)).code).to.equal(0);
    expect((await runCli(['dags', 'list'], env)).stdout).to.match(/good\s+@daily\s+yes/);
    const unpaused = await runCli(['dags', 'unpause', 'good'], env);
    expect(unpaused.code).to.equal(0);
    expect(unpaused.stdout).to.contain('DAG good unpaused');
    const unknown = await runCli(['dags', 'pause', 'ghost'], env);
    expect(unknown.code).to.equal(2);
    expect(unknown.stderr).to.contain("unknown DAG 'ghost'");
  });

  it('exits 2 with the usage on stderr, not stdout, when no command is given', async () => {
    const r = await runCli([], env);
    expect(r.code).to.equal(2);
    expect(r.stdout).to.equal('');
    expect(r.stderr).to.contain('Usage: drivetrain [options] [command]');
  });

  it('exits 2 with one line naming DRIVETRAIN_DAGS_DIR when the DAG folder does not exist', async () => {
    const missing = path.join(tmp.dir, 'no-such-dags');
    const r = await runCli(['dags', 'list'], { ...env, DRIVETRAIN_DAGS_DIR: missing });
    expect(r.code).to.equal(2);
    expect(r.stderr.trim().split('\n')).to.have.length(1);
    expect(r.stderr).to.contain('DRIVETRAIN_DAGS_DIR').and.contain(`'${missing}'`);
  });

  it('triggers a manual run with a conf, refuses a second run at the same date, and lists it', async () => {
    const t = await runCli(['dags', 'trigger', 'good', '--date', '2024-01-02', '--conf', '{"full":true}'], env);
    expect(t.code, t.stderr).to.equal(0);
    expect(t.stdout).to.contain('manual__2024-01-02T00:00:00+00:00');
    const again = await runCli(['dags', 'trigger', 'good', '--date', '2024-01-02'], env);
    expect(again.code).to.equal(2);
    const badConf = await runCli(['dags', 'trigger', 'good', '--conf', '{nope'], env);
    expect(badConf.code).to.equal(2);
    expect(badConf.stderr).to.contain("'{nope'");
    const list = await runCli(['runs', 'list'], env);
    expect(list.stdout).to.match(/good\s+manual__2024-01-02T00:00:00\+00:00\s+manual\s+queued/);
  });

  it('tests one task for one date on the terminal without recording anything, exit 1 with the cause when it fails', async () => {
    const ok = await runCli(['tasks', 'test', 'good', 'fine', '2024-01-03'], env);
    expect(ok.code, ok.stderr).to.equal(0);
    expect(ok.stdout).to.contain('"ds":"2024-01-03"');
    const bad = await runCli(['tasks', 'test', 'good', 'explode', '2024-01-03'], env);
    expect(bad.code).to.equal(1);
    expect(bad.stdout).to.contain('kaboom').and.contain('the root cause');
    const runs = await runCli(['runs', 'list'], env);
    expect(runs.stdout).to.contain('(none)');
  });

  it('clears a task and its downstream so the backfill re-runs just those', async () => {
    const e = cliEnv(tmp.dir, 'basic', { DRIVETRAIN_NOW: '2024-01-03T10:00:00Z' });
    expect((await runCli(['backfill', '--from', '2024-01-01'], e)).code).to.equal(0);
    expect(outLines(tmp.dir)).to.have.length(6);
    const cleared = await runCli(['tasks', 'clear', 'chain', '--from', '2024-01-02', '--to', '2024-01-02', '--task', 'b'], e);
    expect(cleared.code, cleared.stderr).to.equal(0);
    expect(cleared.stdout).to.contain('cleared 2 task instance(s) of b, c in 1 run(s)');
    // The daemon leaves backfill runs alone, so the command says what re-runs them.
    expect(cleared.stdout).to.contain('1 of them are backfill runs, which only a backfill executes: drivetrain backfill --dag chain --from 2024-01-02 --to 2024-01-02');
    expect((await runCli(['runs', 'list', 'chain'], e)).stdout).to.match(/backfill__2024-01-02T00:00:00\+00:00\s+backfill\s+queued/);
    expect((await runCli(['backfill', '--from', '2024-01-01'], e)).code).to.equal(0);
    expect(outLines(tmp.dir).slice(6)).to.deep.equal(['b 2024-01-02 try=2', 'c 2024-01-02 try=2']);
  });
});
