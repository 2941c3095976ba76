/**
 * Imports DAG files first in a worker thread that can be stopped, so that a file whose top level spins
 * (a synchronous endless loop) is reported as itself instead of freezing the process that loads it.
 *
 * A synchronous loop blocks the thread it runs on: no timer, health check or other import can run
 * until it ends. Imported in the loader's own thread, such a file froze the daemon and `dags list`,
 * and when the loop finally ended every other pending import had overrun its time limit, so innocent
 * files were blamed. The probe imports the files one at a time in a worker (tsx registered in it)
 * and watches each from this thread; a file that overruns its time limit is reported, the worker is
 * terminated (V8 stops even a tight loop) and a fresh one carries on with the files after it. Only
 * the files that finished in the worker, with or without an error, are then imported by the loader,
 * which reports their errors in its usual words.
 *
 * A DAG file's top level thus runs twice on a load that evaluates it, once in the probe: the same
 * contract as Airflow, whose DAG files are parsed over and over by separate processes.
 */
import path from 'node:path';
import { pathToFileURL } from 'node:url';
import { Worker } from 'node:worker_threads';
import { REGISTER_TSX, tsxEsmApi } from './tsWorker.js';

/** What the worker says about the file it is importing: `start` before, `done` after it settled. */
interface ProbeMessage {
  readonly kind: 'start' | 'done';
  readonly index: number;
}

/** Data handed to the worker. */
interface ProbeWorkerData {
  /** The URL of tsx's ES module API, the build of it that must be imported rather than required. */
  readonly esmApi: string;
  readonly urls: readonly string[];
}

/**
 * The worker's code (plain JavaScript, evaluated as a CommonJS script): tsx's loaders are registered
 * explicitly because tsx's `--import` entry registers them in the main thread only (tsWorker.ts). An
 * import that rejects counts as done: its error is the loader's to report.
 */
const WORKER_CODE = `
const { parentPort, workerData } = require('node:worker_threads');
(async () => {${REGISTER_TSX}
  for (let index = 0; index < workerData.urls.length; index++) {
    parentPort.postMessage({ kind: 'start', index });
    try { await import(workerData.urls[index]); } catch {}
    parentPort.postMessage({ kind: 'done', index });
  }
})();`;

/** The reason given for a file whose import overran its time limit. */
export function importTimeoutReason(file: string, ms: number): string {
  return `Error: import did not finish within ${ms} ms (an endless loop or a top-level await?) in ${path.basename(file)}`;
}

/**
 * Imports `files` one by one in a worker thread, each within `timeoutMs`. Resolves with a one-line
 * reason for every file that must not be imported in this thread (it overran, or it ended the worker);
 * files absent from the map finished, successfully or not. Never rejects.
 */
export async function probeImports(files: readonly string[], timeoutMs: number): Promise<Map<string, string>> {
  const verdicts = new Map<string, string>();
  let from = 0;
  while (from < files.length) {
    const stopped = await probeFrom(files, from, timeoutMs);
    if (stopped === undefined) break;
    verdicts.set(files[stopped.index], stopped.reason);
    from = stopped.index + 1;
  }
  return verdicts;
}

/**
 * One worker importing `files` from index `from` on. Resolves undefined when it got through them all,
 * or with the file that stopped it and why.
 */
function probeFrom(files: readonly string[], from: number, timeoutMs: number): Promise<{ index: number; reason: string } | undefined> {
  const workerData: ProbeWorkerData = {
    esmApi: tsxEsmApi(),
    urls: files.slice(from).map((f) => pathToFileURL(f).href),
  };
  const worker = new Worker(WORKER_CODE, { eval: true, workerData, stdout: true, stderr: true });
  worker.unref();
  // A DAG file's own output is printed by the loader's import; the probe's copy is dropped.
  worker.stdout.resume();
  worker.stderr.resume();
  return new Promise((resolve) => {
    let current = -1;
    let timer: NodeJS.Timeout | undefined;
    let settled = false;
    const finish = (result: { index: number; reason: string } | undefined): void => {
      if (settled) return;
      settled = true;
      clearTimeout(timer);
      void worker.terminate();
      resolve(result);
    };
    // Before the first file started, the worker itself failed (tsx could not register): no file is
    // to blame, and the loader imports them all as it did before the probe existed.
    const stop = (reason: string): void => finish(current < 0 ? undefined : { index: from + current, reason });
    worker.on('message', (m: ProbeMessage) => {
      clearTimeout(timer);
      if (m.kind === 'start') {
        current = m.index;
        timer = setTimeout(() => stop(importTimeoutReason(files[from + m.index], timeoutMs)), timeoutMs);
      } else if (m.index === workerData.urls.length - 1) {
        finish(undefined);
      }
    });
    // A file that ends its thread (process.exit, an error thrown outside the import's promise) would
    // end the daemon when imported there: it is reported rather than passed on.
    worker.on('error', (err) => stop(`Error: import crashed: ${err.message.split('\n')[0]}`));
    // Exit code 0 mid-import: the thread ran out of work with the import pending, a top-level await
    // on a promise that nothing will settle.
    worker.on('exit', (code) =>
      stop(
        code === 0
          ? `Error: import never settled (a top-level await on nothing) in ${path.basename(files[from + Math.max(current, 0)])}`
          : `Error: import ended the thread with exit code ${code} (process.exit?)`,
      ),
    );
  });
}
