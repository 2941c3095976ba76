// Builds elements from data without ever parsing it as HTML: text goes in as text nodes, attributes
// through setAttribute (never `style` or `on*`), so a value holding <script> shows as those characters.

/** h('a', { href: '#/x', class: 'c' }, 'text', child, ...) */
export function h(tag, attrs = {}, ...children) {
  const el = document.createElement(tag);
  for (const [k, v] of Object.entries(attrs ?? {})) {
    if (v === undefined || v === null || v === false) continue;
    if (k.startsWith('on') && typeof v === 'function') el.addEventListener(k.slice(2), v);
    else if (k === 'dataset') Object.assign(el.dataset, v);
    else el.setAttribute(k, v === true ? '' : String(v));
  }
  append(el, children);
  return el;
}

/** Appends children: nodes as they are, anything else as text. */
export function append(el, children) {
  for (const c of children.flat(Infinity)) {
    if (c === undefined || c === null || c === false) continue;
    el.append(c instanceof Node ? c : document.createTextNode(String(c)));
  }
  return el;
}

/** Replaces an element's content. */
export function replace(el, ...children) {
  el.replaceChildren();
  return append(el, children);
}

/** `2024-01-03T00:00:00.000Z` -> `2024-01-03 00:00`; null -> ''. */
export function fmtDate(iso) {
  if (!iso) return '';
  return iso.replace('T', ' ').replace(/:\d\d(\.\d+)?Z$/, '').replace(/\+00:00$/, '');
}

/** Seconds as `1.2 s`, `3 min 4 s`. */
export function fmtDuration(s) {
  if (s === null || s === undefined) return '';
  if (s < 60) return `${s.toFixed(s < 10 ? 2 : 1)} s`;
  const m = Math.floor(s / 60);
  return m < 60 ? `${m} min ${Math.round(s % 60)} s` : `${Math.floor(m / 60)} h ${m % 60} min`;
}

/** A state square. */
export function square(state, attrs = {}) {
  return h(attrs.href ? 'a' : 'span', { ...attrs, class: `sq s-${state ?? 'none'} ${attrs.class ?? ''}`.trim() });
}
