/**
 * One claimed call, run outside the metadata transaction: its attempt log, the task function under
 * its timeout and abort signals, and the outcome of each instance it covered, which the next
 * scheduler turn records.
 */
import { redactError } from './redact.js';
import { TaskTimeoutError } from './errors/TaskTimeoutError.js';
import { NonRetryableError } from './errors/NonRetryableError.js';
import { isTaskSkipped, TaskSkippedError } from './errors/TaskSkippedError.js';
import { expansionOf, UNMAPPED, type Expansion } from './mapping.js';
import type { Clock, DataInterval, Logger, SensorEnv, SensorOptions, TaskContext } from './interfaces.js';
import { resolveParams } from './params.js';
import { encodeResult, upstreamAccessor, type UpstreamResults } from './taskResults.js';
import { openAttemptLog, type AttemptRef } from './logging.js';
import type { CompletionRow, RunRow, TiRow } from './metadata/statements.js';
import { taskAttemptsCounter, taskDurationHistogram } from './metrics.js';
import { systemClock } from './clock.js';
import { isRetryable, rescheduleDecision, retryDelayMs, retryPolicyFor } from './retryPolicy.js';
import { runAttempt, type AttemptOutcome } from './runner.js';
import type { Claim } from './schedulerTurn.js';
import type { Settings } from './settings.js';
import { attemptTimeoutS } from './taskTimeout.js';
import { buildTaskContext } from './taskContext.js';
import { NO_SENSOR_ENV, notMetDecision, pokeOnce } from './sensor.js';

/** What running a call needs from its executor. */
export interface AttemptDeps {
  readonly settings: Settings;
  /** The scheduler log (for log files that cannot be written). */
  readonly log: Logger;
  /** Aborted when the executor's grace period is over. */
  readonly shutdown: AbortSignal;
  /** Aborted when another process took the lease over. */
  readonly leaseLost: AbortSignal;
  /** Echo attempt logs here too. */
  readonly echo?: NodeJS.WritableStream;
  /** The stored results of the task's upstream in the call's (first) run (taskResults.ts); default none. */
  readonly upstreamResults?: UpstreamResults;
  /** The clock a sensor's timeout is measured on; default the wall clock. */
  readonly clock?: Clock;
  /** What a sensor's poke reads from the metadata (dagSucceeded); default none (a poke using it fails). */
  readonly sensorEnv?: SensorEnv;
}

/** An attempt's log: every instance of the call's file (logging.ts). */
type AttemptLog = ReturnType<typeof openAttemptLog>;

/** A sensor's poke that said no and is poked again (sensor.ts): when, and its first poke to keep. */
export interface Sensing {
  readonly nextPokeAtMs: number;
  readonly firstPokeAt: number;
}

/** The `Error.name: message` text stored as an instance's last error. */
/** One line for a thrown value, as stored in `last_error` and logged: secrets redacted (redact.ts). */
export const errorText: (err: unknown) => string = redactError;

function intervalOf(run: RunRow): DataInterval {
  return { start: new Date(run.data_interval_start), end: new Date(run.data_interval_end) };
}

/** The run's stored conf; a conf that is not JSON reaches the params schema as a string, which it refuses. */
function confOf(run: RunRow): unknown {
  try {
    return JSON.parse(run.conf || '{}') as unknown;
  } catch {
    return run.conf;
  }
}

/**
 * The completion of each instance of the call. An attempt interrupted by shutdown (not by its own
 * timeout) is up for retry at once: its try counts, but it must get another. A deferred attempt
 * (`rescheduleAtMs` given) is up for retry then, its try given back. A successful outcome's value
 * must be storable as a result (runClaim checks it with keptResult first).
 */
export function completionsOf(
  claim: Claim,
  outcome: AttemptOutcome,
  shutdown: AbortSignal,
  settings: Settings,
  rescheduleAtMs?: number,
): CompletionRow[] {
  const endIso = new Date().toISOString();
  const error = outcome.ok ? undefined : outcome.error;
  const interrupted = !outcome.ok && outcome.aborted && shutdown.aborted && !(error instanceof TaskTimeoutError);
  const retryable = !outcome.ok && isRetryable(error);
  const result = outcome.ok ? encodeResult(claim.task.id, outcome.value) : null;
  return claim.items.map(({ ti }) => {
    let state: CompletionRow['state'] = 'success';
    let nextRetryAt: number | null = null;
    if (!outcome.ok) {
      if (isTaskSkipped(error) && !interrupted) state = 'skipped';
      else if (interrupted) {
        state = 'up_for_retry';
        nextRetryAt = Date.now();
      } else if (rescheduleAtMs !== undefined) {
        state = 'up_for_retry';
        nextRetryAt = rescheduleAtMs;
      } else if (retryable && ti.try_number <= ti.max_tries) {
        state = 'up_for_retry';
        nextRetryAt = Date.now() + retryDelayMs(retryPolicyFor(claim.task, claim.dag, settings), ti.try_number);
      } else state = 'failed';
    }
    const rescheduled = !interrupted && rescheduleAtMs !== undefined && !outcome.ok;
    // An interrupted sensor keeps its first poke: a restart must not restart its timeout.
    const firstPokeAt = interrupted ? ti.first_poke_at : null;
    return { id: ti.id, tryNumber: ti.try_number, state, endIso, durationS: outcome.durationS, nextRetryAt, error: outcome.ok ? null : errorText(error), interrupted, rescheduled, result, firstPokeAt };
  });
}

/** A sensor poked again later: up_for_reschedule with its next poke time, its try given back (not an attempt). */
function sensingCompletions(claim: Claim, outcome: AttemptOutcome, sensing: Sensing): CompletionRow[] {
  const endIso = new Date().toISOString();
  return claim.items.map(({ ti }) => ({
    id: ti.id,
    tryNumber: ti.try_number,
    state: 'up_for_reschedule',
    endIso,
    durationS: outcome.durationS,
    nextRetryAt: sensing.nextPokeAtMs,
    error: null,
    interrupted: false,
    rescheduled: true,
    result: null,
    firstPokeAt: sensing.firstPokeAt,
  }));
}

/** What one poke of a sensor call said: met or not, or the error it threw (a batched call's runs fail apart). */
type PokeAnswer = boolean | { readonly error: unknown };

/**
 * The completions of a sensor call whose pokes answered, one answer per instance: a met instance
 * succeeds; one not met is poked again later (up_for_reschedule, its try given back) or, past its own
 * first poke's timeout, fails with SensorTimeoutError (skips with softFail); one whose poke threw fails
 * that try, with the task's retries. A batched call's log (every instance's file) gets a line per
 * outcome naming its runs' days, not a line per run: with a line per run, each of a batch of 400 files
 * held 800 lines.
 */
function sensorCompletions(claim: Claim, answers: readonly PokeAnswer[], durationS: number, pokedAtMs: number, deps: AttemptDeps, log: AttemptLog): CompletionRow[] {
  const options = claim.task.sensor!;
  const batched = claim.items.length > 1;
  // One reading of each clock: the rescheduled runs come due together and stay one batch.
  const clockMs = (deps.clock ?? systemClock).now().getTime();
  const wallMs = Date.now();
  const succeeded: string[] = [];
  const rescheduled: { day: string; at: number }[] = [];
  const timedOut: { day: string; error: Error }[] = [];
  const completions = claim.items.flatMap((item, i) => {
    const one: Claim = { ...claim, items: [item] };
    const day = item.run.data_interval_start.slice(0, 10);
    const answer = answers[i];
    if (typeof answer === 'object') {
      if (batched) log.info(`${day}: the poke failed`);
      log.logError(answer.error);
      return completionsOf(one, { ok: false, error: answer.error, durationS, aborted: false }, deps.shutdown, deps.settings);
    }
    if (answer) {
      succeeded.push(day);
      return completionsOf(one, { ok: true, value: undefined, durationS }, deps.shutdown, deps.settings);
    }
    const decision = notMetDecision(claim.task.id, options, item.ti.first_poke_at ?? pokedAtMs, clockMs, wallMs);
    if (decision.kind === 'timeout') {
      timedOut.push({ day, error: decision.error });
      return completionsOf(one, { ok: false, error: decision.error, durationS, aborted: false }, deps.shutdown, deps.settings);
    }
    rescheduled.push({ day, at: decision.nextPokeAtMs });
    return sensingCompletions(one, { ok: true, value: undefined, durationS }, decision);
  });
  const of = (days: readonly string[]): string => (batched ? ` for ${days.length} of ${claim.items.length} runs (${daysText(days)})` : '');
  if (succeeded.length > 0) log.info(`attempt succeeded${of(succeeded)}`, { durationS });
  if (rescheduled.length > 0) log.info(`rescheduled${of(rescheduled.map((r) => r.day))}, not a try: next poke not before ${new Date(rescheduled[0].at).toISOString()}`);
  if (timedOut.length > 0) {
    const error = timedOut[0].error;
    if (batched) log.info(`timed out${of(timedOut.map((t) => t.day))}`);
    if (isTaskSkipped(error)) log.info(`attempt skipped: ${error.reason}`);
    else log.logError(error);
  }
  return completions;
}

/** Days for a log line: a few listed, more as their first and last. */
function daysText(days: readonly string[]): string {
  return days.length <= 3 ? days.join(', ') : `${days[0]} to ${days[days.length - 1]}`;
}

/**
 * An attempt that ended in a deferral (TaskDeferredError, Airflow's reschedule): logged and given a
 * reschedule time, or, once its condition has lasted DRIVETRAIN_TASK_RESCHEDULE_LIMIT_S, failed with
 * RescheduleLimitError. Any other outcome is returned as it is. The wall clock, as for retry delays:
 * DRIVETRAIN_NOW pins run creation, not how long an outage lasts.
 */
function settleDeferral(outcome: AttemptOutcome, settings: Settings, log: Logger): { outcome: AttemptOutcome; rescheduleAtMs?: number } {
  if (outcome.ok) return { outcome };
  const decision = rescheduleDecision(outcome.error, systemClock.now().getTime(), settings.task.rescheduleLimitS);
  if (decision === undefined) return { outcome };
  if (decision.kind === 'give_up') return { outcome: { ...outcome, error: decision.error } };
  const at = new Date(decision.notBeforeMs).toISOString();
  log.warn(`rescheduled, this try does not count: ${decision.deferred.reason}; next attempt not before ${at}`, { error: errorText(outcome.error), notBefore: at });
  return { outcome, rescheduleAtMs: decision.notBeforeMs };
}

/** A successful outcome whose value cannot be stored as the task's result becomes a failure (TaskResultError). */
function keptResult(taskId: string, outcome: AttemptOutcome): AttemptOutcome {
  if (!outcome.ok) return outcome;
  try {
    encodeResult(taskId, outcome.value);
    return outcome;
  } catch (error) {
    return { ok: false, error, durationS: outcome.durationS, aborted: false };
  }
}

/** The attempt's last log line: success, skip, or the error (a deferral logged its own). */
function logOutcome(log: AttemptLog, settled: { outcome: AttemptOutcome; rescheduleAtMs?: number }, durationS: number): void {
  const o = settled.outcome;
  if (o.ok) log.info('attempt succeeded', o.value === undefined ? { durationS } : { durationS, returned: o.value });
  else if (isTaskSkipped(o.error)) log.info(`attempt skipped: ${o.error.reason}`);
  else if (settled.rescheduleAtMs === undefined) log.logError(o.error);
}

/** A mapped instance's index, value and label, as its attempt gets them; undefined for any other instance. */
function mapOf(ti: TiRow): { index: number; value: unknown; label: string } | undefined {
  if (ti.map_index === UNMAPPED) return undefined;
  return { index: ti.map_index, value: JSON.parse(ti.map_value ?? 'null') as unknown, label: ti.map_label ?? String(ti.map_index) };
}

/**
 * A mapped task's expansion: its list checked and labelled (mapping.ts), stored as the instance's
 * result for the next turn to make an instance of each value. An empty list skips the task.
 */
async function expandOnce(task: Claim['task'], ctx: TaskContext): Promise<Expansion> {
  const expansion = expansionOf(task, await task.expand!(ctx));
  if (expansion.values.length === 0) throw new TaskSkippedError('expand returned an empty list');
  ctx.log.info(`expanded into ${expansion.values.length} mapped instance(s)`, { labels: expansion.labels });
  return expansion;
}

/** Runs the call; resolves with its completions and the closing of its log. */
export async function runClaim(claim: Claim, deps: AttemptDeps): Promise<{ completions: CompletionRow[]; logClosed: Promise<void> }> {
  const { dag, task, items } = claim;
  const first = items[0];
  const refs: AttemptRef[] = items.map((i) => ({
    dagId: dag.id,
    runId: i.run.run_id,
    taskId: task.id,
    attempt: i.ti.try_number,
    ...(i.ti.map_index === UNMAPPED ? {} : { mapIndex: i.ti.map_index }),
  }));
  // openAttemptLog never throws: a file that cannot be opened or written is reported here, and the
  // attempt still runs (its log lines are lost, not its work).
  const log = openAttemptLog(deps.settings.logDir, refs, {
    echo: deps.echo,
    onError: (err, file) => deps.log.error('attempt log write failed', { dagId: dag.id, taskId: task.id, file, error: errorText(err) }),
  });
  const intervals = items.map((i) => intervalOf(i.run));
  const map = mapOf(first.ti);
  const expanding = task.expand !== undefined && map === undefined;
  log.info(`attempt ${first.ti.try_number} of ${dag.id}.${task.id}${expanding ? ' (its expansion)' : map ? ` [${map.index}: ${map.label}]` : ''}`, {
    runId: first.run.run_id,
    intervals: intervals.length,
    dataIntervalStart: intervals[0].start.toISOString(),
    dataIntervalEnd: intervals[intervals.length - 1].end.toISOString(),
  });
  // Bad params fail the attempt like the task's own errors, in its log.
  let params: Record<string, unknown> = {};
  let paramsError: unknown;
  try {
    params = resolveParams(dag.id, dag.params, confOf(first.run));
  } catch (err) {
    // The stored conf does not change between tries: only a fixed DAG file or a new run helps.
    paramsError = new NonRetryableError((err as Error).message, { cause: err });
  }
  const sensorOptions = task.sensor;
  const contextOf = (signal: AbortSignal, covered: Claim['items']): TaskContext =>
    buildTaskContext({
      dagId: dag.id,
      taskId: task.id,
      runId: covered[0].run.run_id,
      tryNumber: covered[0].ti.try_number,
      intervals: covered.map((i) => intervalOf(i.run)),
      signal,
      log,
      settings: deps.settings,
      params,
      upstream: upstreamAccessor(task.id, task.upstream, deps.upstreamResults ?? new Map()),
      map,
    });
  // A sensor answers for each instance of its call: a batched one pokes once per run, with that run's
  // own context, so a poke never has to know about batches; a poke that throws fails its own run only.
  const pokeEach = async (options: SensorOptions, ctx: TaskContext): Promise<PokeAnswer[]> => {
    const env = deps.sensorEnv ?? NO_SENSOR_ENV;
    if (items.length === 1) return [await pokeOnce(options, ctx, env)];
    const answers: PokeAnswer[] = [];
    for (const item of items) {
      // Shutdown, a lost lease or the call's timeout: the runs not poked yet are the call's to settle.
      ctx.signal.throwIfAborted();
      try {
        answers.push(await pokeOnce(options, contextOf(ctx.signal, [item]), env, false));
      } catch (error) {
        if (ctx.signal.aborted) throw error;
        answers.push({ error });
      }
    }
    return answers;
  };
  const run = async (ctx: TaskContext): Promise<unknown> => {
    if (paramsError !== undefined) throw paramsError;
    if (sensorOptions !== undefined) return pokeEach(sensorOptions, ctx);
    if (expanding) return expandOnce(task, ctx);
    return task.run(ctx);
  };
  // The timeout counts from the first poke's start, on the executor's clock.
  const pokedAtMs = (deps.clock ?? systemClock).now().getTime();
  const ran = await runAttempt(task.id, run, (signal) => contextOf(signal, items), {
    timeoutS: attemptTimeoutS(task, dag, deps.settings),
    signal: AbortSignal.any([deps.shutdown, deps.leaseLost]),
  });
  let completions: CompletionRow[];
  if (sensorOptions !== undefined && ran.ok) completions = sensorCompletions(claim, ran.value as PokeAnswer[], ran.durationS, pokedAtMs, deps, log);
  else {
    // A poke that threw is an ordinary failure, with the task's retries.
    const outcome = keptResult(task.id, ran);
    const settled = settleDeferral(outcome, deps.settings, log);
    logOutcome(log, settled, outcome.durationS);
    completions = completionsOf(claim, settled.outcome, deps.shutdown, deps.settings, settled.rescheduleAtMs);
  }
  // An attempt per instance: a batched call's instances may end differently (a sensor's).
  for (const c of completions) taskAttemptsCounter.inc({ dag_id: dag.id, task_id: task.id, outcome: c.state });
  taskDurationHistogram.observe({ dag_id: dag.id, task_id: task.id }, ran.durationS);
  return { completions, logClosed: log.close().catch(() => undefined) };
}
