/**
 * The settings' documentation, generated from the declarations: the README's settings table and
 * settings.toml's `[default]` section. `npm run docs:settings` writes them between their markers; a
 * test fails when either differs from what the declarations generate.
 */
import { COMPILED, isDeclaration, snakeCase } from './compiled.js';
import { BOOTSTRAP, SETTINGS, type Declaration, type DeclarationTree } from './declarations.js';
import type { GeneratedRegion } from './interfaces.js';
import { MissingMarkersError } from './MissingMarkersError.js';

export const README_REGION: GeneratedRegion = { start: '<!-- settings:start -->', end: '<!-- settings:end -->' };
export const TOML_REGION: GeneratedRegion = { start: '# settings:start', end: '# settings:end' };

const cell = (markdown: string): string => markdown.replaceAll('|', '\\|');

function defaultCell(d: Declaration): string {
  const value = d.default === undefined ? 'unset' : `\`${String(d.default)}\``;
  return d.imageDefault === undefined ? value : `${value} (\`${d.imageDefault}\` in the image)`;
}

/** The README's table: the variables that choose the file, then every setting in declaration order. */
export function settingsTable(): string {
  const rows = [
    ...Object.values(BOOTSTRAP).map((b) => [`\`${b.env}\``, b.defaultText, b.doc]),
    ...COMPILED.map(({ declaration: d }) => [`\`${d.env}\``, defaultCell(d), d.doc]),
  ];
  return [
    '<!-- generated from scheduler/settings/declarations.ts by `npm run docs:settings`: edit there -->',
    '| variable | default | meaning |',
    '|---|---|---|',
    ...rows.map((r) => `| ${r.map(cell).join(' | ')} |`),
  ].join('\n');
}


/** One TOML table: its own keys first (TOML needs them before any sub-table), then its sub-tables. */
function tomlTable(header: string, tree: DeclarationTree): string[] {
  const entries = Object.entries(tree);
  const lines = [`[${header}]`];
  for (const [name, node] of entries) {
    if (!isDeclaration(node) || node.envOnly || node.default === undefined) continue;
    const assignment = `${snakeCase(name)} = ${JSON.stringify(node.default)}`;
    lines.push(`${assignment.padEnd(36)} # ${node.env}: ${node.doc}`);
  }
  for (const [name, node] of entries) {
    if (!isDeclaration(node)) lines.push('', ...tomlTable(`${header}.${snakeCase(name)}`, node));
  }
  return lines;
}

/** settings.toml's `[default]` section: every file key with its default, variable and doc. */
export function settingsTomlDefaults(): string {
  return ['# Generated from scheduler/settings/declarations.ts by `npm run docs:settings`: edit there.', ...tomlTable('default', SETTINGS)].join('\n');
}

/** `text` with the lines between the region's markers replaced by `content`. */
export function replaceRegion(text: string, file: string, region: GeneratedRegion, content: string): string {
  const lines = text.split('\n');
  const start = lines.indexOf(region.start);
  const end = lines.indexOf(region.end, start + 1);
  if (start < 0 || end < 0) throw new MissingMarkersError(file, region);
  return [...lines.slice(0, start + 1), content, ...lines.slice(end)].join('\n');
}

/** The lines between the region's markers. */
export function readRegion(text: string, file: string, region: GeneratedRegion): string {
  const lines = text.split('\n');
  const start = lines.indexOf(region.start);
  const end = lines.indexOf(region.end, start + 1);
  if (start < 0 || end < 0) throw new MissingMarkersError(file, region);
  return lines.slice(start + 1, end).join('\n');
}
