// The data page: each declared chart drawn from its marts with uPlot (served from the package), the
// marts' freshness, rejects per load with their reasons, and data-test results per run.
import uPlot from '/assets/vendor/uplot/uPlot.esm.js';
import { api, p } from '../api.js';
import { fmtDate, h, replace } from '../dom.js';

const COLORS = ['#2563eb', '#dc2626', '#16a34a', '#f59e0b', '#7c3aed', '#0891b2', '#db2777', '#65a30d', '#9a3412', '#475569'];

/** A layer's series: [{label, points: Map(x -> y), zero}]. */
function seriesOf(layer, rows) {
  const zero = layer.missingAsZero === true;
  if (!layer.series) return [{ label: layer.label ?? layer.y, zero, points: new Map(rows.map((r) => [r[layer.x], Number(r[layer.y])])) }];
  const groups = new Map();
  for (const r of rows) {
    const k = String(r[layer.series]);
    if (!groups.has(k)) groups.set(k, new Map());
    groups.get(k).set(r[layer.x], (groups.get(k).get(r[layer.x]) ?? 0) + Number(r[layer.y]));
  }
  let out = [...groups].map(([label, points]) => ({ label, points, zero, total: [...points.values()].reduce((a, b) => a + b, 0) }));
  if (layer.top) out = out.sort((a, b) => b.total - a.total).slice(0, layer.top);
  return out.sort((a, b) => a.label.localeCompare(b.label));
}

/** Every YYYY-MM-DD from `a` to `b`. */
function everyDay(a, b) {
  const out = [];
  for (let t = Date.parse(`${a}T00:00:00Z`), end = Date.parse(`${b}T00:00:00Z`); t <= end; t += 86400000) out.push(new Date(t).toISOString().slice(0, 10));
  return out;
}

function drawChart(el, chart, rowsByTable) {
  const series = chart.layers.flatMap((l) => seriesOf(l, rowsByTable.get(l.table) ?? []));
  const bars = chart.kind === 'bars';
  let xs = [...new Set(series.flatMap((s) => [...s.points.keys()]))].sort();
  // Marts keep only days with a count: every day between the first and the last is on the axis.
  if (!bars && series.some((s) => s.zero) && xs.length > 1) xs = everyDay(xs[0], xs[xs.length - 1]);
  const width = Math.max(el.clientWidth - 16, 320);
  if (xs.length === 0) {
    el.append(h('p', { class: 'muted' }, 'no rows yet'));
    return;
  }
  const x = bars ? xs.map((_, i) => i) : xs.map((d) => Date.parse(`${String(d).slice(0, 10)}T00:00:00Z`) / 1000);
  const data = [x, ...series.map((s) => xs.map((k) => s.points.get(k) ?? (s.zero ? 0 : null)))];
  const opts = {
    width,
    height: 260,
    tzDate: (ts) => uPlot.tzDate(new Date(ts * 1000), 'Etc/UTC'),
    scales: { x: { time: !bars } },
    axes: [bars ? { values: (_u, ticks) => ticks.map((t) => (Number.isInteger(t) ? String(xs[t] ?? '') : '')) } : {}, {}],
    series: [
      { label: chart.layers[0].x, value: bars ? (_u, v) => (v === null ? '' : String(xs[v] ?? '')) : undefined },
      ...series.map((s, i) => ({
        label: s.label,
        stroke: COLORS[i % COLORS.length],
        fill: bars ? COLORS[i % COLORS.length] : undefined,
        width: bars ? 0 : 1.5,
        spanGaps: !bars,
        // Two bars per category side by side: the first left of its x, the second right of it.
        paths: bars ? uPlot.paths.bars({ size: [0.35, 80], align: series.length === 2 ? (i === 0 ? -1 : 1) : 0 }) : undefined,
        points: { show: false },
      })),
    ],
  };
  if (bars) opts.scales.x.range = () => [-0.6, xs.length - 0.4];
  new uPlot(opts, data, el);
}

export async function render(main) {
  const [dash, marts] = await Promise.all([api.get('/dashboards'), api.get('/marts')]);
  const charts = h('div', { class: 'charts' });
  const freshness = h('table', { id: 'freshness' },
    h('thead', {}, h('tr', {}, ['mart', 'latest partition', 'written at', 'written by'].map((t) => h('th', {}, t)))),
    h('tbody', {}, marts.marts.map((m) => h('tr', { dataset: { table: m.table } },
      h('td', {}, h('code', {}, m.table)), h('td', {}, fmtDate(m.latest_partition) || 'never'), h('td', {}, fmtDate(m.written_at)), h('td', { class: 'muted' }, `${m.dag_id}.${m.task_id}`)))));
  const rejects = h('div', { id: 'rejects' }, h('p', { class: 'muted' }, 'Loading…'));
  const tests = h('div', { id: 'data-tests' }, h('p', { class: 'muted' }, 'Loading…'));
  replace(main, h('h1', {}, 'Data'), h('h2', {}, 'Charts'), charts, h('h2', {}, 'Mart freshness'), freshness,
    h('h2', {}, 'Rejected rows per load'), rejects, h('h2', {}, 'Data tests per run'), tests);

  const tables = [...new Set(dash.charts.flatMap((c) => c.layers.map((l) => l.table)))];
  const rows = await Promise.all(tables.map((t) => api.get(p`/marts/${t}?limit=100000`)));
  const rowsByTable = new Map(tables.map((t, i) => [t, rows[i].rows]));
  for (const c of dash.charts) {
    const box = h('div', { class: 'chart', dataset: { chart: c.id } }, h('h3', {}, c.title));
    charts.append(box);
    drawChart(box, c, rowsByTable);
  }

  const [rj, dt] = await Promise.all([api.get('/dataQuality/rejects').catch((e) => e), api.get('/dataQuality/tests').catch((e) => e)]);
  replace(rejects, rj instanceof Error ? h('p', { class: 'muted' }, rj.message) : rj.rejects.length === 0 ? h('p', { class: 'muted' }, 'no rejected rows')
    : h('table', {}, h('thead', {}, h('tr', {}, ['load', 'date', 'reason', 'rows'].map((t) => h('th', {}, t)))),
      h('tbody', {}, rj.rejects.map((r) => h('tr', {}, h('td', {}, r.load), h('td', {}, r.date), h('td', {}, r.reason), h('td', {}, String(r.count)))))));
  replace(tests, dt instanceof Error ? h('p', { class: 'muted' }, dt.message) : dt.results.length === 0 ? h('p', { class: 'muted' }, 'no data-test run yet')
    : h('table', {}, h('thead', {}, h('tr', {}, ['test task', 'run', 'state', 'finished', 'error'].map((t) => h('th', {}, t)))),
      h('tbody', {}, dt.results.map((r) => h('tr', { dataset: { state: r.state ?? 'none' } },
        h('td', {}, `${r.dag_id}.${r.task_id}`),
        h('td', {}, h('a', { href: `#/dags/${encodeURIComponent(r.dag_id)}/runs/${encodeURIComponent(r.dag_run_id)}/tasks/${encodeURIComponent(r.task_id)}` }, fmtDate(r.logical_date))),
        h('td', {}, h('span', { class: `sq s-${r.state ?? 'none'}` }), ' ', r.state ?? 'none'), h('td', {}, fmtDate(r.end_date)), h('td', {}, r.error ? h('pre', { class: 'error' }, r.error) : ''))))));
}
