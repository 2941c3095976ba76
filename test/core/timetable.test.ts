import { expect } from 'chai';
import {
  cronOf,
  firstInterval,
  intervalFor,
  intervalsBetween,
  isAligned,
  latestCompletedInterval,
  nextInterval,
  toDs,
  toMonth,
  validateSchedule,
} from '../../scheduler/timetable.js';
import type { DataInterval, Schedule } from '../../scheduler/interfaces.js';

const d = (iso: string): Date => new Date(iso.length === 10 ? `${iso}T00:00:00Z` : iso);
const show = (i: DataInterval | undefined) => i && [i.start.toISOString(), i.end.toISOString()];

describe('timetable', () => {
  describe('intervals of each preset', () => {
    const cases: [string, string, string, string][] = [
      ['@hourly', '2024-02-29T23:00:00Z', '2024-02-29T23:00:00.000Z', '2024-03-01T00:00:00.000Z'],
      ['@daily', '2024-02-28', '2024-02-28T00:00:00.000Z', '2024-02-29T00:00:00.000Z'],
      ['@daily', '2024-02-29', '2024-02-29T00:00:00.000Z', '2024-03-01T00:00:00.000Z'],
      ['@daily', '2023-12-31', '2023-12-31T00:00:00.000Z', '2024-01-01T00:00:00.000Z'],
      ['@weekly', '2024-03-03', '2024-03-03T00:00:00.000Z', '2024-03-10T00:00:00.000Z'],
      ['@monthly', '2024-02-01', '2024-02-01T00:00:00.000Z', '2024-03-01T00:00:00.000Z'],
      ['@monthly', '2023-02-01', '2023-02-01T00:00:00.000Z', '2023-03-01T00:00:00.000Z'],
      ['@monthly', '2023-12-01', '2023-12-01T00:00:00.000Z', '2024-01-01T00:00:00.000Z'],
      ['@yearly', '2024-01-01', '2024-01-01T00:00:00.000Z', '2025-01-01T00:00:00.000Z'],
    ];
    for (const [schedule, logical, start, end] of cases) {
      it(`gives ${schedule} at ${logical} the interval [${start}, ${end})`, () => {
        expect(show(intervalFor(schedule, d(logical)))).to.deep.equal([start, end]);
      });
    }

    it('treats @once as a single instant at the start date', () => {
      expect(show(firstInterval('@once', d('2024-01-05')))).to.deep.equal(['2024-01-05T00:00:00.000Z', '2024-01-05T00:00:00.000Z']);
      expect(nextInterval('@once', intervalFor('@once', d('2024-01-05')))).to.equal(undefined);
    });

    it('gives a manual-only DAG no scheduled interval', () => {
      expect(firstInterval(null, d('2024-01-01'))).to.equal(undefined);
      expect(latestCompletedInterval(null, d('2024-01-01'), d('2025-01-01'))).to.equal(undefined);
    });
  });

  describe('cron expressions around month ends and a leap day', () => {
    it('skips months without a 31st for "0 0 31 * *"', () => {
      const first = firstInterval('0 0 31 * *', d('2024-01-15'))!;
      expect(show(first)).to.deep.equal(['2024-01-31T00:00:00.000Z', '2024-03-31T00:00:00.000Z']);
      expect(show(nextInterval('0 0 31 * *', first))).to.deep.equal(['2024-03-31T00:00:00.000Z', '2024-05-31T00:00:00.000Z']);
    });

    it('finds Feb 29 only in leap years for "0 12 29 2 *"', () => {
      const first = firstInterval('0 12 29 2 *', d('2023-01-01'))!;
      expect(show(first)).to.deep.equal(['2024-02-29T12:00:00.000Z', '2028-02-29T12:00:00.000Z']);
    });

    it('handles a step expression across midnight', () => {
      const i = intervalFor('30 */6 * * *', d('2024-02-29T19:00:00Z'));
      expect(show(i)).to.deep.equal(['2024-02-29T18:30:00.000Z', '2024-03-01T00:30:00.000Z']);
    });
  });

  describe('first interval and alignment', () => {
    it('starts at the first tick at or after the start date', () => {
      expect(show(firstInterval('@daily', d('2024-01-01T05:00:00Z')))).to.deep.equal([
        '2024-01-02T00:00:00.000Z',
        '2024-01-03T00:00:00.000Z',
      ]);
      expect(show(firstInterval('@daily', d('2024-01-01')))).to.deep.equal(['2024-01-01T00:00:00.000Z', '2024-01-02T00:00:00.000Z']);
    });

    it('tells aligned logical dates from unaligned ones', () => {
      expect(isAligned('@monthly', d('2024-03-01'))).to.equal(true);
      expect(isAligned('@monthly', d('2024-03-02'))).to.equal(false);
    });
  });

  describe('latest completed interval (what catchup=false creates)', () => {
    it('is the interval that ended last before now', () => {
      const i = latestCompletedInterval('@daily', d('2022-01-01'), d('2024-03-01T13:00:00Z'));
      expect(show(i)).to.deep.equal(['2024-02-29T00:00:00.000Z', '2024-03-01T00:00:00.000Z']);
    });

    it('counts an interval ending exactly now as completed', () => {
      const i = latestCompletedInterval('@monthly', d('2022-01-01'), d('2024-03-01T00:00:00Z'));
      expect(show(i)).to.deep.equal(['2024-02-01T00:00:00.000Z', '2024-03-01T00:00:00.000Z']);
    });

    it('is undefined before the first interval has ended', () => {
      expect(latestCompletedInterval('@daily', d('2024-03-01'), d('2024-03-01T23:59:59Z'))).to.equal(undefined);
    });

    it('stops at the end date', () => {
      const i = latestCompletedInterval('@daily', d('2022-01-01'), d('2024-03-01'), d('2023-06-30'));
      expect(show(i)).to.deep.equal(['2023-06-30T00:00:00.000Z', '2023-07-01T00:00:00.000Z']);
    });
  });

  describe('intervals between two dates', () => {
    it('lists logical dates in [from, to] across a leap day, clipped to the start date', () => {
      const days = [...intervalsBetween('@daily', d('2024-02-28'), d('2024-02-01'), d('2024-03-01'))].map((i) => toDs(i.start));
      expect(days).to.deep.equal(['2024-02-28', '2024-02-29', '2024-03-01']);
    });

    it('gives @once its single run only when the start date is in range', () => {
      expect([...intervalsBetween('@once', d('2024-01-05'), d('2024-01-01'), d('2024-01-31'))].map((i) => toDs(i.start))).to.deep.equal([
        '2024-01-05',
      ]);
      expect([...intervalsBetween('@once', d('2024-01-05'), d('2024-01-06'), d('2024-01-31'))]).to.deep.equal([]);
      expect([...intervalsBetween(null, d('2024-01-05'), d('2024-01-01'), d('2024-01-31'))]).to.deep.equal([]);
    });

    it('gives 25 monthly runs from 2022-01 through 2024-01', () => {
      const months = [...intervalsBetween('@monthly', d('2022-01-01'), d('2022-01-01'), d('2024-01-31'))];
      expect(months).to.have.length(25);
      expect(toMonth(months[24].start)).to.equal('2024-01-01');
    });
  });

  describe('validation', () => {
    it('accepts presets, cron expressions and null', () => {
      for (const s of ['@once', '@hourly', '@daily', '@weekly', '@monthly', '@yearly', '*/15 * * * *', null]) {
        expect(() => validateSchedule(s)).not.to.throw();
      }
    });

    it('quotes a bad cron pattern', () => {
      expect(() => validateSchedule('61 * * * *')).to.throw(/invalid cron pattern '61 \* \* \* \*'/);
      expect(() => validateSchedule('* * *')).to.throw(/expected 5 fields/);
      expect(() => validateSchedule('@fortnightly')).to.throw(/unknown preset/);
    });
  });

  describe('edges', () => {
    it('maps every preset to its cron expression, and @once and manual DAGs to none', () => {
      expect(['@hourly', '@daily', '@weekly', '@monthly', '@yearly', '@annually'].map((p) => cronOf(p))).to.deep.equal([
        '0 * * * *',
        '0 0 * * *',
        '0 0 * * 0',
        '0 0 1 * *',
        '0 0 1 1 *',
        '0 0 1 1 *',
      ]);
      expect(cronOf('5 4 * * *')).to.equal('5 4 * * *');
      expect(cronOf('@once')).to.equal(null);
      expect(cronOf(null)).to.equal(null);
    });

    it('accepts a cron pattern with extra spaces, and quotes a schedule that is not a string', () => {
      expect(() => validateSchedule(' 0  0 * * * ')).not.to.throw();
      expect(() => validateSchedule(5 as unknown as Schedule)).to.throw("invalid schedule '5'");
      expect(() => validateSchedule('* * * * * *')).to.throw("invalid cron pattern '* * * * * *': expected 5 fields");
      expect(() => validateSchedule('@fortnightly')).to.throw("invalid schedule '@fortnightly': unknown preset");
      expect(() => validateSchedule('0 0 32 * *')).to.throw(/^invalid cron pattern '0 0 32 \* \*': ./);
    });

    it('gives a manual or @once logical date the instant itself as its interval, always aligned', () => {
      for (const s of [null, '@once'] as const) {
        expect(show(intervalFor(s, d('2024-01-05T10:00:00Z')))).to.deep.equal(['2024-01-05T10:00:00.000Z', '2024-01-05T10:00:00.000Z']);
        expect(isAligned(s, d('2024-01-05T10:00:00Z'))).to.equal(true);
      }
      expect(show(intervalFor('@daily', d('2024-01-05T10:00:00Z')))).to.deep.equal(['2024-01-05T00:00:00.000Z', '2024-01-06T00:00:00.000Z']);
      expect(nextInterval(null, { start: d('2024-01-05'), end: d('2024-01-05') })).to.equal(undefined);
      expect(show(nextInterval('@daily', { start: d('2024-01-05'), end: d('2024-01-06') }))).to.deep.equal(['2024-01-06T00:00:00.000Z', '2024-01-07T00:00:00.000Z']);
    });

    it('completes @once at its start date, not before', () => {
      expect(show(latestCompletedInterval('@once', d('2024-01-05'), d('2024-01-05')))).to.deep.equal(['2024-01-05T00:00:00.000Z', '2024-01-05T00:00:00.000Z']);
      expect(latestCompletedInterval('@once', d('2024-01-05'), d('2024-01-04T23:59:59Z'))).to.equal(undefined);
    });

    it('counts an interval starting at the start date or exactly at the end date, and none starting before the start date', () => {
      expect(show(latestCompletedInterval('@daily', d('2024-01-01'), d('2024-01-02')))).to.deep.equal(['2024-01-01T00:00:00.000Z', '2024-01-02T00:00:00.000Z']);
      expect(show(latestCompletedInterval('@daily', d('2024-01-01'), d('2024-01-05'), d('2024-01-04')))).to.deep.equal(['2024-01-04T00:00:00.000Z', '2024-01-05T00:00:00.000Z']);
      expect(show(latestCompletedInterval('@daily', d('2024-01-01'), d('2024-01-05'), d('2024-01-03T12:00:00Z')))).to.deep.equal(['2024-01-03T00:00:00.000Z', '2024-01-04T00:00:00.000Z']);
      expect(latestCompletedInterval('@daily', d('2024-01-01T00:00:01Z'), d('2024-01-02T12:00:00Z'))).to.equal(undefined);
      // An end date still to come changes nothing: the latest interval is the one that has ended.
      expect(show(latestCompletedInterval('@daily', d('2024-01-01'), d('2024-01-05T12:00:00Z'), d('2024-12-31')))).to.deep.equal(['2024-01-04T00:00:00.000Z', '2024-01-05T00:00:00.000Z']);
    });

    it('lists intervals from the later of from and the start date, up to the earlier of to and the end date, both ends included', () => {
      const days = (start: string, from: string, to: string, end?: string) =>
        [...intervalsBetween('@daily', d(start), d(from), d(to), end ? d(end) : undefined)].map((i) => toDs(i.start));
      expect(days('2024-01-01', '2024-01-03', '2024-01-05')).to.deep.equal(['2024-01-03', '2024-01-04', '2024-01-05']);
      expect(days('2024-01-04', '2024-01-03', '2024-01-05')).to.deep.equal(['2024-01-04', '2024-01-05']);
      expect(days('2024-01-01', '2024-01-03', '2024-01-05', '2024-01-04')).to.deep.equal(['2024-01-03', '2024-01-04']);
      expect(days('2024-01-01', '2024-01-03', '2024-01-05', '2024-01-09')).to.deep.equal(['2024-01-03', '2024-01-04', '2024-01-05']);
      expect(days('2024-01-01', '2024-01-03', '2024-01-03')).to.deep.equal(['2024-01-03']);
    });

    it('gives @once its run when the start date is exactly from or to, and not past the end date', () => {
      const once = (start: string, from: string, to: string, end?: string) =>
        [...intervalsBetween('@once', d(start), d(from), d(to), end ? d(end) : undefined)].map((i) => toDs(i.start));
      expect(once('2024-01-05', '2024-01-05', '2024-01-09')).to.deep.equal(['2024-01-05']);
      expect(once('2024-01-05', '2024-01-01', '2024-01-05')).to.deep.equal(['2024-01-05']);
      expect(once('2024-01-05', '2024-01-01', '2024-01-04')).to.deep.equal([]);
      expect(once('2024-01-05', '2024-01-01', '2024-01-09', '2024-01-04')).to.deep.equal([]);
    });

    it('names the day and the month of a UTC date', () => {
      expect(toDs(d('2024-02-29T23:59:59Z'))).to.equal('2024-02-29');
      expect(toMonth(d('2024-02-29T23:59:59Z'))).to.equal('2024-02-01');
    });
  });
});
