/// <reference lib="dom" />
/**
 * Mapped task instances (scheduler/mapping.ts) in the REST API and the console: a real metadata DB
 * and real attempt logs from a mapped DAG run drained in this process (test/scheduler/harness.ts), the
 * console app served on loopback, and the task page in a real browser (Debian's chromium).
 */
import { expect } from 'chai';
import type { Page } from 'playwright-core';
import { defineDag } from '../../scheduler/dag.js';
import { NonRetryableError } from '../../scheduler/errors/NonRetryableError.js';
import { storeDagBag } from '../../scheduler/serializedDag.js';
import { SUMMARY_ORDER, worstState } from '../../scheduler/web/mappedSummary.js';
import { openHarness, type Harness } from '../scheduler/harness.js';
import { launchBrowser, requireChromium, screenshot, type Browser } from './browser.js';
import { serveConsole, TOKEN, type ServedConsole } from './consoleSetup.js';

/** A value whose label is markup: the console must show it as these characters. */
const HOSTILE = '<script>window.__xss = 1</script>';
const RUN = 'backfill__2024-01-01T00:00:00+00:00';
const auth = { authorization: `Bearer ${TOKEN}` };

/** regions gives three values; load is mapped over them and fails for 'us' only; report runs when load is done. */
const dag = defineDag({
  id: 'mapped_web',
  schedule: '@daily',
  startDate: '2024-01-01',
  retries: 0,
  tasks: {
    regions: { run: () => ['eu', 'us', HOSTILE] },
    load: {
      upstream: ['regions'],
      expand: (ctx) => ctx.upstream('regions') as unknown[],
      run: (ctx) => {
        ctx.log.info(`loading region ${String(ctx.mapValue)}`);
        if (ctx.mapValue === 'us') throw new NonRetryableError('us is down');
        return `${String(ctx.mapValue)} loaded`;
      },
    },
    report: { upstream: ['load'], triggerRule: 'all_done', run: () => 'reported' },
  },
});

interface Ti {
  task_id: string;
  map_index: number;
  rendered_map_index: string | null;
  state: string | null;
  try_number: number;
  error: string | null;
  result: unknown;
}
interface TiCollection {
  task_instances: Ti[];
  total_entries: number;
}

describe("the grid's summary of a mapped task", () => {
  it('takes the state that most needs a look: failed, upstream_failed, running, retry, reschedule, queued, waiting, skipped, then success', () => {
    expect(SUMMARY_ORDER).to.deep.equal(['failed', 'upstream_failed', 'running', 'up_for_retry', 'up_for_reschedule', 'queued', null, 'skipped', 'success']);
    // Each state wins over every one after it, whichever comes first among the instances.
    SUMMARY_ORDER.forEach((worse, i) => {
      for (const better of SUMMARY_ORDER.slice(i + 1)) {
        expect(worstState([better, worse, better]), `${worse} over ${better}`).to.equal(worse);
        expect(worstState([worse, better]), `${worse} over ${better}`).to.equal(worse);
      }
    });
    expect(worstState(['success', 'success'])).to.equal('success');
    expect(worstState([])).to.equal(undefined);
  });
});

describe('mapped task instances in the API and the console', function () {
  this.timeout(90_000);
  let h: Harness | undefined;
  let served: ServedConsole | undefined;
  const get = (p: string) => fetch(`${served!.url}/api/v1/dags/mapped_web${p}`, { headers: auth });
  const getJson = async <T>(p: string): Promise<T> => {
    const res = await get(p);
    expect(res.status, p).to.equal(200);
    return (await res.json()) as T;
  };
  const tis = `/dagRuns/${encodeURIComponent(RUN)}/taskInstances`;

  before(async () => {
    h = await openHarness();
    // What the daemon does on start: the API reads the DAG's structure from the metadata.
    await storeDagBag(h.db, { dags: new Map([[dag.id, dag]]), errors: [] }, h.settings);
    await h.addRuns(dag, '2024-01-01', '2024-01-01');
    await h.drain([dag]);
    served = await serveConsole(h.dir);
  });
  after(async () => {
    await served?.close();
    await h?.close();
  });

  it("lists every instance of a run in the DAG's task order, each task's by map index, with its index and label", async () => {
    const body = await getJson<TiCollection>(tis);
    expect(body.task_instances.map((t) => [t.task_id, t.map_index, t.rendered_map_index, t.state])).to.deep.equal([
      ['regions', -1, null, 'success'],
      ['load', -1, null, 'success'],
      ['load', 0, 'eu', 'success'],
      ['load', 1, 'us', 'failed'],
      ['load', 2, HOSTILE, 'success'],
      ['report', -1, null, 'success'],
    ]);
    expect(body.total_entries).to.equal(6);
  });

  it("answers a task's own instance at map index -1, which for a mapped task is its expansion", async () => {
    const load = await getJson<Ti>(`${tis}/load`);
    expect(load).to.include({ task_id: 'load', map_index: -1, rendered_map_index: null, state: 'success' });
    expect(load.result).to.deep.equal({ values: ['eu', 'us', HOSTILE], labels: ['eu', 'us', HOSTILE] });
  });

  it("lists a task's mapped instances in map-index order, a page of them with the total", async () => {
    const all = await getJson<TiCollection>(`${tis}/load/listMapped`);
    expect(all.task_instances.map((t) => [t.map_index, t.rendered_map_index, t.state])).to.deep.equal([
      [0, 'eu', 'success'],
      [1, 'us', 'failed'],
      [2, HOSTILE, 'success'],
    ]);
    expect(all.total_entries).to.equal(3);
    const page = await getJson<TiCollection>(`${tis}/load/listMapped?limit=1&offset=1`);
    expect(page.task_instances.map((t) => t.rendered_map_index)).to.deep.equal(['us']);
    expect(page.total_entries).to.equal(3);
    // As Airflow's: an unmapped task, or a task the run does not have, is a 404 naming it.
    const unmapped = await get(`${tis}/report/listMapped`);
    expect(unmapped.status).to.equal(404);
    expect(((await unmapped.json()) as { detail: string }).detail).to.equal("task 'report' of DAG 'mapped_web' is not mapped");
    expect((await get(`${tis}/nope/listMapped`)).status).to.equal(404);
  });

  it('answers one mapped instance by its map index, and a 404 naming the task and the index it does not have', async () => {
    const us = await getJson<Ti>(`${tis}/load/1`);
    expect(us).to.include({ task_id: 'load', map_index: 1, rendered_map_index: 'us', state: 'failed', try_number: 1, error: 'NonRetryableError: us is down' });
    const missing = await get(`${tis}/load/7`);
    expect(missing.status).to.equal(404);
    expect(((await missing.json()) as { detail: string }).detail).to.equal(
      `run '${RUN}' of DAG 'mapped_web' has no mapped instance 7 of task 'load' (see .../taskInstances/load/listMapped)`,
    );
    const bad = await get(`${tis}/load/first`);
    expect(bad.status).to.equal(400);
    expect(((await bad.json()) as { detail: string }).detail).to.match(/^params\.map_index: .*'first'/);
  });

  it("reads a mapped instance's attempt log with ?map_index, and the expansion's without it", async () => {
    const mapped = await get(`${tis}/load/logs/1?map_index=2`);
    expect(mapped.status).to.equal(200);
    const text = await mapped.text();
    expect(text).to.contain(`loading region ${HOSTILE}`);
    expect(text).not.to.contain('loading region eu');
    const us = await (await get(`${tis}/load/logs/1?map_index=1`)).text();
    expect(us).to.contain('loading region us').and.to.contain('us is down');
    const expansion = await get(`${tis}/load/logs/1`);
    expect(expansion.status).to.equal(200);
    expect(await expansion.text()).not.to.contain('loading region');
    const none = await get(`${tis}/load/logs/1?map_index=9`);
    expect(none.status).to.equal(404);
    expect(((await none.json()) as { detail: string }).detail).to.contain("no mapped instance 9 of task 'load'");
    const second = await get(`${tis}/load/logs/2?map_index=1`);
    expect(second.status).to.equal(404);
    expect(((await second.json()) as { detail: string }).detail).to.equal(`mapped instance 1 of task 'load' of run '${RUN}' has had 1 attempt(s), not 2`);
  });

  it('gives the grid one cell per task, a mapped one failed when one of its mapped instances failed, with their count by state', async () => {
    const grid = await getJson<{ dag_runs: { task_instances: { task_id: string; state: string | null; mapped: number; mapped_states: Record<string, number> | null }[] }[] }>('/grid');
    const cells = grid.dag_runs[0].task_instances;
    expect(cells.map((c) => c.task_id).sort()).to.deep.equal(['load', 'regions', 'report']);
    expect(cells.find((c) => c.task_id === 'load')).to.deep.include({ state: 'failed', mapped: 3, mapped_states: { failed: 1, success: 2 } });
    expect(cells.find((c) => c.task_id === 'report')).to.deep.include({ state: 'success', mapped: 0, mapped_states: null });
  });

  it('describes the mapped-instance routes in /api/v1/openapi.json', async () => {
    const doc = (await (await fetch(`${served!.url}/api/v1/openapi.json`, { headers: auth })).json()) as { paths: Record<string, { get?: { parameters?: { name: string }[] } }> };
    const base = '/api/v1/dags/{dag_id}/dagRuns/{dag_run_id}/taskInstances/{task_id}';
    expect(Object.keys(doc.paths)).to.include.members([`${base}/listMapped`, `${base}/{map_index}`]);
    expect(doc.paths[`${base}/logs/{try_number}`].get!.parameters!.map((p) => p.name)).to.include('map_index');
  });

  describe('in a real browser', () => {
    let browser: Browser | undefined;
    let page: Page;
    const taskPage = () => `${served!.url}/#/dags/mapped_web/runs/${encodeURIComponent(RUN)}/tasks/load`;

    before(async function () {
      requireChromium(this);
      browser = await launchBrowser();
      page = await browser.newPage();
      await page.goto(`${served!.url}/#/dags`);
      await page.fill('#token-form input[name=token]', TOKEN);
      await page.click('#token-form button[type=submit]');
      await page.waitForSelector('#dags');
    });
    after(async () => browser?.close());

    it("lists a mapped task's instances on its page with their labels as text, and shows a chosen one's log", async () => {
      await page.goto(taskPage());
      await page.waitForSelector('#mapped-instances tbody tr');
      const rows = await page.$$eval('#mapped-instances tbody tr', (els) =>
        els.map((e) => [(e as HTMLElement).dataset.mapIndex, e.querySelector('td.label')!.textContent, (e as HTMLElement).dataset.state]),
      );
      expect(rows).to.deep.equal([
        ['0', 'eu', 'success'],
        ['1', 'us', 'failed'],
        ['2', HOSTILE, 'success'],
      ]);
      // The label's markup is text: no script element was made of it and none ran.
      expect(await page.locator('#mapped-instances script').count()).to.equal(0);
      expect(await page.evaluate(() => (window as unknown as { __xss?: number }).__xss)).to.equal(undefined);

      await page.click('#mapped-instances tr[data-map-index="2"] a[data-attempt="1"]');
      await page.waitForSelector('#map-label');
      expect(await page.textContent('#map-label')).to.equal(`[${HOSTILE}]`);
      await page.waitForFunction(() => document.getElementById('log')?.textContent?.includes('loading region'));
      expect(await page.textContent('#log')).to.contain(`loading region ${HOSTILE}`);
      expect(await page.textContent('#mapped-instances tr.chosen td.label')).to.equal(HOSTILE);
      expect(await page.evaluate(() => (window as unknown as { __xss?: number }).__xss)).to.equal(undefined);
      await screenshot(page, 'mapped-task');
    });

    it('labels mapped instances `task [label]` on the run page and marks a mapped cell of the grid with its count', async () => {
      await page.goto(`${served!.url}/#/dags/mapped_web/runs/${encodeURIComponent(RUN)}`);
      await page.waitForSelector('#gantt');
      const labels = await page.$$eval('#gantt .row .label', (els) => els.map((e) => e.firstChild!.textContent));
      expect(labels).to.deep.equal(['regions', 'load', 'load [eu]', 'load [us]', `load [${HOSTILE}]`, 'report']);
      expect(await page.getAttribute('#gantt .row[data-map-index="1"] .label a', 'href')).to.match(/\/tasks\/load\?map_index=1$/);

      await page.goto(`${served!.url}/#/dags/mapped_web/grid`);
      await page.waitForSelector('#grid a.sq[data-task=load]');
      expect(await page.getAttribute('#grid a.sq[data-task=load]', 'data-state')).to.equal('failed');
      expect(await page.textContent('#grid td.cell.mapped .mapcount')).to.equal('×3');
      expect(await page.getAttribute('#grid a.sq[data-task=load]', 'title')).to.contain('3 mapped: 1 failed, 2 success');
      await screenshot(page, 'mapped-grid');
    });
  });
});
