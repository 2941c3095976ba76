/**
 * `drivetrain customers erase ID...`: the company's erasure command (operators/privacy/erase.ts). Defined
 * here, with the pipeline, because it knows what a customer is; the scheduler's CLI only parses it and
 * maps its errors to exit codes. The action loads the erasure and the settings only when it runs.
 */
import type { Command } from 'commander';
import { handle } from '../../scheduler/cli/program.js';
import { UsageError } from '../../scheduler/errors/UsageError.js';
import type { ErasureReport } from './erase.js';

/** The lines `customers erase` prints for a report. */
export function erasureLines(report: ErasureReport, changed: (k: ErasureReport['keys'][number]) => boolean): string[] {
  const done = report.keys.filter(changed);
  if (done.length === 0) {
    return [`nothing to do: no personal data left of ${report.keys.map((k) => `'${k.id}'`).join(', ')}; nothing recorded`];
  }
  const lines = report.keys.map((k) =>
    changed(k)
      ? `customer '${k.id}': personal fields nulled in ${k.lakeLines} lake row(s) of ${k.lakePartitions} partition(s), ${k.rawRows} raw row(s), ` +
        `${k.rejects} reject(s), ${k.satelliteVersions} ${report.satellite} version(s); recorded in erasures as ${k.hashKey}`
      : `customer '${k.id}': nothing to do, no personal data left`,
  );
  lines.push('note: the source still holds them: the next ingest of a new snapshot brings their personal data back, unless they are erased at the source too');
  if (!report.walEmptied) lines.push("note: a reader held the warehouse's WAL, so earlier page images stay in warehouse.db-wal until its next checkpoint");
  return lines;
}

/** Adds `customers erase` to `program`. */
export function addCustomersCommand(program: Command): Command {
  const customers = program.command('customers').description("customers' personal data");
  const erase = customers
    .command('erase')
    .description('null the personal fields (names, street address) of these customers in the lake, the raw table, rejects and sat_customer_pii; marts are not touched')
    .argument('<id...>', "customers' ids as the source has them");
  return handle(erase, async (ids: string[]) => {
    const [{ erasePersonalData, changedAnything }, { loadSettings }, { clockFromSettings }, { closeWarehouses, warehouseOf }, { applyHeapGrowth }] = await Promise.all([
      import('./erase.js'),
      import('../../scheduler/settings/loadSettings.js'),
      import('../../scheduler/clock.js'),
      import('../warehouse/registry.js'),
      import('../../scheduler/heapGrowth.js'),
    ]);
    const settings = loadSettings();
    // It rewrites lake partitions and raw tables as the pipeline does, with the same heap setting.
    applyHeapGrowth(settings.heapGrowthPercent);
    try {
      const report = await erasePersonalData({
        entity: 'customers',
        ids,
        lakeDir: settings.lakeDir,
        warehouse: warehouseOf(settings),
        now: clockFromSettings(settings).now(),
      });
      process.stdout.write(erasureLines(report, changedAnything).join('\n') + '\n');
      return 0;
    } catch (err) {
      // By name: the module is imported lazily, so its class may be another copy (see UsageError).
      if (err instanceof Error && err.name === 'UnknownIdError') throw new UsageError(err.message, 'customers erase');
      throw err;
    } finally {
      await closeWarehouses();
    }
  });
}
