/// <reference lib="dom" />
/**
 * Task groups in the console's grid, in a real browser (Debian's chromium): a header row per group
 * with its tasks together below it, labelled by their names within the group. The home is filled by
 * a real backfill of the features fixture DAG (test/fixtures/scheduler/features).
 */
import { expect } from 'chai';
import type { Page } from 'playwright-core';
import { useTmpDir } from '../helpers/tmp.js';
import { cliEnv, runCli } from '../scheduler/harness.js';
import { launchBrowser, requireChromium, screenshot, type Browser } from './browser.js';
import { serveConsole, TOKEN, type ServedConsole } from './consoleSetup.js';

describe('task groups in the console grid', function () {
  this.timeout(90_000);
  let served: ServedConsole | undefined;
  let browser: Browser | undefined;
  let page: Page;
  const tmp = useTmpDir('drivetrain-grid-groups-', {
    scope: 'suite',
    beforeRemove: async () => {
      await browser?.close();
      await served?.close();
    },
  });

  before(async function () {
    requireChromium(this);
    const env = cliEnv(tmp.dir, 'features', { DRIVETRAIN_NOW: '2024-01-03T06:00:00Z' });
    const r = await runCli(['backfill', '--from', '2024-01-01', '--to', '2024-01-02', '--dag', 'features'], env);
    if (r.code !== 0) throw new Error(`backfill failed (${r.code}): ${r.stderr}`);
    served = await serveConsole(tmp.dir);
    browser = await launchBrowser();
    page = await browser.newPage();
    await page.goto(`${served.url}/#/dags`);
    await page.fill('#token-form input[name=token]', TOKEN);
    await page.click('#token-form button[type=submit]');
    await page.waitForSelector('#dags');
  });

  it('shows a header row per group and its tasks below it by their names within the group', async () => {
    await page.goto(`${served!.url}/#/dags/features/grid`);
    await page.waitForSelector('#grid tr.group[data-group=extract]');
    const rows = await page.$$eval('#grid tbody tr', (els) =>
      els.map((e) => {
        const th = e.querySelector('th')!;
        return [(e as HTMLElement).dataset.group ? 'group' : 'task', th.textContent, (e as HTMLElement).dataset.task ?? null];
      }),
    );
    expect(rows).to.deep.equal([
      ['group', 'extract', null],
      ['task', 'count', 'extract.count'],
      ['task', 'check', 'extract.check'],
      ['task', 'load', 'load'],
      ['task', 'cleanup', 'cleanup'],
    ]);
    // The cells of a grouped task still link to its instance by its full id.
    expect(await page.locator('#grid a.sq[data-task="extract.count"][data-state=success]').count()).to.equal(2);
    await screenshot(page, 'grid-groups');
  });

  it("shows a task instance's result on its page", async () => {
    await page.click('#grid a.sq[data-task="extract.count"]');
    await page.waitForSelector('#ti-result');
    expect(JSON.parse((await page.textContent('#ti-result'))!)).to.deep.equal({ rows: 3 });
  });
});
