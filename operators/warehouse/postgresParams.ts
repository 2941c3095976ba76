/**
 * The warehouse interface's parameters (`?` positional, or `$name` keyed by `$name`) as PostgreSQL
 * takes them: `$1, $2, ...` and an array. A name used twice is one `$n`. String literals, quoted
 * identifiers and comments are left alone, so a `?` or `$x` inside them is text, not a parameter.
 */
import type { Params } from './interfaces.js';
import { WarehouseParameterError } from './WarehouseParameterError.js';

/** Literals, quoted identifiers and comments (kept verbatim), or a run of anything else. */
const PIECES = /('(?:[^']|'')*'|"(?:[^"]|"")*"|--[^\n]*|\/\*[\s\S]*?\*\/)/;

/** `sql` with `$n` placeholders, and the values in their order. */
export function toPositional(sql: string, params: Params | undefined): { text: string; values: unknown[] } {
  if (params === undefined) return { text: sql, values: [] };
  const pieces = sql.split(PIECES);
  if (Array.isArray(params)) {
    let n = 0;
    const text = pieces.map((p, i) => (i % 2 === 1 ? p : p.replace(/\?/g, () => `$${++n}`))).join('');
    return { text, values: [...params] };
  }
  const named = params as Readonly<Record<string, unknown>>;
  const order = new Map<string, number>();
  const text = pieces
    .map((p, i) =>
      i % 2 === 1
        ? p
        : p.replace(/\$([A-Za-z_][A-Za-z0-9_]*)/g, (m) => {
            if (!(m in named)) throw new WarehouseParameterError(m, sql);
            let k = order.get(m);
            if (k === undefined) order.set(m, (k = order.size + 1));
            return `$${k}`;
          }),
    )
    .join('');
  return { text, values: [...order.keys()].map((k) => named[k]) };
}
