/**
 * How far V8 lets the old generation grow past its live size before the next full GC, for the whole
 * process (`settings.heapGrowthPercent`). Under the 512 MB heap limit (.npmrc) V8 allows only ~1.3x;
 * the pipeline's live heap stays near 27 MB while its streams allocate buffers fast, and a backfilled
 * day at scale ran ~150 full GCs (marking threads ~5 s of CPU). At 200% it ran four
 * (docs/design/heap-limit.md).
 */
import v8 from 'node:v8';

/** Sets V8's old-generation growth to `percent` over the live heap after a full GC; `0` = V8's own. */
export function applyHeapGrowth(percent: number): void {
  // V8 reads the flag whenever a full GC sets the next one's limit, so it holds from the next GC on;
  // NODE_OPTIONS refuses it, so it cannot be given to every process that way.
  v8.setFlagsFromString(`--heap-growing-percent=${percent}`);
}
