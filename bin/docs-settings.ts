/**
 * `npm run docs:settings`: rewrites the generated parts of README.md (the settings table) and
 * settings.toml (its `[default]` section) from scheduler/settings/declarations.ts, between their
 * markers. The settings test fails until this has been run after a declaration changed.
 */
import { readFileSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { README_REGION, TOML_REGION, replaceRegion, settingsTable, settingsTomlDefaults } from '../scheduler/settings/docs.js';
import type { GeneratedRegion } from '../scheduler/settings/interfaces.js';

const REPO = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..');

function rewrite(name: string, region: GeneratedRegion, content: string): void {
  const file = path.join(REPO, name);
  const before = readFileSync(file, 'utf8');
  const after = replaceRegion(before, name, region, content);
  if (after === before) {
    process.stdout.write(`${name}: up to date\n`);
    return;
  }
  writeFileSync(file, after);
  process.stdout.write(`${name}: rewritten\n`);
}

try {
  rewrite('README.md', README_REGION, settingsTable());
  rewrite('settings.toml', TOML_REGION, settingsTomlDefaults());
} catch (err) {
  process.stderr.write(`docs:settings: ${(err as Error).message}\n`);
  process.exitCode = 2;
}
