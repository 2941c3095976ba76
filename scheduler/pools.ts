/**
 * Pools (Airflow's): named numbers of slots, declared once in the settings (DRIVETRAIN_POOLS), shared
 * by every process on one metadata database. A task takes `poolSlots` of its `pool` while it runs; a
 * task without a pool is in `default_pool`. This module is the pure part: the setting's text, the
 * load-time check of a DAG against it, and the slot arithmetic a scheduler turn does with the slots
 * in use it read under the pools' locks (schedulerTurn.ts, docs/design/dag-features.md "Pools").
 */
import { DagPoolError } from './errors/DagPoolError.js';
import { PoolSpecError } from './errors/PoolSpecError.js';
import type { Dag } from './interfaces.js';

/** The pool of tasks that name none, as Airflow's. */
export const DEFAULT_POOL = 'default_pool';
/** Its slots when the setting does not list it: Airflow's default_pool size. */
export const DEFAULT_POOL_SLOTS = 128;

/** Slots by pool name. */
export type Pools = Readonly<Record<string, number>>;

const NAME = /^[A-Za-z0-9_.-]+$/;

/** Parses `name=slots,name=slots`; `default_pool` is added with {@link DEFAULT_POOL_SLOTS} when not listed. */
export function parsePools(text: string): Pools {
  const out: Record<string, number> = {};
  for (const raw of text.split(',')) {
    const entry = raw.trim();
    if (entry === '') continue;
    const m = /^([^=\s]+)\s*=\s*(\S+)$/.exec(entry);
    if (!m) throw new PoolSpecError(entry, 'expected name=slots');
    const [, name, slotsText] = m;
    if (!NAME.test(name)) throw new PoolSpecError(entry, "a pool name is letters, digits, '_', '-' and '.'");
    if (!/^\d+$/.test(slotsText) || Number(slotsText) < 1) throw new PoolSpecError(entry, 'slots must be a whole number of at least 1');
    if (Object.hasOwn(out, name)) throw new PoolSpecError(entry, `pool '${name}' is listed twice`);
    out[name] = Number(slotsText);
  }
  if (!Object.hasOwn(out, DEFAULT_POOL)) out[DEFAULT_POOL] = DEFAULT_POOL_SLOTS;
  return Object.freeze(out);
}

/** A pool's slots, or undefined when the settings do not declare it. */
export function poolSize(pools: Pools, name: string): number | undefined {
  return Object.hasOwn(pools, name) ? pools[name] : undefined;
}

/**
 * Checks every task's pool against the declared pools: an unknown pool, or more `poolSlots` than the
 * pool has, would leave the task queued for ever, so the DAG is refused when it is loaded instead.
 */
export function checkDagPools(dag: Dag, pools: Pools): void {
  for (const task of dag.tasks) {
    const size = poolSize(pools, task.pool);
    if (size === undefined) {
      const known = Object.keys(pools).sort().join(', ');
      throw new DagPoolError(`DAG '${dag.id}': task '${task.id}' names unknown pool '${task.pool}' (DRIVETRAIN_POOLS declares: ${known})`, dag.id, task.id, task.pool);
    }
    if (task.poolSlots > size) {
      throw new DagPoolError(`DAG '${dag.id}': task '${task.id}' needs poolSlots ${task.poolSlots} but pool '${task.pool}' has ${size} slots`, dag.id, task.id, task.pool);
    }
  }
}

/** Slots left in a pool of `slots` with `used` taken: never below 0 (a pool shrunk under running tasks). */
export function openSlots(slots: number, used: number): number {
  return Math.max(0, slots - used);
}

/**
 * The open slots of some pools during one scheduler turn: starts from the slots in use every process
 * has recorded, and takes what this turn claims, so a turn never hands out more than is open.
 */
export class PoolBudget {
  private readonly open = new Map<string, number>();

  /** `used`: slots of running instances by pool, as stored. */
  constructor(pools: Pools, used: ReadonlyMap<string, number>) {
    for (const [name, slots] of Object.entries(pools)) this.open.set(name, openSlots(slots, used.get(name) ?? 0));
  }

  /** True when `slots` of `pool` are open; never for a pool the settings do not declare. */
  fits(pool: string, slots: number): boolean {
    return (this.open.get(pool) ?? 0) >= slots;
  }

  /** Takes `slots` of `pool` (after {@link fits} said yes). */
  take(pool: string, slots: number): void {
    this.open.set(pool, (this.open.get(pool) ?? 0) - slots);
  }

  /** Slots open in `pool` now. */
  left(pool: string): number {
    return this.open.get(pool) ?? 0;
  }
}

/** One pool's use, as `pools list` and /metrics show it. */
export interface PoolUse {
  readonly pool: string;
  /** Declared slots; 0 for a pool running instances still record but the settings no longer declare. */
  readonly slots: number;
  /** Slots taken by running instances. */
  readonly usedSlots: number;
  /** Running instances. */
  readonly running: number;
  /** Instances waiting to run (queued, or up for retry and due). */
  readonly queued: number;
  readonly openSlots: number;
}

/** Every declared pool (and any other one that instances record) with its use, by name. */
export function poolUses(pools: Pools, rows: readonly { pool: string; used_slots: number; running: number; queued: number }[]): PoolUse[] {
  const byName = new Map(rows.map((r) => [r.pool, r]));
  const names = [...new Set([...Object.keys(pools), ...byName.keys()])].sort();
  return names.map((pool) => {
    const r = byName.get(pool);
    const slots = poolSize(pools, pool) ?? 0;
    const usedSlots = r?.used_slots ?? 0;
    return { pool, slots, usedSlots, running: r?.running ?? 0, queued: r?.queued ?? 0, openSlots: openSlots(slots, usedSlots) };
  });
}
