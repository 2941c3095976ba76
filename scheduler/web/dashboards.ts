/**
 * The data page's declaration: which warehouse tables are marts, which task writes each, which charts
 * to draw and where rejects and data tests are. The scheduler knows nothing of any company's tables:
 * the company's wiring declares them in `<DRIVETRAIN_DAGS_DIR>/_dashboards.ts` (a helper file, skipped
 * by the DAG loader) as the default export of {@link defineDashboards}. Without that file the data page
 * says there is nothing declared.
 */
import { existsSync } from 'node:fs';
import path from 'node:path';
import { pathToFileURL } from 'node:url';
import { z } from 'zod';
import { ConfigError } from '../errors/ConfigError.js';
import { isIdentifier } from './warehouseReader.js';

const ident = z.string().refine(isIdentifier, { message: 'not a plain SQL identifier' });

const martSchema = z.object({
  /** The warehouse table. */
  table: ident,
  /** Its date column (`YYYY-MM-DD` or `YYYY-MM-01` text) that `from`/`to` filter on; null: not dated (rebuilt whole). */
  dateColumn: ident.nullable(),
  /** The columns the API returns, in order. */
  columns: z.array(ident).min(1),
  /** The DAG and task that write it: its freshness is that task's latest success. */
  dagId: z.string().min(1),
  taskId: z.string().min(1),
});

const layerSchema = z.object({
  /** A declared mart. */
  table: ident,
  /** x: a date column (line charts) or a category column (bar charts). */
  x: ident,
  /** The value column. */
  y: ident,
  /** One series per value of this column (a brand, a city); absent: one series named `label`. */
  series: ident.optional(),
  /** The series' name when there is no `series` column. */
  label: z.string().optional(),
  /** A missing x (marts that keep only rows above zero) is drawn as 0, not as a gap. */
  missingAsZero: z.boolean().optional(),
  /** With `series`: draw only this many series, those with the largest totals. */
  top: z.number().int().positive().optional(),
});

const chartSchema = z.object({
  id: ident,
  title: z.string().min(1),
  kind: z.enum(['line', 'bars']),
  /** Several layers share the axes (two series over the same days, say). */
  layers: z.array(layerSchema).min(1),
});

const schema = z.object({
  marts: z.array(martSchema),
  charts: z.array(chartSchema),
  /** The table of rejected rows: which load (`loadColumn`, e.g. the source entity), its date and the reason. */
  rejects: z.object({ table: ident, loadColumn: ident, dateColumn: ident, reasonColumn: ident }).optional(),
  /** The tasks that run data tests: each instance is one run's test result. */
  dataTests: z.array(z.object({ dagId: z.string().min(1), taskId: z.string().min(1) })),
});

/** A validated dashboards declaration. */
export type Dashboards = z.output<typeof schema>;
/** One declared mart. */
export type MartDeclaration = Dashboards['marts'][number];

/** Validates a declaration where it is written, so a typo fails the DAG folder's type check and load. */
export function defineDashboards(d: z.input<typeof schema>): Dashboards {
  const parsed = schema.parse(d);
  const marts = new Set(parsed.marts.map((m) => m.table));
  for (const c of parsed.charts) {
    const unknown = c.layers.find((l) => !marts.has(l.table));
    if (unknown) throw new ConfigError(`dashboards: chart '${c.id}' draws table '${unknown.table}', which is not a declared mart`, 'DRIVETRAIN_DAGS_DIR');
  }
  return parsed;
}

/** The file a DAG folder declares its dashboards in. */
export const DASHBOARDS_FILE = '_dashboards.ts';

/** Imports `<dagsDir>/_dashboards.ts` when it exists; ConfigError naming the file when it is not a declaration. */
export async function loadDashboards(dagsDir: string): Promise<Dashboards | undefined> {
  const file = path.join(dagsDir, DASHBOARDS_FILE);
  if (!existsSync(file)) return undefined;
  let mod: { default?: unknown };
  try {
    mod = (await import(pathToFileURL(file).href)) as { default?: unknown };
  } catch (err) {
    throw new ConfigError(`${file}: ${(err as Error).message.split('\n')[0]}`, 'DRIVETRAIN_DAGS_DIR');
  }
  const parsed = schema.safeParse(mod.default);
  if (!parsed.success) {
    const issue = parsed.error.issues[0];
    throw new ConfigError(`${file}: ${issue.path.join('.') || 'default export'}: ${issue.message}`, 'DRIVETRAIN_DAGS_DIR');
  }
  return parsed.data;
}
