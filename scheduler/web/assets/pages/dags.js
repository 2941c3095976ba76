// The DAGs page: import errors on top, then each DAG with its schedule, pause toggle, next run, last
// 25 runs as squares, and a trigger form.
import { api, p } from '../api.js';
import { fmtDate, h, replace, square } from '../dom.js';
import { triggerForm } from './trigger.js';

export async function render(main, _params, ctx) {
  const body = await api.get('/dags?limit=1000');
  const recent = await Promise.all(body.dags.map((d) => api.get(p`/dags/${d.dag_id}/dagRuns?limit=25`)));
  const rows = body.dags.map((d, i) => {
    const toggle = h('input', { type: 'checkbox', 'aria-label': `pause ${d.dag_id}`, class: 'pause-toggle', dataset: { dag: d.dag_id } });
    toggle.checked = d.is_paused;
    toggle.addEventListener('change', async () => {
      const want = toggle.checked;
      toggle.checked = !want;
      const updated = await ctx.action(`${want ? 'Pause' : 'Unpause'} DAG ${d.dag_id}?`, () => api.patch(p`/dags/${d.dag_id}`, { is_paused: want }), `DAG ${d.dag_id} ${want ? 'paused' : 'unpaused'}`);
      if (updated) toggle.checked = updated.is_paused;
    });
    const runs = [...recent[i].dag_runs].reverse();
    return h('tr', { dataset: { dag: d.dag_id } },
      h('td', {}, h('a', { href: `#/dags/${encodeURIComponent(d.dag_id)}/grid` }, d.dag_id), h('div', { class: 'muted description' }, d.description ?? '')),
      h('td', {}, d.schedule ?? 'None'),
      h('td', {}, h('label', {}, toggle, ' paused')),
      h('td', {}, fmtDate(d.next_dagrun)),
      h('td', {}, h('div', { class: 'squares recent' }, runs.map((r) =>
        square(r.state, { href: `#/dags/${encodeURIComponent(d.dag_id)}/runs/${encodeURIComponent(r.dag_run_id)}`, title: `${fmtDate(r.logical_date)} ${r.state}` })))),
      h('td', {}, triggerForm(d.dag_id, ctx, () => void render(main, _params, ctx))),
      h('td', { class: 'muted' }, d.file ?? ''));
  });
  replace(main,
    body.import_errors.length > 0
      ? h('div', { class: 'error-box', id: 'import-errors' }, h('strong', {}, `${body.import_errors.length} DAG file(s) failed to import`),
          body.import_errors.map((e) => h('div', {}, h('code', {}, e.file), h('pre', {}, e.error))))
      : null,
    h('h1', {}, 'DAGs'),
    h('table', { id: 'dags' },
      h('thead', {}, h('tr', {}, ['DAG', 'schedule', 'paused', 'next run', 'last 25 runs', 'trigger', 'file'].map((t) => h('th', {}, t)))),
      h('tbody', {}, rows)));
}
