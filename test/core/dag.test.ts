import { expect } from 'chai';
import { z } from 'zod';
import { defineDag, isDag, taskGroup } from '../../scheduler/dag.js';
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

  it('turns each waitFor into a wait_for_<dag> sensor that every root task depends on', () => {
    const dag = defineDag({
      id: 'marts',
      schedule: '@daily',
      startDate: '2024-01-01',
      waitFor: ['ingest', 'crm'],
      waitForSensor: { pokeIntervalS: 30, timeoutS: 3600 },
      tasks: { a: { run: noop }, b: { run: noop }, c: { run: noop, upstream: ['a'] } },
    });
    const byId = new Map(dag.tasks.map((t) => [t.id, t]));
    expect(dag.tasks.map((t) => t.id).slice(0, 2)).to.deep.equal(['wait_for_ingest', 'wait_for_crm']);
    expect(byId.get('a')!.upstream).to.deep.equal(['wait_for_ingest', 'wait_for_crm']);
    expect(byId.get('b')!.upstream).to.deep.equal(['wait_for_ingest', 'wait_for_crm']);
    expect(byId.get('c')!.upstream).to.deep.equal(['a']);
    expect(byId.get('wait_for_crm')!.sensor).to.include({ pokeIntervalS: 30, timeoutS: 3600, softFail: false });
    expect(() => defineDag({ id: 'y', schedule: '@daily', startDate: '2024-01-01', waitFor: ['ingest'], tasks: { wait_for_ingest: { run: noop } } })).to.throw(
      "DAG 'y': task 'wait_for_ingest' clashes with the sensor its waitFor adds",
    );
    expect(() => defineDag({ id: 'z', schedule: '@daily', startDate: '2024-01-01', waitFor: ['ingest'], waitForSensor: { pokeIntervalS: -1 }, tasks: { a: { run: noop } } })).to.throw(
      "DAG 'z': waitForSensor: sensor(): invalid pokeIntervalS '-1'",
    );
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

  it("prefixes a task group's ids and its siblings in upstream, and marks its tasks with the group", () => {
    const dag = defineDag({
      id: 'grouped',
      schedule: '@daily',
      startDate: '2024-01-01',
      tasks: {
        count: { run: noop },
        ...taskGroup('extract', { count: { run: noop }, check: { run: noop, upstream: ['count'] } }),
        load: { run: noop, upstream: ['extract.check'], triggerRule: 'none_failed' },
      },
    });
    expect(dag.tasks.map((t) => [t.id, t.group, t.upstream, t.triggerRule])).to.deep.equal([
      ['count', undefined, [], 'all_success'],
      ['extract.count', 'extract', [], 'all_success'],
      ['extract.check', 'extract', ['extract.count'], 'all_success'],
      ['load', undefined, ['extract.check'], 'none_failed'],
    ]);
  });

  it('refuses a group whose task id does not start with it', () => {
    expect(() => defineDag({ id: 'g', schedule: null, startDate: '2024-01-01', tasks: { load: { run: noop, group: 'extract' } } })).to.throw(
      DagDefinitionError,
      "DAG 'g': task 'load' is in group 'extract' but its id does not start with 'extract.'",
    );
  });

  it('checks params: a zod schema, with a default for every field when the DAG is scheduled', () => {
    const required = z.object({ rows: z.number() });
    expect(() => defineDag({ id: 'p', schedule: '@daily', startDate: '2024-01-01', params: required, tasks: { a: { run: noop } } })).to.throw(
      DagDefinitionError,
      "DAG 'p': params field 'rows' has no default, which its scheduled runs need",
    );
    // Only manual runs: each trigger must give it.
    expect(defineDag({ id: 'p', schedule: null, startDate: '2024-01-01', params: required, tasks: { a: { run: noop } } }).params).to.equal(required);
    expect(() => defineDag({ id: 'p', schedule: null, startDate: '2024-01-01', params: { rows: 1 } as never, tasks: { a: { run: noop } } })).to.throw(
      DagDefinitionError,
      "DAG 'p': params must be a zod schema",
    );
  });
});
