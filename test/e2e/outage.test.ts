/**
 * A source outage as an operator meets it: the sample source answers 503 (for its first requests, or
 * for good), `drivetrain backfill` runs the real DAGs in a child process, and its circuit breaker
 * opens. A short outage must not burn the tasks' tries; a source that stays down must fail the run in
 * bounded time with a line that says so, in the attempt log and in the backfill's summary.
 */
import { expect } from 'chai';
import { readdirSync, readFileSync } from 'node:fs';
import path from 'node:path';
import { MetadataDb } from '../../scheduler/metadata/db.js';
import { startSourceServer, type SourceServer } from '../../source/server.js';
import type { FaultOptions } from '../../source/faults.js';
import { testEnv, useTmpDir } from '../helpers/tmp.js';
import { runBin } from '../core/runBin.js';

const SIZES = { cars: 120, customers: 40, subscriptions: 90 };
const PAGE_SIZE = 50;
const INGEST_RUN = 'backfill__2024-01-01T00:00:00+00:00';

/** Every attempt log of the ingest run's extract of `entity`, concatenated. */
function extractLogs(logDir: string, entity: string): string {
  const dir = path.join(logDir, 'dag_id=ingest', `run_id=${INGEST_RUN}`, `task_id=extract_${entity}`);
  return readdirSync(dir)
    .sort()
    .map((f) => readFileSync(path.join(dir, f), 'utf8'))
    .join('');
}

describe('a source outage during a backfill', function () {
  this.timeout(120_000);
  let source: SourceServer | undefined;
  const tmp = useTmpDir('drivetrain-outage-', {
    beforeRemove: async () => {
      await source?.close();
      source = undefined;
    },
  });

  const start = async (faults: Partial<FaultOptions>) => {
    source = await startSourceServer({ generate: { sizes: SIZES, seed: 3 }, faults });
    return source;
  };
  /** Small breaker and retry timings, so an outage takes a second, not minutes. */
  const env = (sourceUrl: string, extra: Record<string, string> = {}) =>
    testEnv(tmp.dir, {
      DRIVETRAIN_SOURCE_URL: sourceUrl,
      DRIVETRAIN_SOURCE_PAGE_SIZE: String(PAGE_SIZE),
      DRIVETRAIN_SOURCE_RETRIES: '0',
      // Any failure opens the breaker, so every failed attempt ends with it open, whichever of the
      // three extracts running at once got its answer first.
      DRIVETRAIN_BREAKER_VOLUME_THRESHOLD: '1',
      DRIVETRAIN_BREAKER_ERROR_THRESHOLD_PCT: '1',
      DRIVETRAIN_BREAKER_RESET_TIMEOUT_MS: '500',
      DRIVETRAIN_TASK_RETRIES: '1',
      DRIVETRAIN_TASK_RETRY_DELAY_S: '0.05',
      DRIVETRAIN_NOW: '2024-01-02T06:00:00Z',
      ...extra,
    });
  const extractTries = async (): Promise<Record<string, number>> => {
    const db = await MetadataDb.open(path.join(tmp.dir, 'home', 'metadata.db'));
    try {
      const rows = await db.read((sql) =>
        sql.all<{ task_id: string; try_number: number }>("SELECT task_id, try_number FROM task_instances WHERE dag_id = 'ingest' AND task_id LIKE 'extract_%'"),
      );
      return Object.fromEntries(rows.map((r) => [r.task_id, r.try_number]));
    } finally {
      await db.close();
    }
  };

  it('rides out a short outage without using up the tasks\' tries, asking the source a bounded number of times', async () => {
    const server = await start({ failFirst: 4, failStatus: 503 });
    const result = await runBin(['backfill', '--from', '2023-12-01'], env(server.url));
    expect(result.code, result.stdout + result.stderr).to.equal(0);
    expect(result.stdout).to.match(/every run succeeded/);
    // Every extract succeeded on its first try: the attempts refused by the open breaker did not count.
    expect(await extractTries(), extractLogs(path.join(tmp.dir, 'logs'), 'cars')).to.deep.equal({ extract_cars: 1, extract_customers: 1, extract_subscriptions: 1 });
    // The four failed requests, then each page once: nothing was asked again and again.
    const pages = Object.values(SIZES).reduce((n, rows) => n + Math.ceil(rows / PAGE_SIZE), 0);
    expect(server.dataRequests()).to.equal(4 + pages);
    const logs = ['cars', 'customers', 'subscriptions'].map((e) => extractLogs(path.join(tmp.dir, 'logs'), e)).join('');
    expect(logs).to.match(new RegExp(`rescheduled, this try does not count: source ${server.url} unreachable: circuit breaker open since \\d{4}-\\d\\d-\\d\\dT`));
    // The summary lists the ingest run the marts waited for, as well as the marts.
    expect(result.stdout).to.match(/ingest \(waited for\)\s+2024-01-01\s+2024-01-01\s+1\s+0\s+1\s+0\s+0/);
    expect(result.stdout).to.match(/marts_daily\s+2023-12-01\s+2024-01-01\s+32\s+0\s+32\s+0\s+0/);
  });

  it('fails the run in bounded time when the source stays down, saying it is unreachable, with its password redacted', async () => {
    const server = await start({ failRate: 1, failStatus: 503 });
    const port = new URL(server.url).port;
    const result = await runBin(
      ['backfill', '--from', '2023-12-01'],
      env(`http://etl:pw-s3cret@127.0.0.1:${port}`, { DRIVETRAIN_TASK_RESCHEDULE_LIMIT_S: '2', DRIVETRAIN_BREAKER_RESET_TIMEOUT_MS: '300' }),
    );
    expect(result.code, result.stdout + result.stderr).to.equal(1);

    const unreachable = `source http://127.0.0.1:${port} unreachable: circuit breaker open since \\d{4}-\\d\\d-\\d\\dT[\\d:.]+Z, gave up after \\d s`;
    const carsLog = extractLogs(path.join(tmp.dir, 'logs'), 'cars');
    const givenUp = new RegExp(`^(\\S+) ERROR RescheduleLimitError: ${unreachable}`, 'm').exec(carsLog);
    expect(givenUp, carsLog).to.not.equal(null);
    // From the first attempt to giving up: the limit (2 s) and one last reset period past it, not the pace of the retries.
    const tookS = (Date.parse(givenUp![1]) - Date.parse(carsLog.slice(0, carsLog.indexOf(' ')))) / 1000;
    expect(tookS).to.be.within(2, 8);
    expect(result.stdout).to.match(new RegExp(`backfill: failed: ingest run ${INGEST_RUN.replace(/\+/g, '\\+')}, task extract_cars: RescheduleLimitError: ${unreachable}\\n`));
    expect(result.stdout).to.match(/ingest \(waited for\)\s+2024-01-01\s+2024-01-01\s+1\s+0\s+0\s+1\s+0/);
    expect(result.stdout).to.contain('backfill: not run: marts_daily, which waits for ingest: that run failed');
    // Given up, not retried: the deferrals and the failure all belong to the first try.
    expect(await extractTries()).to.deep.equal({ extract_cars: 1, extract_customers: 1, extract_subscriptions: 1 });
    for (const text of [result.stdout, result.stderr, carsLog]) expect(text).not.to.contain('pw-s3cret');
  });
});
