import { expect } from 'chai';
import { RecordingLogger } from './recordingLogger.js';

describe('the recording logger', () => {
  it('keeps level, message and meta of every line in the order logged', () => {
    const log = new RecordingLogger();
    log.info('started', { ds: '2024-01-15' });
    log.warn('slow source');
    log.error('failed', { attempt: 2 });
    expect(log.lines).to.deep.equal([
      { level: 'info', message: 'started', meta: { ds: '2024-01-15' } },
      { level: 'warn', message: 'slow source' },
      { level: 'error', message: 'failed', meta: { attempt: 2 } },
    ]);
  });

  it('reads messages and lines by level, and matches by substring, pattern or predicate', () => {
    const log = new RecordingLogger();
    log.debug('a');
    log.warn('retry 1 of 3');
    log.warn('retry 2 of 3');
    log.info('done');
    expect(log.messages()).to.deep.equal(['a', 'retry 1 of 3', 'retry 2 of 3', 'done']);
    expect(log.messages('warn')).to.deep.equal(['retry 1 of 3', 'retry 2 of 3']);
    expect(log.at('debug')).to.deep.equal([{ level: 'debug', message: 'a' }]);
    expect(log.find(/retry \d of 3/, 'warn')).to.have.length(2);
    expect(log.has('retry 2')).to.equal(true);
    expect(log.has('retry 2', 'error')).to.equal(false);
    expect(log.has((l) => l.level === 'info' && l.message === 'done')).to.equal(true);
  });

  it('renders lines as text, one per line, with their meta as JSON', () => {
    const log = new RecordingLogger();
    log.info('loaded', { rows: 3 });
    log.error('bad row');
    expect(log.text()).to.equal('info loaded {"rows":3}\nerror bad row {}');
    expect(log.text('error')).to.equal('error bad row {}');
  });

  it('resolves waitFor with a line already logged, or with the first matching line logged later', async () => {
    const log = new RecordingLogger();
    log.info('ready');
    expect(await log.waitFor('ready')).to.deep.equal({ level: 'info', message: 'ready' });

    const later = log.waitFor(/^lease lost/, 'warn');
    log.info('lease lost, but only at info');
    log.warn('lease lost for run 7', { run: 7 });
    log.warn('lease lost for run 8');
    expect(await later).to.deep.equal({ level: 'warn', message: 'lease lost for run 7', meta: { run: 7 } });
  });

  it('forgets its lines on clear', () => {
    const log = new RecordingLogger();
    log.info('x');
    log.clear();
    expect(log.lines).to.deep.equal([]);
  });
});
