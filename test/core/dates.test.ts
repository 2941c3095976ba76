import { expect } from 'chai';
import path from 'node:path';
import { checkDateRange, parseUtcDate } from '../../scheduler/dates.js';
import { DateRangeError } from '../../scheduler/errors/DateRangeError.js';
import { InvalidDateError } from '../../scheduler/errors/InvalidDateError.js';
import { testEnv, useTmpDir } from '../helpers/tmp.js';
import { REPO, runBin, runNode } from './runBin.js';

/** A zone east of UTC: a zone-less date-time read as local time lands on the day before. */
const BERLIN = 'Europe/Berlin';

describe('dates from outside (the one strict UTC parser)', () => {
  it('reads a day as midnight UTC and a date-time with or without a zone', () => {
    expect(parseUtcDate('2024-02-29', '--from').toISOString()).to.equal('2024-02-29T00:00:00.000Z');
    expect(parseUtcDate('2024-01-01T10:00', '--from').toISOString()).to.equal('2024-01-01T10:00:00.000Z');
    expect(parseUtcDate('2024-01-01T10:00:30.25', '--from').toISOString()).to.equal('2024-01-01T10:00:30.250Z');
    expect(parseUtcDate('2024-01-01T10:00:00+01:00', '--from').toISOString()).to.equal('2024-01-01T09:00:00.000Z');
    expect(parseUtcDate('2024-01-01T00:30-0100', '--from').toISOString()).to.equal('2024-01-01T01:30:00.000Z');
  });

  it('refuses impossible days and times, trailing text and bare numbers, naming what was given', () => {
    const bad = ['2024-02-30', '2023-02-29', '2024-13-01', '2024-1-1', '2024-01-01junk', '2024-01-01T24:00', '2024-01-01T10:60', '2024-01-01T10:00+25:00', '0', '1700000000', '', 'yesterday'];
    for (const value of bad) {
      expect(() => parseUtcDate(value, 'DRIVETRAIN_NOW'), value)
        .to.throw(InvalidDateError, `DRIVETRAIN_NOW: '${value}' is not a date (YYYY-MM-DD or ISO 8601)`)
        .with.property('value', value);
    }
  });

  it('refuses a range whose end comes before its start, naming both bounds', () => {
    expect(() => checkDateRange(new Date('2024-03-01T00:00:00Z'), new Date('2024-01-01T00:00:00Z')))
      .to.throw(DateRangeError, "--to '2024-01-01' is before --from '2024-03-01'");
    expect(() => checkDateRange(new Date('2024-01-01T00:00:00Z'), new Date('2024-01-01T00:00:00Z'))).not.to.throw();
    expect(() => checkDateRange(undefined, new Date('2024-01-01T00:00:00Z'))).not.to.throw();
  });

  it('reads a zone-less date-time as UTC in a process whose TZ is Berlin, on the command line and in DRIVETRAIN_NOW', async function () {
    this.timeout(30_000);
    const script = `
      import { parseUtcDate } from ${JSON.stringify(path.join(REPO, 'scheduler', 'dates.ts'))};
      import { loadSettings } from ${JSON.stringify(path.join(REPO, 'scheduler', 'settings.ts'))};
      const s = loadSettings({ env: { DRIVETRAIN_NOW: '2024-01-01T00:30' }, warn: () => {} });
      console.log(JSON.stringify({ zone: new Date(2024, 0, 1).getTimezoneOffset(), arg: parseUtcDate('2024-01-01T00:30', 'DATE').toISOString(), now: s.fixedNow.toISOString() }));`;
    const r = await runNode(['--input-type=module', '-e', script], { ...process.env, TZ: BERLIN });
    expect(r.code, r.stderr).to.equal(0);
    const out = JSON.parse(r.stdout) as { zone: number; arg: string; now: string };
    expect(out.zone, 'the child really runs in Berlin time').to.equal(-60);
    expect(out.arg).to.equal('2024-01-01T00:30:00.000Z');
    expect(out.now).to.equal('2024-01-01T00:30:00.000Z');
  });
});

describe('bad dates through the drivetrain command', function () {
  this.timeout(60_000);
  const tmp = useTmpDir('drivetrain-dates-');
  const env = (extra: Record<string, string> = {}) =>
    testEnv(tmp.dir, { DRIVETRAIN_DAGS_DIR: path.join(REPO, 'test', 'fixtures', 'scheduler', 'basic'), TZ: BERLIN, ...extra });

  it('exits 2 with one line quoting an impossible or trailing-text --date, creating no run', async () => {
    for (const value of ['2024-02-30', '2024-01-01junk']) {
      const r = await runBin(['dags', 'trigger', 'chain', '--date', value], env());
      expect(r.code, r.stderr).to.equal(2);
      expect(r.stderr.trim().split('\n'), r.stderr).to.have.length(1);
      expect(r.stderr).to.contain(`--date: '${value}' is not a date`);
    }
  });

  it('exits 2 naming both bounds when tasks clear is given --to before --from', async () => {
    const r = await runBin(['tasks', 'clear', 'chain', '--from', '2024-03-01', '--to', '2024-01-01'], env());
    expect(r.code, r.stdout + r.stderr).to.equal(2);
    expect(r.stderr.trim().split('\n')).to.have.length(1);
    expect(r.stderr).to.contain("--to '2024-01-01' is before --from '2024-03-01'");
  });

  it('exits 2 naming DRIVETRAIN_NOW when it is a bare number, instead of backfilling nothing', async () => {
    const r = await runBin(['backfill', '--from', '2024-01-01', '--dag', 'chain'], env({ DRIVETRAIN_NOW: '0' }));
    expect(r.code, r.stdout + r.stderr).to.equal(2);
    expect(r.stderr.trim().split('\n')).to.have.length(1);
    expect(r.stderr).to.contain("DRIVETRAIN_NOW = '0': not a date");
  });
});
