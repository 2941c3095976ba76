/** `runs list [DAG]`. */
import type { CommandContext } from './context.js';
import { renderTable } from './table.js';

/** Prints the runs (of one DAG or all), oldest logical date first. */
export async function runsListCommand(ctx: CommandContext, dagId?: string): Promise<number> {
  if (dagId !== undefined) ctx.dag(dagId);
  const runs = await ctx.db.read(() =>
    ctx.db.models.DagRun.findAll({
      where: dagId ? { dag_id: dagId } : {},
      order: [
        ['dag_id', 'ASC'],
        ['logical_date', 'ASC'],
      ],
      raw: true,
    }),
  );
  process.stdout.write(
    renderTable(
      ['dag_id', 'run_id', 'run_type', 'state', 'data_interval_start', 'data_interval_end', 'started_at', 'ended_at'],
      runs as unknown as Record<string, unknown>[],
    ),
  );
  return 0;
}
