/**
 * Templates keyed to the run's data interval, never the wall clock: `{ds}` (YYYY-MM-DD), `{ds_nodash}`,
 * `{month}` (YYYY-MM-01), `{start}` and `{end}` (ISO 8601 of the interval's bounds), as Airflow's
 * `{{ ds }}` macros.
 */
import type { TaskContext } from '../../scheduler/interfaces.js';
import { PathTemplateError } from './PathTemplateError.js';

type IntervalFields = Pick<TaskContext, 'ds' | 'month' | 'dataIntervalStart' | 'dataIntervalEnd'>;

const FIELDS: Readonly<Record<string, (ctx: IntervalFields) => string>> = {
  ds: (ctx) => ctx.ds,
  ds_nodash: (ctx) => ctx.ds.replaceAll('-', ''),
  month: (ctx) => ctx.month,
  start: (ctx) => ctx.dataIntervalStart.toISOString(),
  end: (ctx) => ctx.dataIntervalEnd.toISOString(),
};

/** Checks a template's placeholders at once (a DAG file's typo fails at load, not at the first poke). */
export function checkTemplate(template: string): void {
  for (const [, name] of template.matchAll(/\{([^{}]*)\}/g)) {
    if (!(name in FIELDS)) throw new PathTemplateError(template, name, Object.keys(FIELDS));
  }
}

/** The template with its placeholders filled from the run's interval. */
export function renderTemplate(template: string, ctx: IntervalFields): string {
  return template.replace(/\{([^{}]*)\}/g, (_, name: string) => {
    const field = FIELDS[name];
    if (!field) throw new PathTemplateError(template, name, Object.keys(FIELDS));
    return field(ctx);
  });
}
