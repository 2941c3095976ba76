// A task instance: its state, tries, timings, result and error, a clear action, and the log of each attempt.
// A mapped task's page (map index -1: its expansion) also lists its mapped instances; `?map_index=N`
// shows mapped instance N instead, and `&attempt=K` opens that attempt's log. The log view shows the last 64 KB first, loads earlier parts on demand, and tails the file by byte
// offset while the attempt runs, so a 100 MB log never reaches the browser whole.
import { api, p } from '../api.js';
import { fmtDate, fmtDuration, h, replace, square } from '../dom.js';

const TAIL_BYTES = 64 * 1024;
const TAIL_MS = 1000;
const ACTIVE = new Set(['queued', 'running', 'up_for_retry', 'up_for_reschedule', null]);

export async function render(main, params, ctx) {
  const { dag: dagId, run: runId, task: taskId } = params;
  const rawIndex = ctx.query.get('map_index') ?? '-1';
  if (!/^(-1|\d+)$/.test(rawIndex)) throw new Error(`map_index must be -1 or a whole number from 0, not '${rawIndex}'`);
  const mapIndex = Number(rawIndex);
  const base = p`/dags/${dagId}/dagRuns/${runId}/taskInstances/${taskId}`;
  const self = mapIndex < 0 ? base : `${base}/${mapIndex}`;
  const taskLink = `#/dags/${encodeURIComponent(dagId)}/runs/${encodeURIComponent(runId)}/tasks/${encodeURIComponent(taskId)}`;
  const [first, dag] = await Promise.all([api.get(self), api.get(p`/dags/${dagId}`)]);
  let ti = first;
  // Only a mapped task has mapped instances to list (listMapped is a 404 for any other, as Airflow's).
  const isMapped = dag.tasks.some((t) => t.task_id === taskId && t.is_mapped);
  const NONE = { task_instances: [], total_entries: 0 };
  const listMapped = () => (isMapped ? api.get(`${base}/listMapped?limit=1000`) : Promise.resolve(NONE));
  let mapped = await listMapped();
  const details = h('table', { id: 'ti-details' });
  const drawDetails = () => replace(details, h('tbody', {},
    [['state', ti.state ?? 'none (waiting for upstream)'], ['try', `${ti.try_number} of ${ti.max_tries + 1}`], ['started', fmtDate(ti.start_date)],
      ['ended', fmtDate(ti.end_date)], ['duration', fmtDuration(ti.duration)], ['host', ti.hostname ?? ''], ['next retry', fmtDate(ti.next_retry_date)]]
      .map(([k, v]) => h('tr', {}, h('th', {}, k), h('td', { dataset: { field: k } }, v))),
    ti.result !== null && ti.result !== undefined ? h('tr', {}, h('th', {}, 'result'), h('td', {}, h('pre', { id: 'ti-result' }, JSON.stringify(ti.result, null, 2)))) : null,
    ti.error ? h('tr', {}, h('th', {}, 'error'), h('td', {}, h('pre', { class: 'error', id: 'ti-error' }, ti.error))) : null));
  drawDetails();

  // The mapped instances, each with its label, state, tries and a link to each attempt's log.
  const mappedEl = h('div', { id: 'mapped' });
  const drawMapped = () => replace(mappedEl, mapped.total_entries === 0 ? null : [
    h('h2', {}, `Mapped instances (${mapped.total_entries})`),
    h('table', { id: 'mapped-instances' },
      h('thead', {}, h('tr', {}, ['index', 'label', 'state', 'tries', 'logs'].map((c) => h('th', {}, c)))),
      h('tbody', {}, mapped.task_instances.map((m) => h('tr', { class: m.map_index === mapIndex ? 'chosen' : null, dataset: { mapIndex: m.map_index, state: m.state ?? 'none' } },
        h('td', {}, h('a', { href: `${taskLink}?map_index=${m.map_index}` }, String(m.map_index))),
        h('td', { class: 'label' }, m.rendered_map_index ?? ''),
        h('td', { class: 'state' }, square(m.state), m.state ?? 'none'),
        h('td', {}, `${m.try_number} of ${m.max_tries + 1}`),
        h('td', {}, m.try_number === 0 ? h('span', { class: 'muted' }, 'no attempt yet') : Array.from({ length: m.try_number }, (_, i) =>
          [i > 0 ? ' ' : null, h('a', { href: `${taskLink}?map_index=${m.map_index}&attempt=${i + 1}`, dataset: { attempt: i + 1 } }, `attempt ${i + 1}`)])))))),
    mapped.total_entries > mapped.task_instances.length ? h('p', { class: 'muted' }, `the first ${mapped.task_instances.length} shown`) : null,
  ]);
  drawMapped();

  const clearBtn = h('button', { type: 'button', id: 'clear-task' }, 'Clear this task and downstream');
  clearBtn.addEventListener('click', async () => {
    const day = (await api.get(p`/dags/${dagId}/dagRuns/${runId}`)).logical_date;
    const res = await ctx.action(`Clear ${taskId} and its downstream in run ${runId}?`,
      () => api.post(p`/dags/${dagId}/clearTaskInstances`, { start_date: day, end_date: day, task_ids: [taskId], include_downstream: true }), 'cleared');
    if (res) ctx.flash(`cleared ${res.total_entries} task instance(s)`, true);
  });

  const tabs = h('div', { class: 'tabs', role: 'tablist' });
  const earlier = h('button', { type: 'button', id: 'log-earlier', hidden: true }, 'Load earlier');
  const logEl = h('pre', { class: 'log', id: 'log' });
  const status = h('span', { class: 'muted', id: 'log-status' });
  const asked = Number.parseInt(ctx.query.get('attempt') ?? '', 10);
  let attempt = asked >= 1 && asked <= ti.try_number ? asked : Math.max(ti.try_number, 1);
  let start = 0;
  let next = 0;
  let generation = 0;

  const readChunk = async (query) => {
    const res = await api.raw(`${base}/logs/${attempt}?map_index=${mapIndex}&${query}`);
    return { text: await res.text(), start: Number(res.headers.get('x-log-start')), next: Number(res.headers.get('x-next-offset')), size: Number(res.headers.get('x-log-size')) };
  };
  const showEarlier = () => {
    earlier.hidden = start === 0;
    earlier.textContent = `Load earlier (${Math.ceil(start / 1024)} KB before this)`;
  };
  const openAttempt = async (n) => {
    attempt = n;
    generation += 1;
    for (const b of tabs.children) b.setAttribute('aria-pressed', String(Number(b.dataset.attempt) === n));
    logEl.replaceChildren();
    const c = await readChunk(`tail=${TAIL_BYTES}`);
    start = c.start;
    next = c.next;
    logEl.append(document.createTextNode(c.text));
    showEarlier();
    logEl.scrollTop = logEl.scrollHeight;
  };
  earlier.addEventListener('click', async () => {
    const from = Math.max(0, start - TAIL_BYTES);
    const c = await readChunk(`offset=${from}&limit=${start - from}`);
    start = c.start;
    logEl.prepend(document.createTextNode(c.text));
    showEarlier();
  });
  const drawTabs = () => replace(tabs, Array.from({ length: Math.max(ti.try_number, 1) }, (_, i) => {
    const b = h('button', { type: 'button', dataset: { attempt: i + 1 }, 'aria-pressed': String(i + 1 === attempt) }, `attempt ${i + 1}`);
    b.addEventListener('click', () => void openAttempt(i + 1));
    return b;
  }));
  drawTabs();

  replace(main,
    h('p', {}, h('a', { href: `#/dags/${encodeURIComponent(dagId)}/grid` }, dagId), ' / ', h('a', { href: `#/dags/${encodeURIComponent(dagId)}/runs/${encodeURIComponent(runId)}` }, runId),
      mapIndex >= 0 ? [' / ', h('a', { href: taskLink }, taskId)] : null),
    h('h1', {}, 'Task ', h('code', {}, taskId),
      mapIndex >= 0 ? [' ', h('span', { id: 'map-label' }, `[${ti.rendered_map_index ?? mapIndex}]`), h('span', { class: 'muted' }, ` · mapped instance ${mapIndex}`)] : null),
    details, h('p', {}, clearBtn), mappedEl,
    h('h2', {}, 'Log'), tabs, h('p', {}, earlier, ' ', status), logEl);
  if (ti.try_number > 0) await openAttempt(attempt);
  else status.textContent = 'no attempt yet';

  // Live tail: while the instance is active, append what the attempt wrote since the last read.
  let stopped = false;
  let timer;
  const tail = async () => {
    const gen = generation;
    try {
      const wasActive = ACTIVE.has(ti.state);
      ti = await api.get(self);
      drawDetails();
      // The list changes while the expansion runs or any mapped instance is still active.
      if (wasActive || ACTIVE.has(ti.state) || mapped.task_instances.some((m) => ACTIVE.has(m.state))) {
        mapped = await listMapped();
        drawMapped();
      }
      if (ti.try_number > tabs.children.length) {
        drawTabs();
        await openAttempt(ti.try_number);
      } else if (ti.try_number > 0 && attempt === ti.try_number && (wasActive || ACTIVE.has(ti.state))) {
        if (tabs.children.length > 0 && logEl.childNodes.length === 0 && next === 0) await openAttempt(attempt);
        const c = await readChunk(`offset=${next}`);
        if (gen === generation && c.text) {
          const atBottom = logEl.scrollTop + logEl.clientHeight >= logEl.scrollHeight - 4;
          logEl.append(document.createTextNode(c.text));
          next = c.next;
          if (atBottom) logEl.scrollTop = logEl.scrollHeight;
        }
      }
      status.textContent = ACTIVE.has(ti.state) ? 'live: following the attempt as it writes' : '';
    } catch (err) {
      ctx.flash(`log refresh failed: ${err.message}`);
    } finally {
      if (!stopped) timer = setTimeout(tail, TAIL_MS);
    }
  };
  timer = setTimeout(tail, TAIL_MS);
  return () => {
    stopped = true;
    clearTimeout(timer);
  };
}
