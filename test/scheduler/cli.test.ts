import { expect } from 'chai';
import { spawn } from 'node:child_process';
import { mkdirSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { SCHEDULER_DEFINITION_MODULES, repoModulesLoaded } from '../helpers/importedModules.js';
import { makeTmpDir, testEnv } from '../helpers/tmp.js';
import { parseDateArg } from '../../scheduler/cli/args.js';
import { UsageError } from '../../scheduler/errors/UsageError.js';
import { REPO_ROOT, cliEnv, outLines, runCli, type CliResult } from './harness.js';

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

/** Like runCli, with extra options for node itself (a preloaded hook). */
function runCliWith(nodeArgs: readonly string[], args: readonly string[], env: NodeJS.ProcessEnv): Promise<CliResult> {
  const child = spawn(process.execPath, ['--import', 'tsx', ...nodeArgs, path.join(REPO_ROOT, 'bin', 'drivetrain.ts'), ...args], { cwd: REPO_ROOT, env });
  let stdout = '';
  let stderr = '';
  child.stdout.on('data', (d: Buffer) => (stdout += d.toString()));
  child.stderr.on('data', (d: Buffer) => (stderr += d.toString()));
  return new Promise((resolve) => child.on('close', (code, signal) => resolve({ code, signal, stdout, stderr })));
}

/** The commands of the contract, in the order the help lists them. */
const COMMANDS = ['start', 'backfill', 'logs', 'dags', 'tasks', 'runs', 'pools', 'alerts', 'source', 'demo', 'customers'];

/** Expects exit 2 and exactly one line on stderr, `drivetrain: <line>`, and nothing on stdout. */
function expectUsageError(r: CliResult, line: string): void {
  expect(r.code, r.stderr).to.equal(2);
  expect(r.stdout).to.equal('');
  expect(r.stderr).to.equal(`drivetrain: ${line}\n`);
}

describe('the drivetrain command line', function () {
  this.timeout(60_000);
  let tmp: { dir: string; cleanup: () => void };
  let env: NodeJS.ProcessEnv;
  beforeEach(() => {
    tmp = makeTmpDir('drivetrain-cli-usage-');
    env = testEnv(tmp.dir);
  });
  afterEach(() => tmp.cleanup());

  it("prints commander's help listing every command on stdout with exit 0 for --help", async () => {
    const r = await runCli(['--help'], env);
    expect(r.code, r.stderr).to.equal(0);
    expect(r.stderr).to.equal('');
    expect(r.stdout).to.match(/^Usage: drivetrain \[options\] \[command\]/);
    const listed = r.stdout.split('Commands:')[1].split('\n').map((l) => /^ {2}(\w+)/.exec(l)?.[1]).filter(Boolean);
    expect(listed).to.deep.equal([...COMMANDS, 'help']);
    expect(r.stdout).to.contain('--verbose');
  });

  it("prints the same help on stderr with exit 2 when no command is given, and a group's help when it lacks a sub-command", async () => {
    const help = (await runCli(['--help'], env)).stdout;
    const none = await runCli([], env);
    expect(none.code).to.equal(2);
    expect(none.stdout).to.equal('');
    expect(none.stderr).to.equal(help);
    const dags = await runCli(['dags'], env);
    expect(dags.code).to.equal(2);
    expect(dags.stdout).to.equal('');
    expect(dags.stderr).to.match(/^Usage: drivetrain dags \[options\] \[command\]/).and.contain('trigger [options] <id>');
  });

  it("prints a sub-command's own help, with its options and the global --verbose, on stdout with exit 0", async () => {
    const trigger = await runCli(['dags', 'trigger', '--help'], env);
    expect(trigger.code, trigger.stderr).to.equal(0);
    expect(trigger.stdout).to.match(/^Usage: drivetrain dags trigger \[options\] <id>/);
    expect(trigger.stdout).to.contain('--date <date>').and.contain('--conf <json>').and.contain('Global Options:').and.contain('--verbose');
    const logs = await runCli(['help', 'logs'], env);
    expect(logs.code, logs.stderr).to.equal(0);
    expect(logs.stdout).to.match(/^Usage: drivetrain logs \[options\]/);
    for (const option of ['--follow', '--dag <id>', '--task <id>', '--run <id>', '--scheduler', '--lines <n>']) expect(logs.stdout).to.contain(option);
    const source = await runCli(['source', '--help'], env);
    expect(source.code, source.stderr).to.equal(0);
    for (const option of ['--db <file>', '--generate', '--port <port>']) expect(source.stdout).to.contain(option);
  });

  it('refuses an unknown command, an unknown option and a missing argument with exit 2 and one line naming them', async () => {
    expectUsageError(await runCli(['nope'], env), "unknown command 'nope' (see 'drivetrain --help')");
    expectUsageError(await runCli(['dags', 'lst'], env), "dags: unknown command 'lst' (Did you mean list?) (see 'drivetrain dags --help')");
    expectUsageError(await runCli(['backfill', '--from', '2024-01-01', '--too', '2024-01-02'], env), "backfill: unknown option '--too' (Did you mean --to?)");
    expectUsageError(await runCli(['demo', '--bogus'], env), "demo: unknown option '--bogus'");
    expectUsageError(await runCli(['dags', 'trigger'], env), "dags trigger: missing required argument 'id'");
    expectUsageError(await runCli(['backfill'], env), "backfill: required option '--from <date>' not specified");
    expectUsageError(await runCli(['runs', 'list', 'a', 'b'], env), 'runs list: too many arguments. Expected 1 argument but got 2.');
  });

  it('refuses a bad option value with exit 2 and one line quoting it, before opening anything', async () => {
    expectUsageError(await runCli(['backfill', '--from', '2024-13-01'], env), "--from: '2024-13-01' is not a date (YYYY-MM-DD or ISO 8601)");
    expectUsageError(await runCli(['source', '--generate', '--port', 'http'], env), "--port 'http' is not an integer in 0..65535");
    expectUsageError(await runCli(['demo', '--from', '2024-02-01', '--to', '2024-01-01'], env), "--from '2024-02-01' is after --to '2024-01-01'");
    expectUsageError(await runCli(['logs', '--scheduler', '--dag', 'x'], env), 'logs: --scheduler shows only the scheduler log; drop --dag/--task/--run');
  });

  it('shows the stack of an error only with --verbose, wherever it is given', async () => {
    const args = ['dags', 'pause', 'ghost'];
    const e = testEnv(tmp.dir, { DRIVETRAIN_DAGS_DIR: writeDags(tmp.dir) });
    const plain = await runCli(args, e);
    expect(plain.code).to.equal(2);
    expect(plain.stderr.trim().split('\n')).to.deep.equal(["drivetrain: unknown DAG 'ghost' (2 DAG file(s) failed to import: see 'dags list')"]);
    for (const verbose of [['--verbose', ...args], [...args, '--verbose']]) {
      const r = await runCli(verbose, e);
      expect(r.code).to.equal(2);
      expect(r.stderr).to.match(/^drivetrain: UsageError: unknown DAG 'ghost'.*\n\s+at /);
    }
  });

  it('defines every command without loading any of their implementations', async () => {
    const file = path.join(tmp.dir, 'imports.txt');
    const r = await runCliWith(['--import', './test/helpers/recordImports.mjs'], ['--help'], { ...env, DT_IMPORTS_FILE: file });
    expect(r.code, r.stderr).to.equal(0);
    expect(repoModulesLoaded(file, REPO_ROOT)).to.deep.equal(['bin/drivetrain.ts', 'demo/cli.ts', 'operators/privacy/cli.ts', ...SCHEDULER_DEFINITION_MODULES, 'source/cli.ts'].sort());
  });
});

// What a date means is test/core/dates.test.ts's (the one parser); here only its mapping to a usage error.
describe('dates on the command line', () => {

  it('refuses an impossible day, a bad time and trailing text as usage errors quoting the value', () => {
    for (const value of ['2024-02-30', '2023-02-29', '2024-13-01', '2024-1-1', '2024-01-01junk', '2024-01-01T24:00', '2024-01-01T10:60', 'yesterday']) {
      expect(() => parseDateArg(value, '--to'), value).to.throw(UsageError, `--to: '${value}' is not a date (YYYY-MM-DD or ISO 8601)`);
    }
  });
});
