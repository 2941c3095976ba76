import { expect } from 'chai';
import { existsSync, mkdirSync, readdirSync, readFileSync, rmSync, statSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { PassThrough } from 'node:stream';
import { ConfigError } from '../../scheduler/errors/ConfigError.js';
import {
  attemptLogPath,
  createSchedulerLogger,
  decodePathSegment,
  encodePathSegment,
  openAttemptLog,
  type AttemptRef,
} from '../../scheduler/logging.js';
import { testSettings, useTmpDir } from '../helpers/tmp.js';

const LINE = /^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}\.\d{3}Z (DEBUG|INFO|WARN|ERROR) /;

function collect(stream: PassThrough): () => string {
  const chunks: Buffer[] = [];
  stream.on('data', (c: Buffer) => chunks.push(c));
  return () => Buffer.concat(chunks).toString('utf8');
}

describe('scheduler logger', () => {
  const tmp = useTmpDir('drivetrain-logging-');

  it('writes JSON lines with timestamp, level, message and meta to scheduler.log and to stdout', async () => {
    const settings = testSettings(tmp.dir);
    const out = new PassThrough();
    const printed = collect(out);
    const log = createSchedulerLogger(settings, { stream: out });
    log.info('run created', { dagId: 'daily', runId: 'scheduled__2024-01-01T00:00:00+00:00' });
    log.error('task failed', { error: new ConfigError('bad value', 'DRIVETRAIN_X') });
    log.debug('not written at info level');
    await log.close();

    const lines = readFileSync(path.join(settings.logDir, 'scheduler.log'), 'utf8').trimEnd().split('\n');
    expect(lines).to.have.length(2);
    const first = JSON.parse(lines[0]) as Record<string, unknown>;
    expect(Object.keys(first)).to.deep.equal(['timestamp', 'level', 'message', 'dagId', 'runId']);
    expect(first).to.include({ level: 'info', message: 'run created', dagId: 'daily' });
    expect(new Date(first.timestamp as string).toISOString()).to.equal(first.timestamp);
    const second = JSON.parse(lines[1]) as { error: Record<string, unknown> };
    expect(second.error).to.include({ name: 'ConfigError', message: 'bad value', setting: 'DRIVETRAIN_X' });
    expect(second.error.stack).to.be.a('string');
    expect(printed().trimEnd().split('\n')).to.deep.equal(lines);
  });

  it('honours the configured level', async () => {
    const settings = testSettings(tmp.dir, { DRIVETRAIN_LOG_LEVEL: 'warn' });
    const log = createSchedulerLogger(settings, { stdout: false });
    log.info('dropped');
    log.warn('kept');
    await log.close();
    const lines = readFileSync(path.join(settings.logDir, 'scheduler.log'), 'utf8').trimEnd().split('\n');
    expect(lines.map((l) => (JSON.parse(l) as { message: string }).message)).to.deep.equal(['kept']);
  });

  it('rotates scheduler.log at the size cap, keeping the configured number of files and the newest lines', async () => {
    const settings = testSettings(tmp.dir, { DRIVETRAIN_SCHEDULER_LOG_MAX_BYTES: '1024', DRIVETRAIN_SCHEDULER_LOG_MAX_FILES: '3' });
    const log = createSchedulerLogger(settings, { stdout: false });
    // One synchronous burst: the case winston's File transport loses lines in.
    for (let i = 0; i < 200; i++) log.info(`line ${i}`, { i });
    await log.close();

    const files = readdirSync(settings.logDir).sort();
    expect(files).to.deep.equal(['scheduler.log', 'scheduler.log.1', 'scheduler.log.2']);
    const read = (f: string): number[] =>
      readFileSync(path.join(settings.logDir, f), 'utf8')
        .trimEnd()
        .split('\n')
        .map((l) => (JSON.parse(l) as { i: number }).i);
    for (const f of files) expect(statSync(path.join(settings.logDir, f)).size).to.be.at.most(1024);
    // Oldest to newest, the kept lines are consecutive and end with the last one logged.
    const kept = [...read('scheduler.log.2'), ...read('scheduler.log.1'), ...read('scheduler.log')];
    expect(kept.at(-1)).to.equal(199);
    expect(kept).to.deep.equal(kept.map((_v, k) => kept[0] + k));
    expect(statSync(path.join(settings.logDir, 'scheduler.log.1')).size).to.be.above(1024 - 120);
  });

  it('appends to an existing scheduler.log and counts its size toward the cap', async () => {
    const settings = testSettings(tmp.dir, { DRIVETRAIN_SCHEDULER_LOG_MAX_BYTES: '1024', DRIVETRAIN_SCHEDULER_LOG_MAX_FILES: '2' });
    let log = createSchedulerLogger(settings, { stdout: false });
    for (let i = 0; i < 8; i++) log.info(`first process ${i}`);
    await log.close();
    const before = statSync(path.join(settings.logDir, 'scheduler.log')).size;
    log = createSchedulerLogger(settings, { stdout: false });
    for (let i = 0; i < 8; i++) log.info(`second process ${i}`);
    await log.close();
    const live = readFileSync(path.join(settings.logDir, 'scheduler.log'), 'utf8');
    const rotated = readFileSync(path.join(settings.logDir, 'scheduler.log.1'), 'utf8');
    expect(before).to.be.below(1024);
    expect(rotated).to.include('first process 0');
    expect(live).to.include('second process 7');
    expect(Buffer.byteLength(live)).to.be.at.most(1024);
  });

  it('writes a line whose meta cannot be serialized instead of throwing', async () => {
    const settings = testSettings(tmp.dir);
    const log = createSchedulerLogger(settings, { stdout: false });
    const cyclic: Record<string, unknown> = { name: 'loop' };
    cyclic.self = cyclic;
    log.info('cyclic meta', { value: cyclic });
    log.info('after', { n: 1n });
    await log.close();
    const lines = readFileSync(path.join(settings.logDir, 'scheduler.log'), 'utf8').trimEnd().split('\n');
    const first = JSON.parse(lines[0]) as Record<string, unknown>;
    expect(first).to.include({ level: 'info', message: 'cyclic meta' });
    expect(first.meta).to.include('[Circular');
    expect(JSON.parse(lines[1])).to.include({ message: 'after', n: '1' });
  });

  it('keeps every line and the cap when two loggers (as two processes would) append to the same file', async () => {
    const settings = testSettings(tmp.dir, { DRIVETRAIN_SCHEDULER_LOG_MAX_BYTES: '1024', DRIVETRAIN_SCHEDULER_LOG_MAX_FILES: '100' });
    const a = createSchedulerLogger(settings, { stdout: false });
    const b = createSchedulerLogger(settings, { stdout: false });
    for (let i = 0; i < 150; i++) {
      a.info('from a', { i });
      b.info('from b', { i });
    }
    await Promise.all([a.close(), b.close()]);
    const files = readdirSync(settings.logDir);
    const lines = files.flatMap((f) => readFileSync(path.join(settings.logDir, f), 'utf8').trimEnd().split('\n'));
    const seen = lines.map((l) => JSON.parse(l) as { message: string; i: number }).map((l) => `${l.message} ${l.i}`);
    expect(seen).to.have.length(300);
    expect(new Set(seen).size).to.equal(300);
    for (const f of files) expect(statSync(path.join(settings.logDir, f)).size, f).to.be.at.most(1024);
  });

  it('stops writing to stdout once it fails, and keeps writing scheduler.log', async () => {
    const settings = testSettings(tmp.dir);
    const out = new PassThrough();
    const log = createSchedulerLogger(settings, { stream: out });
    log.info('before');
    out.destroy(Object.assign(new Error('write EPIPE'), { code: 'EPIPE' }));
    await new Promise((r) => setImmediate(r));
    log.info('after');
    await log.close();
    const messages = readFileSync(path.join(settings.logDir, 'scheduler.log'), 'utf8')
      .trimEnd()
      .split('\n')
      .map((l) => (JSON.parse(l) as { message: string }).message);
    expect(messages).to.deep.equal(['before', 'after']);
  });

  it('closes idempotently, also with nothing logged', async () => {
    const settings = testSettings(tmp.dir);
    const log = createSchedulerLogger(settings, { stdout: false });
    await log.close();
    await log.close();
    expect(readFileSync(path.join(settings.logDir, 'scheduler.log'), 'utf8')).to.equal('');
  });
});

describe('task attempt logs', () => {
  const tmp = useTmpDir('drivetrain-attempt-');

  const ref: AttemptRef = { dagId: 'daily', runId: 'scheduled__2024-01-01T00:00:00+00:00', taskId: 'extract_cars', attempt: 2 };

  it('lays attempt logs out by dag, run, task and attempt', () => {
    expect(attemptLogPath('/var/log/dt', ref)).to.equal(
      '/var/log/dt/dag_id=daily/run_id=scheduled__2024-01-01T00:00:00+00:00/task_id=extract_cars/attempt=2.log',
    );
  });

  it('keeps an id with a slash or a dot-dot inside its own directory', () => {
    const p = attemptLogPath('/logs', { dagId: '..', runId: 'manual__a/../../b', taskId: 't%1', attempt: 1 });
    expect(p).to.equal('/logs/dag_id=%2E%2E/run_id=manual__a%2F..%2F..%2Fb/task_id=t%251/attempt=1.log');
    expect(path.normalize(p).startsWith('/logs/dag_id=')).to.equal(true);
    for (const id of ['..', 'manual__a/../../b', 't%1', 'scheduled__2024-01-01T00:00:00+00:00']) {
      expect(decodePathSegment(encodePathSegment(id))).to.equal(id);
    }
  });

  it('writes timestamped lines with their meta, creating the directories', async () => {
    const log = openAttemptLog(tmp.dir, [ref]);
    log.info('fetching', { entity: 'cars', page: 1 });
    log.warn('slow page');
    log.debug('detail');
    await log.close();
    const lines = readFileSync(attemptLogPath(tmp.dir, ref), 'utf8').trimEnd().split('\n');
    expect(lines).to.have.length(3);
    for (const l of lines) expect(l).to.match(LINE);
    expect(lines[0].slice(25)).to.equal('INFO fetching {"entity":"cars","page":1}');
    expect(lines[1].slice(25)).to.equal('WARN slow page');
    expect(lines[2].slice(25)).to.equal('DEBUG detail');
  });

  it('writes meta it cannot serialize as inspected text rather than throwing into the task', async () => {
    const cyclic: Record<string, unknown> = { id: 7 };
    cyclic.self = cyclic;
    const err = Object.assign(new Error('bad row'), { row: cyclic });
    const log = openAttemptLog(tmp.dir, [ref]);
    log.info('returned', { value: cyclic });
    log.logError(err);
    await log.close();
    const lines = readFileSync(attemptLogPath(tmp.dir, ref), 'utf8').split('\n');
    expect(lines[0]).to.match(LINE).and.include('INFO returned {"unserializable":"{ value: <ref *1> { id: 7, self: [Circular *1] } }"}');
    expect(lines[1]).to.include('ERROR Error: bad row {"unserializable":');
  });

  it('opens an attempt log again after retention removed its directories', async () => {
    let log = openAttemptLog(tmp.dir, [ref]);
    log.info('first');
    await log.close();
    rmSync(path.join(tmp.dir, 'dag_id=daily'), { recursive: true });
    log = openAttemptLog(tmp.dir, [ref]);
    log.info('second');
    await log.close();
    expect(readFileSync(attemptLogPath(tmp.dir, ref), 'utf8')).to.match(/^\S+Z INFO second\n$/);
  });

  it('drops lines below the given level', async () => {
    const log = openAttemptLog(tmp.dir, [ref], { level: 'info' });
    log.debug('hidden');
    log.info('shown');
    await log.close();
    expect(readFileSync(attemptLogPath(tmp.dir, ref), 'utf8')).to.match(/INFO shown\n$/).and.not.include('hidden');
  });

  it('writes every line of a batched call into each task instance file and echoes it', async () => {
    const refs = ['2024-01-01', '2024-01-02', '2024-01-03'].map((d) => ({ ...ref, runId: `backfill__${d}T00:00:00+00:00`, attempt: 1 }));
    const echo = new PassThrough();
    const echoed = collect(echo);
    const log = openAttemptLog(tmp.dir, refs, { echo });
    log.info('loading 3 partitions');
    await log.close();
    const contents = refs.map((r) => readFileSync(attemptLogPath(tmp.dir, r), 'utf8'));
    expect(contents[0]).to.match(/INFO loading 3 partitions\n$/);
    expect(new Set(contents).size).to.equal(1);
    expect(echoed()).to.equal(contents[0]);
  });

  it('appends when the same attempt log is opened again and ignores lines after close', async () => {
    let log = openAttemptLog(tmp.dir, [ref]);
    log.info('one');
    await log.close();
    log.info('after close');
    log.logError(new Error('after close'));
    await log.close();
    log = openAttemptLog(tmp.dir, [ref]);
    log.info('two');
    await log.close();
    const text = readFileSync(attemptLogPath(tmp.dir, ref), 'utf8');
    expect(text.split('\n').filter(Boolean).map((l) => l.slice(25))).to.deep.equal(['INFO one', 'INFO two']);
  });

  it('writes an error with its cause chain, its context fields and its stack', async () => {
    const root = new Error('connect ECONNREFUSED 127.0.0.1:8000');
    const middle = new TypeError('fetch failed', { cause: root });
    const outer = new ConfigError('source unreachable', 'DRIVETRAIN_SOURCE_URL');
    (outer as { cause?: unknown }).cause = middle;
    const log = openAttemptLog(tmp.dir, [ref]);
    log.logError(outer);
    await log.close();
    const lines = readFileSync(attemptLogPath(tmp.dir, ref), 'utf8').trimEnd().split('\n');
    expect(lines.slice(0, 3).map((l) => l.slice(25))).to.deep.equal([
      'ERROR ConfigError: source unreachable {"setting":"DRIVETRAIN_SOURCE_URL"}',
      'ERROR caused by: TypeError: fetch failed',
      'ERROR caused by: Error: connect ECONNREFUSED 127.0.0.1:8000',
    ]);
    expect(lines[3]).to.match(LINE).and.include('ERROR stack of ConfigError: source unreachable');
    expect(lines[4]).to.match(/^\s+at .*logging\.test\.ts/);
    expect(lines.filter((l) => l.includes('ERROR stack of'))).to.have.length(3);
  });

  it('follows the errors of an AggregateError, stops at a cyclic cause and describes non-Error throws', async () => {
    const a = new Error('partition 2024-01-01 failed');
    const b = new Error('partition 2024-01-02 failed');
    (b as { cause?: unknown }).cause = b; // a cycle must not loop
    const agg = new AggregateError([a, b, 'plain string'], 'batch failed');
    const log = openAttemptLog(tmp.dir, [ref]);
    log.logError(agg);
    log.logError({ code: 42 });
    await log.close();
    const text = readFileSync(attemptLogPath(tmp.dir, ref), 'utf8');
    const heads = text
      .split('\n')
      .filter((l) => LINE.test(l) && !l.includes('stack of'))
      .map((l) => l.slice(25));
    expect(heads).to.deep.equal([
      'ERROR AggregateError: batch failed',
      'ERROR caused by [1/3]: Error: partition 2024-01-01 failed',
      'ERROR caused by [2/3]: Error: partition 2024-01-02 failed',
      "ERROR caused by [3/3]: thrown 'plain string'",
      'ERROR thrown { code: 42 }',
    ]);
  });

  it('keeps writing the files it could open when another cannot be, reporting it once, and leaks no fd', async function () {
    if (!existsSync('/proc/self/fd')) this.skip();
    const good = { ...ref, attempt: 1 };
    const bad = { ...ref, taskId: 'blocked', attempt: 1 };
    // A plain file where bad's task_id directory should be: mkdir under it fails.
    const taskDir = path.dirname(attemptLogPath(tmp.dir, bad));
    mkdirSync(path.dirname(taskDir), { recursive: true });
    writeFileSync(taskDir, 'not a directory');
    const fdsBefore = readdirSync('/proc/self/fd').length;
    const errors: [string, string][] = [];
    const log = openAttemptLog(tmp.dir, [good, bad], { onError: (err, file) => errors.push([(err as NodeJS.ErrnoException).code ?? '', file]) });
    log.info('still logged');
    log.info('twice');
    await log.close();
    expect(errors).to.have.length(1);
    expect(errors[0][0]).to.be.oneOf(['ENOTDIR', 'EEXIST']);
    expect(errors[0][1]).to.equal(attemptLogPath(tmp.dir, bad));
    expect(readFileSync(attemptLogPath(tmp.dir, good), 'utf8')).to.match(/INFO still logged\n.*INFO twice\n$/);
    expect(readdirSync('/proc/self/fd').length).to.equal(fdsBefore);
  });

  it('writes lines logged before the file is open, in order, and every line is on disk when close resolves', async () => {
    const refs = Array.from({ length: 50 }, (_v, i) => ({ ...ref, runId: `backfill__${i}`, attempt: 1 }));
    const loggers = refs.map((r) => openAttemptLog(tmp.dir, [r]));
    loggers.forEach((l, i) => {
      for (let k = 0; k < 3; k++) l.info(`run ${i} line ${k}`);
    });
    await Promise.all(loggers.map((l) => l.close()));
    refs.forEach((r, i) => {
      const text = readFileSync(attemptLogPath(tmp.dir, r), 'utf8');
      expect(text.split('\n').filter(Boolean).map((l) => l.slice(25))).to.deep.equal([0, 1, 2].map((k) => `INFO run ${i} line ${k}`));
    });
  });
});
