import { expect } from 'chai';
import { spawn, type ChildProcessWithoutNullStreams } from 'node:child_process';
import { appendFileSync, mkdirSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { PassThrough } from 'node:stream';
import { fileURLToPath } from 'node:url';
import { main } from '../../scheduler/cli/logs.js';
import { UsageError } from '../../scheduler/errors/UsageError.js';
import { attemptLogPath, openAttemptLog, type AttemptRef } from '../../scheduler/logging.js';
import { testEnv, useTmpDir } from '../helpers/tmp.js';

const repoRoot = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..', '..');

const RUN1 = 'scheduled__2024-01-01T00:00:00+00:00';
const RUN2 = 'scheduled__2024-01-02T00:00:00+00:00';

async function writeAttempt(logDir: string, ref: AttemptRef, lines: string[]): Promise<void> {
  const log = openAttemptLog(logDir, [ref]);
  for (const l of lines) log.info(l);
  await log.close();
}

/** Runs `logs` in-process; returns its exit code and output lines with the timestamps cut out. */
async function runLogs(dir: string, args: string[]): Promise<{ code: number; lines: string[]; stderr: string }> {
  const stdout = new PassThrough();
  const stderr = new PassThrough();
  const out: Buffer[] = [];
  const err: Buffer[] = [];
  stdout.on('data', (c: Buffer) => out.push(c));
  stderr.on('data', (c: Buffer) => err.push(c));
  const code = await main(['logs', ...args], { stdout, stderr, env: testEnv(dir) });
  const lines = Buffer.concat(out)
    .toString('utf8')
    .split('\n')
    .filter(Boolean)
    .map((l) => l.replace(/ \d{4}-\d{2}-\d{2}T[\d:.]+Z /, ' '));
  return { code, lines, stderr: Buffer.concat(err).toString('utf8') };
}

describe('drivetrain logs', () => {
  const tmp = useTmpDir('drivetrain-logs-');
  let logDir: string;
  beforeEach(async () => {
    logDir = path.join(tmp.dir, 'logs');
    await writeAttempt(logDir, { dagId: 'daily', runId: RUN1, taskId: 'extract', attempt: 1 }, ['e1 first', 'e1 second']);
    await writeAttempt(logDir, { dagId: 'daily', runId: RUN1, taskId: 'extract', attempt: 2 }, ['e2']);
    await writeAttempt(logDir, { dagId: 'daily', runId: RUN1, taskId: 'extract', attempt: 10 }, ['e10']);
    await writeAttempt(logDir, { dagId: 'daily', runId: RUN2, taskId: 'load', attempt: 1 }, ['l1']);
    await writeAttempt(logDir, { dagId: 'monthly', runId: RUN1, taskId: 'report', attempt: 1 }, ['r1']);
    writeFileSync(path.join(logDir, 'scheduler.log.1'), '{"message":"older"}\n');
    writeFileSync(path.join(logDir, 'scheduler.log'), '{"message":"newer"}\n');
  });

  it('prints the scheduler log, then every attempt log in path order, each line prefixed', async () => {
    const { code, lines } = await runLogs(tmp.dir, []);
    expect(code).to.equal(0);
    expect(lines).to.deep.equal([
      '[scheduler] {"message":"older"}',
      '[scheduler] {"message":"newer"}',
      `[daily/extract/${RUN1}#1] INFO e1 first`,
      `[daily/extract/${RUN1}#1] INFO e1 second`,
      `[daily/extract/${RUN1}#2] INFO e2`,
      `[daily/extract/${RUN1}#10] INFO e10`,
      `[daily/load/${RUN2}#1] INFO l1`,
      `[monthly/report/${RUN1}#1] INFO r1`,
    ]);
  });

  it('filters by DAG, task and run (a part of the run id, such as its date)', async () => {
    expect((await runLogs(tmp.dir, ['--dag', 'monthly'])).lines).to.deep.equal([`[monthly/report/${RUN1}#1] INFO r1`]);
    expect((await runLogs(tmp.dir, ['--task', 'load'])).lines).to.deep.equal([`[daily/load/${RUN2}#1] INFO l1`]);
    expect((await runLogs(tmp.dir, ['--dag', 'daily', '--run', '2024-01-02'])).lines).to.deep.equal([`[daily/load/${RUN2}#1] INFO l1`]);
    expect((await runLogs(tmp.dir, ['--scheduler'])).lines).to.deep.equal(['[scheduler] {"message":"older"}', '[scheduler] {"message":"newer"}']);
  });

  it('prints only the last N lines of each file with --lines', async () => {
    const { lines } = await runLogs(tmp.dir, ['--dag', 'daily', '--task', 'extract', '--lines', '1']);
    expect(lines).to.deep.equal([`[daily/extract/${RUN1}#1] INFO e1 second`, `[daily/extract/${RUN1}#2] INFO e2`, `[daily/extract/${RUN1}#10] INFO e10`]);
  });

  it('prints an unterminated last line and says so when nothing matches', async () => {
    appendFileSync(attemptLogPath(logDir, { dagId: 'monthly', runId: RUN1, taskId: 'report', attempt: 1 }), 'no newline yet');
    expect((await runLogs(tmp.dir, ['--dag', 'monthly'])).lines.at(-1)).to.equal(`[monthly/report/${RUN1}#1] no newline yet`);
    const none = await runLogs(tmp.dir, ['--dag', 'nope']);
    expect(none.lines).to.deep.equal([]);
    expect(none.stderr).to.equal(`drivetrain: no logs match in ${logDir}\n`);
  });

  it('rejects an unknown option, a bad --lines and --scheduler with a filter as usage errors', async () => {
    for (const [args, message] of [
      [['--tail'], "logs: unknown option '--tail' (Did you mean --task?)"],
      [['--bogus'], "logs: unknown option '--bogus'"],
      [['extra'], 'logs: too many arguments. Expected 0 arguments but got 1.'],
      [['--lines', 'ten'], "--lines: 'ten' is not a whole number >= 0"],
      [['--scheduler', '--dag', 'x'], 'logs: --scheduler shows only the scheduler log; drop --dag/--task/--run'],
    ] as const) {
      let caught: unknown;
      await runLogs(tmp.dir, [...args]).catch((e: unknown) => (caught = e));
      expect(caught).to.be.instanceOf(UsageError);
      expect((caught as Error).message).to.equal(message);
    }
  });

  describe('--follow as a child process', () => {
    let child: ChildProcessWithoutNullStreams | undefined;
    afterEach(() => {
      if (child && child.exitCode === null && child.signalCode === null) child.kill('SIGKILL');
    });

    it('prints new lines of existing and newly created attempt logs with their prefixes, and exits 0 on SIGTERM', async () => {
      child = spawn(process.execPath, ['--import', 'tsx', path.join(repoRoot, 'bin', 'drivetrain.ts'), 'logs', '--follow', '--lines', '1'], {
        cwd: repoRoot,
        env: testEnv(tmp.dir),
      });
      let out = '';
      let err = '';
      child.stdout.on('data', (c: Buffer) => (out += c.toString('utf8')));
      child.stderr.on('data', (c: Buffer) => (err += c.toString('utf8')));
      const exited = new Promise<number | null>((resolve) => child!.on('exit', (code) => resolve(code)));
      const waitFor = async (text: string): Promise<void> => {
        const deadline = Date.now() + 15_000;
        while (!out.includes(text)) {
          if (Date.now() > deadline) throw new Error(`'${text}' not printed; stdout: ${out}; stderr: ${err}`);
          if (child!.exitCode !== null) throw new Error(`exited ${child!.exitCode}; stderr: ${err}`);
          await new Promise((r) => setTimeout(r, 50));
        }
      };

      // Existing files: only their last line (--lines 1).
      await waitFor(`[daily/extract/${RUN1}#1] `);
      expect(out).to.include('INFO e1 second').and.not.include('e1 first');
      expect(out).to.include('[scheduler] {"message":"newer"}');

      // A line appended to an existing attempt log, written in two pieces (a partial line first).
      const existing = attemptLogPath(logDir, { dagId: 'daily', runId: RUN2, taskId: 'load', attempt: 1 });
      appendFileSync(existing, 'appended to an existing ');
      // Checkpoint instead of a sleep: the poll that prints the second line of a file that sorts after
      // this one read this one after the partial line was written, and would have printed it first.
      const later = attemptLogPath(logDir, { dagId: 'monthly', runId: RUN1, taskId: 'report', attempt: 1 });
      for (const mark of ['checkpoint 1', 'checkpoint 2']) {
        appendFileSync(later, `${mark}\n`);
        await waitFor(`[monthly/report/${RUN1}#1] ${mark}\n`);
      }
      expect(out).to.not.include('appended to an existing');
      appendFileSync(existing, 'file\n');
      await waitFor(`[daily/load/${RUN2}#1] appended to an existing file\n`);

      // A new run's attempt, created while following: printed whole.
      const run3 = 'backfill__2024-01-03T00:00:00+00:00';
      await writeAttempt(logDir, { dagId: 'daily', runId: run3, taskId: 'transform', attempt: 3 }, ['created later', 'and its second line']);
      await waitFor(`[daily/transform/${run3}#3]`);
      await waitFor('and its second line');
      const newLines = out.split('\n').filter((l) => l.startsWith(`[daily/transform/${run3}#3] `));
      expect(newLines.map((l) => l.replace(/ \S+Z /, ' '))).to.deep.equal([
        `[daily/transform/${run3}#3] INFO created later`,
        `[daily/transform/${run3}#3] INFO and its second line`,
      ]);

      // A line in the scheduler log too.
      appendFileSync(path.join(logDir, 'scheduler.log'), '{"message":"live"}\n');
      await waitFor('[scheduler] {"message":"live"}');

      child.kill('SIGTERM');
      expect(await exited).to.equal(0);
      expect(err).to.equal('');
    });
  });

  it('exits 0 without a stack trace when its reader goes away early (logs | head)', async () => {
    const ref = { dagId: 'big', runId: RUN1, taskId: 't', attempt: 1 };
    const log = openAttemptLog(logDir, [ref]);
    for (let i = 0; i < 30_000; i++) log.info(`line ${i} of a long log`);
    await log.close();
    const child = spawn(process.execPath, ['--import', 'tsx', path.join(repoRoot, 'bin', 'drivetrain.ts'), 'logs', '--dag', 'big'], {
      cwd: repoRoot,
      env: testEnv(tmp.dir),
    });
    let err = '';
    child.stderr.on('data', (c: Buffer) => (err += c.toString('utf8')));
    const exited = new Promise<number | null>((resolve) => child.on('exit', (code) => resolve(code)));
    const first = await new Promise<string>((resolve) => child.stdout.once('data', (c: Buffer) => resolve(c.toString('utf8'))));
    expect(first).to.match(/^\[big\/t\/scheduled__2024-01-01T00:00:00\+00:00#1\] \S+Z INFO line 0 of a long log\n/);
    child.stdout.destroy();
    expect(await exited).to.equal(0);
    expect(err).to.equal('');
  });

  describe('--follow in-process', () => {
    it('prints a scheduler.log rotated under it without losing the old file\'s last lines', async () => {
      const stdout = new PassThrough();
      let out = '';
      stdout.on('data', (c: Buffer) => (out += c.toString('utf8')));
      const ac = new AbortController();
      const done = main(['logs', '--follow', '--scheduler'], { stdout, env: testEnv(tmp.dir), signal: ac.signal });
      const waitFor = async (text: string): Promise<void> => {
        const deadline = Date.now() + 5000;
        while (!out.includes(text)) {
          if (Date.now() > deadline) throw new Error(`'${text}' not printed; got: ${out}`);
          await new Promise((r) => setTimeout(r, 25));
        }
      };
      await waitFor('[scheduler] {"message":"newer"}');
      const live = path.join(logDir, 'scheduler.log');
      // Written and rotated within one poll: the tail must drain the renamed file first.
      appendFileSync(live, '{"message":"just before rotation"}\n');
      const { renameSync } = await import('node:fs');
      renameSync(`${live}.1`, `${live}.2`);
      renameSync(live, `${live}.1`);
      writeFileSync(live, '{"message":"after rotation"}\n');
      await waitFor('[scheduler] {"message":"after rotation"}');
      ac.abort();
      expect(await done).to.equal(0);
      const order = ['{"message":"newer"}', 'just before rotation', 'after rotation'].map((t) => out.indexOf(t));
      expect(order).to.deep.equal([...order].sort((a, b) => a - b));
      expect(out).to.not.include('older');
    });

    it('starts with only the last --lines lines of the scheduler log and of each attempt log', async () => {
      appendFileSync(path.join(logDir, 'scheduler.log'), '{"message":"newest"}\n');
      const stdout = new PassThrough();
      let out = '';
      stdout.on('data', (c: Buffer) => (out += c.toString('utf8')));
      const ac = new AbortController();
      const done = main(['logs', '--follow', '--lines', '1'], { stdout, env: testEnv(tmp.dir), signal: ac.signal });
      const deadline = Date.now() + 5000;
      while (!out.includes('r1') && Date.now() < deadline) await new Promise((r) => setTimeout(r, 25));
      ac.abort();
      expect(await done).to.equal(0);
      expect(out.split('\n').filter(Boolean).map((l) => l.replace(/ \S+Z /, ' '))).to.deep.equal([
        '[scheduler] {"message":"newest"}',
        `[daily/extract/${RUN1}#1] INFO e1 second`,
        `[daily/extract/${RUN1}#2] INFO e2`,
        `[daily/extract/${RUN1}#10] INFO e10`,
        `[daily/load/${RUN2}#1] INFO l1`,
        `[monthly/report/${RUN1}#1] INFO r1`,
      ]);
    });

    it('waits for a log directory that does not exist yet', async () => {
      const stdout = new PassThrough();
      let out = '';
      stdout.on('data', (c: Buffer) => (out += c.toString('utf8')));
      const ac = new AbortController();
      const env = testEnv(tmp.dir, { DRIVETRAIN_LOG_DIR: path.join(tmp.dir, 'not-yet') });
      const done = main(['logs', '--follow'], { stdout, env, signal: ac.signal });
      await new Promise((r) => setTimeout(r, 600));
      await writeAttempt(path.join(tmp.dir, 'not-yet'), { dagId: 'd', runId: RUN1, taskId: 't', attempt: 1 }, ['finally']);
      const deadline = Date.now() + 5000;
      while (!out.includes('finally') && Date.now() < deadline) await new Promise((r) => setTimeout(r, 25));
      ac.abort();
      expect(await done).to.equal(0);
      expect(out).to.match(new RegExp(`^\\[d/t/${RUN1.replace(/[+]/g, '\\+')}#1\\] \\S+Z INFO finally\\n$`));
    });

    it('prints attempt logs in directories created after the start, including a new DAG', async () => {
      const stdout = new PassThrough();
      let out = '';
      stdout.on('data', (c: Buffer) => (out += c.toString('utf8')));
      const ac = new AbortController();
      // A log of the followed task that exists at the start: once it is printed, the follower is running.
      await writeAttempt(logDir, { dagId: 'daily', runId: RUN1, taskId: 'fresh', attempt: 1 }, ['before']);
      const done = main(['logs', '--follow', '--task', 'fresh'], { stdout, env: testEnv(tmp.dir), signal: ac.signal });
      const printed = async (text: string): Promise<void> => {
        const deadline = Date.now() + 5000;
        while (!out.includes(text)) {
          if (Date.now() > deadline) throw new Error(`'${text}' not printed; got: ${out}`);
          await new Promise((r) => setTimeout(r, 25));
        }
      };
      await printed('INFO before');
      mkdirSync(path.join(logDir, 'dag_id=brand_new'), { recursive: true });
      await writeAttempt(logDir, { dagId: 'brand_new', runId: RUN1, taskId: 'fresh', attempt: 1 }, ['hello']);
      await writeAttempt(logDir, { dagId: 'brand_new', runId: RUN1, taskId: 'other', attempt: 1 }, ['filtered out']);
      await printed('hello');
      ac.abort();
      expect(await done).to.equal(0);
      const run = RUN1.replace(/[+]/g, '\\+');
      expect(out).to.match(new RegExp(`^\\[daily/fresh/${run}#1\\] \\S+Z INFO before\\n\\[brand_new/fresh/${run}#1\\] \\S+Z INFO hello\\n$`));
    });
  });
});
