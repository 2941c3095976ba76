/**
 * Worker threads that run TypeScript modules. Everything here runs through tsx without a build step,
 * but tsx's `--import` entry registers its loaders in the main thread only: a worker started on a
 * `.ts` file fails with "Unknown file extension". A worker started here first registers tsx's loaders
 * (ES module and CommonJS) in its own thread, then imports the module.
 */
import { readFileSync } from 'node:fs';
import { createRequire } from 'node:module';
import path from 'node:path';
import { pathToFileURL } from 'node:url';
import { Worker, type WorkerOptions } from 'node:worker_threads';

/**
 * The URL of `tsx/esm/api` under the `import` condition, read from tsx's package exports: require
 * would find its CommonJS build, which registers its hooks at a wrong path when loaded in a worker,
 * and import.meta.resolve is missing when tsx runs this module as CommonJS.
 */
export function tsxEsmApi(): string {
  const pkgFile = createRequire(import.meta.url).resolve('tsx/package.json');
  const pkg = JSON.parse(readFileSync(pkgFile, 'utf8')) as { exports: Record<string, { import: { default: string } }> };
  return pathToFileURL(path.join(path.dirname(pkgFile), pkg.exports['./esm/api'].import.default)).href;
}

/**
 * Plain JavaScript (evaluated as a CommonJS script) that registers tsx in the worker's thread; a
 * worker's code starts with it and may then import `.ts` files. Reads `workerData.esmApi`.
 */
export const REGISTER_TSX = `
  (await import(workerData.esmApi)).register();
  require('node:module').createRequire(workerData.esmApi)('tsx/cjs/api').register();`;

/** The bootstrap of {@link startTsWorker}: tsx, then the module; a failed import ends the thread with its error. */
const BOOTSTRAP = `
const { workerData } = require('node:worker_threads');
(async () => {${REGISTER_TSX}
  await import(workerData.moduleUrl);
})().catch((err) => { process.nextTick(() => { throw err; }); });`;

/**
 * Starts a worker thread running the TypeScript module `moduleUrl` (e.g. `new URL('./x.ts',
 * import.meta.url).href`); the module reads `workerData.data`. An import failure reaches the worker's
 * 'error' event.
 */
export function startTsWorker(moduleUrl: string, data: unknown, opts: Omit<WorkerOptions, 'eval' | 'workerData'> = {}): Worker {
  return new Worker(BOOTSTRAP, { ...opts, eval: true, workerData: { esmApi: tsxEsmApi(), moduleUrl, data } });
}
