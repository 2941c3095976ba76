/**
 * Console benchmark: two years of runs of the company's three DAGs (dags/: ingest and marts_daily
 * daily, marts_monthly monthly) with every task instance, in a SQLite metadata file in a temp dir,
 * served by the console app on the daemon's listener on loopback. Prints the grid API's latency (one
 * page of 50 runs with their cells, random pages, sequential requests: p50 and p95; target p95 under
 * 100 ms) and the grid page's time to interactive in headless chromium (navigation start to the page's
 * `grid-interactive` mark, set once its cells are drawn and clickable; median and worst of several
 * loads; target under 1 s).
 *   node --import tsx bench/console.ts
 */
import { existsSync, mkdtempSync, rmSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { chromium } from 'playwright-core';
import { loadDagBag } from '../scheduler/dagLoader.js';
import { startHttpServer } from '../scheduler/httpServer.js';
import { metricsText } from '../scheduler/metrics.js';
import type { Dag } from '../scheduler/interfaces.js';
import { MetadataDb } from '../scheduler/metadata/db.js';
import { insertRuns } from '../scheduler/runCreator.js';
import { storeDagBag } from '../scheduler/serializedDag.js';
import { loadSettings } from '../scheduler/settings.js';
import { intervalsBetween } from '../scheduler/timetable.js';
import { createConsoleApp } from '../scheduler/web/app.js';

const REPO = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..');
const FROM = new Date('2022-01-01T00:00:00Z');
const TO = new Date('2023-12-31T00:00:00Z');
const API_REQUESTS = 300;
const PAGE_LOADS = 8;
const CHROMIUM = '/usr/bin/chromium';

function percentile(values: number[], p: number): number {
  const s = [...values].sort((a, b) => a - b);
  return s[Math.min(s.length - 1, Math.floor((p / 100) * s.length))];
}

/** Every run of `dag` in [FROM, TO], finished, with every task instance: a few failures, the newest run still running. */
async function fill(db: MetadataDb, dag: Dag): Promise<number> {
  const intervals = [...intervalsBetween(dag.schedule, dag.startDate, FROM, TO, dag.endDate)];
  await db.tx((sql) => insertRuns(sql, db.statements, intervals.map((interval) => ({ dagId: dag.id, type: 'scheduled', logicalDate: interval.start, interval }))));
  await db.tx(async (sql) => {
    const runs = await sql.all<{ id: number; run_id: string; logical_date: string }>('SELECT id, run_id, logical_date FROM dag_runs WHERE dag_id = ? ORDER BY logical_date', [dag.id]);
    await db.statements.insertTaskInstances(sql, runs.flatMap((r) => dag.tasks.map((t) => ({ runPk: r.id, dagId: dag.id, runId: r.run_id, taskId: t.id, maxTries: 4 }))));
    for (const [i, r] of runs.entries()) {
      const start = new Date(new Date(r.logical_date).getTime() + 86_400_000).toISOString();
      const last = i === runs.length - 1;
      const failed = i % 97 === 13;
      const runState = last ? 'running' : failed ? 'failed' : 'success';
      await sql.run('UPDATE dag_runs SET state = ?, started_at = ?, ended_at = ? WHERE id = ?', [runState, r.logical_date, last ? null : start, r.id]);
      await sql.run(
        `UPDATE task_instances SET state = CASE WHEN ? = 1 AND task_id = ? THEN 'running' WHEN ? = 1 THEN 'success' WHEN ? = 1 AND task_id = ? THEN 'failed' WHEN ? = 1 THEN 'upstream_failed' ELSE 'success' END,
           try_number = 1, start_date = ?, end_date = ?, duration = 1.5, hostname = 'bench' WHERE run_pk = ?`,
        [last ? 1 : 0, dag.tasks[dag.tasks.length - 1].id, last ? 1 : 0, failed ? 1 : 0, dag.tasks[0].id, failed ? 1 : 0, r.logical_date, start, r.id],
      );
    }
  });
  return intervals.length;
}

async function main(): Promise<void> {
  const dir = mkdtempSync(path.join(os.tmpdir(), 'drivetrain-bench-console-'));
  try {
    const settings = loadSettings({ env: { PATH: process.env.PATH, DRIVETRAIN_HOME: path.join(dir, 'home'), DRIVETRAIN_LOG_DIR: path.join(dir, 'logs'), DRIVETRAIN_DAGS_DIR: path.join(REPO, 'dags') }, warn: () => undefined });
    const db = await MetadataDb.open(settings.metadataUrl);
    const bag = await loadDagBag(settings.dagsDir);
    await storeDagBag(db, bag, settings);
    let instances = 0;
    for (const dag of bag.dags.values()) {
      const runs = await fill(db, dag);
      instances += runs * dag.tasks.length;
      process.stdout.write(`${dag.id}: ${runs} runs x ${dag.tasks.length} tasks\n`);
    }
    process.stdout.write(`metadata: ${instances} task instances\n`);

    const app = await createConsoleApp({ db, logDir: settings.logDir, warehouseFile: settings.warehouseDb, token: undefined, dashboards: undefined });
    await app.ready();
    const http = await startHttpServer({ host: '127.0.0.1', port: 0, health: async () => ({ healthy: true }), metrics: metricsText, console: app });
    const url = `http://127.0.0.1:${http.port}`;
    try {
      const ids = [...bag.dags.keys()];
      const latencies: number[] = [];
      for (let i = 0; i < API_REQUESTS + 20; i++) {
        const dagId = ids[i % ids.length];
        const offset = (i * 37) % 700;
        const t0 = performance.now();
        const res = await fetch(`${url}/api/v1/dags/${dagId}/grid?limit=50&offset=${offset}`);
        await res.json();
        // The first requests warm up the JIT and the statement cache; they are not counted.
        if (i >= 20) latencies.push(performance.now() - t0);
        if (res.status !== 200) throw new Error(`grid answered ${res.status}`);
      }
      process.stdout.write(`grid API (50 runs per page): p50 ${percentile(latencies, 50).toFixed(1)} ms, p95 ${percentile(latencies, 95).toFixed(1)} ms over ${API_REQUESTS} requests (target p95 < 100 ms)\n`);

      if (!existsSync(CHROMIUM)) {
        process.stdout.write(`grid page: skipped (needs ${CHROMIUM})\n`);
        return;
      }
      const profile = mkdtempSync(path.join(os.tmpdir(), 'drivetrain-bench-chromium-'));
      const context = await chromium.launchPersistentContext(profile, {
        executablePath: CHROMIUM,
        headless: true,
        args: ['--no-sandbox', '--disable-background-networking', '--disable-component-update', '--no-first-run'],
      });
      try {
        const page = await context.newPage();
        const times: number[] = [];
        for (let i = 0; i < PAGE_LOADS + 1; i++) {
          await page.goto('about:blank');
          await page.goto(`${url}/#/dags/ingest/grid`);
          await page.waitForSelector('#grid a.sq[data-state]', { state: 'visible' });
          // Milliseconds from navigation start to the grid page's mark: drawn, its cells clickable.
          const ms = await page.evaluate(() => performance.getEntriesByName('grid-interactive')[0].startTime);
          if (i > 0) times.push(ms);
        }
        process.stdout.write(`grid page interactive: median ${percentile(times, 50).toFixed(0)} ms, worst ${Math.max(...times).toFixed(0)} ms over ${PAGE_LOADS} loads (target < 1000 ms)\n`);
      } finally {
        await context.close();
        rmSync(profile, { recursive: true, force: true });
      }
    } finally {
      await http.close();
      await app.close();
      await db.close();
    }
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
}

await main();
