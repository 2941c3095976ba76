import { expect } from 'chai';
import { defineDag, isDag } from '../../scheduler/dag.js';
import { DagDefinitionError } from '../../scheduler/errors/DagDefinitionError.js';
import type { DagSpec } from '../../scheduler/interfaces.js';

const noop = () => undefined;

describe('defineDag', () => {
  it('orders tasks so each comes after its upstream and applies defaults', () => {
    const dag = defineDag({
      id: 'example',
      schedule: '@daily',
      startDate: '2024-01-01',
      tasks: {
        report: { run: noop, upstream: ['load_a', 'load_b'] },
        load_b: { run: noop, upstream: ['extract'] },
        load_a: { run: noop, upstream: ['extract'] },
        extract: { run: noop },
      },
    });
    const order = dag.tasks.map((t) => t.id);
    expect(order.indexOf('extract')).to.be.lessThan(order.indexOf('load_a'));
    expect(order.indexOf('load_b')).to.be.lessThan(order.indexOf('report'));
    expect(dag).to.include({ catchup: true, maxActiveRuns: 1, maxActiveTasks: 16 });
    expect(dag.startDate.toISOString()).to.equal('2024-01-01T00:00:00.000Z');
    expect(isDag(dag)).to.equal(true);
    expect(isDag({ ...dag })).to.equal(false);
  });

  it('names the tasks of a cycle', () => {
    expect(() =>
      defineDag({
        id: 'loop',
        schedule: null,
        startDate: '2024-01-01',
        tasks: { a: { run: noop, upstream: ['c'] }, b: { run: noop, upstream: ['a'] }, c: { run: noop, upstream: ['b'] }, d: { run: noop } },
      }),
    ).to.throw(DagDefinitionError, "DAG 'loop' has a cycle among tasks: a, b, c");
  });

  it('rejects an unknown upstream that slipped past the type checker', () => {
    const spec = { id: 'typo', schedule: '@daily', startDate: '2024-01-01', tasks: { a: { run: noop, upstream: ['b'] } } };
    expect(() => defineDag(spec as unknown as DagSpec)).to.throw("DAG 'typo': task 'a' has unknown upstream 'b'");
  });

  it('rejects a bad schedule, start date, id and limits with the bad value quoted', () => {
    const base = { id: 'x', schedule: '@daily', startDate: '2024-01-01', tasks: { a: { run: noop } } };
    expect(() => defineDag({ ...base, schedule: '0 25 * * *' })).to.throw(/DAG 'x': invalid cron pattern '0 25 \* \* \*'/);
    expect(() => defineDag({ ...base, startDate: '2024-13-01' })).to.throw("DAG 'x': invalid startDate '2024-13-01'");
    expect(() => defineDag({ ...base, id: 'has space' })).to.throw("invalid DAG id 'has space'");
    expect(() => defineDag({ ...base, maxActiveRuns: 0 })).to.throw("DAG 'x': invalid maxActiveRuns '0'");
    expect(() => defineDag({ ...base, tasks: {} })).to.throw("DAG 'x' has no tasks");
    expect(() => defineDag({ ...base, retries: 1.5 })).to.throw("DAG 'x': invalid retries '1.5'");
    expect(() => defineDag({ ...base, endDate: '2023-12-31' })).to.throw("DAG 'x': endDate '2023-12-31' is before startDate '2024-01-01'");
  });

  it('checks waitFor: other DAGs, each once', () => {
    const base = { id: 'x', schedule: '@daily', startDate: '2024-01-01', tasks: { a: { run: noop } } };
    expect(defineDag({ ...base, waitFor: ['ingest'] }).waitFor).to.deep.equal(['ingest']);
    expect(() => defineDag({ ...base, waitFor: ['x'] })).to.throw("DAG 'x' cannot waitFor itself");
    expect(() => defineDag({ ...base, waitFor: ['a', 'a'] })).to.throw("DAG 'x' lists waitFor 'a' twice");
    expect(() => defineDag({ ...base, waitFor: ['no such'] })).to.throw("DAG 'x': invalid waitFor entry 'no such'");
  });

  it('makes a misspelt upstream a compile error, and still a run-time one', () => {
    const define = () =>
      defineDag({
        id: 'typed',
        schedule: '@daily',
        startDate: '2024-01-01',
        tasks: {
          a: { run: noop },
          // @ts-expect-error 'aa' is not a task of this DAG: tsc (npm test) fails if this stops being an error
          b: { run: noop, upstream: ['aa'] },
        },
      });
    expect(define).to.throw("task 'b' has unknown upstream 'aa'");
  });
});
