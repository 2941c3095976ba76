/**
 * What the grid shows for a mapped task in one run: its one cell stands for all its mapped instances,
 * so the cell takes the state that most needs a look (Airflow's grid does the same), with how many
 * there are and how many are in each state. Before the expansion has made any (or when it failed),
 * the cell is the expansion instance's own.
 */
import type { TaskInstanceRow } from '../metadata/models.js';

/**
 * States from most to least in need of a look: a failure first, then what is still moving, then
 * what is waiting; success only when every instance succeeded. `null` is waiting for upstream.
 */
export const SUMMARY_ORDER: readonly (TaskInstanceRow['state'])[] = [
  'failed',
  'upstream_failed',
  'running',
  'up_for_retry',
  'up_for_reschedule',
  'queued',
  null,
  'skipped',
  'success',
];

/** The key of a state in `mapped_states` (JSON keys cannot be null): `none` for waiting, as the console's CSS names it. */
export const stateKey = (state: TaskInstanceRow['state']): string => state ?? 'none';

const rank = (state: TaskInstanceRow['state']): number => {
  const i = SUMMARY_ORDER.indexOf(state);
  // A state this list does not know yet sorts before all: better shown than hidden behind a success.
  return i < 0 ? -1 : i;
};

const rankOfKey = (key: string): number => rank(key === 'none' ? null : (key as TaskInstanceRow['state']));

/** The state that most needs a look among `states`; undefined when there are none. */
export function worstState(states: readonly TaskInstanceRow['state'][]): TaskInstanceRow['state'] | undefined {
  let worst: TaskInstanceRow['state'] | undefined;
  for (const s of states) if (worst === undefined || rank(s) < rank(worst)) worst = s;
  return worst;
}

/** A mapped task's cell: the summary state, the count, the counts by state, and the span of their times. */
export interface MappedSummary {
  readonly state: TaskInstanceRow['state'];
  readonly mapped: number;
  readonly mapped_states: Record<string, number>;
  readonly start_date: string | null;
  readonly end_date: string | null;
  readonly duration: number | null;
}

/**
 * Summarises the mapped instances (map_index >= 0) beside `expansion`; undefined when there are none,
 * so the caller shows the expansion instance as it is.
 */
export function summariseMapped(expansion: TaskInstanceRow, mapped: readonly TaskInstanceRow[]): MappedSummary | undefined {
  if (mapped.length === 0) return undefined;
  const tally = new Map<string, number>();
  for (const ti of mapped) tally.set(stateKey(ti.state), (tally.get(stateKey(ti.state)) ?? 0) + 1);
  // Keys in the summary's order, so what needs a look comes first wherever the counts are listed.
  const keys = [...tally.keys()].sort((a, b) => rankOfKey(a) - rankOfKey(b));
  const counts: Record<string, number> = Object.fromEntries(keys.map((k) => [k, tally.get(k)!]));
  // The task's time is from its expansion's start to its last instance's end, once every one has ended.
  const all = [expansion, ...mapped];
  const starts = all.map((t) => t.start_date).filter((d): d is string => d !== null).sort();
  const ends = mapped.map((t) => t.end_date);
  const start = starts[0] ?? null;
  const end = ends.every((d) => d !== null) ? ([...ends].sort().at(-1) ?? null) : null;
  return {
    state: worstState(mapped.map((t) => t.state)) ?? null,
    mapped: mapped.length,
    mapped_states: counts,
    start_date: start,
    end_date: end,
    duration: start !== null && end !== null ? Math.max(0, (Date.parse(end) - Date.parse(start)) / 1000) : null,
  };
}
