/** Airflow-style run ids and the one date format the metadata stores. */
import type { RunType } from './interfaces.js';

/** `2024-01-01T00:00:00+00:00`: Airflow's rendering of a UTC logical date (milliseconds kept only when set). */
export function airflowIso(d: Date): string {
  const iso = d.toISOString();
  const base = iso.endsWith('.000Z') ? iso.slice(0, 19) : iso.slice(0, 23);
  return `${base}+00:00`;
}

/** The run id of a run: `scheduled__2024-01-01T00:00:00+00:00`, `manual__...`, `backfill__...`. */
export function runIdFor(type: RunType, logicalDate: Date): string {
  return `${type}__${airflowIso(logicalDate)}`;
}

/** How dates are stored in the metadata: full ISO 8601 UTC, so text order is time order. */
export function dbDate(d: Date): string {
  return d.toISOString();
}
