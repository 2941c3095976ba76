/** Plain-text tables for the CLI: left-aligned columns, a header and a rule, no colours. */

/** Renders rows (objects with the same keys) under `columns`; empty rows print `(none)`. */
export function renderTable(columns: readonly string[], rows: readonly Readonly<Record<string, unknown>>[]): string {
  if (rows.length === 0) return '(none)\n';
  const cells = rows.map((r) => columns.map((c) => (r[c] === null || r[c] === undefined ? '-' : String(r[c]))));
  const widths = columns.map((c, i) => Math.max(c.length, ...cells.map((row) => row[i].length)));
  const line = (vals: readonly string[]): string => vals.map((v, i) => v.padEnd(widths[i])).join('  ').trimEnd();
  return [line(columns), line(widths.map((w) => '-'.repeat(w))), ...cells.map(line)].join('\n') + '\n';
}
