/** `pools list`. */
import { poolUses } from '../pools.js';
import type { CommandContext } from './context.js';
import { renderTable } from './table.js';

/** Prints every pool with its slots and their use by every process on the metadata database. */
export async function poolsListCommand(ctx: CommandContext): Promise<number> {
  // The wall clock, as the executor's: whether a retry is due is a scheduling fact, not data.
  const rows = await ctx.db.read((sql) => ctx.db.statements.poolUse(sql, Date.now()));
  const uses = poolUses(ctx.settings.scheduler.pools, rows).map((u) => ({
    pool: u.pool,
    slots: u.slots,
    used_slots: u.usedSlots,
    running: u.running,
    queued: u.queued,
    open_slots: u.openSlots,
  }));
  process.stdout.write(renderTable(['pool', 'slots', 'used_slots', 'running', 'queued', 'open_slots'], uses));
  return 0;
}
