/**
 * The REST API over a real backfill's metadata and logs, through the daemon's listener on loopback:
 * Airflow's resource shapes, paging, errors as {status, title, detail}, the token rules, attempt logs by
 * byte offset, the actions, and the OpenAPI document.
 */
import { expect } from 'chai';
import { appendFileSync, mkdirSync } from 'node:fs';
import path from 'node:path';
import { attemptLogPath } from '../../scheduler/logging.js';
import { RecordingLogger } from '../helpers/recordingLogger.js';
import { useTmpDir } from '../helpers/tmp.js';
import { execFile as execSql } from '../helpers/sqliteFile.js';
import { defineDashboards } from '../../scheduler/web/dashboards.js';
import { backfillFixture, serveConsole, TOKEN, WEB_FIXTURES, type ServedConsole } from './consoleSetup.js';

const auth = { authorization: `Bearer ${TOKEN}` };
const json = { ...auth, 'content-type': 'application/json' };

describe('the REST API', function () {
  this.timeout(60_000);
  const tmp = useTmpDir('drivetrain-api-', { scope: 'suite', beforeRemove: async () => console_?.close() });
  let console_: ServedConsole | undefined;
  const actions = new RecordingLogger();
  const get = (p: string, headers: Record<string, string> = auth) => fetch(`${console_!.url}${p}`, { headers });
  const send = (method: string, p: string, body: unknown, headers: Record<string, string> = json) =>
    fetch(`${console_!.url}${p}`, { method, headers, body: JSON.stringify(body) });

  before(async () => {
    await backfillFixture(tmp.dir);
    console_ = await serveConsole(tmp.dir, { log: actions });
  });

  it('lists the DAGs with their tasks in dependency order, and the files that failed to import', async () => {
    const res = await get('/api/v1/dags');
    expect(res.status).to.equal(200);
    const body = (await res.json()) as { dags: { dag_id: string; tasks: { task_id: string }[]; is_paused: boolean; file: string; next_dagrun: string | null }[]; import_errors: { file: string; error: string }[]; total_entries: number };
    expect(body.dags.map((d) => d.dag_id)).to.deep.equal(['console_demo', 'tail_demo']);
    expect(body.total_entries).to.equal(2);
    const demo = body.dags[0];
    expect(demo.tasks.map((t) => t.task_id)).to.deep.equal(['extract', 'transform', 'load', 'report']);
    expect(demo.is_paused).to.equal(false);
    expect(demo.file).to.equal(path.join(WEB_FIXTURES, 'console_demo.ts'));
    // As `dags list`: no scheduled run exists yet, so the first interval (the daemon passes those a backfill took).
    expect(demo.next_dagrun).to.equal('2024-01-01T00:00:00.000Z');
    expect(body.import_errors).to.have.length(1);
    expect(body.import_errors[0].file).to.match(/broken\.ts$/);
    expect(body.import_errors[0].error).to.match(/broken on purpose/);
  });

  it('pages runs newest first with the total, and filters them by state', async () => {
    const page = (await (await get('/api/v1/dags/console_demo/dagRuns?limit=2&offset=1')).json()) as { dag_runs: { dag_run_id: string; state: string; run_type: string }[]; total_entries: number };
    expect(page.total_entries).to.equal(5);
    expect(page.dag_runs.map((r) => r.dag_run_id)).to.deep.equal(['backfill__2024-01-04T00:00:00+00:00', 'backfill__2024-01-03T00:00:00+00:00']);
    const failed = (await (await get('/api/v1/dags/console_demo/dagRuns?state=failed')).json()) as { dag_runs: { logical_date: string }[]; total_entries: number };
    expect(failed.dag_runs.map((r) => r.logical_date)).to.deep.equal(['2024-01-03T00:00:00.000Z']);
    expect(failed.total_entries).to.equal(1);
  });

  it("gives a run's task instances in the DAG's order, with the failure's error", async () => {
    const res = await get(`/api/v1/dags/console_demo/dagRuns/${encodeURIComponent('backfill__2024-01-03T00:00:00+00:00')}/taskInstances`);
    const body = (await res.json()) as { task_instances: { task_id: string; state: string; try_number: number; error: string | null }[] };
    expect(body.task_instances.map((t) => [t.task_id, t.state])).to.deep.equal([
      ['extract', 'success'],
      ['transform', 'failed'],
      ['load', 'upstream_failed'],
      ['report', 'upstream_failed'],
    ]);
    expect(body.task_instances[1].error).to.match(/bad rows on 2024-01-03/);
  });

  it('serves the grid as one page of runs with their cells, or only the runs asked for', async () => {
    const page = (await (await get('/api/v1/dags/console_demo/grid?limit=3')).json()) as { dag_runs: { dag_run_id: string; task_instances: { task_id: string; state: string }[] }[]; total_entries: number };
    expect(page.total_entries).to.equal(5);
    expect(page.dag_runs).to.have.length(3);
    expect(page.dag_runs[0].task_instances).to.have.length(4);
    const one = (await (await get(`/api/v1/dags/console_demo/grid?dag_run_ids=${encodeURIComponent('backfill__2024-01-01T00:00:00+00:00')}`)).json()) as { dag_runs: { dag_run_id: string }[] };
    expect(one.dag_runs.map((r) => r.dag_run_id)).to.deep.equal(['backfill__2024-01-01T00:00:00+00:00']);
  });

  it('reads an attempt log from a byte offset and says where the next read starts', async () => {
    const base = `/api/v1/dags/console_demo/dagRuns/${encodeURIComponent('backfill__2024-01-02T00:00:00+00:00')}/taskInstances/extract/logs/1`;
    const whole = await get(base);
    expect(whole.status).to.equal(200);
    expect(whole.headers.get('content-type')).to.match(/^text\/plain/);
    const text = await whole.text();
    expect(text).to.contain('extracted 2024-01-02');
    const next = Number(whole.headers.get('x-next-offset'));
    expect(next).to.equal(Buffer.byteLength(text));

    const file = attemptLogPath(console_!.settings.logDir, { dagId: 'console_demo', runId: 'backfill__2024-01-02T00:00:00+00:00', taskId: 'extract', attempt: 1 });
    appendFileSync(file, 'appended after the first read ✓\n');
    const more = await get(`${base}?offset=${next}`);
    expect(await more.text()).to.equal('appended after the first read ✓\n');
    expect(Number(more.headers.get('x-next-offset'))).to.equal(next + Buffer.byteLength('appended after the first read ✓\n'));

    const tail = await get(`${base}?tail=${Buffer.byteLength('appended after the first read ✓\n') + 5}`);
    expect(await tail.text()).to.equal('appended after the first read ✓\n', 'a tail starts at a line start');
  });

  it('answers 404 for an attempt that never ran, and for an unknown DAG, run or task', async () => {
    const run = encodeURIComponent('backfill__2024-01-02T00:00:00+00:00');
    for (const p of [`/api/v1/dags/console_demo/dagRuns/${run}/taskInstances/extract/logs/2`, '/api/v1/dags/nope', `/api/v1/dags/console_demo/dagRuns/nope/taskInstances`, `/api/v1/dags/console_demo/dagRuns/${run}/taskInstances/nope`]) {
      const res = await get(p);
      expect(res.status, p).to.equal(404);
      const body = (await res.json()) as { status: number; title: string; detail: string };
      expect(body.status).to.equal(404);
      expect(body.title).to.equal('Not Found');
      expect(body.detail).to.be.a('string').and.not.equal('');
    }
  });

  it('refuses every /api request without the token (401), and a wrong one, but never /healthz', async () => {
    const none = await get('/api/v1/dags', {});
    expect(none.status).to.equal(401);
    expect(await none.json()).to.deep.include({ status: 401, title: 'Unauthorized' });
    expect((await get('/api/v1/dags', { authorization: 'Bearer wrong-token' })).status).to.equal(401);
    expect((await send('POST', '/api/v1/dags/console_demo/dagRuns', {}, { 'content-type': 'application/json' })).status).to.equal(401);
    expect((await get('/healthz', {})).status).to.equal(200);
  });

  it('answers the console page 401 without the token, with the page and its token form, and 200 with the header or the cookie', async () => {
    const none = await get('/', {});
    expect(none.status).to.equal(401);
    expect(await none.text()).to.include('<script type="module"');
    expect((await get('/', { cookie: 'drivetrain_token=wrong-token' })).status).to.equal(401);
    expect((await get('/', { cookie: 'drivetrain_token=%E0%A4%A' })).status).to.equal(401);
    expect((await get('/', auth)).status).to.equal(200);
    expect((await get('/', { cookie: `other=1; drivetrain_token=${encodeURIComponent(TOKEN)}` })).status).to.equal(200);
    // the cookie opens the page only, never the API
    expect((await get('/api/v1/dags', { cookie: `drivetrain_token=${encodeURIComponent(TOKEN)}` })).status).to.equal(401);
  });

  it('validates query strings and bodies, naming the field and the value', async () => {
    const limit = await get('/api/v1/dags/console_demo/dagRuns?limit=5000');
    expect(limit.status).to.equal(400);
    expect(((await limit.json()) as { detail: string }).detail).to.match(/^querystring\.limit: .*5000/);
    const date = await send('POST', '/api/v1/dags/console_demo/dagRuns', { logical_date: '2024-02-30' });
    expect(date.status).to.equal(400);
    expect(((await date.json()) as { detail: string }).detail).to.match(/logical_date: '2024-02-30' is not a date/);
    const extra = await send('POST', '/api/v1/dags/console_demo/dagRuns', { logical_dat: '2024-01-09' });
    expect(extra.status).to.equal(400);
  });

  it('triggers a manual run with conf (as dags trigger), and answers 409 for a date that already has a run', async () => {
    const res = await send('POST', '/api/v1/dags/console_demo/dagRuns', { logical_date: '2024-01-09', conf: { why: 'test' } });
    expect(res.status).to.equal(200);
    const run = (await res.json()) as { dag_run_id: string; run_type: string; state: string; conf: unknown };
    expect(run).to.deep.include({ dag_run_id: 'manual__2024-01-09T00:00:00+00:00', run_type: 'manual', state: 'queued' });
    expect(run.conf).to.deep.equal({ why: 'test' });
    expect(actions.has('manual run created'), 'the action is in the scheduler log').to.equal(true);
    const again = await send('POST', '/api/v1/dags/console_demo/dagRuns', { logical_date: '2024-01-09' });
    expect(again.status).to.equal(409);
    expect(((await again.json()) as { detail: string }).detail).to.match(/already has a run/);
  });

  it('pauses and unpauses a DAG', async () => {
    const paused = await send('PATCH', '/api/v1/dags/console_demo', { is_paused: true });
    expect(((await paused.json()) as { is_paused: boolean }).is_paused).to.equal(true);
    const listed = (await (await get('/api/v1/dags/console_demo')).json()) as { is_paused: boolean };
    expect(listed.is_paused).to.equal(true);
    await send('PATCH', '/api/v1/dags/console_demo', { is_paused: false });
    expect(((await (await get('/api/v1/dags/console_demo')).json()) as { is_paused: boolean }).is_paused).to.equal(false);
  });

  it('clears a task and its downstream in a date range (as tasks clear), returning the cleared instances', async () => {
    const res = await send('POST', '/api/v1/dags/console_demo/clearTaskInstances', { start_date: '2024-01-03', end_date: '2024-01-03', task_ids: ['transform'], include_downstream: true });
    expect(res.status).to.equal(200);
    const body = (await res.json()) as { task_instances: { task_id: string; state: string }[]; total_entries: number };
    expect(body.task_instances.map((t) => [t.task_id, t.state])).to.deep.equal([
      ['transform', 'failed'],
      ['load', 'upstream_failed'],
      ['report', 'upstream_failed'],
    ]);
    const tis = (await (await get(`/api/v1/dags/console_demo/dagRuns/${encodeURIComponent('backfill__2024-01-03T00:00:00+00:00')}/taskInstances`)).json()) as { task_instances: { task_id: string; state: string | null }[] };
    expect(tis.task_instances.map((t) => t.state)).to.deep.equal(['success', null, null, null]);
    const unknown = await send('POST', '/api/v1/dags/console_demo/clearTaskInstances', { task_ids: ['nope'] });
    expect(unknown.status).to.equal(400);
  });

  it('describes itself in /api/v1/openapi.json', async () => {
    const doc = (await (await get('/api/v1/openapi.json')).json()) as { openapi: string; paths: Record<string, unknown> };
    expect(doc.openapi).to.match(/^3\./);
    expect(Object.keys(doc.paths)).to.include.members([
      '/api/v1/dags',
      '/api/v1/dags/{dag_id}',
      '/api/v1/dags/{dag_id}/dagRuns',
      '/api/v1/dags/{dag_id}/dagRuns/{dag_run_id}/taskInstances',
      '/api/v1/dags/{dag_id}/clearTaskInstances',
      '/api/v1/dags/{dag_id}/dagRuns/{dag_run_id}/taskInstances/{task_id}/logs/{try_number}',
      '/api/v1/marts/{table}',
    ]);
  });

  it('sends a Content-Security-Policy without inline scripts on the console and the API', async () => {
    for (const p of ['/', '/api/v1/dags', '/assets/app.js']) {
      const res = await get(p);
      expect(res.status, p).to.equal(200);
      const csp = res.headers.get('content-security-policy') ?? '';
      expect(csp, p).to.contain("script-src 'self'");
      expect(csp, p).not.to.contain('unsafe-inline');
    }
  });
});

describe('the REST API without a token', function () {
  this.timeout(60_000);
  const tmp = useTmpDir('drivetrain-api-ro-', { beforeRemove: async () => served?.close() });
  let served: ServedConsole | undefined;

  it('answers reads and the console page without a token, and refuses every change with 403', async () => {
    served = await serveConsole(tmp.dir, { token: undefined });
    expect((await fetch(`${served.url}/api/v1/dags`)).status).to.equal(200);
    expect((await fetch(`${served.url}/`)).status).to.equal(200);
    for (const [method, p, body] of [
      ['PATCH', '/api/v1/dags/console_demo', { is_paused: true }],
      ['POST', '/api/v1/dags/console_demo/dagRuns', {}],
      ['POST', '/api/v1/dags/console_demo/clearTaskInstances', {}],
    ] as const) {
      const res = await fetch(`${served.url}${p}`, { method, headers: { 'content-type': 'application/json', authorization: 'Bearer anything' }, body: JSON.stringify(body) });
      expect(res.status, `${method} ${p}`).to.equal(403);
      expect(((await res.json()) as { detail: string }).detail).to.match(/read-only/);
    }
  });
});

describe('the marts API', function () {
  const tmp = useTmpDir('drivetrain-api-marts-', { beforeRemove: async () => served?.close() });
  let served: ServedConsole | undefined;

  it("returns a declared mart's rows in a date range and refuses an undeclared table", async () => {
    mkdirSync(tmp.path('home'), { recursive: true });
    const warehouse = tmp.path('home', 'warehouse.db');
    await execSql(warehouse, "CREATE TABLE volumes (day TEXT, cnt INTEGER); INSERT INTO volumes VALUES ('2024-01-01', 3), ('2024-01-02', 5), ('2024-01-03', 7);");
    const dashboards = defineDashboards({
      marts: [{ table: 'volumes', dateColumn: 'day', columns: ['day', 'cnt'], dagId: 'console_demo', taskId: 'load' }],
      charts: [],
      dataTests: [],
    });
    served = await serveConsole(tmp.dir, { dashboards });
    const res = await fetch(`${served.url}/api/v1/marts/volumes?from=2024-01-02&to=2024-01-03`, { headers: auth });
    expect(res.status).to.equal(200);
    expect(await res.json()).to.deep.equal({ table: 'volumes', columns: ['day', 'cnt'], rows: [{ day: '2024-01-02', cnt: 5 }, { day: '2024-01-03', cnt: 7 }], total_entries: 2 });
    const other = await fetch(`${served.url}/api/v1/marts/sqlite_master`, { headers: auth });
    expect(other.status).to.equal(404);
    const bad = await fetch(`${served.url}/api/v1/marts/volumes?from=2024-13-01`, { headers: auth });
    expect(bad.status).to.equal(400);
  });

  it('counts rejected rows per load and reason', async () => {
    mkdirSync(tmp.path('home'), { recursive: true });
    await execSql(
      tmp.path('home', 'warehouse.db'),
      `CREATE TABLE rejects (source TEXT, processing_date TEXT, raw_json TEXT, reason TEXT);
       INSERT INTO rejects VALUES ('cars', '2024-01-02', '{}', 'missing id'), ('cars', '2024-01-02', '{}', 'missing id'),
         ('customers', '2024-01-02', '{}', 'bad type'), ('cars', '2024-01-01', '{}', 'missing id');`,
    );
    const dashboards = defineDashboards({ marts: [], charts: [], dataTests: [], rejects: { table: 'rejects', loadColumn: 'source', dateColumn: 'processing_date', reasonColumn: 'reason' } });
    served = await serveConsole(tmp.dir, { dashboards });
    const res = await fetch(`${served.url}/api/v1/dataQuality/rejects?from=2024-01-02`, { headers: auth });
    expect(await res.json()).to.deep.equal({
      rejects: [
        { load: 'cars', date: '2024-01-02', reason: 'missing id', count: 2 },
        { load: 'customers', date: '2024-01-02', reason: 'bad type', count: 1 },
      ],
      total_entries: 2,
    });
  });
});
