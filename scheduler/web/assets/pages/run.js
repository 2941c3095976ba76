// A run: its task instances as a Gantt chart over the run's time span, each bar linking to its log. A mapped
// instance is its own row, `task [label]`, linking to the task page with its map index.
import { api, p } from '../api.js';
import { fmtDate, fmtDuration, h, replace } from '../dom.js';

export async function render(main, params) {
  const { dag: dagId, run: runId } = params;
  const [run, tis] = await Promise.all([api.get(p`/dags/${dagId}/dagRuns/${runId}`), api.get(p`/dags/${dagId}/dagRuns/${runId}/taskInstances`)]);
  const times = tis.task_instances.flatMap((t) => [t.start_date, t.end_date]).filter(Boolean).map((d) => Date.parse(d));
  const t0 = Math.min(...times);
  const t1 = Math.max(...times, t0 + 1);
  const rows = tis.task_instances.map((t) => {
    const mapped = t.map_index >= 0;
    const name = mapped ? `${t.task_id} [${t.rendered_map_index ?? t.map_index}]` : t.task_id;
    const link = `#/dags/${encodeURIComponent(dagId)}/runs/${encodeURIComponent(runId)}/tasks/${encodeURIComponent(t.task_id)}${mapped ? `?map_index=${t.map_index}` : ''}`;
    const track = h('div', { class: 'track' });
    if (t.start_date) {
      const s = Date.parse(t.start_date);
      const e = t.end_date ? Date.parse(t.end_date) : t1;
      const bar = h('a', { class: `bar s-${t.state ?? 'none'}`, href: link,
        title: `${name} · ${t.state} · ${fmtDate(t.start_date)} → ${fmtDate(t.end_date)} · ${fmtDuration(t.duration)}`, dataset: { task: t.task_id, mapIndex: t.map_index } });
      // CSSOM, not a style attribute: the Content-Security-Policy allows only stylesheets.
      bar.style.left = `${((s - t0) / (t1 - t0)) * 100}%`;
      bar.style.width = `${Math.max(((e - s) / (t1 - t0)) * 100, 0.3)}%`;
      track.append(bar);
    }
    return h('div', { class: 'row', dataset: { task: t.task_id, mapIndex: t.map_index } },
      h('div', { class: 'label', title: name },
        mapped ? h('a', { href: link }, t.task_id, ' ', h('span', { class: 'map-label' }, `[${t.rendered_map_index ?? t.map_index}]`)) : t.task_id,
        ' ', h('span', { class: 'muted' }, t.state ?? 'none')),
      track);
  });
  replace(main,
    h('p', {}, h('a', { href: `#/dags/${encodeURIComponent(dagId)}/grid` }, dagId)),
    h('h1', {}, 'Run ', h('code', {}, runId)),
    h('p', {}, `${run.run_type} · ${run.state} · interval ${fmtDate(run.data_interval_start)} → ${fmtDate(run.data_interval_end)} · conf `, h('code', {}, JSON.stringify(run.conf))),
    h('h2', {}, 'Gantt'),
    times.length > 0 ? h('div', { class: 'gantt', id: 'gantt' }, rows) : h('p', { class: 'muted' }, 'no task instance has started yet'));
}
