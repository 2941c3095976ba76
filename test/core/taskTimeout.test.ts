import { expect } from 'chai';
import { defineDag } from '../../scheduler/dag.js';
import { TaskTimeoutError } from '../../scheduler/errors/TaskTimeoutError.js';
import { ConfigError } from '../../scheduler/errors/ConfigError.js';
import { runAttempt } from '../../scheduler/runner.js';
import { attemptTimeoutS } from '../../scheduler/taskTimeout.js';
import { testSettings } from '../helpers/tmp.js';
import { testTaskContext } from '../helpers/taskContext.js';

/** A task that never returns and ignores its signal: what a hung HTTP call or a lost lock looks like. */
const never = () => new Promise<never>(() => {});

function dagWith(dagTimeoutS?: number, taskTimeoutS?: number) {
  return defineDag({ id: 'hangs', schedule: '@daily', startDate: '2024-01-01', timeoutS: dagTimeoutS, tasks: { stuck: { run: never, timeoutS: taskTimeoutS } } });
}

describe('task attempt timeout', () => {
  it('defaults to one day when neither the task nor its DAG sets one', () => {
    const dag = dagWith();
    expect(testSettings('/tmp/unused').task.timeoutS).to.equal(86400);
    expect(attemptTimeoutS(dag.tasks[0], dag, testSettings('/tmp/unused'))).to.equal(86400);
  });

  it("takes the task's timeout over the DAG's, and the DAG's over DRIVETRAIN_TASK_TIMEOUT_S", () => {
    const settings = testSettings('/tmp/unused', { DRIVETRAIN_TASK_TIMEOUT_S: '120' });
    expect(attemptTimeoutS(dagWith().tasks[0], dagWith(), settings)).to.equal(120);
    const dag = dagWith(60);
    expect(attemptTimeoutS(dag.tasks[0], dag, settings)).to.equal(60);
    const both = dagWith(60, 5);
    expect(attemptTimeoutS(both.tasks[0], both, settings)).to.equal(5);
  });

  it('has no timeout when the setting, or the task itself, says 0', () => {
    const dag = dagWith();
    expect(attemptTimeoutS(dag.tasks[0], dag, testSettings('/tmp/unused', { DRIVETRAIN_TASK_TIMEOUT_S: '0' }))).to.equal(undefined);
    const own = dagWith(undefined, 0);
    expect(attemptTimeoutS(own.tasks[0], own, testSettings('/tmp/unused'))).to.equal(undefined);
  });

  it('refuses a negative or non-numeric DRIVETRAIN_TASK_TIMEOUT_S with a line naming it', () => {
    for (const bad of ['-1', 'soon']) {
      let caught: unknown;
      try {
        testSettings('/tmp/unused', { DRIVETRAIN_TASK_TIMEOUT_S: bad });
      } catch (err) {
        caught = err;
      }
      expect(caught).to.be.instanceOf(ConfigError);
      expect((caught as Error).message).to.include('DRIVETRAIN_TASK_TIMEOUT_S');
    }
  });

  it('ends an attempt that never returns once the default timeout passes', async () => {
    const settings = testSettings('/tmp/unused', { DRIVETRAIN_TASK_TIMEOUT_S: '0.2' });
    const dag = dagWith();
    const task = dag.tasks[0];
    const outcome = await runAttempt(task.id, task.run, (signal) => ({ ...testTaskContext(settings), signal }), {
      timeoutS: attemptTimeoutS(task, dag, settings),
    });
    expect(outcome.ok).to.equal(false);
    expect(outcome.ok ? undefined : outcome.error).to.be.instanceOf(TaskTimeoutError);
  });
});
