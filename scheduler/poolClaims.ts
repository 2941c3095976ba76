/**
 * Pools in a scheduler turn: the open slots of the pools the turn may claim from, counted under the
 * pools' locks, and what the claims made record on their instances. The turn decides with the
 * {@link PoolBudget}; the count and the claims commit together, so a backfill, the daemon and several
 * daemons on one metadata database never hold more than a pool's slots between them.
 */
import type { Logger, Task } from './interfaces.js';
import type { Sql } from './metadata/interfaces.js';
import type { Statements } from './metadata/statements.js';
import { PoolBudget, poolSize, type Pools } from './pools.js';

/**
 * Locks the pools of `tasks` (in name order: the lock order of docs/design/postgres-metadata.md) and
 * reads their slots in use. The locks are held to the end of the transaction: another claimer counts
 * only once this turn's claims are committed.
 */
export async function lockedPoolBudget(sql: Sql, st: Statements, pools: Pools, tasks: readonly Task[], log: Logger): Promise<PoolBudget> {
  const names = [...new Set(tasks.map((t) => t.pool))];
  // Loading refuses such a DAG (checkDagPools); one built in code reaches here and waits, said once a turn.
  const unknown = names.filter((n) => poolSize(pools, n) === undefined);
  if (unknown.length > 0) log.warn('tasks wait for pools the settings do not declare', { pools: unknown });
  await st.lockPools(sql, names);
  return new PoolBudget(pools, await st.usedPoolSlots(sql, names));
}

/**
 * The pool and slots each claimed instance holds. A batched call is one attempt, so its slots are
 * held once, by its first instance; the others record the pool with none.
 */
export function poolUseOfClaims(claims: readonly { task: Task; items: readonly { ti: { id: number } }[] }[]): { id: number; pool: string; slots: number }[] {
  return claims.flatMap((c) => c.items.map((it, i) => ({ id: it.ti.id, pool: c.task.pool, slots: i === 0 ? c.task.poolSlots : 0 })));
}
