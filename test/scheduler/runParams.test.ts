import { expect } from 'chai';
import { z } from 'zod';
import { defineDag } from '../../scheduler/dag.js';
import { insertRuns } from '../../scheduler/runCreator.js';
import { intervalFor } from '../../scheduler/timetable.js';
import { openHarness, type Harness } from './harness.js';

describe('params in a run', () => {
  let h: Harness;
  afterEach(async () => h?.close());

  it("gives each attempt its run's conf parsed by the schema: defaults for runs without conf, a non-retryable failure for a conf it refuses", async () => {
    h = await openHarness();
    const seen: [string, unknown][] = [];
    const dag = defineDag({
      id: 'paramed',
      schedule: '@daily',
      startDate: '2024-01-01',
      retries: 2,
      params: z.object({ rows: z.number().default(3) }),
      tasks: { work: { run: (ctx) => void seen.push([ctx.ds, ctx.params]) } },
    });
    await h.addRuns(dag, '2024-01-01', '2024-01-01', 'scheduled');
    // Runs stored with a conf as a trigger would (given), and as an older DAG file's trigger could have (refused now).
    const manual = (day: string, conf: Record<string, unknown>) => {
      const interval = intervalFor(dag.schedule, new Date(`${day}T00:00:00Z`));
      return { dagId: dag.id, type: 'manual' as const, logicalDate: interval.start, interval, conf };
    };
    await h.db.tx((sql) => insertRuns(sql, h.db.statements, [manual('2024-01-02', { rows: 9 }), manual('2024-01-03', { rows: 'nine' })]));
    await h.drain([dag]);
    expect(seen).to.deep.equal([
      ['2024-01-01', { rows: 3 }],
      ['2024-01-02', { rows: 9 }],
    ]);
    const refused = (await h.tis('paramed')).find((t) => t.run_id.startsWith('manual__2024-01-03'))!;
    expect(refused).to.include({ state: 'failed', try_number: 1 });
    expect(refused.last_error).to.match(/^NonRetryableError: DAG 'paramed': conf field 'rows': Invalid input: expected number, received string \(given "nine"\)/);
  });
});
