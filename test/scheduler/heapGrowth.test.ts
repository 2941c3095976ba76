import { expect } from 'chai';
import { execFile } from 'node:child_process';
import path from 'node:path';
import { fileURLToPath, pathToFileURL } from 'node:url';
import { promisify } from 'node:util';
import { testEnv, useTmpDir } from '../helpers/tmp.js';

const root = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..', '..');
const context = pathToFileURL(path.join(root, 'scheduler', 'cli', 'context.ts')).href;

/**
 * A process that loads its settings as every scheduler command does, then keeps a ~10 MB live heap
 * while objects pass through the old generation (each lives for a thousand batches: long enough to be
 * promoted), and prints its full GCs.
 */
const SCRIPT = `
import { PerformanceObserver, constants } from 'node:perf_hooks';
import { settingsOnce } from '${context}';
settingsOnce();
let full = 0;
new PerformanceObserver((list) => { for (const e of list.getEntries()) if (e.detail.kind === constants.NODE_PERFORMANCE_GC_MAJOR) full++; }).observe({ entryTypes: ['gc'] });
const live = Array.from({ length: 200000 }, (_, i) => ({ i, s: 'live-' + i }));
const recent = new Array(1000);
for (let i = 0; i < 40000; i++) recent[i % recent.length] = Array.from({ length: 500 }, (_, j) => ({ i, j }));
await new Promise((resolve) => setTimeout(resolve, 50));
process.stdout.write(JSON.stringify({ full, live: live.length }));
`;

async function fullGcs(env: NodeJS.ProcessEnv): Promise<number> {
  const { stdout } = await promisify(execFile)(process.execPath, ['--max-old-space-size=512', '--import', 'tsx', '--input-type=module', '-e', SCRIPT], { cwd: root, env });
  return (JSON.parse(stdout) as { full: number }).full;
}

describe('heap growth', () => {
  const tmp = useTmpDir('heap-growth-');

  it("lets a command's old generation grow to its setting before a full GC: a stream of buffers runs a fraction of V8's own full GCs", async () => {
    const own = await fullGcs(testEnv(tmp.dir, { DRIVETRAIN_HEAP_GROWTH_PERCENT: '0' }));
    const grown = await fullGcs(testEnv(tmp.dir));
    // 23 against 8 on the development machine, with the 512 MB heap limit of every npm run.
    expect(own, "full GCs at V8's own growth").to.be.at.least(12);
    expect(grown, 'full GCs at the default 200%').to.be.at.most(own / 2);
  });
});
