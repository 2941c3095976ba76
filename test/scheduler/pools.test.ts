/**
 * Pools' pure part (scheduler/pools.ts, poolClaims.ts): the DRIVETRAIN_POOLS setting, a task's pool
 * options, the load-time check of a DAG against the declared pools, and the slot arithmetic of a turn.
 */
import { expect } from 'chai';
import { writeFileSync } from 'node:fs';
import path from 'node:path';
import { fileURLToPath, pathToFileURL } from 'node:url';
import { defineDag } from '../../scheduler/dag.js';
import { loadDagBag } from '../../scheduler/dagLoader.js';
import { ConfigError } from '../../scheduler/errors/ConfigError.js';
import { DagPoolError } from '../../scheduler/errors/DagPoolError.js';
import { PoolSpecError } from '../../scheduler/errors/PoolSpecError.js';
import { poolUseOfClaims } from '../../scheduler/poolClaims.js';
import { PoolBudget, checkDagPools, openSlots, parsePools, poolUses } from '../../scheduler/pools.js';
import { loadSettings } from '../../scheduler/settings.js';
import { useTmpDir } from '../helpers/tmp.js';

const dagModule = pathToFileURL(path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..', '..', 'scheduler', 'dag.ts')).href;
const noop = () => undefined;

function thrown(fn: () => unknown): Error {
  try {
    fn();
  } catch (err) {
    return err as Error;
  }
  throw new Error('expected a throw');
}

describe('pools', () => {
  const tmp = useTmpDir('drivetrain-pools-');

  it('reads name=slots entries and adds default_pool with 128 slots unless it is listed', () => {
    expect(parsePools('heavy=2, api = 5')).to.deep.equal({ heavy: 2, api: 5, default_pool: 128 });
    expect(parsePools('default_pool=4')).to.deep.equal({ default_pool: 4 });
    expect(parsePools('')).to.deep.equal({ default_pool: 128 });
  });

  it('refuses a malformed entry, quoting it', () => {
    const cases: [string, string][] = [
      ['heavy', "pool entry 'heavy': expected name=slots"],
      ['heavy=0', "pool entry 'heavy=0': slots must be a whole number of at least 1"],
      ['heavy=1.5', "pool entry 'heavy=1.5': slots must be a whole number of at least 1"],
      ['a b=1', "pool entry 'a b=1': expected name=slots"],
      ['h/x=1', "pool entry 'h/x=1': a pool name is letters, digits, '_', '-' and '.'"],
      ['x=1,x=2', "pool entry 'x=2': pool 'x' is listed twice"],
    ];
    for (const [text, message] of cases) {
      const err = thrown(() => parsePools(text));
      expect(err, text).to.be.instanceOf(PoolSpecError);
      expect(err.message).to.equal(message);
    }
  });

  it('is a setting: DRIVETRAIN_POOLS in the typed settings, a bad one a ConfigError naming the variable and value', () => {
    const env = { DRIVETRAIN_HOME: tmp.dir };
    expect(loadSettings({ env, cwd: tmp.dir, warn: noop }).scheduler.pools).to.deep.equal({ default_pool: 128 });
    expect(loadSettings({ env: { ...env, DRIVETRAIN_POOLS: 'heavy=2' }, cwd: tmp.dir, warn: noop }).scheduler.pools).to.deep.equal({ heavy: 2, default_pool: 128 });
    const err = thrown(() => loadSettings({ env: { ...env, DRIVETRAIN_POOLS: 'heavy=none' }, cwd: tmp.dir, warn: noop }));
    expect(err).to.be.instanceOf(ConfigError);
    expect(err.message).to.equal("setting 'scheduler.pools' (DRIVETRAIN_POOLS) = 'heavy=none': pool entry 'heavy=none': slots must be a whole number of at least 1");
  });

  it('gives a task default_pool and one slot unless it says otherwise, and refuses a bad pool or slot count', () => {
    const base = { id: 'x', schedule: '@daily', startDate: '2024-01-01' } as const;
    const dag = defineDag({ ...base, tasks: { a: { run: noop }, b: { run: noop, pool: 'heavy', poolSlots: 2 } } });
    expect(dag.tasks.map((t) => [t.id, t.pool, t.poolSlots])).to.deep.equal([
      ['a', 'default_pool', 1],
      ['b', 'heavy', 2],
    ]);
    expect(() => defineDag({ ...base, tasks: { a: { run: noop, poolSlots: 0 } } })).to.throw("DAG 'x': invalid poolSlots of task 'a' '0'");
    expect(() => defineDag({ ...base, tasks: { a: { run: noop, pool: 'two words' } } })).to.throw("DAG 'x': task 'a' has invalid pool 'two words'");
  });

  it('refuses a DAG whose task names an undeclared pool or needs more slots than its pool has', () => {
    const pools = parsePools('heavy=2');
    const base = { id: 'x', schedule: '@daily', startDate: '2024-01-01' } as const;
    const unknown = thrown(() => checkDagPools(defineDag({ ...base, tasks: { a: { run: noop, pool: 'hevy' } } }), pools)) as DagPoolError;
    expect(unknown).to.be.instanceOf(DagPoolError);
    expect(unknown).to.include({ dagId: 'x', taskId: 'a', pool: 'hevy' });
    expect(unknown.message).to.equal("DAG 'x': task 'a' names unknown pool 'hevy' (DRIVETRAIN_POOLS declares: default_pool, heavy)");
    const tooWide = thrown(() => checkDagPools(defineDag({ ...base, tasks: { a: { run: noop, pool: 'heavy', poolSlots: 3 } } }), pools));
    expect(tooWide.message).to.equal("DAG 'x': task 'a' needs poolSlots 3 but pool 'heavy' has 2 slots");
    expect(() => checkDagPools(defineDag({ ...base, tasks: { a: { run: noop, pool: 'heavy', poolSlots: 2 } } }), pools)).to.not.throw();
  });

  it('reports such a DAG file as a load error of one line, while the DAGs beside it load', async () => {
    const source = (id: string, task: string) => `import { defineDag } from '${dagModule}';\nexport default defineDag({ id: '${id}', schedule: null, startDate: '2024-01-01', tasks: { t: { run: () => 1, ${task} } } });\n`;
    writeFileSync(path.join(tmp.dir, 'good.ts'), source('good', "pool: 'heavy'"));
    writeFileSync(path.join(tmp.dir, 'typo.ts'), source('typo', "pool: 'hevy'"));
    writeFileSync(path.join(tmp.dir, 'wide.ts'), source('wide', "pool: 'heavy', poolSlots: 5"));
    const bag = await loadDagBag(tmp.dir, undefined, { pools: parsePools('heavy=2'), probe: false });
    expect([...bag.dags.keys()]).to.deep.equal(['good']);
    expect(bag.errors.map((e) => [path.basename(e.file), e.reason])).to.deep.equal([
      ['typo.ts', "DagPoolError: DAG 'typo': task 't' names unknown pool 'hevy' (DRIVETRAIN_POOLS declares: default_pool, heavy)"],
      ['wide.ts', "DagPoolError: DAG 'wide': task 't' needs poolSlots 5 but pool 'heavy' has 2 slots"],
    ]);
  });

  it('hands out no more than a pool has open, counting what other processes hold', () => {
    expect(openSlots(4, 1)).to.equal(3);
    expect(openSlots(2, 3)).to.equal(0); // a pool shrunk under running instances
    const budget = new PoolBudget(parsePools('heavy=3'), new Map([['heavy', 1]]));
    expect(budget.fits('heavy', 2)).to.equal(true);
    expect(budget.fits('heavy', 3)).to.equal(false);
    budget.take('heavy', 2);
    expect([budget.fits('heavy', 1), budget.left('heavy')]).to.deep.equal([false, 0]);
    expect(budget.left('default_pool')).to.equal(128);
    expect(budget.fits('undeclared', 1)).to.equal(false);
  });

  it('records a batched call\'s slots once, on its first instance', () => {
    const task = defineDag({ id: 'x', schedule: '@daily', startDate: '2024-01-01', tasks: { t: { run: noop, pool: 'heavy', poolSlots: 2, batch: true } } }).tasks[0];
    expect(poolUseOfClaims([{ task, items: [{ ti: { id: 7 } }, { ti: { id: 8 } }, { ti: { id: 9 } }] }])).to.deep.equal([
      { id: 7, pool: 'heavy', slots: 2 },
      { id: 8, pool: 'heavy', slots: 0 },
      { id: 9, pool: 'heavy', slots: 0 },
    ]);
  });

  it('lists every declared pool with its use, and a pool instances still hold after it was removed', () => {
    const uses = poolUses(parsePools('heavy=2'), [
      { pool: 'heavy', used_slots: 2, running: 1, queued: 4 },
      { pool: 'gone', used_slots: 1, running: 1, queued: 0 },
    ]);
    expect(uses).to.deep.equal([
      { pool: 'default_pool', slots: 128, usedSlots: 0, running: 0, queued: 0, openSlots: 128 },
      { pool: 'gone', slots: 0, usedSlots: 1, running: 1, queued: 0, openSlots: 0 },
      { pool: 'heavy', slots: 2, usedSlots: 2, running: 1, queued: 4, openSlots: 0 },
    ]);
  });
});
