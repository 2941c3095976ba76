// The grid: runs as columns (newest right) x tasks as rows in dependency order. The structure (the
// DAG's tasks) and the runs' states are separate requests, and only active runs are polled, so a DAG
// with years of runs costs one page of states per visit and a few cells per poll.
import { api, p } from '../api.js';
import { fmtDate, fmtDuration, h, replace, square } from '../dom.js';
import { triggerForm } from './trigger.js';

const PAGE = 50;
const POLL_MS = 2000;
const ACTIVE = new Set(['queued', 'running']);

export async function render(main, params, ctx) {
  const dagId = params.dag;
  const offset = Number(ctx.query.get('offset') ?? 0);
  // Structure and states are separate requests, sent together.
  let [dag, page] = await Promise.all([api.get(p`/dags/${dagId}`), api.get(p`/dags/${dagId}/grid?limit=${PAGE}&offset=${offset}`)]);
  const table = h('table', { id: 'grid' });
  const runsById = new Map();

  const runLink = (r) => `#/dags/${encodeURIComponent(dagId)}/runs/${encodeURIComponent(r.dag_run_id)}`;
  // A mapped task's cell stands for all its mapped instances: the server sends the state that most
  // needs a look, their count and their counts by state; the count shows as a small ×N beside the square.
  const mappedNote = (ti) => (ti?.mapped > 0
    ? ` · ${ti.mapped} mapped: ${Object.entries(ti.mapped_states ?? {}).map(([s, n]) => `${n} ${s}`).join(', ')}`
    : '');
  const cell = (r, taskId) => {
    const ti = r.task_instances.find((t) => t.task_id === taskId);
    const state = ti?.state ?? 'none';
    const title = `${taskId} · ${fmtDate(r.logical_date)} · ${state}${ti?.duration != null ? ` · ${fmtDuration(ti.duration)}` : ''}${mappedNote(ti)}`;
    const mapped = ti?.mapped > 0 ? ti.mapped : undefined;
    return h('td', { class: mapped ? 'cell mapped' : 'cell' }, square(ti?.state ?? null, {
      href: `${runLink(r)}/tasks/${encodeURIComponent(taskId)}`,
      title,
      dataset: mapped ? { task: taskId, run: r.dag_run_id, state, mapped } : { task: taskId, run: r.dag_run_id, state },
    }), mapped ? h('span', { class: 'mapcount', title }, `×${mapped}`) : null);
  };
  // Task groups as Airflow's grid shows them: a header row per group, its tasks together below it
  // (at the place of its first task), each labelled by its name within the group.
  const rowsOf = (runs) => {
    const out = [];
    const seen = new Set();
    const row = (t) => h('tr', { dataset: { task: t.task_id } },
      h('th', { class: t.group ? 'task in-group' : 'task', title: `${t.task_id}${t.description ? ` · ${t.description}` : ''}` }, t.group ? t.task_id.slice(t.group.length + 1) : t.task_id),
      runs.map((r) => cell(r, t.task_id)));
    for (const t of dag.tasks) {
      if (!t.group) out.push(row(t));
      else if (!seen.has(t.group)) {
        seen.add(t.group);
        out.push(h('tr', { class: 'group', dataset: { group: t.group } }, h('th', { class: 'task group' }, t.group), h('td', { colspan: String(runs.length) })));
        for (const m of dag.tasks) if (m.group === t.group) out.push(row(m));
      }
    }
    return out;
  };
  const draw = () => {
    // Newest right: the API pages newest first.
    const runs = [...page.dag_runs].reverse();
    for (const r of runs) runsById.set(r.dag_run_id, r);
    replace(table,
      h('thead', {}, h('tr', {}, h('th', {}, ''), runs.map((r) => h('th', { class: 'run' },
        h('a', { href: runLink(r), class: `runbar s-${r.state}`, title: `${fmtDate(r.logical_date)} · ${r.run_type} · ${r.state}`, dataset: { run: r.dag_run_id, state: r.state } }))))),
      h('tbody', {}, rowsOf(runs)));
  };
  draw();

  const older = offset + PAGE < page.total_entries;
  const pager = h('div', { class: 'pager' },
    h('button', { type: 'button', disabled: !older, onclick: () => (location.hash = `#/dags/${encodeURIComponent(dagId)}/grid?offset=${offset + PAGE}`) }, '← older'),
    h('span', { class: 'muted', id: 'grid-range' }, `runs ${page.total_entries === 0 ? 0 : offset + 1}–${Math.min(offset + PAGE, page.total_entries)} of ${page.total_entries} (newest right)`),
    h('button', { type: 'button', disabled: offset === 0, onclick: () => (location.hash = `#/dags/${encodeURIComponent(dagId)}/grid?offset=${Math.max(0, offset - PAGE)}`) }, 'newer →'));

  const from = h('input', { name: 'start_date', placeholder: 'YYYY-MM-DD', size: 11 });
  const to = h('input', { name: 'end_date', placeholder: 'YYYY-MM-DD', size: 11 });
  const clearForm = h('form', { class: 'inline', id: 'clear-range' },
    h('label', {}, 'clear from', from), h('label', {}, 'to', to), h('button', { type: 'submit' }, 'Clear range'));
  clearForm.addEventListener('submit', async (e) => {
    e.preventDefault();
    const body = { include_downstream: true };
    if (from.value.trim()) body.start_date = from.value.trim();
    if (to.value.trim()) body.end_date = to.value.trim();
    const res = await ctx.action(`Clear every task of ${dagId} in runs ${body.start_date ?? 'from the first'} to ${body.end_date ?? 'the last'}?`,
      () => api.post(p`/dags/${dagId}/clearTaskInstances`, body), `cleared in ${dagId}`);
    if (res) ctx.flash(`cleared ${res.total_entries} task instance(s)`, true);
  });

  replace(main,
    h('h1', {}, 'DAG ', h('code', {}, dagId), ' · grid'),
    h('p', { class: 'muted description' }, dag.description ?? ''),
    h('div', { class: 'pager' }, triggerForm(dagId, ctx, () => refreshNewest()), clearForm),
    pager,
    h('div', { class: 'grid' }, table));
  // The moment the grid can be used: the console benchmark reads this mark.
  performance.mark('grid-interactive');

  // Only runs still queued or running are asked for again; the first page also watches for new runs.
  let newestTotal = page.total_entries;
  const refreshNewest = async () => {
    if (offset !== 0) return;
    page = await api.get(p`/dags/${dagId}/grid?limit=${PAGE}&offset=0`);
    newestTotal = page.total_entries;
    draw();
  };
  let stopped = false;
  let timer;
  const poll = async () => {
    try {
      const active = page.dag_runs.filter((r) => ACTIVE.has(r.state) || r.task_instances.some((t) => ACTIVE.has(t.state) || t.state === 'up_for_retry' || t.state === 'up_for_reschedule' || t.state === null));
      if (active.length > 0) {
        const fresh = await api.get(p`/dags/${dagId}/grid?dag_run_ids=${active.map((r) => r.dag_run_id).join(',')}`);
        const byId = new Map(fresh.dag_runs.map((r) => [r.dag_run_id, r]));
        page = { ...page, dag_runs: page.dag_runs.map((r) => byId.get(r.dag_run_id) ?? r) };
        draw();
      }
      if (offset === 0) {
        const head = await api.get(p`/dags/${dagId}/dagRuns?limit=1`);
        if (head.total_entries !== newestTotal) await refreshNewest();
      }
    } catch (err) {
      ctx.flash(`grid refresh failed: ${err.message}`);
    } finally {
      if (!stopped) timer = setTimeout(poll, POLL_MS);
    }
  };
  timer = setTimeout(poll, POLL_MS);
  return () => {
    stopped = true;
    clearTimeout(timer);
  };
}
