/**
 * The command Stryker's command runner starts for each mutant (bin/mutation.ts), in the sandbox: it
 * runs only the test files of the group whose module holds the active mutant, found by its id in the
 * instrumented sources; with no active mutant (Stryker's first, dry run) every group's test files.
 * Plain JavaScript, so a mutant does not pay for a second TypeScript loader.
 */
import { spawn } from 'node:child_process';
import { readFileSync } from 'node:fs';
import { createRequire } from 'node:module';

const groupsFile = process.env.DRIVETRAIN_MUTATION_GROUPS ?? 'bin/mutation-groups.json';
const only = process.env.DRIVETRAIN_MUTATION_ONLY?.split(',');
const groups = JSON.parse(readFileSync(groupsFile, 'utf8')).groups.filter((g) => !only || only.includes(g.name));
const active = process.env.__STRYKER_ACTIVE_MUTANT__;

/** The group whose mutated file holds mutant `id`: Stryker's instrumenter calls stryMutAct_9fa48("id") where it placed it. */
function groupOf(id) {
  const needle = `stryMutAct_9fa48("${id}")`;
  return groups.find((g) => g.mutate.some((m) => readFileSync(m.replace(/:[\d:-]+$/, ''), 'utf8').includes(needle)));
}

const chosen = active === undefined ? groups : [groupOf(active)];
if (chosen[0] === undefined) {
  console.error(`mutant ${active} is in none of the files of ${groupsFile}`);
  process.exit(2);
}
const tests = [...new Set(chosen.flatMap((g) => g.tests))];
// Resolved from here, so the sandbox needs no node_modules of its own.
const mocha = createRequire(import.meta.url).resolve('mocha/bin/mocha.js');
const child = spawn(process.execPath, [mocha, ...(active === undefined ? [] : ['--bail']), ...tests], { stdio: 'inherit' });
child.on('exit', (code, signal) => process.exit(code ?? (signal ? 1 : 0)));
