// The one way the pages talk to the server: JSON over /api/v1 with the token of this tab.
const TOKEN_KEY = 'drivetrain.token';

export class ApiError extends Error {
  constructor(status, title, detail) {
    super(`${status} ${title}: ${detail}`);
    this.name = 'ApiError';
    this.status = status;
    this.title = title;
    this.detail = detail;
  }
}

// The cookie only lets a reload of the page itself through (the server answers the page 401 without
// it); the API never reads it, so it cannot carry a forged change.
const TOKEN_COOKIE = 'drivetrain_token';

export const token = {
  get: () => sessionStorage.getItem(TOKEN_KEY),
  set: (t) => {
    if (t) {
      sessionStorage.setItem(TOKEN_KEY, t);
      document.cookie = `${TOKEN_COOKIE}=${encodeURIComponent(t)}; Path=/; SameSite=Strict`;
    } else {
      sessionStorage.removeItem(TOKEN_KEY);
      document.cookie = `${TOKEN_COOKIE}=; Path=/; SameSite=Strict; Max-Age=0`;
    }
  },
};

async function request(method, path, body, { raw = false } = {}) {
  const headers = {};
  const t = token.get();
  if (t) headers.authorization = `Bearer ${t}`;
  if (body !== undefined) headers['content-type'] = 'application/json';
  const res = await fetch(`/api/v1${path}`, { method, headers, body: body === undefined ? undefined : JSON.stringify(body) });
  if (!res.ok) {
    let p = { status: res.status, title: res.statusText, detail: '' };
    try {
      p = await res.json();
    } catch {
      // Not a problem document: keep the status line.
    }
    throw new ApiError(p.status ?? res.status, p.title ?? res.statusText, p.detail ?? '');
  }
  return raw ? res : res.json();
}

export const api = {
  get: (path) => request('GET', path),
  raw: (path) => request('GET', path, undefined, { raw: true }),
  post: (path, body) => request('POST', path, body),
  patch: (path, body) => request('PATCH', path, body),
};

/** `/dags/a b/dagRuns` with each id encoded. */
export function p(strings, ...ids) {
  return strings.reduce((out, s, i) => out + s + (i < ids.length ? encodeURIComponent(ids[i]) : ''), '');
}
