/**
 * Scheduler benchmark across daemons: real `drivetrain start` child processes sharing one metadata
 * database, 1, 2 and 3 of them on PostgreSQL and 1 on SQLite, measured in one run. The DAGs (generated
 * in a temp dir): BENCH_DAGS DAGs (default 6), each a fan of 10 no-op tasks (one source, eight in
 * parallel, one sink) over BENCH_DAYS daily intervals (default 20): 1,200 task instances.
 *
 * Task instances per second = instances / (last end - first start), read from the metadata, so
 * process start and DAG loading are not counted. PostgreSQL is the machine's (127.0.0.1:5432, user
 * postgres); each run gets a database of its own, dropped after it.
 *   node --import tsx bench/schedulerPostgres.ts
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { fileURLToPath, pathToFileURL } from 'node:url';
import { setTimeout as sleep } from 'node:timers/promises';
import { MetadataDb } from '../scheduler/metadata/db.js';
import { createTestDatabase, dropTestDatabase } from '../test/helpers/postgres.js';

const REPO = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..');
const DAGS = Number(process.env.BENCH_DAGS ?? 6);
const DAYS = Number(process.env.BENCH_DAYS ?? 20);
const TASKS = 10;
const TOTAL = DAGS * DAYS * TASKS;

function dagFile(id: string): string {
  const mid = Array.from({ length: 8 }, (_, i) => `    m${i}: { run: noop, upstream: ['src'] },`).join('\n');
  return `import { defineDag } from '${pathToFileURL(path.join(REPO, 'scheduler', 'dag.ts')).href}';
const noop = () => undefined;
export default defineDag({
  id: '${id}', schedule: '@daily', startDate: '2024-01-01', endDate: '2024-01-${String(DAYS).padStart(2, '0')}',
  maxActiveRuns: 4, retries: 0,
  tasks: {
    src: { run: noop },
${mid}
    sink: { run: noop, upstream: [${Array.from({ length: 8 }, (_, i) => `'m${i}'`).join(', ')}] },
  },
});
`;
}

interface Figures {
  readonly label: string;
  readonly tiPerS: number;
  readonly wallS: number;
  readonly byDaemon: number[];
}

async function once(label: string, daemons: number, metadataUrl: (dir: string) => string): Promise<Figures> {
  const dir = mkdtempSync(path.join(os.tmpdir(), 'drivetrain-bench-multi-'));
  const children: ChildProcess[] = [];
  try {
    const dagsDir = path.join(dir, 'dags');
    mkdirSync(dagsDir);
    for (let i = 0; i < DAGS; i++) writeFileSync(path.join(dagsDir, `bench_${i}.ts`), dagFile(`bench_${i}`));
    const url = metadataUrl(dir);
    const t0 = performance.now();
    for (let i = 0; i < daemons; i++) {
      const env: NodeJS.ProcessEnv = {
        PATH: process.env.PATH,
        DRIVETRAIN_HOME: path.join(dir, `home${i}`),
        DRIVETRAIN_LOG_DIR: path.join(dir, `logs${i}`),
        DRIVETRAIN_METADATA_URL: url,
        DRIVETRAIN_DAGS_DIR: dagsDir,
        DRIVETRAIN_HTTP_PORT: '0',
        DRIVETRAIN_NOW: '2024-03-01T00:00:00Z',
        DRIVETRAIN_SCHEDULER_TICK: '* * * * * *',
        DRIVETRAIN_LOG_LEVEL: 'warn',
      };
      children.push(spawn(process.execPath, ['--import', 'tsx', 'bin/drivetrain.ts', 'start'], { cwd: REPO, env, stdio: ['ignore', 'ignore', 'inherit'] }));
    }
    // The bench's own reader, opened after the first daemon could migrate (opening migrates too, once).
    const db = await MetadataDb.open(url);
    try {
      for (;;) {
        const [row] = await db.read((sql) => sql.all<{ n: number }>("SELECT COUNT(*) AS n FROM task_instances WHERE state = 'success'"));
        if (row.n >= TOTAL) break;
        if (performance.now() - t0 > 600_000) throw new Error(`${label}: ${row.n} of ${TOTAL} instances done after 10 minutes`);
        await sleep(200);
      }
      const wallS = (performance.now() - t0) / 1000;
      const [span] = await db.read((sql) => sql.all<{ first: string; last: string }>('SELECT MIN(start_date) AS first, MAX(end_date) AS last FROM task_instances'));
      const seconds = (Date.parse(span.last) - Date.parse(span.first)) / 1000;
      const byPid = await db.read((sql) => sql.all<{ pid: number; n: number }>('SELECT pid, COUNT(*) AS n FROM task_instances GROUP BY pid ORDER BY pid'));
      return { label, tiPerS: TOTAL / seconds, wallS, byDaemon: byPid.map((r) => Number(r.n)) };
    } finally {
      await db.close();
    }
  } finally {
    await Promise.all(
      children.map(
        (c) =>
          new Promise<void>((resolve) => {
            if (c.exitCode !== null || c.signalCode !== null) return resolve();
            c.once('exit', () => resolve());
            c.kill('SIGTERM');
          }),
      ),
    );
    rmSync(dir, { recursive: true, force: true });
  }
}

console.log(
  `scheduler bench across daemons: ${DAGS} DAGs x ${DAYS} daily runs x ${TASKS} no-op tasks = ${TOTAL} task instances, ` +
    `${os.cpus().length} CPUs, node ${process.version}, load average ${os.loadavg()[0].toFixed(1)}`,
);
const results: Figures[] = [];
results.push(await once('SQLite, 1 daemon', 1, (dir) => `sqlite:${path.join(dir, 'metadata.db')}`));
for (const n of [1, 2, 3]) {
  const db = await createTestDatabase();
  try {
    results.push(await once(`PostgreSQL, ${n} daemon${n > 1 ? 's' : ''}`, n, () => db.url));
  } finally {
    await dropTestDatabase(db);
  }
}
for (const r of results) {
  console.log(`${r.label.padEnd(22)} throughput=${Math.round(r.tiPerS)} TI/s  wall (with start-up)=${r.wallS.toFixed(1)} s  instances per daemon=${r.byDaemon.join('/')}`);
}
console.log(`load average after: ${os.loadavg()[0].toFixed(1)}`);
