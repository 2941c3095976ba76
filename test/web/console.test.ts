/// <reference lib="dom" />
/**
 * The web console in a real browser (Debian's chromium through playwright-core) against a real daemon
 * child process whose metadata a real `drivetrain backfill` filled. Each page's screenshot goes to
 * test/artifacts/.
 */
import { expect } from 'chai';
import { appendFileSync } from 'node:fs';
import path from 'node:path';
import { attemptLogPath } from '../../scheduler/logging.js';
import type { Page } from 'playwright-core';
import { spawnChild, stop, type Child } from '../ops/daemon.js';
import { useTmpDir } from '../helpers/tmp.js';
import { launchBrowser, requireChromium, screenshot, type Browser } from './browser.js';
import { backfillFixture, fixtureEnv, REPO, serveConsole, TOKEN, type ServedConsole } from './consoleSetup.js';

const HOSTILE_SCRIPT = '<script>window.__xss = 1</script>';
const HOSTILE_IMG = '<img src=x onerror="window.__xss = 2">';
const runOf = (day: string): string => `backfill__${day}T00:00:00+00:00`;

/** Starts the daemon on the fixture DAGs with the token; resolves with it and its URL once it listens. */
async function startDaemon(dir: string): Promise<{ child: Child; url: string }> {
  const child = spawnChild(process.execPath, ['--import', 'tsx', 'bin/drivetrain.ts', 'start'], {
    cwd: REPO,
    env: fixtureEnv(dir, { DRIVETRAIN_API_TOKEN: TOKEN, DRIVETRAIN_HTTP_PORT: '0', DRIVETRAIN_SCHEDULER_TICK: '* * * * * *' }),
  });
  const port = await new Promise<number>((resolve, reject) => {
    const check = setInterval(() => {
      const m = /"httpPort":(\d+)/.exec(child.output());
      if (m) {
        clearInterval(check);
        resolve(Number(m[1]));
      }
    }, 50);
    void child.exited.then((code) => {
      clearInterval(check);
      reject(new Error(`daemon exited (${code}) before listening:\n${child.output()}`));
    });
  });
  return { child, url: `http://127.0.0.1:${port}` };
}

/** Opens the console and signs in with `token`. */
async function signIn(page: Page, url: string, token: string): Promise<void> {
  await page.goto(`${url}/#/dags`);
  await page.fill('#token-form input[name=token]', token);
  await page.click('#token-form button[type=submit]');
  await page.waitForSelector('#dags');
}

describe('the web console in a real browser', function () {
  this.timeout(90_000);
  let daemon: { child: Child; url: string } | undefined;
  let browser: Browser | undefined;
  let page: Page;
  let readOnly: ServedConsole | undefined;
  const tmp = useTmpDir('drivetrain-console-', {
    scope: 'suite',
    beforeRemove: async () => {
      await browser?.close();
      await readOnly?.close();
      if (daemon) await stop(daemon.child, 'SIGTERM', 15_000);
    },
  });
  const apiGet = async (p: string): Promise<unknown> => (await fetch(`${daemon!.url}/api/v1${p}`, { headers: { authorization: `Bearer ${TOKEN}` } })).json();

  before(async function () {
    requireChromium(this);
    await backfillFixture(tmp.dir);
    daemon = await startDaemon(tmp.dir);
    browser = await launchBrowser();
    page = await browser.newPage();
    await signIn(page, daemon.url, TOKEN);
  });

  it('answers the page 401 with its token form until signed in, and lets a reload through after', async () => {
    // The token lives in each tab's sessionStorage; the cookie the signed-in tab set is dropped first.
    await browser!.context.clearCookies();
    const fresh = await browser!.newPage();
    try {
      expect((await fresh.goto(`${daemon!.url}/#/dags`))?.status()).to.equal(401);
      await fresh.waitForSelector('#token-form');
      await fresh.fill('#token-form input[name=token]', TOKEN);
      await fresh.click('#token-form button[type=submit]');
      await fresh.waitForSelector('#dags');
      expect((await fresh.reload())?.status()).to.equal(200);
      await fresh.waitForSelector('#dags');
    } finally {
      await fresh.close();
    }
  });

  it('lists the DAGs with import errors on top, showing markup in a description as text', async () => {
    await page.goto(`${daemon!.url}/#/dags`);
    await page.waitForSelector('#dags tr[data-dag=console_demo] .recent .sq');
    expect(await page.textContent('#import-errors')).to.contain('broken.ts').and.contain('broken on purpose <b>not bold</b>');
    const description = await page.textContent('#dags tr[data-dag=console_demo] .description');
    expect(description).to.contain(HOSTILE_SCRIPT).and.contain(HOSTILE_IMG);
    expect(await page.locator('#dags tr[data-dag=console_demo] .recent .sq').count()).to.equal(5);
    expect(await page.evaluate(() => (window as unknown as { __xss?: number }).__xss)).to.equal(undefined);
    expect(await page.locator('main img').count()).to.equal(0);
    await screenshot(page, 'dags');
  });

  it('shows the states of a real backfill in the grid, tasks in dependency order, newest run right', async () => {
    await page.goto(`${daemon!.url}/#/dags/console_demo/grid`);
    await page.waitForSelector('#grid a.sq[data-state]');
    const cells = await page.$$eval('#grid a.sq[data-state]', (els) => els.map((e) => [(e as HTMLElement).dataset.task, (e as HTMLElement).dataset.run, (e as HTMLElement).dataset.state]));
    const expected: string[][] = [];
    for (const task of ['extract', 'transform', 'load', 'report']) {
      for (const day of ['2024-01-01', '2024-01-02', '2024-01-03', '2024-01-04', '2024-01-05']) {
        const tis = (await apiGet(`/dags/console_demo/dagRuns/${encodeURIComponent(runOf(day))}/taskInstances`)) as { task_instances: { task_id: string; state: string }[] };
        expected.push([task, runOf(day), tis.task_instances.find((t) => t.task_id === task)!.state]);
      }
    }
    expect(cells).to.deep.equal(expected);
    expect(cells.filter((c) => c[1] === runOf('2024-01-03')).map((c) => c[2])).to.deep.equal(['success', 'failed', 'upstream_failed', 'upstream_failed']);
    const title = await page.getAttribute(`#grid a.sq[data-task=extract][data-run="${runOf('2024-01-02')}"]`, 'title');
    expect(title, 'duration on hover').to.match(/success · \d/);
    await screenshot(page, 'grid');
  });

  it('opens the log of a task when its cell is clicked, markup in the log shown as text', async () => {
    await page.goto(`${daemon!.url}/#/dags/console_demo/grid`);
    await page.click(`#grid a.sq[data-task=extract][data-run="${runOf('2024-01-02')}"]`);
    await page.waitForFunction(() => document.querySelector('#log')?.textContent?.includes('extracted 2024-01-02'));
    const log = await page.textContent('#log');
    expect(log).to.contain(HOSTILE_SCRIPT).and.contain(HOSTILE_IMG);
    expect(await page.locator('#log *').count()).to.equal(0);
    expect(await page.evaluate(() => (window as unknown as { __xss?: number }).__xss)).to.equal(undefined);
    await screenshot(page, 'task-log');
  });

  it('shows the last 64 KB of a long log first and loads earlier parts on demand', async () => {
    const file = attemptLogPath(path.join(tmp.dir, 'logs'), { dagId: 'console_demo', runId: runOf('2024-01-04'), taskId: 'load', attempt: 1 });
    appendFileSync(file, Array.from({ length: 4000 }, (_, i) => `filler line ${String(i).padStart(5, '0')} ${'x'.repeat(60)}\n`).join(''));
    await page.goto(`${daemon!.url}/#/dags/console_demo/runs/${encodeURIComponent(runOf('2024-01-04'))}/tasks/load`);
    await page.waitForFunction(() => document.querySelector('#log')?.textContent?.includes('filler line 03999'));
    const first = (await page.textContent('#log'))!;
    expect(Buffer.byteLength(first)).to.be.at.most(64 * 1024);
    expect(first).to.match(/^filler line \d{5} x+\n/, 'starts at a line start');
    expect(await page.isVisible('#log-earlier')).to.equal(true);
    await page.click('#log-earlier');
    await page.waitForFunction((n) => (document.querySelector('#log')?.textContent?.length ?? 0) > n, first.length);
    const more = (await page.textContent('#log'))!;
    expect(more.endsWith(first), 'earlier part prepended').to.equal(true);
    expect(Buffer.byteLength(more)).to.be.greaterThan(100 * 1024);
    await screenshot(page, 'task-log-long');
  });

  it("draws a run's task instances as a Gantt chart", async () => {
    await page.goto(`${daemon!.url}/#/dags/console_demo/runs/${encodeURIComponent(runOf('2024-01-02'))}`);
    await page.waitForSelector('#gantt .bar');
    expect(await page.$$eval('#gantt .bar', (els) => els.map((e) => (e as HTMLElement).dataset.task))).to.deep.equal(['extract', 'transform', 'load', 'report']);
    await screenshot(page, 'run-gantt');
  });

  it('creates a run with the token from the trigger form, and the run appears in the grid', async () => {
    await page.goto(`${daemon!.url}/#/dags/tail_demo/grid`);
    await page.waitForSelector('#grid-range');
    expect(await page.locator('#grid th.run a').count()).to.equal(0);
    await page.fill('form.trigger textarea[name=conf]', '{"lines": 60}');
    await page.click('form.trigger button[type=submit]');
    await page.waitForSelector('#grid th.run a[data-run^="manual__"]');
    expect(await page.textContent('#flash')).to.match(/run manual__\S+ created/);
    const runs = (await apiGet('/dags/tail_demo/dagRuns')) as { dag_runs: { conf: unknown }[] };
    expect(runs.dag_runs.map((r) => r.conf)).to.deep.equal([{ lines: 60 }]);
  });

  it('grows the log view while the attempt writes, without reloading the page', async () => {
    await page.waitForSelector('#grid a.sq[data-task=writer][data-state=running]', { timeout: 20_000 });
    await page.click('#grid a.sq[data-task=writer]');
    await page.waitForFunction(() => document.querySelector('#log')?.textContent?.includes('line 2 of 60'));
    await page.evaluate(() => ((window as unknown as { __samePage: boolean }).__samePage = true));
    const shown = (await page.textContent('#log'))!;
    const last = Math.max(...[...shown.matchAll(/line (\d+) of 60/g)].map((m) => Number(m[1])));
    expect(last, 'the attempt is still writing').to.be.below(55);
    await page.waitForFunction((n) => document.querySelector('#log')?.textContent?.includes(`line ${n} of 60`), last + 5);
    expect((await page.textContent('#log'))!.startsWith(shown), 'appended, not replaced').to.equal(true);
    expect(await page.evaluate(() => (window as unknown as { __samePage?: boolean }).__samePage)).to.equal(true);
    await screenshot(page, 'log-tail');
  });

  it('refuses an action when the console has no token, and says so', async () => {
    readOnly = await serveConsole(tmp.dir, { token: undefined });
    const ro = await browser!.newPage();
    await ro.goto(`${readOnly.url}/#/dags`);
    await ro.waitForSelector('#dags tr[data-dag=console_demo]');
    expect(await ro.textContent('#mode')).to.match(/read-only/);
    await ro.click('#dags tr[data-dag=console_demo] input.pause-toggle');
    await ro.waitForFunction(() => document.querySelector('#flash')?.textContent?.startsWith('Refused'));
    expect(await ro.textContent('#flash')).to.match(/403 Forbidden: the API is read-only/);
    expect(await ro.isChecked('#dags tr[data-dag=console_demo] input.pause-toggle')).to.equal(false);
    expect(((await apiGet('/dags/console_demo')) as { is_paused: boolean }).is_paused).to.equal(false);
    await screenshot(ro, 'refused');
    await ro.close();
  });
});
