/**
 * One turn of the scheduler, inside one metadata write transaction:
 *   1. record the attempts that finished since the last turn,
 *   2. read the active runs and their task instances (one statement),
 *   3. start queued runs (logical-date order, max active runs),
 *   4. decide, without the database, which waiting instances run or fail and which runs are over,
 *   5. claim ready instances up to the free slots under a lease, and write the decisions.
 * It returns what it claimed; the executor runs those outside the transaction. Batching every write
 * of a turn into one transaction is what makes a claim cheap, and the dialect's write transaction
 * (BEGIN IMMEDIATE on SQLite) makes it exclusive across processes; on PostgreSQL a turn schedules only
 * the DAGs whose lock it got, and a claim passes rows another daemon holds (docs/design/postgres-metadata.md).
 */
import { recordCompletionAlerts, recordRunAlerts } from './alerts/outbox.js';
import type { Dag, Logger, Task } from './interfaces.js';
import type { Sql } from './metadata/interfaces.js';
import type { ClaimStamp, CompletionRow, NewTaskInstance, RunRow, RunScope, Statements, TiRow } from './metadata/statements.js';
import { lockedPoolBudget, poolUseOfClaims } from './poolClaims.js';
import { retryPolicyFor } from './retryPolicy.js';
import type { Settings } from './settings.js';
import { evaluateTriggerRule, isDue, runOutcome, type StoredState } from './triggerRules.js';
import { extendBatch } from './turnBatch.js';
import { countedStates, hasMappedTasks, instancesByRun, instancesByTask, isMappedTask, mappedInstances, parseExpansion, UNMAPPED } from './mapping.js';

/** One claimed call: one task instance, or several of one task (a batch), oldest first. */
export interface Claim {
  readonly dag: Dag;
  readonly task: Task;
  readonly items: readonly { readonly ti: TiRow; readonly run: RunRow }[];
}

/** What a turn needs to know besides the database. */
export interface TurnContext {
  readonly statements: Statements;
  readonly settings: Settings;
  readonly log: Logger;
  readonly scope: RunScope & { readonly respectPause: boolean; readonly batching: boolean };
  /** The DAGs to schedule, given the paused ones. */
  dagsInScope(paused: ReadonlySet<string>): ReadonlyMap<string, Dag>;
  /** Claim nothing (shutting down): only record completions. */
  readonly stopping: boolean;
  /** Calls that may start now (parallelism minus running). */
  readonly slots: number;
  /** Most intervals one batched call covers. */
  readonly batchCap: number;
  /** The claimer's identity; `nowMs`/`nowIso` are the turn's time. */
  readonly stamp: ClaimStamp;
}

/** What a turn did. */
export interface TurnResult {
  /** The calls to launch now. */
  readonly claims: readonly Claim[];
  /** True when anything changed. */
  readonly changed: boolean;
  /**
   * True when the next turn may find work this one could not do: a finished run frees a run slot. Decided instances do not (tasks are in topological order, so a turn decides
   * a whole chain), nor do claims: their completions wake the loop.
   */
  readonly again: boolean;
  /** The earliest retry or sensor poke not due yet (epoch ms), if any: when waiting work comes due. */
  readonly nextDueMs?: number;
}

/** Runs and instances a turn decides on. */
export interface ActiveRuns {
  /** Each DAG's running runs, oldest first. */
  readonly running: Map<string, RunRow[]>;
  /** Each DAG's oldest queued runs in scope, oldest first. */
  readonly queued: Map<string, RunRow[]>;
  /** Instances by run, by task: a task's one instance, or a mapped task's expansion (-1) then its mapped instances. */
  readonly tis: Map<number, Map<string, TiRow[]>>;
}

/** The decisions of step 4. */
export interface Decisions {
  readonly waiting: { id: number; state: 'queued' | 'upstream_failed' | 'skipped' }[];
  readonly finished: { run: RunRow; state: 'success' | 'failed' }[];
  /** Due instances, in window order (oldest runs first). */
  readonly ready: { dag: Dag; task: Task; run: RunRow; ti: TiRow }[];
  /** The earliest next_retry_at of the window's instances not due yet. */
  nextDueMs?: number;
}

/** Runs one turn in the open transaction `sql`. */
export async function runTurn(sql: Sql, ctx: TurnContext, done: readonly CompletionRow[]): Promise<TurnResult> {
  const st = ctx.statements;
  // The alerts go first: they are written for the instances this owner still holds, as recorded next.
  if (done.length > 0) await recordCompletionAlerts(sql, st, ctx.stamp.owner, done, ctx.dagsInScope(new Set()), ctx.stamp.nowIso);
  if (done.length > 0) await st.recordCompletions(sql, ctx.stamp.owner, done);
  const idle = { claims: [], changed: done.length > 0, again: false };
  if (ctx.stopping) return idle;
  const paused = ctx.scope.respectPause ? new Set(await st.pausedDagIds(sql)) : new Set<string>();
  const dags = await lockDags(sql, st, ctx.dagsInScope(paused));
  if (dags.size === 0) return idle;
  const loaded = await loadActive(sql, st, dags, ctx.scope);
  const started = await startRuns(sql, ctx, dags, loaded);
  const active = withStarted(loaded, started, await st.taskInstancesOf(sql, started.map((r) => r.id)));
  const expanded = await expandMapped(sql, ctx, dags, active);
  const window = windowOf(dags, active, ctx.scope);
  const decisions = decide(window, dags, active.tis, ctx.stamp.nowMs);
  const picked = await pickClaims(sql, ctx, decisions.ready, window, active.tis);
  const claims = await withMapValues(sql, ctx.statements, await writeDecisions(sql, ctx, decisions, picked));
  const again = decisions.finished.length > 0;
  const changed = again || done.length > 0 || started.length > 0 || expanded > 0 || claims.length > 0 || decisions.waiting.length > 0;
  return { claims, changed, again, nextDueMs: decisions.nextDueMs };
}

/**
 * The DAGs of `dags` whose scheduling lock this turn got: on PostgreSQL, a DAG another daemon's turn
 * is scheduling is left to it (that turn sees everything this one would), so two turns never decide
 * on the same runs. On SQLite the write transaction is exclusive and every DAG is kept.
 */
async function lockDags(sql: Sql, st: Statements, dags: ReadonlyMap<string, Dag>): Promise<ReadonlyMap<string, Dag>> {
  if (dags.size === 0) return dags;
  const locked = await st.tryLockDags(sql, [...dags.keys()]);
  if (locked.length === dags.size) return dags;
  return new Map(locked.map((id) => [id, dags.get(id)!]));
}

/** Step 2: the active runs of `dags` with the instances of those that can run now. */
async function loadActive(sql: Sql, st: Statements, dags: ReadonlyMap<string, Dag>, scope: RunScope): Promise<ActiveRuns> {
  const caps = [...dags.values()].map((d) => ({ dagId: d.id, maxRuns: d.maxActiveRuns }));
  const runs = await st.activeWindow(sql, caps, scope);
  const active: ActiveRuns = { running: new Map(), queued: new Map(), tis: new Map() };
  for (const run of runs) {
    active.tis.set(run.id, instancesByTask(run.tis));
    const lists = run.state === 'running' ? active.running : active.queued;
    let list = lists.get(run.dag_id);
    if (!list) lists.set(run.dag_id, (list = []));
    list.push(run);
  }
  return active;
}

/** Creates the waiting instances of runs about to start (existing ones, a cleared run's, are kept). */
export async function createInstances(sql: Sql, ctx: TurnContext, dag: Dag, runs: readonly RunRow[]): Promise<void> {
  const rows = runs.flatMap((run) =>
    dag.tasks.map((t) => ({ runPk: run.id, dagId: dag.id, runId: run.run_id, taskId: t.id, maxTries: retryPolicyFor(t, dag, ctx.settings).retries, pool: t.pool })),
  );
  await ctx.statements.insertTaskInstances(sql, rows);
}

/**
 * Step 3: starts each DAG's queued runs into its free run slots, in order. A waitFor does not hold a
 * run back here: it is a sensor task of the run (dag.ts), which frees its slot between pokes.
 */
async function startRuns(sql: Sql, ctx: TurnContext, dags: ReadonlyMap<string, Dag>, active: ActiveRuns): Promise<RunRow[]> {
  const started: RunRow[] = [];
  for (const dag of dags.values()) {
    const free = dag.maxActiveRuns - (active.running.get(dag.id)?.length ?? 0);
    const toStart = (active.queued.get(dag.id) ?? []).slice(0, Math.max(0, free)).map((run): RunRow => ({ ...run, state: 'running' }));
    if (toStart.length === 0) continue;
    await createInstances(sql, ctx, dag, toStart);
    for (const run of toStart) ctx.log.info('dag run started', { dagId: dag.id, runId: run.run_id });
    started.push(...toStart);
  }
  if (started.length > 0) await ctx.statements.startRuns(sql, started.map((r) => r.id), ctx.stamp.owner, ctx.stamp.nowIso);
  return started;
}

/** The active runs with `started` moved from queued to running, with their (re-read) instances. */
function withStarted(active: ActiveRuns, started: readonly RunRow[], instances: readonly TiRow[]): ActiveRuns {
  if (started.length === 0) return active;
  const running = new Map(active.running);
  for (const run of started) running.set(run.dag_id, [...(running.get(run.dag_id) ?? []), run]);
  const tis = new Map(active.tis);
  const byRun = instancesByRun(instances);
  for (const run of started) tis.set(run.id, byRun.get(run.id) ?? new Map());
  return { running, queued: active.queued, tis };
}

/**
 * Step 3b: the mapped instances of each mapped task whose expansion (its -1 instance) succeeded and
 * has none yet, made from the list it stored (mapping.ts); `active` is updated in place. An expansion
 * whose stored list cannot be read fails, so its run ends instead of waiting on instances that never
 * come. Returns how many instances it created or failed.
 */
async function expandMapped(sql: Sql, ctx: TurnContext, dags: ReadonlyMap<string, Dag>, active: ActiveRuns): Promise<number> {
  const pending: { dag: Dag; task: Task; run: RunRow; expansion: TiRow }[] = [];
  for (const [dagId, runs] of active.running) {
    const dag = dags.get(dagId)!;
    if (!hasMappedTasks(dag)) continue;
    for (const run of runs) {
      const byTask = active.tis.get(run.id);
      for (const task of dag.tasks) {
        const rows = task.expand === undefined ? undefined : byTask?.get(task.id);
        if (rows?.length === 1 && rows[0].map_index === UNMAPPED && rows[0].state === 'success') pending.push({ dag, task, run, expansion: rows[0] });
      }
    }
  }
  if (pending.length === 0) return 0;
  const st = ctx.statements;
  const stored = new Map((await st.resultsOf(sql, pending.map((p) => p.expansion.id))).map((r) => [r.id, r.result]));
  const rows: NewTaskInstance[] = [];
  const broken: { id: number; error: string }[] = [];
  for (const p of pending) {
    try {
      const expansion = parseExpansion(p.task.id, stored.get(p.expansion.id) ?? 'null');
      rows.push(...mappedInstances(p.run, p.task, expansion, retryPolicyFor(p.task, p.dag, ctx.settings).retries));
    } catch (err) {
      broken.push({ id: p.expansion.id, error: (err as Error).message });
      p.expansion.state = 'failed';
    }
  }
  if (broken.length > 0) await st.failInstances(sql, broken, ctx.stamp.nowIso);
  if (rows.length > 0) {
    await st.insertTaskInstances(sql, rows);
    const fresh = await st.taskInstancesOf(sql, [...new Set(rows.map((r) => r.runPk))], [...new Set(rows.map((r) => r.taskId))]);
    for (const [runPk, byTask] of instancesByRun(fresh)) {
      for (const [taskId, list] of byTask) active.tis.get(runPk)!.set(taskId, list);
    }
    for (const p of pending) ctx.log.info('mapped task expanded', { dagId: p.dag.id, runId: p.run.run_id, taskId: p.task.id, instances: active.tis.get(p.run.id)!.get(p.task.id)!.length - 1 });
  }
  return rows.length + broken.length;
}


/** Each DAG's oldest max-active-runs running runs in scope: tasks run in logical-date order. */
function windowOf(dags: ReadonlyMap<string, Dag>, active: ActiveRuns, scope: RunScope): RunRow[] {
  const window: RunRow[] = [];
  for (const [dagId, list] of active.running) {
    const dag = dags.get(dagId)!;
    for (const run of list.slice(0, dag.maxActiveRuns)) {
      const inScope = scope.runTypes.includes(run.run_type) && (!scope.from || run.logical_date >= scope.from) && (!scope.to || run.logical_date <= scope.to);
      if (inScope) window.push(run);
    }
  }
  return window;
}

/**
 * Step 4 (pure): trigger rules for waiting instances, outcomes of runs, and the due instances. A
 * mapped task's instances each follow its trigger rule, and its downstream count each of them.
 */
export function decide(window: readonly RunRow[], dags: ReadonlyMap<string, Dag>, tis: ReadonlyMap<number, ReadonlyMap<string, readonly TiRow[]>>, nowMs: number): Decisions {
  const out: Decisions = { waiting: [], finished: [], ready: [] };
  for (const run of window) {
    const dag = dags.get(run.dag_id)!;
    const byTask = tis.get(run.id) ?? new Map<string, TiRow[]>();
    // Tasks come in topological order, so a decision here is seen by the downstream in this pass.
    const decided = new Map<number, StoredState>();
    const stateOf = (ti: TiRow): StoredState => (decided.has(ti.id) ? decided.get(ti.id)! : ti.state);
    // Without a mapped task each task has one instance: the upstream states are read directly, as
    // before mapping, on the path every turn takes (the scheduler bench's).
    const mappedDag = hasMappedTasks(dag);
    const upstreamOf = (task: Task): (StoredState | undefined)[] =>
      mappedDag
        ? task.upstream.flatMap((u) => countedStates(isMappedTask(dag, u), byTask.get(u), stateOf))
        : task.upstream.map((u) => {
            const rows = byTask.get(u);
            return rows === undefined ? undefined : stateOf(rows[0]);
          });
    for (const task of dag.tasks) {
      const rows = byTask.get(task.id);
      if (!rows) continue; // a task added to the DAG after this run started
      let upstream: (StoredState | undefined)[] | undefined;
      for (const ti of rows) {
        if (ti.state === null) {
          upstream ??= upstreamOf(task);
          const decision = evaluateTriggerRule(task.triggerRule, upstream);
          if (decision !== 'wait') {
            decided.set(ti.id, decision);
            out.waiting.push({ id: ti.id, state: decision });
          }
        }
        if (isDue(stateOf(ti), ti.next_retry_at, nowMs)) out.ready.push({ dag, task, run, ti });
        else if (ti.next_retry_at !== null && ti.next_retry_at > nowMs && (out.nextDueMs ?? Infinity) > ti.next_retry_at) out.nextDueMs = ti.next_retry_at;
      }
    }
    const states: StoredState[] = [];
    for (const rows of byTask.values()) for (const ti of rows) states.push(stateOf(ti));
    const outcome = runOutcome(states);
    if (outcome !== 'running') out.finished.push({ run, state: outcome });
  }
  return out;
}

/**
 * Step 5a: the calls to start within the free slots. Instances running in the window count against
 * max active tasks (only a batch reaches past the window, and a batch is one call); every process's
 * running instances count against their pools (poolClaims.ts).
 */
async function pickClaims(
  sql: Sql,
  ctx: TurnContext,
  ready: Decisions['ready'],
  window: readonly RunRow[],
  tis: ReadonlyMap<number, ReadonlyMap<string, readonly TiRow[]>>,
): Promise<Claim[]> {
  let slots = ctx.slots;
  const claims: Claim[] = [];
  if (slots <= 0 || ready.length === 0) return claims;
  const pools = await lockedPoolBudget(sql, ctx.statements, ctx.settings.scheduler.pools, ready.map((r) => r.task), ctx.log);
  const taken = new Set<number>();
  const runningPerDag = new Map<string, number>();
  for (const run of window) {
    for (const rows of tis.get(run.id)?.values() ?? []) {
      for (const ti of rows) if (ti.state === 'running') runningPerDag.set(run.dag_id, (runningPerDag.get(run.dag_id) ?? 0) + 1);
    }
  }
  for (const r of ready) {
    if (slots <= 0) break;
    if (taken.has(r.ti.id)) continue;
    const dagRunning = runningPerDag.get(r.dag.id) ?? 0;
    if (dagRunning >= r.dag.maxActiveTasks || !pools.fits(r.task.pool, r.task.poolSlots)) continue;
    let items = [{ ti: r.ti, run: r.run }];
    if (r.task.batch && ctx.scope.batching && r.run.run_type === 'backfill') {
      items = items.concat(await extendBatch(sql, ctx, r.dag, r.task, r.run, taken));
    }
    for (const it of items) taken.add(it.ti.id);
    runningPerDag.set(r.dag.id, dagRunning + 1);
    pools.take(r.task.pool, r.task.poolSlots);
    slots -= 1;
    // The claim counts the try: the attempt runs as the next one.
    claims.push({ dag: r.dag, task: r.task, items: items.map(({ ti, run }) => ({ ti: { ...ti, state: 'running', try_number: ti.try_number + 1 }, run })) });
  }
  return claims;
}

/**
 * Step 5b: finished runs, decided waiting instances (claimed ones go straight to running), claims.
 * Returns the claims as made: an instance another process claimed since the window was read is
 * dropped from its call, and a call left with none is dropped.
 */
async function writeDecisions(sql: Sql, ctx: TurnContext, decisions: Decisions, claims: readonly Claim[]): Promise<readonly Claim[]> {
  const st = ctx.statements;
  if (decisions.finished.length > 0) {
    await recordRunAlerts(sql, st, decisions.finished, ctx.dagsInScope(new Set()), ctx.stamp.nowIso);
    await st.finishRuns(sql, decisions.finished.map((f) => ({ id: f.run.id, state: f.state })), ctx.stamp.nowIso);
    for (const f of decisions.finished) ctx.log.info('dag run finished', { dagId: f.run.dag_id, runId: f.run.run_id, state: f.state });
  }
  const claimed = new Set(claims.flatMap((c) => c.items.map((i) => i.ti.id)));
  const waiting = decisions.waiting.filter((w) => !claimed.has(w.id));
  if (waiting.length > 0) await st.decideWaiting(sql, waiting, ctx.stamp.nowIso);
  if (claimed.size === 0) return claims;
  // A claimed item's stored try is one below the try it runs as (pickClaims counted it).
  const items = claims.flatMap((c) => c.items.map((i) => ({ id: i.ti.id, readTry: i.ti.try_number - 1 })));
  const n = await st.claim(sql, items, ctx.stamp);
  const made = n === items.length ? claims : await claimsKept(sql, ctx, claims, items.length - n);
  await st.recordPoolUse(sql, poolUseOfClaims(made));
  return made;
}

/** The claims with the label and value of each mapped instance, which the window does not read. */
async function withMapValues(sql: Sql, st: Statements, claims: readonly Claim[]): Promise<readonly Claim[]> {
  const mapped = claims.flatMap((c) => c.items.filter((i) => i.ti.map_index !== UNMAPPED).map((i) => i.ti.id));
  if (mapped.length === 0) return claims;
  const rows = new Map((await st.mapValuesOf(sql, mapped)).map((r) => [r.id, r]));
  return claims.map((c) => ({
    ...c,
    items: c.items.map(({ ti, run }) => {
      const r = rows.get(ti.id);
      return { ti: r ? { ...ti, map_label: r.map_label, map_value: r.map_value } : ti, run };
    }),
  }));
}

/** The claims without the instances another process claimed first; a call left with none is dropped. */
async function claimsKept(sql: Sql, ctx: TurnContext, claims: readonly Claim[], lost: number): Promise<readonly Claim[]> {
  const rows = await ctx.statements.leaseHolders(sql, claims.flatMap((c) => c.items.map((i) => i.ti.id)));
  const mine = new Set(rows.filter((r) => r.state === 'running' && r.lease_owner === ctx.stamp.owner).map((r) => r.id));
  ctx.log.debug('claims lost to another process', { lost });
  return claims.map((c) => ({ ...c, items: c.items.filter((i) => mine.has(i.ti.id)) })).filter((c) => c.items.length > 0);
}
