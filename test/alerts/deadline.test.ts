import { expect } from 'chai';
import { parseDuration } from '../../scheduler/alerts/duration.js';
import { defineDag } from '../../scheduler/dag.js';
import { DagDefinitionError } from '../../scheduler/errors/DagDefinitionError.js';

const spec = (afterIntervalEnd: unknown) => ({
  id: 'mart',
  schedule: '@daily',
  startDate: '2024-01-01',
  deadline: { afterIntervalEnd: afterIntervalEnd as string },
  tasks: { t: { run: () => undefined } },
});

describe('the deadline option', () => {
  it('reads durations in days, hours, minutes and seconds', () => {
    expect(parseDuration('6h')).to.equal(6 * 3600_000);
    expect(parseDuration('90m')).to.equal(90 * 60_000);
    expect(parseDuration('1d2h30m15s')).to.equal(((26 * 60 + 30) * 60 + 15) * 1000);
    for (const bad of ['', '6', '6 hours', 'h', '2h1d', '0h', '-1h', '1.5h']) expect(parseDuration(bad), bad).to.equal(undefined);
  });

  it('is kept on the DAG with its duration in ms', () => {
    expect(defineDag(spec('6h')).deadline).to.deep.equal({ afterIntervalEnd: '6h', afterIntervalEndMs: 6 * 3600_000 });
  });

  it('stops the DAG from loading with one line quoting a bad duration', () => {
    expect(() => defineDag(spec('6 hours')))
      .to.throw(DagDefinitionError)
      .with.property('message', "DAG 'mart': invalid deadline.afterIntervalEnd '6 hours': use a duration such as '6h', '90m' or '1d2h'");
    expect(() => defineDag(spec(undefined))).to.throw(DagDefinitionError, "invalid deadline.afterIntervalEnd 'undefined'");
  });

  it('refuses a callback that is not a function', () => {
    expect(() => defineDag({ ...spec('6h'), onFailure: 'page me' as never })).to.throw(DagDefinitionError, "DAG 'mart': onFailure of the DAG is not a function");
  });
});
