// The console's shell: the token, the hash router, and the flash line. Each page is a module in
// pages/ exporting render(main, params, ctx) and optionally returning a stop() for its timers.
import { api, ApiError, token } from './api.js';
import { h, replace } from './dom.js';

const main = document.getElementById('main');
const flashEl = document.getElementById('flash');
const modeEl = document.getElementById('mode');
let auth = { token_required: false, read_only: true };
let stopPage;

/** Shows one line: an error (red) or a confirmation (green). */
export function flash(message, ok = false) {
  flashEl.textContent = message;
  flashEl.className = ok ? 'ok' : '';
  flashEl.hidden = !message;
}

/** Runs an action after the user confirms it; shows its outcome. */
export async function action(question, fn, done) {
  if (!window.confirm(question)) return;
  try {
    const result = await fn();
    flash(done, true);
    return result;
  } catch (err) {
    flash(err instanceof ApiError ? `Refused: ${err.message}` : String(err));
    return undefined;
  }
}

const ROUTES = [
  [/^#\/dags\/([^/]+)\/runs\/([^/]+)\/tasks\/([^/]+)$/, 'task', ['dag', 'run', 'task']],
  [/^#\/dags\/([^/]+)\/runs\/([^/]+)$/, 'run', ['dag', 'run']],
  [/^#\/dags\/([^/]+)\/grid$/, 'grid', ['dag']],
  [/^#\/data$/, 'data', []],
  [/^#\/dags$/, 'dags', []],
];

function tokenForm(message) {
  const input = h('input', { type: 'password', name: 'token', autocomplete: 'off', 'aria-label': 'API token' });
  const form = h('form', { class: 'inline', id: 'token-form' },
    h('label', {}, 'API token (DRIVETRAIN_API_TOKEN)', input),
    h('button', { class: 'primary', type: 'submit' }, 'Use token'));
  form.addEventListener('submit', (e) => {
    e.preventDefault();
    token.set(input.value.trim());
    void route();
  });
  replace(main, h('h1', {}, 'Sign in'), message ? h('p', { class: 'error-box' }, message) : null,
    h('p', { class: 'muted' }, 'This console needs the API token; it is kept in this tab only.'), form);
  input.focus();
}

async function route() {
  stopPage?.();
  stopPage = undefined;
  const hash = location.hash || '#/dags';
  if (auth.token_required && !token.get()) return tokenForm();
  for (const [re, page, names] of ROUTES) {
    const m = re.exec(hash.split('?')[0]);
    if (!m) continue;
    const params = Object.fromEntries(names.map((n, i) => [n, decodeURIComponent(m[i + 1])]));
    const query = new URLSearchParams(hash.split('?')[1] ?? '');
    const mod = await import(`./pages/${page}.js`);
    try {
      stopPage = await mod.render(main, params, { query, readOnly: auth.read_only, action, flash });
    } catch (err) {
      if (err instanceof ApiError && err.status === 401) {
        token.set(null);
        return tokenForm(err.detail);
      }
      replace(main, h('div', { class: 'error-box' }, String(err.message ?? err)));
    }
    return;
  }
  location.hash = '#/dags';
}

async function start() {
  auth = await api.get('/auth');
  modeEl.textContent = auth.read_only ? 'read-only: no API token is configured, actions are refused' : '';
  window.addEventListener('hashchange', () => {
    flash('');
    void route();
  });
  await route();
}

void start();
