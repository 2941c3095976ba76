/// <reference lib="dom" />
/**
 * The console's data page in a real browser over the marts of a real backfill of the company's DAGs
 * (dags/, the sample source serving a small generated dataset): the four declared charts drawn from
 * the marts, each mart's freshness, rejects per load and the data tests per run.
 */
import { expect } from 'chai';
import { execFile } from 'node:child_process';
import path from 'node:path';
import { promisify } from 'node:util';
import type { Page } from 'playwright-core';
import { loadDashboards } from '../../scheduler/web/dashboards.js';
import { startSourceServer, type SourceServer } from '../../source/server.js';
import { testEnv, useTmpDir } from '../helpers/tmp.js';
import { queryFile } from '../helpers/sqliteFile.js';
import { launchBrowser, requireChromium, screenshot, type Browser } from './browser.js';
import { REPO, serveConsole, TOKEN, type ServedConsole } from './consoleSetup.js';

const run = promisify(execFile);
const DAGS = path.join(REPO, 'dags');
const NOW = '2023-03-01T06:00:00Z';

describe('the data page in a real browser', function () {
  this.timeout(180_000);
  let source: SourceServer | undefined;
  let served: ServedConsole | undefined;
  let browser: Browser | undefined;
  let page: Page;
  const tmp = useTmpDir('drivetrain-datapage-', {
    scope: 'suite',
    beforeRemove: async () => {
      await browser?.close();
      await served?.close();
      await source?.close();
    },
  });

  before(async function () {
    requireChromium(this);
    source = await startSourceServer({ generate: { sizes: { cars: 150, customers: 60, subscriptions: 200 }, seed: 5 } });
    const { stdout } = await run(process.execPath, ['--import', 'tsx', 'bin/drivetrain.ts', 'backfill', '--from', '2023-01-01', '--to', '2023-02-28'], {
      cwd: REPO,
      env: testEnv(tmp.dir, { DRIVETRAIN_SOURCE_URL: source.url, DRIVETRAIN_NOW: NOW, DRIVETRAIN_TASK_RETRIES: '0' }),
    });
    expect(stdout).to.match(/every run succeeded/);
    served = await serveConsole(tmp.dir, { dashboards: await loadDashboards(DAGS), clock: { now: () => new Date(NOW) } }, { DRIVETRAIN_DAGS_DIR: DAGS });
    browser = await launchBrowser();
    page = await browser.newPage();
    await page.goto(`${served.url}/#/data`);
    await page.fill('#token-form input[name=token]', TOKEN);
    await page.click('#token-form button[type=submit]');
  });

  it('draws the four declared charts from the marts', async () => {
    await page.waitForSelector('#data-tests table, #data-tests p:not(:has-text("Loading"))');
    const charts = await page.$$eval('.chart', (els) => els.map((e) => [(e as HTMLElement).dataset.chart, e.querySelectorAll('.uplot canvas').length]));
    expect(charts).to.deep.equal([
      ['b2b_share', 1],
      ['fleet', 1],
      ['deliveries', 1],
      ['terms', 1],
    ]);
    // Each chart's legend names the series the marts hold: every brand, both fleet movements, both customer types.
    const legend = async (id: string): Promise<string[]> =>
      page.$$eval(`.chart[data-chart=${id}] .u-legend .u-series:not(:first-child) .u-label`, (els) => els.map((e) => e.textContent ?? ''));
    const warehouse = path.join(tmp.dir, 'home', 'warehouse.db');
    const brands = (await queryFile<{ brand: string }>(warehouse, 'SELECT DISTINCT brand FROM type_share ORDER BY brand')).map((r) => r.brand);
    expect(brands.length).to.be.greaterThan(0);
    expect(await legend('b2b_share')).to.deep.equal(brands);
    expect(await legend('fleet')).to.deep.equal(['infleeted', 'defleeted']);
    expect(await legend('terms')).to.deep.equal(['b2b', 'b2c']);
    expect((await legend('deliveries')).length).to.be.within(1, 8);
    await screenshot(page, 'data');
  });

  it("shows each mart's latest partition and when it was written, and the data tests of every run", async () => {
    const fresh = await page.$$eval('#freshness tbody tr', (els) => els.map((e) => [(e as HTMLElement).dataset.table, e.children[1].textContent]));
    expect(fresh).to.deep.equal([
      ['infleeted_cars_volumes', '2023-02-28 00:00'],
      ['defleeted_cars_volumes', '2023-02-28 00:00'],
      ['cars_deliveries', '2023-02-28 00:00'],
      ['type_share', '2023-02-01 00:00'],
      ['type_distribution', '2023-02-01 00:00'],
    ]);
    const tests = await page.$$eval('#data-tests tbody tr', (els) => els.map((e) => [e.children[0].textContent, (e as HTMLElement).dataset.state]));
    expect(tests.length).to.be.greaterThan(0);
    expect(tests.map((t) => t[0])).to.include.members(['marts_daily.test_marts_daily', 'marts_monthly.test_marts_monthly']);
    expect(new Set(tests.map((t) => t[1]))).to.deep.equal(new Set(['success']));
    expect(await page.textContent('#rejects')).to.not.contain('Loading');
  });
});
