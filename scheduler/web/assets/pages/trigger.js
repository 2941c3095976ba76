// The trigger form: an optional logical date and conf JSON, confirmed before it is sent.
import { api, p } from '../api.js';
import { h } from '../dom.js';

export function triggerForm(dagId, ctx, onDone) {
  const date = h('input', { name: 'logical_date', placeholder: 'YYYY-MM-DD (default: now)', size: 22 });
  const conf = h('textarea', { name: 'conf', rows: 1, cols: 18, placeholder: '{"key": "value"}' });
  const form = h('form', { class: 'inline trigger', dataset: { dag: dagId } },
    h('label', {}, 'logical date', date),
    h('label', {}, 'conf (JSON)', conf),
    h('button', { type: 'submit' }, 'Trigger'));
  form.addEventListener('submit', async (e) => {
    e.preventDefault();
    const body = {};
    if (date.value.trim()) body.logical_date = date.value.trim();
    if (conf.value.trim()) {
      try {
        body.conf = JSON.parse(conf.value);
      } catch (err) {
        ctx.flash(`conf is not JSON: ${err.message}`);
        return;
      }
    }
    const run = await ctx.action(`Trigger a run of ${dagId}${body.logical_date ? ` for ${body.logical_date}` : ''}?`, () => api.post(p`/dags/${dagId}/dagRuns`, body), `run created for ${dagId}`);
    if (run) {
      ctx.flash(`run ${run.dag_run_id} created (${run.state})`, true);
      onDone?.(run);
    }
  });
  return form;
}
